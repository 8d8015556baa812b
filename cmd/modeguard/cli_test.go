package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckPositional: paths as arguments read as -f does; both mix.
func TestCheckPositional(t *testing.T) {
	t.Parallel()
	a := modeguard(t, "", "check", "../../examples/", "-o", "json")
	b := modeguard(t, "", "check", "-f", "../../examples/", "-o", "json")
	if a.code != b.code || a.stdout != b.stdout {
		t.Errorf("check examples/: exit %d, %d bytes; check -f examples/: exit %d, %d bytes; want the same", a.code, len(a.stdout), b.code, len(b.stdout))
	}
	data, _ := os.ReadFile("../../examples/mg001-fires/manifest.yaml")
	r := modeguard(t, string(data), "check", "../../examples/mg004-fires/manifest.yaml", "-", "-f", "../../examples/mg010-fires/manifest.yaml", "-o", "json")
	o := decodeJSON(t, r.stdout)
	if o.Summary.Objects != 9 {
		t.Errorf("three inputs: got %d objects, want 9", o.Summary.Objects)
	}
}

// TestFailOn: deny (default), warn, fix (the drift gate) and never.
func TestFailOn(t *testing.T) {
	t.Parallel()
	cases := []struct {
		example, failOn string
		want            int
	}{
		{"mg001-fires", "deny", exitOK}, // fix only
		{"mg001-fires", "warn", exitOK},
		{"mg001-fires", "fix", exitFindings},
		{"mg001-passes", "fix", exitOK},
		{"mg003-fires", "never", exitOK}, // deny and warn
		{"mg003-fires", "deny", exitFindings},
		{"mg009-fires", "deny", exitOK}, // warn
		{"mg009-fires", "warn", exitFindings},
		{"mg009-fires", "fix", exitFindings},
		{"mg009-fires", "audit", exitUsage},
	}
	for _, c := range cases {
		r := modeguard(t, "", "check", "../../examples/"+c.example, "--fail-on", c.failOn)
		if r.code != c.want {
			t.Errorf("%s --fail-on %s: exit %d, want %d (%s)", c.example, c.failOn, r.code, c.want, r.stderr)
		}
	}
}

