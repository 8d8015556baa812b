package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Two environments rendered into one directory: each file holds ConfigMap
// monitoring/alloy, with different configs; prod also holds the DaemonSet
// that mounts it. staging's config scrapes services, which a DaemonSet
// without clustering must not (MG004); alone, staging has no workload and
// prod's config is node-local, so neither file is denied on its own.
const (
	prodDaemonSet = `# prod: the agent DaemonSet and its config
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: alloy
  namespace: monitoring
spec:
  selector:
    matchLabels: {app: alloy}
  template:
    metadata:
      labels: {app: alloy}
    spec:
      containers:
        - name: alloy
          image: grafana/alloy:v1.5.1
          args: [run, /etc/alloy/config.alloy, --storage.path=/tmp/alloy]
          env:
            - name: HOSTNAME
              valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
          volumeMounts:
            - {name: config, mountPath: /etc/alloy}
      volumes:
        - name: config
          configMap: {name: alloy}
`
	prodConfigMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: alloy
  namespace: monitoring
data:
  config.alloy: |
    logging {
      level = "info"
    }
`
	stagingConfigMap = `# staging: its config only
apiVersion: v1
kind: ConfigMap
metadata:
  name: alloy
  namespace: monitoring
data:
  config.alloy: |
    discovery.kubernetes "services" {
      role = "service"
    }
    prometheus.scrape "services" {
      targets    = discovery.kubernetes.services.targets
      forward_to = []
    }
`
)

// writeFiles writes name → body under a new directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestDuplicateObjects: an object defined in two files of one input is an
// input error naming both places, whatever the order of the arguments, for
// check and fix. Before, the two ConfigMaps were merged silently and the
// DaemonSet was denied (MG004) for staging's config, which neither file
// alone has.
func TestDuplicateObjects(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"prod.yaml":    prodDaemonSet + "---\n" + prodConfigMap,
		"staging.yaml": stagingConfigMap,
	})
	prod, staging := filepath.Join(dir, "prod.yaml"), filepath.Join(dir, "staging.yaml")
	for _, args := range [][]string{
		{"check", "-f", dir},
		{"check", "-f", prod, "-f", staging, "-o", "json"},
		{"check", "-f", staging, "-f", prod, "-o", "sarif"},
		{"fix", "-f", dir},
		{"fix", "-w", "-f", dir},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			r := modeguard(t, "", args...)
			if r.code != exitUsage {
				t.Fatalf("exit %d, want %d (input error)\nstdout: %s\nstderr: %s", r.code, exitUsage, r.stdout, r.stderr)
			}
			for _, want := range []string{
				"ConfigMap monitoring/alloy: ",
				prod + ":27",   // the ConfigMap after prod's DaemonSet
				staging + ":1", // the document starts with its comment
				"--per-file",
			} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
			if r.stdout != "" {
				t.Errorf("stdout, want none: %s", r.stdout)
			}
		})
	}
	if data, _ := os.ReadFile(prod); string(data) != prodDaemonSet+"---\n"+prodConfigMap {
		t.Errorf("fix -w rewrote %s despite the input error", prod)
	}
}

// TestPerFile: with --per-file each file is its own bundle. Each
// environment is judged alone, findings point at their own file even where
// both files name the same objects, and the report covers every file.
func TestPerFile(t *testing.T) {
	t.Parallel()
	type finding struct{ rule, action, kind, file string }
	cases := []struct {
		name     string
		files    map[string]string
		code     int
		objects  int // documents of every file
		findings []finding
		notes    []string // "file: note substring"
	}{
		{
			name:    "the reproduction: staging holds only its config",
			files:   map[string]string{"prod.yaml": prodDaemonSet + "---\n" + prodConfigMap, "staging.yaml": stagingConfigMap},
			code:    exitOK,
			objects: 3,
			notes:   []string{"staging.yaml: no agent workload reads this ConfigMap"},
		},
		{
			name: "both environments hold the DaemonSet",
			files: map[string]string{
				"prod.yaml":    prodDaemonSet + "---\n" + prodConfigMap,
				"staging.yaml": prodDaemonSet + "---\n" + stagingConfigMap,
			},
			code:     exitFindings,
			objects:  4,
			findings: []finding{{"MG004", "deny", "ConfigMap", "staging.yaml"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, c.files)
			r := modeguard(t, "", "check", "--per-file", "-f", dir, "-o", "json")
			if r.code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, c.code, r.stdout, r.stderr)
			}
			o := decodeJSON(t, r.stdout)
			var got []finding
			for _, f := range o.Findings {
				got = append(got, finding{f.Rule, string(f.Action), f.Kind, filepath.Base(f.File)})
			}
			if !slices.Equal(got, c.findings) {
				t.Errorf("got findings %v, want %v", got, c.findings)
			}
			for _, n := range c.notes {
				file, text, _ := strings.Cut(n, ": ")
				if !slices.ContainsFunc(o.Notes, func(j jsonNote) bool {
					return filepath.Base(j.File) == file && strings.Contains(j.Note, text)
				}) {
					t.Errorf("no note %q in %+v", n, o.Notes)
				}
			}
			if o.Summary.Objects != c.objects {
				t.Errorf("summary: %d objects, want %d (every file)", o.Summary.Objects, c.objects)
			}
		})
	}

	// An object defined twice within one file is still an error.
	dir := writeFiles(t, map[string]string{"all.yaml": prodConfigMap + "---\n" + stagingConfigMap})
	if r := modeguard(t, "", "check", "--per-file", "-f", dir); r.code != exitUsage || !strings.Contains(r.stderr, "all.yaml:1 and ") {
		t.Errorf("a duplicate within one file: exit %d, want %d naming all.yaml:1\n%s", r.code, exitUsage, r.stderr)
	}

	// fix --per-file fixes each file with its own objects.
	dir = writeFiles(t, map[string]string{
		"prod.yaml":    prodDaemonSet + "---\n" + prodConfigMap,
		"staging.yaml": stagingConfigMap,
	})
	if r := modeguard(t, "", "fix", "--per-file", "-w", "-f", dir); r.code != exitOK {
		t.Errorf("fix --per-file -w: exit %d, want 0\n%s", r.code, r.stderr)
	}

	// The same object fixed in two files is two edits, each reported once
	// (its two collectors ask for one edit per file).
	two, err := os.ReadFile("testdata/verdicts/one-discovery-two-collectors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir = writeFiles(t, map[string]string{"prod.yaml": string(two), "staging.yaml": string(two)})
	r := modeguard(t, "", "fix", "--per-file", "-f", dir)
	if n := strings.Count(r.stderr, "fixed: ConfigMap monitoring/alloy discovery.kubernetes.p: MG001"); n != 2 {
		t.Errorf("fix --per-file of one object in two files reports %d edits, want 2:\n%s", n, r.stderr)
	}
}
