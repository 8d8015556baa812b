package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRepoFilesSkipped: a directory with a chart's and a kustomization's
// ordinary files is checked; what is not a manifest is skipped with a
// note, and broken YAML stays an error.
func TestRepoFilesSkipped(t *testing.T) {
	t.Parallel()
	example, err := os.ReadFile("../../examples/mg004-fires/manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"Chart.yaml":              "apiVersion: v2\nname: alloy\nversion: 0.1.0\n",
		"values.yaml":             "replicas: 1\n",
		"values-prod.yaml":        "replicas: 3\n",
		"kustomization.yaml":      "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [manifest.yaml]\n",
		"renovate.json":           `{"extends": ["config:base"]}`,
		"ci/lint.yaml":            "rules:\n  line-length: disable\n",
		"manifests/manifest.yaml": string(example),
	})
	r := modeguard(t, "", "check", dir)
	if r.code != exitFindings {
		t.Fatalf("exit %d, want 1 (MG004 denies); stdout %s stderr %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"MG004",
		"Chart.yaml: skipped: Helm chart metadata",
		"values.yaml: skipped: Helm values",
		"values-prod.yaml: skipped: Helm values",
		"kustomization.yaml: skipped: a kustomization",
		"renovate.json:1: skipped: document has no apiVersion or kind",
		"ci/lint.yaml:1: skipped: document has no apiVersion or kind",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	writeTree(t, dir, map[string]string{"broken.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: [\n"})
	if r := modeguard(t, "", "check", dir); r.code != exitUsage || !strings.Contains(r.stderr, "broken.yaml:") {
		t.Errorf("broken YAML: exit %d, stderr %q; want 2 naming broken.yaml", r.code, r.stderr)
	}
	// --ignore leaves it out.
	if r := modeguard(t, "", "check", dir, "--ignore", "broken.yaml", "--ignore", "ci/*"); r.code != exitFindings || strings.Contains(r.stdout, "lint.yaml") {
		t.Errorf("--ignore: exit %d, stdout %s stderr %s; want 1 and no lint.yaml", r.code, r.stdout, r.stderr)
	}
}
