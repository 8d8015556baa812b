package main

import (
	"context"
	"io"
	"strings"

	"github.com/spf13/cobra"

	buildversion "github.com/modeguard/modeguard/internal/version"
	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
)

// version may still be set with -ldflags "-X main.version=..."; builds stamp
// internal/version (Version and Commit, shared with the webhook) instead.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	return buildversion.String()
}

// policyFlags are shared by the commands that evaluate.
type policyFlags struct {
	policyDir string
	settings  string
	// enable and disable are rule ids turned on (their default action, over
	// a settings "off") and off for this run.
	enable, disable []string
}

func (p *policyFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.policyDir, "policy", "", "directory of custom .rego rules, loaded next to the built-ins")
	cmd.Flags().StringVar(&p.settings, "settings", "", "settings YAML (per-rule actions, allowed skips, dry-run, exempt namespaces, agent image patterns)")
}

// addRuleSwitches adds --enable and --disable.
func (p *policyFlags) addRuleSwitches(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&p.enable, "enable", nil, "rule id to run with its default action although the settings turn it off; repeatable or comma-separated")
	cmd.Flags().StringSliceVar(&p.disable, "disable", nil, "rule id to turn off for this run; repeatable or comma-separated")
	_ = cmd.RegisterFlagCompletionFunc("enable", p.completeRules)
	_ = cmd.RegisterFlagCompletionFunc("disable", p.completeRules)
}

// completeRules completes rule ids, each with its title.
func (p *policyFlags) completeRules(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	rv, err := p.reviewer(cmd.Context())
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var ids []string
	for _, r := range rv.Engine.Rules() {
		ids = append(ids, r.ID+"\t"+r.Title)
	}
	return ids, cobra.ShellCompDirectiveNoFileComp
}

func (p *policyFlags) reviewer(ctx context.Context) (*review.Reviewer, error) {
	s, err := policy.LoadSettings(p.settings)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	if len(p.enable)+len(p.disable) > 0 {
		rules := map[string]policy.RuleSettings{}
		for id, r := range s.Rules {
			rules[id] = r
		}
		for _, id := range p.enable {
			id = strings.ToUpper(strings.TrimSpace(id))
			if r, ok := rules[id]; ok && r.Action == policy.ActionOff {
				delete(rules, id)
			} else if !ok {
				rules[id] = policy.RuleSettings{} // checked as a known id below
			}
		}
		for _, id := range p.disable {
			rules[strings.ToUpper(strings.TrimSpace(id))] = policy.RuleSettings{Action: policy.ActionOff}
		}
		s.Rules = rules
	}
	e, err := policy.New(ctx, policy.Options{PolicyDir: p.policyDir, Settings: s})
	if err != nil {
		return nil, usageErr("loading policy: %v", err)
	}
	return &review.Reviewer{Engine: e, Fixer: mutate.Fixer{}}, nil
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "modeguard",
		Short: "Keep Grafana Agent and Alloy right for their deployment mode",
		Long: `modeguard checks Grafana Agent (Flow) and Grafana Alloy manifests — the
workloads and the ConfigMaps holding their River/Alloy config — against the
rules of their deployment mode (DaemonSet, StatefulSet, Deployment), fixes
what it can, and runs the same engine as the modeguard admission webhook:
check and fix read manifest files, audit reads the agents a cluster runs.`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("modeguard version {{.Version}} (commit " + buildversion.CommitString() + ")\n")
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newCheck(), newAudit(), newFix(), newTest(), newExplain(), newRules(), newVerify())
	return root
}
