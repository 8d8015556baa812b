package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/modeguard/modeguard/manifest"
	"k8s.io/apimachinery/pkg/api/meta"
)

type result struct {
	code           int
	stdout, stderr string
}

func modeguard(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return result{code, out.String(), errb.String()}
}

type jsonOut struct {
	Findings []jsonFinding `json:"findings"`
	Notes    []jsonNote    `json:"notes"`
	Summary  summary       `json:"summary"`
}

func decodeJSON(t *testing.T, s string) jsonOut {
	t.Helper()
	var o jsonOut
	if err := json.Unmarshal([]byte(s), &o); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, s)
	}
	return o
}

// TestCheckExamples: `modeguard check -f examples/` reports each example
// object's expected findings, read from its modeguard.dev/expect annotation.
func TestCheckExamples(t *testing.T) {
	t.Parallel()
	r := modeguard(t, "", "check", "-f", "../../examples/", "-o", "json")
	if r.code != exitFindings {
		t.Fatalf("exit %d, want 1 (some examples are denied); stderr: %s", r.code, r.stderr)
	}
	o := decodeJSON(t, r.stdout)
	docs, err := manifest.ReadPaths([]string{"../../examples/"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, d := range docs {
		if d.Object == nil || d.Kind == "Namespace" {
			continue
		}
		m, _ := meta.Accessor(d.Object)
		want := []string{}
		if w := m.GetAnnotations()["modeguard.dev/expect"]; w != "none" {
			want = strings.Split(w, ",")
		}
		got := []string{}
		for _, f := range o.Findings {
			if f.Kind == d.Kind && f.Namespace == d.Namespace && f.Name == d.Name {
				got = append(got, f.Rule+":"+string(f.Action))
				if f.File != d.File {
					t.Errorf("%s %s: finding file %s, want %s", d.Kind, d.Name, f.File, d.File)
				}
			}
		}
		sort.Strings(got)
		got = slices.Compact(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s %s %s: got %v, want %v", d.Where(), d.Kind, d.Name, got, want)
		}
		checked++
	}
	if checked < 40 {
		t.Fatalf("only %d example objects checked", checked)
	}
	if o.Summary.Objects != len(docs) || o.Summary.Findings != len(o.Findings) {
		t.Errorf("summary %+v does not match %d docs, %d findings", o.Summary, len(docs), len(o.Findings))
	}
}

func TestCheckText(t *testing.T) {
	t.Parallel()
	r := modeguard(t, "", "check", "-f", "../../examples/mg004-fires/manifest.yaml")
	if r.code != exitFindings {
		t.Fatalf("exit %d, want 1: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"examples/mg004-fires/manifest.yaml:20 (config.alloy:5:1) MG004 cluster-wide-collection-in-daemonset DENY",
		"ConfigMap mg004-fires/alloy prometheus.scrape.services (read by DaemonSet mg004-fires/alloy)",
		"fix: none",
		"3 objects, 1 finding (1 deny, 0 warn, 0 fix, 0 audit)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("colour codes written to a non-terminal")
	}
}

// helm template output: comments, "---" separators, empty documents.
const helmStream = `---
# Source: alloy/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: alloy
  namespace: monitoring
data:
  config.alloy: |
    discovery.kubernetes "pods" {
      role = "pod"
    }
    prometheus.scrape "pods" {
      targets    = discovery.kubernetes.pods.targets
      forward_to = []
    }
---
# Source: alloy/templates/serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: alloy
  namespace: monitoring
---
# Source: alloy/templates/controllers/daemonset.yaml
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
          image: registry.example/grafana/alloy:v1.5.1
          args: [run, /etc/alloy/config.alloy, --storage.path=/tmp/alloy]
          volumeMounts:
            - {name: config, mountPath: /etc/alloy}
      volumes:
        - name: config
          configMap: {name: alloy}
---
`

func TestCheckStdinHelmStream(t *testing.T) {
	t.Parallel()
	r := modeguard(t, helmStream, "check", "-f", "-", "-o", "json")
	if r.code != exitOK {
		t.Fatalf("exit %d, want 0 (only fixes): %s %s", r.code, r.stdout, r.stderr)
	}
	o := decodeJSON(t, r.stdout)
	var got []string
	for _, f := range o.Findings {
		got = append(got, f.Rule+":"+string(f.Action)+":"+f.Kind)
	}
	want := []string{"MG001:fix:ConfigMap", "MG002:fix:DaemonSet"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// Located in the template Helm names, at the line of its output.
	if o.Findings[0].File != "alloy/templates/configmap.yaml" || o.Findings[0].Line != 8 || o.Findings[0].ConfigLine != 1 {
		t.Errorf("MG001 position: %s:%d (config line %d), want alloy/templates/configmap.yaml:8 (config line 1)", o.Findings[0].File, o.Findings[0].Line, o.Findings[0].ConfigLine)
	}
	if o.Findings[1].File != "alloy/templates/controllers/daemonset.yaml" || o.Findings[1].Line != 1 {
		t.Errorf("MG002 position: %s:%d, want alloy/templates/controllers/daemonset.yaml:1", o.Findings[1].File, o.Findings[1].Line)
	}
}

func TestFixConverges(t *testing.T) {
	t.Parallel()
	once := modeguard(t, helmStream, "fix", "-f", "-")
	if once.code != exitOK {
		t.Fatalf("fix: exit %d: %s", once.code, once.stderr)
	}
	for _, want := range []string{"fixed: ConfigMap monitoring/alloy discovery.kubernetes.pods: MG001", "fixed: DaemonSet monitoring/alloy discovery.kubernetes.pods: MG002 node-name-source (node-name-env)"} {
		if !strings.Contains(once.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, once.stderr)
		}
	}
	if !strings.Contains(once.stdout, "# Source: alloy/templates/serviceaccount.yaml") {
		t.Errorf("fix dropped the comment of an untouched document")
	}
	if !strings.Contains(once.stdout, `field = "spec.nodeName=" + coalesce(sys.env("HOSTNAME"), constants.hostname)`) {
		t.Errorf("fixed config lacks the node selector:\n%s", once.stdout)
	}
	if !strings.Contains(once.stdout, "fieldPath: spec.nodeName") {
		t.Errorf("fixed DaemonSet lacks the HOSTNAME fieldRef:\n%s", once.stdout)
	}
	again := modeguard(t, once.stdout, "check", "-f", "-", "-o", "json")
	if o := decodeJSON(t, again.stdout); o.Summary.Fix != 0 || o.Summary.Findings != 0 {
		t.Errorf("check after fix: %+v, want no findings", o.Summary)
	}
	twice := modeguard(t, once.stdout, "fix", "-f", "-")
	if twice.stdout != once.stdout {
		t.Errorf("fix is not idempotent:\n--- once\n%s\n--- twice\n%s", once.stdout, twice.stdout)
	}
}

func TestFixInPlace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "alloy.yaml")
	if err := os.WriteFile(file, []byte(helmStream), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := modeguard(t, "", "fix", "-w", "-f", dir); r.code != exitOK {
		t.Fatalf("fix -w: exit %d: %s", r.code, r.stderr)
	}
	data, _ := os.ReadFile(file)
	if !strings.HasPrefix(string(data), "---\n# Source: alloy/templates/configmap.yaml\n") || !strings.Contains(string(data), "coalesce(sys.env(\"HOSTNAME\")") {
		t.Fatalf("rewritten file:\n%s", data)
	}
	if r := modeguard(t, "", "check", "-f", file); r.code != exitOK || !strings.Contains(r.stdout, "0 findings") {
		t.Fatalf("check of the rewritten file: exit %d\n%s", r.code, r.stdout)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mixed := filepath.Join(dir, "mixed")
	write("mixed/README.md", "not yaml at all: [")
	write("mixed/ok.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\n")
	syntax := write("syntax.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: [a\n")
	empty := write("empty.yaml", "")
	broken := write("broken.yaml", `apiVersion: v1
kind: ConfigMap
metadata:
  name: alloy
  annotations: {modeguard.dev/mode: daemonset}
data:
  config.alloy: |
    discovery.kubernetes "pods" {
      role = "pod"
`)
	big := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big, annotations: {modeguard.dev/mode: statefulset}}\ndata:\n  config.alloy: |\n" +
		strings.Repeat("    prometheus.exporter.unix \"n\" { }\n", 1) + strings.Repeat("    // padding line to make a 3 MiB config file, as a new user might try\n", 3<<20/70)
	bigFile := write("big.yaml", big)
	binary := write("binary.yaml", "\x00\x01\x02")

	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"directory with a non-YAML file", []string{"check", "-f", mixed}, exitOK, "1 object, 0 findings"},
		{"YAML syntax error", []string{"check", "-f", syntax}, exitUsage, "syntax.yaml:5: YAML:"},
		{"empty file", []string{"check", "-f", empty}, exitOK, "0 objects, 0 findings"},
		{"config that does not parse", []string{"check", "-f", broken}, exitFindings, "MG013 config-syntax DENY"},
		{"3 MiB config", []string{"check", "-f", bigFile}, exitOK, "1 object, 0 findings"},
		{"binary file", []string{"check", "-f", binary}, exitUsage, "binary.yaml: not a text file"},
		{"missing file", []string{"check", "-f", filepath.Join(dir, "nope.yaml")}, exitUsage, "nope.yaml: no such file or directory"},
		{"no input", []string{"check"}, exitUsage, "no input"},
		{"bad output", []string{"check", "-f", empty, "-o", "xml"}, exitUsage, `-o "xml"`},
		{"unknown flag", []string{"check", "--bogus"}, exitUsage, "unknown flag"},
		{"unknown rule", []string{"explain", "MG999"}, exitUsage, `no rule "MG999"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := modeguard(t, "", c.args...)
			all := r.stdout + r.stderr
			if r.code != c.code || !strings.Contains(all, c.want) {
				t.Fatalf("exit %d, want %d; output lacks %q?\n%s", r.code, c.code, c.want, all)
			}
			if strings.Contains(all, "goroutine ") || strings.Contains(all, "panic") {
				t.Fatalf("stack trace in output:\n%s", all)
			}
		})
	}
}

func TestSARIF(t *testing.T) {
	t.Parallel()
	r := modeguard(t, "", "check", "-f", "../../examples/mg004-fires", "-o", "sarif")
	var log sarifLog
	if err := json.Unmarshal([]byte(r.stdout), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Tool.Driver.Rules) < 15 {
		t.Fatalf("unexpected SARIF: %s", r.stdout[:min(400, len(r.stdout))])
	}
	res := log.Runs[0].Results
	if len(res) != 1 || res[0].RuleID != "MG004" || res[0].Level != "error" || res[0].Locations[0].Physical.Region.StartLine != 20 {
		t.Fatalf("results: %+v", res)
	}
}

func TestRegoTestCommand(t *testing.T) {
	t.Parallel()
	r := modeguard(t, "", "test")
	if r.code != exitOK || !strings.Contains(r.stdout, "PASS: ") {
		t.Fatalf("exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	r := modeguard(t, "", "explain", "mg001")
	for _, want := range []string{"MG001 daemonset-node-local-discovery", "Default action: fix", "examples/mg001-fires", "+        field = \"spec.nodeName=\" + coalesce(sys.env(\"HOSTNAME\"), constants.hostname)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("explain lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestVersionAndCompletion(t *testing.T) {
	t.Parallel()
	if r := modeguard(t, "", "--version"); r.code != 0 || !strings.Contains(r.stdout, "modeguard version") {
		t.Errorf("--version: %d %q", r.code, r.stdout)
	}
	if r := modeguard(t, "", "completion", "bash"); r.code != 0 || !strings.Contains(r.stdout, "__start_modeguard") {
		t.Errorf("completion bash: %d", r.code)
	}
}
