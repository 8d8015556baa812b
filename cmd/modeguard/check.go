package main

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/workload"
)

// checkOptions are check's report options.
type checkOptions struct {
	outputs   []string
	failOn    string
	color     string
	showAudit bool
}

// failOnValues are what --fail-on takes, from strictest to none.
var failOnValues = []string{"deny", "warn", "fix", "never"}

func newCheck() *cobra.Command {
	var (
		in         inputFlags
		pf         policyFlags
		co         checkOptions
		configPath string
	)
	cmd := &cobra.Command{
		Use:   "check [PATH ...] [-f PATH ...]",
		Short: "Report what a cluster running modeguard would do with these manifests",
		Long: `check reads manifests (files, directories, or - for stdin; as arguments or
with -f), relates agent workloads to the ConfigMaps they mount, and reports
every finding the modeguard webhook would make: fixes first, then the rules on
the fixed objects. Files that are not Kubernetes manifests (Chart.yaml,
values*.yaml, kustomization files, YAML without apiVersion and kind) are
skipped with a note; --ignore leaves files out.

All input is one set of objects, related as if applied together. An object
defined by two documents (two environments' renders in one directory, a chart
rendered twice) is an input error naming both places: the later would replace
the earlier, so the verdict would depend on the order of the files. With
--per-file each file is checked on its own (its objects relate only to objects
of the same file) and the report covers every file.

Outputs: text (audit findings only with --show-audit), json, sarif, github
(workflow commands: annotations on the files of a pull request) and junit (one
testcase per object and rule); -o FORMAT=FILE writes one to a file, and -o is
repeatable. Documents of stdin are located in the template Helm names in its
"# Source:" comment, or in --stdin-filename.

Defaults for --settings, --policy, --ignore, -o, --fail-on, --enable and
--disable come from .modeguard.yaml, found upward from the working directory
(or --config); flags win.

Exit status: 0 when nothing fails, 1 when a finding fails the run (--fail-on
deny, the default: a denial; warn: a denial or warning; fix: also a fix the
webhook would apply, the GitOps drift gate; never: nothing), 2 for usage or
input errors.`,
		Example: `  modeguard check examples/mg004-fires/manifest.yaml
  modeguard check manifests/ --ignore 'testdata/*'
  helm template alloy grafana/alloy -f values.yaml | modeguard check - -o sarif=modeguard.sarif -o github
  kustomize build overlays/prod | modeguard check - --fail-on fix
  modeguard check --per-file rendered/    # rendered/prod.yaml, rendered/staging.yaml, ...`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			in.addArgs(args)
			outs, rv, err := prepareReport(cmd, configPath, &in, &pf, &co)
			if err != nil {
				return err
			}
			c, err := load(cmd.Context(), in, rv, cmd.InOrStdin())
			if err != nil {
				return err
			}
			if err := writeOutputs(cmd.OutOrStdout(), outs, c, rv.Engine.Rules(), co); err != nil {
				return err
			}
			if failed(summarize(c), co.failOn) {
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	in.add(cmd, "manifest file, directory (recursive *.yaml, *.yml, *.json) or - for stdin; repeatable (paths may also be given as arguments)",
		"mode of ConfigMaps no workload in the input reads and that have no modeguard.dev/mode annotation: daemonset, statefulset or deployment")
	addReportFlags(cmd, &pf, &co, &configPath)
	_ = cmd.RegisterFlagCompletionFunc("mode", cobra.FixedCompletions(workload.Modes(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// addReportFlags adds the flags of the commands that report findings
// (check, audit): outputs, --fail-on, the policy and the project file.
func addReportFlags(cmd *cobra.Command, pf *policyFlags, co *checkOptions, configPath *string) {
	cmd.Flags().StringArrayVarP(&co.outputs, "output", "o", []string{"text"}, "output format, to stdout or with =FILE to a file: text, json, sarif, github or junit; repeatable (-o sarif=out.sarif -o text)")
	cmd.Flags().StringVar(&co.failOn, "fail-on", "deny", "exit 1 on findings of this action or worse: deny, warn, fix (the webhook would change something) or never")
	cmd.Flags().StringVar(&co.color, "color", "auto", "colour the text output: auto (only on a terminal), always or never")
	cmd.Flags().BoolVar(&co.showAudit, "show-audit", false, "list audit findings in the text output too (they are always counted, and always in json, sarif and junit)")
	cmd.Flags().StringVar(configPath, "config", "", "project file to read instead of the "+configName+" found upward from the working directory")
	pf.add(cmd)
	pf.addRuleSwitches(cmd)
	_ = cmd.RegisterFlagCompletionFunc("output", completeOutputs)
	_ = cmd.RegisterFlagCompletionFunc("fail-on", cobra.FixedCompletions(failOnValues, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("color", cobra.FixedCompletions([]string{"auto", "always", "never"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagFilename("config", "yaml", "yml")
	_ = cmd.MarkFlagFilename("settings", "yaml", "yml")
	_ = cmd.MarkFlagDirname("policy")
}

// prepareReport reads the project file into the flags the command line
// left unset, checks them, and returns the outputs and the reviewer.
func prepareReport(cmd *cobra.Command, configPath string, in *inputFlags, pf *policyFlags, co *checkOptions) ([]outputTarget, *review.Reviewer, error) {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return nil, nil, usageErr("%v", err)
	}
	cfg.apply(cmd, in, pf, co)
	if err := in.validate(); err != nil {
		return nil, nil, err
	}
	if !slices.Contains(failOnValues, co.failOn) {
		return nil, nil, usageErr("--fail-on %q: want deny, warn, fix or never", co.failOn)
	}
	outs, err := parseOutputs(co.outputs)
	if err != nil {
		return nil, nil, err
	}
	rv, err := pf.reviewer(cmd.Context())
	if err != nil {
		return nil, nil, err
	}
	return outs, rv, nil
}

// failed says whether the findings fail the run under --fail-on.
func failed(s summary, failOn string) bool {
	switch failOn {
	case "never":
		return false
	case "fix":
		return s.Deny+s.Warn+s.Fix > 0
	case "warn":
		return s.Deny+s.Warn > 0
	}
	return s.Deny > 0
}

// summary counts findings by action.
type summary struct {
	Objects  int `json:"objects"`
	Findings int `json:"findings"`
	Deny     int `json:"deny"`
	Warn     int `json:"warn"`
	Fix      int `json:"fix"`
	Audit    int `json:"audit"`
}

func summarize(c *checked) summary {
	s := summary{Objects: len(c.docs), Findings: len(c.result.Findings)}
	for _, f := range c.result.Findings {
		switch f.Action {
		case policy.ActionDeny:
			s.Deny++
		case policy.ActionWarn:
			s.Warn++
		case policy.ActionFix:
			s.Fix++
		case policy.ActionAudit:
			s.Audit++
		}
	}
	return s
}

func (s summary) String() string {
	return fmt.Sprintf("%s, %s (%d deny, %d warn, %d fix, %d audit)", plural(s.Objects, "object", "objects"), plural(s.Findings, "finding", "findings"), s.Deny, s.Warn, s.Fix, s.Audit)
}

// plural is "1 finding", "2 findings".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
