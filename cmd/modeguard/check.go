package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/workload"
)

func newCheck() *cobra.Command {
	var (
		in     inputFlags
		pf     policyFlags
		output string
		failOn string
		color  string
	)
	cmd := &cobra.Command{
		Use:   "check [PATH ...] [-f PATH ...]",
		Short: "Report what a cluster running modeguard would do with these manifests",
		Long: `check reads manifests (files, directories, or - for stdin), relates agent
workloads to the ConfigMaps they mount, and reports every finding the modeguard
webhook would make: fixes first, then the rules on the fixed objects.

All input is one set of objects, related as if applied together. An object
defined by two documents (two environments' renders in one directory, a chart
rendered twice) is an input error naming both places: the later would replace
the earlier, so the verdict would depend on the order of the files. With
--per-file each file is checked on its own (its objects relate only to objects
of the same file) and the report covers every file.

Exit status: 0 when nothing is denied, 1 when a finding denies (or warns, with
--fail-on warn), 2 for usage or input errors.`,
		Example: `  modeguard check -f examples/mg004-fires/manifest.yaml
  helm template alloy grafana/alloy -f values.yaml | modeguard check -f -
  kustomize build overlays/prod | modeguard check -f - -o sarif > modeguard.sarif
  modeguard check --per-file -f rendered/    # rendered/prod.yaml, rendered/staging.yaml, ...`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			in.addArgs(args)
			if err := in.validate(); err != nil {
				return err
			}
			if failOn != "deny" && failOn != "warn" {
				return usageErr("--fail-on %q: want deny or warn", failOn)
			}
			rv, err := pf.reviewer(cmd.Context())
			if err != nil {
				return err
			}
			c, err := load(cmd.Context(), in, rv, cmd.InOrStdin())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			switch output {
			case "text":
				writeText(out, c, useColor(color, out))
			case "json":
				if err := writeJSON(out, c); err != nil {
					return err
				}
			case "sarif":
				if err := writeSARIF(out, c, rv.Engine.Rules()); err != nil {
					return err
				}
			default:
				return usageErr("-o %q: want text, json or sarif", output)
			}
			s := summarize(c)
			if s.Deny > 0 || (failOn == "warn" && s.Warn > 0) {
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	in.add(cmd, "manifest file, directory (recursive *.yaml, *.yml, *.json) or - for stdin; repeatable",
		"mode of ConfigMaps no workload in the input reads and that have no modeguard.dev/mode annotation: daemonset, statefulset or deployment")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text, json or sarif")
	cmd.Flags().StringVar(&failOn, "fail-on", "deny", "exit 1 on findings of this action or worse: deny or warn")
	cmd.Flags().StringVar(&color, "color", "auto", "colour the text output: auto (only on a terminal), always or never")
	pf.add(cmd)
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json", "sarif"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("mode", cobra.FixedCompletions(workload.Modes(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
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
	return fmt.Sprintf("%d objects, %d findings (%d deny, %d warn, %d fix, %d audit)", s.Objects, s.Findings, s.Deny, s.Warn, s.Fix, s.Audit)
}
