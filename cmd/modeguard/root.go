package main

import (
	"context"
	"io"

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
}

func (p *policyFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.policyDir, "policy", "", "directory of custom .rego rules, loaded next to the built-ins")
	cmd.Flags().StringVar(&p.settings, "settings", "", "settings YAML (per-rule actions, allowed skips, dry-run, exempt namespaces, agent image patterns)")
}

func (p *policyFlags) reviewer(ctx context.Context) (*review.Reviewer, error) {
	s, err := policy.LoadSettings(p.settings)
	if err != nil {
		return nil, usageErr("%v", err)
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
what it can, and runs the same engine as the modeguard admission webhook.`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("modeguard version {{.Version}} (commit " + buildversion.CommitString() + ")\n")
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newCheck(), newFix(), newTest(), newExplain())
	return root
}