// TestEnableDisable: --disable turns a rule off for the run, --enable
// turns one the settings turned off back on.
func TestEnableDisable(t *testing.T) {
	t.Parallel()
	settings := filepath.Join(t.TempDir(), "settings.yaml")
	if err := os.WriteFile(settings, []byte("rules:\n  MG004: {action: off}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want int
	}{
		{nil, exitFindings},
		{[]string{"--disable", "MG004"}, exitOK},
		{[]string{"--disable", "mg003,MG004"}, exitOK},
		{[]string{"--settings", settings}, exitOK},
		{[]string{"--settings", settings, "--enable", "MG004"}, exitFindings},
		{[]string{"--disable", "MG999"}, exitUsage},
	}
	for _, c := range cases {
		r := modeguard(t, "", append([]string{"check", "../../examples/mg004-fires"}, c.args...)...)
		if r.code != c.want {
			t.Errorf("check mg004-fires %v: exit %d, want %d (%s)", c.args, r.code, c.want, r.stderr)
		}
	}
}

// TestTextAuditAndPlurals: text hides audit findings unless --show-audit
// and counts in the right number.
func TestTextAuditAndPlurals(t *testing.T) {
	t.Parallel()
	r := modeguard(t, "", "check", "../../examples/receiver-daemonset")
	if strings.Contains(r.stdout, "AUDIT") || !strings.Contains(r.stdout, "2 audit findings not shown (--show-audit)") {
		t.Errorf("text shows audit findings, or does not say they are hidden:\n%s", r.stdout)
	}
	r = modeguard(t, "", "check", "../../examples/receiver-daemonset", "--show-audit")
	if strings.Count(r.stdout, "AUDIT") != 2 || strings.Contains(r.stdout, "not shown") {
		t.Errorf("--show-audit: want the 2 audit findings:\n%s", r.stdout)
	}
	r = modeguard(t, "", "check", "../../examples/mg004-fires")
	if !strings.Contains(r.stdout, "3 objects, 1 finding (") {
		t.Errorf("want \"3 objects, 1 finding\":\n%s", r.stdout)
	}
	if got := summary(summary{Objects: 1, Findings: 2}).String(); !strings.HasPrefix(got, "1 object, 2 findings") {
		t.Errorf("got %q, want 1 object, 2 findings", got)
	}
}

// TestOutputs: -o github writes workflow annotations, -o junit a testcase
// per object and rule, and -o FORMAT=FILE writes to files, repeatable.
func TestOutputs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	junit, sarif := filepath.Join(dir, "out.xml"), filepath.Join(dir, "out.sarif")
	r := modeguard(t, "", "check", "../../examples/mg003-fires", "-o", "github", "-o", "junit="+junit, "-o", "sarif="+sarif)
	if r.code != exitFindings {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"::error file=examples/mg003-fires/manifest.yaml,line=24,col=5,title=MG004 cluster-wide-collection-in-daemonset (deny)::ConfigMap mg003-fires/alloy prometheus.scrape.endpoints: ",
		"::warning file=examples/mg003-fires/manifest.yaml,line=16,col=5,title=MG003 endpoints-pod-selector (warn)::",
		"%0Afix: none: change the manifest\n",
		"::notice title=modeguard::3 objects, 2 findings",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("github output lacks %q:\n%s", want, r.stdout)
		}
	}
	data, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var suites junitSuites
	if err := xml.Unmarshal(data, &suites); err != nil {
		t.Fatalf("junit: %v\n%s", err, data)
	}
	failures := map[string]bool{}
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			if c.Failure != nil {
				failures[c.Classname+" "+c.Name] = true
			}
		}
	}
	if suites.Tests < 10 || suites.Failures != 1 || !failures["ConfigMap mg003-fires/alloy MG004 cluster-wide-collection-in-daemonset"] {
		t.Errorf("junit: %d tests, failures %v; want a testcase per object and rule, MG004 on the ConfigMap failing", suites.Tests, failures)
	}
	// Paths relative to the repository root, not to the working directory.
	if s, err := os.ReadFile(sarif); err != nil || !strings.Contains(string(s), `"ruleId": "MG004"`) || !strings.Contains(string(s), `"uri": "examples/mg003-fires/manifest.yaml"`) {
		t.Errorf("sarif file: %v %.200s", err, s)
	}
	if r := modeguard(t, "", "check", "../../examples/mg003-fires", "-o", "json", "-o", "text"); r.code != exitUsage {
		t.Errorf("two formats to stdout: exit %d, want 2", r.code)
	}
}

// TestProjectConfig: .modeguard.yaml, found upward from the working
// directory, gives defaults (settings, ignores, output, fail-on); flags win.
func TestProjectConfig(t *testing.T) {
	root := t.TempDir()
	example, _ := os.ReadFile("../../examples/mg004-fires/manifest.yaml")
	warn, _ := os.ReadFile("../../examples/mg009-fires/manifest.yaml")
	writeTree(t, root, map[string]string{
		".modeguard.yaml":      "settings: config/settings.yaml\nignore: ['broken/*']\noutput: [json]\nfailOn: warn\n",
		"config/settings.yaml": "rules:\n  MG004: {action: off}\n",
		"deploy/a.yaml":        string(example),
		"deploy/b.yaml":        string(warn),
		"broken/x.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata: [\n",
		"deploy/sub/.keep":     "",
	})
	t.Chdir(filepath.Join(root, "deploy", "sub"))
	r := modeguard(t, "", "check", "../..") // broken/ is ignored
	if r.code != exitFindings {
		t.Fatalf("exit %d, want 1 (fail-on warn, MG009 warns): %s %s", r.code, r.stdout, r.stderr)
	}
	o := decodeJSON(t, r.stdout)
	for _, f := range o.Findings {
		if f.Rule == "MG004" {
			t.Errorf("MG004 reported: the settings of .modeguard.yaml turn it off")
		}
	}
	// Flags win.
	if r := modeguard(t, "", "check", "..", "--fail-on", "deny", "-o", "text"); r.code != exitOK || !strings.Contains(r.stdout, "objects,") {
		t.Errorf("flags over the file: exit %d, stdout %s", r.code, r.stdout)
	}
	if p, err := findConfig("."); err != nil || p != filepath.Join(root, ".modeguard.yaml") {
		t.Errorf("findConfig: got %q %v, want %s", p, err, filepath.Join(root, ".modeguard.yaml"))
	}
	writeTree(t, root, map[string]string{".modeguard.yaml": "failon: warn\n"})
	if r := modeguard(t, "", "check", ".."); r.code != exitUsage || !strings.Contains(r.stderr, "failon") {
		t.Errorf("a misspelt key: exit %d, stderr %s; want 2 naming it", r.code, r.stderr)
	}
}

