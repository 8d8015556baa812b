package manifest

import (
	"strings"
	"testing"
)

// TestReadStdinLocations: stdin documents are located in Helm's templates,
// counting lines inside each template's output (documents of one template
// follow each other), or in the stdin file name.
func TestReadStdinLocations(t *testing.T) {
	t.Parallel()
	stream := `---
# Source: c/templates/a.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: one
---
# Source: c/templates/b.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: two
---
# Source: c/templates/a.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: three
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: four
`
	in, err := Read([]string{"-"}, strings.NewReader(stream), ReadOptions{StdinFilename: "rendered.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"c/templates/a.yaml:1", "c/templates/b.yaml:1", "c/templates/a.yaml:6", "rendered.yaml:20"}
	var got []string
	for _, d := range in.Docs {
		got = append(got, d.Where())
		if d.Path != "-" {
			t.Errorf("%s: Path %q, want -", d.Name, d.Path)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %v, want %v", got, want)
	}
	// Raw's line 0 is the "# Source:" comment, the line before line 1.
	if d := in.Docs[0]; d.RawLine != 0 {
		t.Errorf("RawLine %d, want 0", d.RawLine)
	}
}

func TestNotManifestFile(t *testing.T) {
	t.Parallel()
	for name, skip := range map[string]bool{
		"chart/Chart.yaml": true, "chart/Chart.lock": true, "values.yaml": true, "values-prod.yaml": true,
		"values.prod.yml": true, "values.schema.json": true, "kustomization.yaml": true, "Kustomization": true,
		"deploy/daemonset.yaml": false, "valuesets.yaml": false, "chart.yaml": false,
	} {
		if got := notManifestFile(name) != ""; got != skip {
			t.Errorf("%s: skipped %v, want %v", name, got, skip)
		}
	}
}

func TestIgnored(t *testing.T) {
	t.Parallel()
	globs := []string{"testdata/*", "*.tmpl.yaml", "./charts/"}
	for file, want := range map[string]bool{
		"a/testdata/x.yaml": true, "testdata/x.yaml": true, "a/b.tmpl.yaml": true, "charts/alloy/templates/x.yaml": true,
		"a/b.yaml": false, "testdatax/x.yaml": false,
	} {
		if got := ignored(file, globs); got != want {
			t.Errorf("%s: ignored %v, want %v", file, got, want)
		}
	}
}
