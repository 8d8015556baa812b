package main

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	gosarif "github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
)

// TestSARIFStdinLocations: every result of a stdin run has a location:
// the template of Helm's "# Source:" comment, or --stdin-filename.
func TestSARIFStdinLocations(t *testing.T) {
	t.Parallel()
	plain := strings.ReplaceAll(helmStream, "# Source: ", "# was: ")
	cases := []struct {
		name, stdin string
		args        []string
		want        []string // uri:line of each result
	}{
		{"helm", helmStream, nil, []string{"alloy/templates/configmap.yaml:8", "alloy/templates/controllers/daemonset.yaml:1"}},
		{"stdin-filename", plain, []string{"--stdin-filename", "deploy/rendered all.yaml"}, []string{"deploy/rendered%20all.yaml:10", "deploy/rendered%20all.yaml:25"}},
	}
	for _, c := range cases {
		r := modeguard(t, c.stdin, append([]string{"check", "-", "-o", "sarif"}, c.args...)...)
		var log sarifLog
		if err := json.Unmarshal([]byte(r.stdout), &log); err != nil {
			t.Fatalf("%s: %v\n%s%s", c.name, err, r.stdout, r.stderr)
		}
		var got []string
		for _, res := range log.Runs[0].Results {
			if len(res.Locations) == 0 || res.Locations[0].Physical.Region == nil {
				t.Errorf("%s: result %s has no location", c.name, res.RuleID)
				continue
			}
			p := res.Locations[0].Physical
			got = append(got, p.Artifact.URI+":"+itoa(p.Region.StartLine))
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

// schemaDefaults sets what a SARIF reader takes for absent properties
// where go-sarif's structs would otherwise encode null: empty arrays, and
// the defaults of language (en-US) and newlineSequences.
func schemaDefaults(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			schemaDefaults(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Field(i)
			if !f.CanSet() {
				continue
			}
			if f.Kind() == reflect.Slice && f.IsNil() {
				f.Set(reflect.MakeSlice(f.Type(), 0, 0))
			}
			switch name := v.Type().Field(i).Name; {
			case name == "Language" && f.Kind() == reflect.String && f.String() == "":
				f.SetString("en-US")
			case name == "NewlineSequences" && f.Len() == 0:
				f.Set(reflect.ValueOf([]string{"\r\n", "\n"}))
			}
			schemaDefaults(f)
		}
	case reflect.Slice:
		for i := range v.Len() {
			schemaDefaults(v.Index(i))
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestSARIFCIRecipe runs the README's CI recipe as printed on a Helm-style
// stream and reads the SARIF with go-sarif: valid against the SARIF 2.1.0
// schema, and as GitHub code scanning requires it (every result located in
// a file by a URI relative to the repository root, with a line), each
// result at the template Helm names and a line inside that template's
// output.
func TestSARIFCIRecipe(t *testing.T) {
	t.Parallel()
	args := readmeRecipe(t)
	// Two templates, one rendering two documents, a config finding and a
	// workload finding in each.
	stream := helmStream + strings.ReplaceAll(strings.ReplaceAll(helmStream, "name: alloy", "name: alloy-b"), "{name: alloy}", "{name: alloy-b}")
	if n := checkRecipeSARIF(t, "helm stream", stream, args); n < 4 {
		t.Fatalf("%d results, want at least 4", n)
	}
}

// TestSARIFCIRecipeCorpus runs the README's CI recipe on every Helm render
// of the corpus (MODEGUARD_CORPUS): every result located at a template
// the stream names, at a line of that template's output.
func TestSARIFCIRecipeCorpus(t *testing.T) {
	t.Parallel()
	dir := corpusDir(t)
	args := readmeRecipe(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*", "cases", "*", "manifests.yaml"))
	streams, results := 0, 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "\n# Source: ") {
			continue
		}
		streams++
		results += checkRecipeSARIF(t, f, string(data), args)
	}
	if streams == 0 || results == 0 {
		t.Fatalf("%d Helm renders, %d results: the test tests nothing", streams, results)
	}
	t.Logf("%d Helm renders, %d results, each located", streams, results)
}

// readmeRecipe is the arguments of the README's CI recipe after
// "modeguard", up to a redirection.
func readmeRecipe(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var recipe string
	for _, l := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(l, "helm template ") && strings.Contains(l, "| modeguard check") && strings.Contains(l, "sarif") {
			recipe = l
		}
	}
	if recipe == "" {
		t.Fatal("README has no CI recipe 'helm template … | modeguard check … sarif'")
	}
	cmd := strings.TrimSpace(recipe[strings.Index(recipe, "| modeguard ")+len("| modeguard "):])
	if i := strings.Index(cmd, ">"); i >= 0 {
		cmd = strings.TrimSpace(cmd[:i])
	}
	args := strings.Fields(cmd)
	for _, a := range args {
		if f, ok := strings.CutPrefix(a, "sarif="); ok {
			t.Fatalf("the recipe writes %s: read it from there", f)
		}
	}
	return args
}

// checkRecipeSARIF runs modeguard with args on stream and checks its SARIF
// as GitHub code scanning takes it; it returns the number of results.
func checkRecipeSARIF(t *testing.T, name, stream string, args []string) int {
	t.Helper()
	r := modeguard(t, stream, args...)
	out := r.stdout
	if r.code == exitUsage {
		t.Fatalf("%s: modeguard %s: exit %d: %s", name, strings.Join(args, " "), r.code, r.stderr)
	}
	report, err := gosarif.FromString(out)
	if err != nil {
		t.Fatalf("%s: go-sarif cannot read the output: %v", name, err)
	}
	// go-sarif validates its own structs: JSON arrays left out (optional in
	// SARIF) read as nil and would be checked as null; the schema's
	// defaults stand for them, as they do for a reader of the file.
	schemaDefaults(reflect.ValueOf(report))
	if err := report.Validate(); err != nil {
		t.Errorf("%s: not valid SARIF 2.1.0: %v", name, err)
	}
	if report.Version != "2.1.0" || len(report.Runs) != 1 {
		t.Fatalf("%s: version %q, %d runs; want 2.1.0, one run", name, report.Version, len(report.Runs))
	}
	run := report.Runs[0]
	if run.Tool.Driver.Version == nil || *run.Tool.Driver.Version == "" {
		t.Errorf("%s: driver.version is empty", name)
	}
	// template → lines of its output: the documents Helm names it before,
	// a separator line each.
	templates := map[string]int{}
	src, n := "", 0
	for _, l := range strings.Split(stream, "\n") {
		l = strings.TrimRight(l, "\r")
		if strings.TrimSpace(l) == "---" {
			if src != "" {
				templates[src] += n + 1
			}
			src, n = "", 0
			continue
		}
		if s, ok := strings.CutPrefix(l, "# Source: "); ok && src == "" && n == 0 {
			src = strings.TrimSpace(s)
			continue
		}
		n++
	}
	if src != "" {
		templates[src] += n + 1
	}
	for _, res := range run.Results {
		id := ""
		if res.RuleID != nil {
			id = *res.RuleID
		}
		if len(res.Locations) == 0 || res.Locations[0].PhysicalLocation == nil || res.Locations[0].PhysicalLocation.ArtifactLocation == nil {
			t.Errorf("%s: result %s has no physical location", name, id)
			continue
		}
		pl := res.Locations[0].PhysicalLocation
		uri := ""
		if pl.ArtifactLocation.URI != nil {
			uri = *pl.ArtifactLocation.URI
		}
		u, err := url.Parse(uri)
		if err != nil || u.IsAbs() || strings.HasPrefix(uri, "/") || uri == "" || uri == "-" {
			t.Errorf("%s: result %s: uri %q is not relative to the repository root", name, id, uri)
			continue
		}
		n, ok := templates[u.Path]
		if !ok {
			t.Errorf("%s: result %s: uri %q is no template of the stream %v", name, id, uri, templates)
		}
		if pl.Region == nil || pl.Region.StartLine == nil || *pl.Region.StartLine < 1 || *pl.Region.StartLine > n {
			t.Errorf("%s: result %s: region %+v is not a line of %s (1-%d)", name, id, pl.Region, uri, n)
		}
		if pl.Region != nil && (pl.Region.StartColumn == nil || *pl.Region.StartColumn < 1) {
			t.Errorf("%s: result %s: no startColumn", name, id)
		}
	}
	for _, rule := range run.Tool.Driver.Rules {
		if rule.HelpURI == nil || !strings.HasPrefix(*rule.HelpURI, "https://") || rule.Help == nil {
			t.Errorf("%s: rule %s: helpUri %v, help %v; want both", name, *rule.ID, rule.HelpURI, rule.Help)
		}
	}
	return len(run.Results)
}