// TestRulesCatalog: modeguard rules and explain without a rule list the
// catalog.
func TestRulesCatalog(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"rules"}, {"explain"}} {
		r := modeguard(t, "", args...)
		if r.code != exitOK || !strings.Contains(r.stdout, "MG001  daemonset-node-local-discovery") || !strings.Contains(r.stdout, "MG015") || !strings.Contains(r.stdout, "15 rules") {
			t.Errorf("%v: exit %d:\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	settings := filepath.Join(t.TempDir(), "settings.yaml")
	if err := os.WriteFile(settings, []byte("rules:\n  MG004: {action: warn}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := modeguard(t, "", "rules", "-o", "json", "--settings", settings)
	if r.code != exitOK || !strings.Contains(r.stdout, `"id": "MG004"`) || !strings.Contains(r.stdout, `"action": "warn",
    "defaultAction": "deny"`) {
		t.Errorf("rules -o json: exit %d:\n%s", r.code, r.stdout)
	}
}

// TestVerify: verify runs the examples' expect annotations, and test
// files; a wrong expectation fails.
func TestVerify(t *testing.T) {
	t.Parallel()
	r := modeguard(t, "", "verify", "../../examples/")
	if r.code != exitOK || !strings.Contains(r.stdout, " passed, 0 failed") {
		t.Fatalf("verify examples/: exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	example, _ := os.ReadFile("../../examples/mg004-fires/manifest.yaml")
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"short/manifest.yaml": strings.Replace(string(example), `modeguard.dev/expect: "MG004:deny"`, `modeguard.dev/expect: "MG004:warn"`, 1),
		"long/m.yaml":         string(example),
		"long/modeguard-test.yaml": `apiVersion: modeguard.dev/v1
kind: Test
tests:
  - name: denied
    manifests: [m.yaml]
    expect:
      - object: ConfigMap/mg004-fires/alloy
        findings: [MG004:deny]
        absent: [MG001]
      - object: DaemonSet/mg004-fires/alloy
        exact: true
  - name: wrong
    manifests: [m.yaml]
    expect:
      - object: ConfigMap/mg004-fires/alloy
        absent: [MG004]
`,
	})
	r = modeguard(t, "", "verify", dir)
	if r.code != exitFindings {
		t.Fatalf("exit %d, want 1:\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"FAIL " + filepath.Join(dir, "long/modeguard-test.yaml") + ": wrong\n  ConfigMap/mg004-fires/alloy: want no MG004, got MG004:deny",
		"FAIL " + filepath.Join(dir, "short/manifest.yaml") + "\n  ConfigMap/mg004-fires/alloy: want MG004:warn, got MG004:deny",
		"1 passed, 2 failed",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("verify output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestCompletion: the shell completion offers the new flags' values.
func TestCompletion(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "check", "--fail-on", ""}, []string{"deny", "warn", "fix", "never"}},
		{[]string{"__complete", "check", "-o", ""}, []string{"github\t", "junit\t", "sarif\t"}},
		{[]string{"__complete", "check", "--disable", ""}, []string{"MG001\t", "MG015\t"}},
		{[]string{"__complete", "check", "--"}, []string{"--ignore", "--stdin-filename", "--show-audit", "--enable", "--config", "--fail-on"}},
		{[]string{"__complete", ""}, []string{"rules\t", "verify\t"}},
		{[]string{"__complete", "explain", ""}, []string{"MG004\t"}},
	}
	for _, c := range cases {
		r := modeguard(t, "", c.args...)
		for _, w := range c.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%v: lacks %q:\n%s", c.args, w, r.stdout)
			}
		}
	}
}
