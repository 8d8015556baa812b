package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/modeguard/modeguard/examples"
)

func runGo(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}

func docOf(t *testing.T, name, kind string) string {
	t.Helper()
	for _, d := range examples.Load(t, name) {
		if d.Kind == kind {
			return string(d.Raw)
		}
	}
	t.Fatalf("%s has no %s", name, kind)
	return ""
}

// Server-side dry run shows the same warnings and denials as a real apply
// and persists nothing; kubectl diff of a fixed object shows nothing to
// change (the mutating webhook re-applies the fix in the dry run).
func TestDryRunAndDiff(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	if _, err := c.Kubectl(ctx, "", "create", "namespace", "dry-run"); err != nil {
		t.Fatal(err)
	}
	swap := func(s string) string { return strings.ReplaceAll(s, "namespace: mg004-fires", "namespace: dry-run") }

	// A denial in dry run.
	if _, err := c.Kubectl(ctx, swap(docOf(t, "mg004-fires", "ConfigMap")), "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	r := c.KubectlAllowFail(ctx, swap(docOf(t, "mg004-fires", "DaemonSet")), "apply", "--dry-run=server", "-f", "-")
	if r.Err == nil || !strings.Contains(r.Stderr, "denied the request") || !strings.Contains(r.Stderr, "MG004 cluster-wide-collection-in-daemonset: prometheus.scrape.services (config.alloy:5:1)") {
		t.Fatalf("dry-run apply of the DaemonSet: err %v\n%s", r.Err, r.Stderr)
	}
	if got := c.KubectlAllowFail(ctx, "", "get", "daemonset", "-n", "dry-run", "-o", "name"); strings.TrimSpace(got.Stdout) != "" {
		t.Fatalf("dry run persisted %q", got.Stdout)
	}

	// A fix in dry run: warned, not persisted.
	ns := func(s string) string { return strings.ReplaceAll(s, "namespace: mg001-fires", "namespace: dry-run") }
	if _, err := c.Kubectl(ctx, "", "create", "namespace", "dry-run-fix"); err != nil {
		t.Fatal(err)
	}
	ns2 := func(s string) string {
		return strings.ReplaceAll(ns(s), "namespace: dry-run", "namespace: dry-run-fix")
	}
	if _, err := c.Kubectl(ctx, ns2(docOf(t, "mg001-fires", "DaemonSet")), "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	cm := ns2(docOf(t, "mg001-fires", "ConfigMap"))
	r = c.KubectlAllowFail(ctx, cm, "apply", "--dry-run=server", "-f", "-", "-o", "yaml")
	if r.Err != nil || !strings.Contains(r.Stderr, "MG001 daemonset-node-local-discovery") || !strings.Contains(r.Stdout, `field = "spec.nodeName=" + coalesce(sys.env("HOSTNAME"), constants.hostname)`) {
		t.Fatalf("dry-run apply of the ConfigMap: %v\nstdout:\n%s\nstderr:\n%s", r.Err, r.Stdout, r.Stderr)
	}
	if got := c.KubectlAllowFail(ctx, "", "get", "configmap", "alloy", "-n", "dry-run-fix", "--ignore-not-found", "-o", "name"); strings.TrimSpace(got.Stdout) != "" {
		t.Fatalf("dry run persisted the ConfigMap")
	}

	// Apply for real, then kubectl diff: nothing left to change.
	if _, err := c.Kubectl(ctx, cm, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	r = c.KubectlAllowFail(ctx, cm, "diff", "-f", "-")
	if r.Err != nil || strings.TrimSpace(r.Stdout) != "" {
		t.Fatalf("kubectl diff of the applied, fixed ConfigMap: %v\n%s%s", r.Err, r.Stdout, r.Stderr)
	}
}
