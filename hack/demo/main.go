// Command demo is `make demo`: a local control plane (kube-apiserver and
// etcd built from Go modules), the modeguard webhook installed with the
// webhook configurations deploy/ ships, every example of examples/ applied
// with kubectl, and an account of what was fixed, warned and denied.
//
// It stays up until Ctrl-C so that you can apply your own manifests
// (--once: exit after the examples, non-zero if one did not behave as its
// modeguard.dev/expect annotations say).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/test/e2e"
)

func main() { os.Exit(run()) }

func run() int {
	once := flag.Bool("once", false, "exit after the examples; non-zero if one did not behave as expected")
	only := flag.String("only", "", "comma-separated example names to run (default: all)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demo(ctx, os.Stdout, *once, *only); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	return 0
}

const rule = "────────────────────────────────────────────────────────────────────────"

func demo(ctx context.Context, w io.Writer, once bool, only string) error {
	root, err := e2e.FindRoot()
	if err != nil {
		return err
	}
	began := time.Now()
	c, err := e2e.Start(ctx, e2e.Options{
		Root: root, Assets: filepath.Join(root, "bin", "k8s"), Webhook: filepath.Join(root, "bin", "modeguard-webhook"), Log: w,
	})
	if err != nil {
		return err
	}
	stopped := false
	stopCluster := func() error {
		if stopped {
			return nil
		}
		stopped = true
		fmt.Fprintln(w, "stopping the webhook, kube-apiserver and etcd; removing", filepath.Dir(c.Kubeconfig))
		err := c.Stop()
		if busy := c.PortsFree(); len(busy) > 0 {
			return fmt.Errorf("ports still open after stop: %v", busy)
		}
		fmt.Fprintln(w, "all processes stopped, all ports free")
		return err
	}
	defer stopCluster()
	// The Alloy examples are Alloy objects (the alloy-operator's CRD).
	if err := c.InstallAlloyCRD(ctx); err != nil {
		return err
	}
	fmt.Fprintf(w, "Alloy CRD installed (%s); the webhook watches Alloy objects\n", e2e.AlloyCRDFile)

	fmt.Fprintf(w, "\nThe cluster is up. In another shell:\n\n    export KUBECONFIG=%s\n    %s get ns\n\n", c.Kubeconfig, filepath.Join(root, "bin", "k8s", "kubectl"))

	engine, err := policy.New(ctx, policy.Options{})
	if err != nil {
		return err
	}
	rv := &review.Reviewer{Engine: engine, Fixer: mutate.Fixer{}}
	names, err := exampleNames(only)
	if err != nil {
		return err
	}
	var outcomes []*e2e.Outcome
	for i, name := range names {
		data, err := fs.ReadFile(examples.FS, path.Join(name, "manifest.yaml"))
		if err != nil {
			return err
		}
		docs, err := manifest.Parse("examples/"+name+"/manifest.yaml", data)
		if err != nil {
			return err
		}
		o, err := c.RunExample(ctx, rv, name, docs, (i/2)%2 == 1) // pairs alternate orders
		if err != nil {
			return fmt.Errorf("example %s: %w", name, err)
		}
		account(w, o)
		outcomes = append(outcomes, o)
	}
	failed := summary(w, outcomes)
	fmt.Fprintf(w, "demo: %d examples in %s; webhook log: %s\n", len(outcomes), time.Since(began).Round(time.Second), c.WebhookLog)
	if !once {
		fmt.Fprintf(w, "\nThe cluster stays up: export KUBECONFIG=%s and apply your own manifests. Ctrl-C stops everything.\n", c.Kubeconfig)
		<-ctx.Done()
		fmt.Fprintln(w)
	}
	if err := stopCluster(); err != nil {
		return err
	}
	if once && failed > 0 {
		return fmt.Errorf("%d example(s) did not behave as their modeguard.dev/expect annotations say", failed)
	}
	return nil
}

func exampleNames(only string) ([]string, error) {
	files, err := fs.Glob(examples.FS, "*/manifest.yaml")
	if err != nil {
		return nil, err
	}
	var names []string
	want := map[string]bool{}
	for _, n := range strings.Split(only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	for _, f := range files {
		n := path.Dir(f)
		if len(want) == 0 || want[n] {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("no example matches %q", only)
	}
	return names, nil
}

func account(w io.Writer, o *e2e.Outcome) {
	fmt.Fprintf(w, "\n%s\n%s  (%s)\n  %s\n", rule, o.Name, o.Order, o.Summary)
	for _, s := range o.Steps {
		verdict := "admitted"
		if !s.Allowed {
			verdict = "DENIED"
		}
		fmt.Fprintf(w, "  kubectl apply %-40s %s\n", s.Object, verdict)
		for _, warn := range s.Warnings {
			fmt.Fprintf(w, "      Warning: %s\n", warn)
		}
		if s.Denial != "" {
			for _, l := range strings.Split(strings.TrimSpace(s.Denial), "\n") {
				fmt.Fprintf(w, "      %s\n", l)
			}
		}
	}
	if len(o.Diffs) > 0 {
		fmt.Fprintf(w, "  fixed in the cluster (settled in %s):\n", o.Settled.Round(100*time.Millisecond))
		for _, d := range o.Diffs {
			for _, l := range strings.Split(strings.TrimRight(d, "\n"), "\n") {
				fmt.Fprintf(w, "      %s\n", l)
			}
		}
	}
	for _, r := range o.Remaining {
		fmt.Fprintf(w, "  NOT FIXED: %s\n", r)
	}
	mark := "as expected"
	if !o.OK() {
		mark = "UNEXPECTED"
	}
	fmt.Fprintf(w, "  expected %s, observed %s: %s\n", list(o.Expected), list(o.Observed), mark)
}

func list(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ",")
}

func summary(w io.Writer, os []*e2e.Outcome) int {
	fmt.Fprintf(w, "\n%s\n%-30s %-16s %-30s %s\n", rule, "example", "order", "kubectl showed", "verdict")
	failed := 0
	for _, o := range os {
		v := "ok"
		if !o.OK() {
			v = "UNEXPECTED (expected " + list(o.Expected) + ")"
			failed++
		}
		fmt.Fprintf(w, "%-30s %-16s %-30s %s\n", o.Name, o.Order, list(o.Observed), v)
	}
	fmt.Fprintf(w, "%s\n%d passed, %d failed\n", rule, len(os)-failed, failed)
	return failed
}
