package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"

	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/workload"
)

// auditFlags select the cluster and what of it an audit reads.
type auditFlags struct {
	kubeconfig, context string
	namespaces          []string
	selector            string
	quiet               bool
}

func newAudit() *cobra.Command {
	var (
		af         auditFlags
		pf         policyFlags
		co         checkOptions
		configPath string
		mode       string
	)
	cmd := &cobra.Command{
		Use:   "audit [-n NAMESPACE ...] [-l SELECTOR]",
		Short: "Report what modeguard finds in the agents a cluster runs now",
		Long: `audit reads a live cluster and reviews what it runs exactly as check
reviews the same objects given as files. It lists the agent workloads
(` + kindNames(workload.Workloads()) + `; a kind a CRD serves only when
the API server serves it), the ConfigMaps, the HorizontalPodAutoscalers and the
Namespaces. Admission only sees what changes; audit sees what already runs
(agents installed before modeguard, or judged differently by a newer policy).

The cluster is the one kubectl would use: --kubeconfig, else $KUBECONFIG, else
~/.kube/config, else the in-cluster service account; --context picks a context.
-n limits the audit to namespaces (repeatable or comma-separated; default all),
-l to the agent workloads matching a label selector (with the ConfigMaps they
read, and the ConfigMaps matching it).

Findings name the object (Kind/namespace/name) and, for a config finding, the
ConfigMap key and the line and column in its config. Progress (the objects
listed per kind) goes to stderr; -q silences it.

Outputs, --fail-on, --enable, --disable, --policy, --settings and
` + configName + ` work as for check. Exit status as check: 0 when nothing fails,
1 when a finding fails the run, 2 for usage errors, an unreachable cluster, or
an API call that failed (a forbidden list of one kind is reported on stderr and
in the notes, the other kinds are still audited, and the exit status is 2: the
audit is incomplete).`,
		Example: `  modeguard audit
  modeguard audit --context prod -n monitoring,observability -o json
  modeguard audit -l app.kubernetes.io/name=alloy -o sarif=audit.sarif -o text --fail-on warn`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := inputFlags{live: true, mode: mode}
			outs, rv, err := prepareReport(cmd, configPath, &in, &pf, &co)
			if err != nil {
				return err
			}
			scope, err := af.scope()
			if err != nil {
				return err
			}
			progress := cmd.ErrOrStderr()
			if af.quiet {
				progress = io.Discard
			}
			cr, err := connect(&af, progress)
			if err != nil {
				return err
			}
			docs, errs, err := cr.read(cmd.Context(), scope, rv.Agents())
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			c, err := reviewDocs(cmd.Context(), docs, in, rv)
			if err != nil {
				return err
			}
			for _, e := range errs {
				c.input.Skipped = append(c.input.Skipped, manifest.Skipped{Reason: "not audited: " + e.Error()})
			}
			if err := writeOutputs(cmd.OutOrStdout(), outs, c, rv.Engine.Rules(), co); err != nil {
				return err
			}
			if len(errs) > 0 {
				return &exitError{code: exitUsage, err: fmt.Errorf("the audit is incomplete: %s failed", plural(len(errs), "API call", "API calls"))}
			}
			if failed(summarize(c), co.failOn) {
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&af.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or the in-cluster service account)")
	cmd.Flags().StringVar(&af.context, "context", "", "kubeconfig context to use (default: the current context)")
	cmd.Flags().StringSliceVarP(&af.namespaces, "namespace", "n", nil, "namespace to audit; repeatable or comma-separated (default: all namespaces)")
	cmd.Flags().StringVarP(&af.selector, "selector", "l", "", "label selector the agent workloads must match (-l app.kubernetes.io/name=alloy); their ConfigMaps are read whatever their labels")
	cmd.Flags().BoolVarP(&af.quiet, "quiet", "q", false, "print no progress on stderr")
	cmd.Flags().StringVar(&mode, "mode", "", "mode of ConfigMaps no workload reads and that have no modeguard.dev/mode annotation: "+modeList())
	addReportFlags(cmd, &pf, &co, &configPath)
	_ = cmd.RegisterFlagCompletionFunc("mode", cobra.FixedCompletions(workload.Modes(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagFilename("kubeconfig")
	return cmd
}

// scope checks the namespaces and the selector.
func (af *auditFlags) scope() (auditScope, error) {
	var s auditScope
	seen := map[string]bool{}
	for _, ns := range af.namespaces {
		ns = strings.TrimSpace(ns)
		if ns == "" || seen[ns] {
			continue
		}
		seen[ns] = true
		s.namespaces = append(s.namespaces, ns)
	}
	if af.selector != "" {
		sel, err := labels.Parse(af.selector)
		if err != nil {
			return s, usageErr("--selector %q: %v", af.selector, err)
		}
		s.selector = sel.String()
	}
	return s, nil
}

// connect is auditFlags.reader; a test reads a fake cluster instead.
var connect = (*auditFlags).reader

// reader connects to the cluster the flags name.
func (af *auditFlags) reader(progress io.Writer) (*clusterReader, error) {
	cfg, name, err := restConfig(af.kubeconfig, af.context)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, usageErr("connecting to %s: %v", cfg.Host, err)
	}
	served, err := servedBy(cfg)
	if err != nil {
		return nil, usageErr("connecting to %s: %v", cfg.Host, err)
	}
	fmt.Fprintf(progress, "auditing %s (context %s)\n", cfg.Host, name)
	return &clusterReader{dyn: dyn, served: served, progress: progress}, nil
}

// kindNames lists kinds for help text: "DaemonSet, StatefulSet, Deployment
// and Alloy".
func kindNames(kinds []*workload.Kind) string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.Name
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
