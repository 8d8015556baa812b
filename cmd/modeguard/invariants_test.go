package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/riverconfig"
)

// invariantInputs are the manifests the invariants are held over: every
// example, every testdata case of this package, the workload golden cases,
// and every case of the real-world corpus when MODEGUARD_CORPUS names it.
func invariantInputs(t *testing.T) []string {
	t.Helper()
	var paths []string
	for _, glob := range []string{"../../examples/*/manifest.yaml", "testdata/verdicts/*.yaml", "../../workload/testdata/*/input.yaml"} {
		m, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	if dir := os.Getenv("MODEGUARD_CORPUS"); dir != "" {
		m, err := filepath.Glob(filepath.Join(dir, "*", "cases", "*", "manifests.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	if len(paths) < 40 {
		t.Fatalf("only %d inputs found", len(paths))
	}
	return paths
}

func objectKey(kind, namespace, name string) string { return kind + " " + namespace + "/" + name }

// TestFixIffReported: `modeguard fix` changes an object if and only if
// `modeguard check` reports a finding with action fix about it (a fix the
// user is not told of is a silent change; a reported fix that changes
// nothing is a lie).
func TestFixIffReported(t *testing.T) {
	t.Parallel()
	for _, path := range invariantInputs(t) {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			c := modeguard(t, "", "check", "-o", "json", "-f", path)
			if c.code == exitUsage {
				t.Skipf("not a valid input: %s", c.stderr)
			}
			reported := map[string]bool{}
			for _, f := range decodeJSON(t, c.stdout).Findings {
				if f.Action == "fix" {
					reported[objectKey(f.Kind, f.Namespace, f.Name)] = true
				}
			}
			fx := modeguard(t, "", "fix", "-f", path)
			if fx.code == exitUsage {
				t.Fatalf("fix: exit 2: %s", fx.stderr)
			}
			before := objectsByKey(t, path, nil)
			after := objectsByKey(t, "fixed.yaml", []byte(fx.stdout))
			changed := map[string]bool{}
			for k, o := range before {
				if !equality.Semantic.DeepEqual(o, after[k]) {
					changed[k] = true
				}
			}
			for k := range changed {
				if !reported[k] {
					t.Errorf("%s: fix changed it, but check reports no fix for it", k)
				}
			}
			for k := range reported {
				if !changed[k] {
					t.Errorf("%s: check reports a fix for it, but fix left it as it was", k)
				}
			}
		})
	}
}

func objectsByKey(t *testing.T, file string, data []byte) map[string]any {
	t.Helper()
	var docs []manifest.Document
	var err error
	if data == nil {
		docs, err = manifest.ReadPaths([]string{file}, nil)
	} else {
		docs, err = manifest.Parse(file, data)
	}
	if err != nil {
		t.Fatalf("reading %s: %v", file, err)
	}
	manifest.DefaultNamespace(docs, "default")
	out := map[string]any{}
	for _, d := range docs {
		if d.Object == nil {
			continue
		}
		m, err := meta.Accessor(d.Object)
		if err != nil {
			continue
		}
		out[objectKey(d.Kind, m.GetNamespace(), m.GetName())] = d.Object
	}
	return out
}

// TestPositionsPointAtTheComponent: every config finding's position is in
// the submitted text (not in a fixed one): its config line lies within the
// component it names, and its file line holds the same text as that config
// line.
func TestPositionsPointAtTheComponent(t *testing.T) {
	t.Parallel()
	for _, path := range invariantInputs(t) {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			c := modeguard(t, "", "check", "-o", "json", "-f", path)
			if c.code == exitUsage {
				t.Skipf("not a valid input: %s", c.stderr)
			}
			docs, err := manifest.ReadPaths([]string{path}, nil)
			if err != nil {
				t.Fatal(err)
			}
			manifest.DefaultNamespace(docs, "default")
			configs := map[string]*corev1.ConfigMap{}
			for _, d := range docs {
				if cm, ok := d.Object.(*corev1.ConfigMap); ok {
					configs[objectKey("ConfigMap", cm.Namespace, cm.Name)] = cm
				}
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			fileLines := strings.Split(string(raw), "\n")
			checked := 0
			for _, f := range decodeJSON(t, c.stdout).Findings {
				if f.ConfigKey == "" || f.ConfigLine == 0 || f.Component == "" {
					continue
				}
				cmKey := objectKey("ConfigMap", f.Namespace, f.Name)
				if f.Kind != "ConfigMap" && f.Via == nil {
					continue // a workload finding whose position is in a ConfigMap named elsewhere
				}
				cm := configs[cmKey]
				if cm == nil {
					continue
				}
				text := cm.Data[f.ConfigKey]
				facts := riverconfig.Parse(f.ConfigKey, []byte(text))
				lines := strings.Split(text, "\n")
				where := f.Rule + " " + f.Component
				if f.ConfigLine > len(lines) {
					t.Errorf("%s: config line %d past the end (%d lines)", where, f.ConfigLine, len(lines))
					continue
				}
				// A component, or a block the engine cannot see through
				// (an import, a declare): the places a finding may name.
				ranges := map[string]riverconfig.Range{}
				for _, u := range facts.Unverifiable {
					ranges[u.Component] = u.Range
				}
				for _, comp := range facts.Components {
					ranges[comp.ID] = comp.Range
				}
				r, found := ranges[f.Component]
				if found && (f.ConfigLine < r.Start.Line || f.ConfigLine > r.End.Line) {
					t.Errorf("%s: config line %d is outside the component (lines %d-%d of the submitted text)", where, f.ConfigLine, r.Start.Line, r.End.Line)
				}
				if !found {
					t.Errorf("%s: no such component in the submitted text", where)
					continue
				}
				// A config in a block scalar has a file line for each of its
				// lines; one in a quoted scalar has none (the finding then
				// points at the document).
				want := strings.TrimSpace(lines[f.ConfigLine-1])
				if f.File == path && f.Line > 0 && f.Line <= len(fileLines) && hasLine(fileLines, want) {
					if got := strings.TrimSpace(fileLines[f.Line-1]); got != want {
						t.Errorf("%s: file line %d reads %q, config line %d reads %q", where, f.Line, got, f.ConfigLine, want)
					}
				}
				checked++
			}
			t.Logf("%d positions checked", checked)
		})
	}
}

func hasLine(lines []string, trimmed string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) == trimmed {
			return true
		}
	}
	return false
}
