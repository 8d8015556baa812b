package main

import (
	"github.com/spf13/cobra"

	"github.com/modeguard/modeguard/policy"
)

func newTest() *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "test [DIR]",
		Short: "Run the Rego tests of the built-in rules and of a custom policy directory",
		Long: `test runs every *_test.rego of the built-in rules and, given DIR, of your
custom policy directory, with the same loading as the webhook: custom rules
replace built-ins of the same package, the rules are compiled first exactly as
the webhook compiles them (strict mode: no unused imports or variables; every
rule package needs its METADATA), and the same restricted builtins apply. A
policy the webhook would refuse is an error (exit status 2). Output and exit
status of the tests follow opa test.`,
		Example: `  modeguard test
  modeguard test ./policies -v`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := ""
			if len(args) == 1 {
				dir = args[0]
			}
			res, err := policy.RunTests(cmd.Context(), dir)
			if err != nil {
				return usageErr("%v", err)
			}
			if failed := policy.ReportTests(cmd.OutOrStdout(), res, verbose); failed > 0 {
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list every test, not only failures")
	return cmd
}
