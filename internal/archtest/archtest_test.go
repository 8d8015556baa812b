// Package archtest checks the shape of the module's import graph: the layer
// order of docs/architecture.md (its ```layers block) and what the CLI
// binary links. It has test files only.
package archtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pkg is what go list says of one package.
type pkg struct {
	ImportPath string
	Imports    []string
}

// layers maps a package (its path below the module) to its line in the
// layers block, 0 for the first.
type layers map[string]int

// parseLayers reads the ```layers block of a markdown document: one line per
// layer, package paths below the module separated by spaces, the first line
// the lowest layer.
func parseLayers(md []byte) (layers, error) {
	const open = "```layers"
	sc := bufio.NewScanner(bytes.NewReader(md))
	in, closed := false, false
	out := layers{}
	line := 0
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if !in {
			in = text == open
			continue
		}
		if strings.HasPrefix(text, "```") {
			closed = true
			break
		}
		if text == "" {
			continue
		}
		for _, p := range strings.Fields(text) {
			if prev, dup := out[p]; dup {
				return nil, fmt.Errorf("%s is on line %d and line %d of the layers block", p, prev+1, line+1)
			}
			out[p] = line
		}
		line++
	}
	switch {
	case !in:
		return nil, errors.New("no ```layers block")
	case !closed:
		return nil, errors.New("the ```layers block is not closed")
	case len(out) == 0:
		return nil, errors.New("the ```layers block is empty")
	}
	return out, nil
}

// violations lists every import of pkgs that goes from a line of l to a
// line below it, and every package of the module that l does not place.
// Imports from outside the module are not its business.
func violations(l layers, module string, pkgs []pkg) []string {
	rel := func(path string) (string, bool) {
		return strings.CutPrefix(path, module+"/")
	}
	var out []string
	for _, p := range pkgs {
		from, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		fromLine, ok := l[from]
		if !ok {
			out = append(out, fmt.Sprintf("package %s is missing from the layers block", from))
			continue
		}
		for _, imp := range p.Imports {
			to, ok := rel(imp)
			if !ok {
				continue
			}
			if toLine, ok := l[to]; ok && toLine > fromLine {
				out = append(out, fmt.Sprintf("%s (line %d) imports %s (line %d): an import from a line to a line below it",
					from, fromLine+1, to, toLine+1))
			}
		}
	}
	return out
}

// goList runs go list with args in the module's root and decodes the
// packages it prints (-json).
func goList(t *testing.T, root string, args ...string) []pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list's output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// module returns the module's root directory and path.
func module(t *testing.T) (root, path string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}} {{.Path}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	root, path, ok := strings.Cut(strings.TrimSpace(string(out)), " ")
	if !ok {
		t.Fatalf("go list -m: %q", out)
	}
	return root, path
}

// TestLayers: no package of the module imports one of a line below its own
// in docs/architecture.md's layers block, and the block places every
// package. Test files are not held to it: a test may use the test helpers
// of the last line.
func TestLayers(t *testing.T) {
	root, path := module(t)
	md, err := os.ReadFile(filepath.Join(root, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := parseLayers(md)
	if err != nil {
		t.Fatalf("docs/architecture.md: %v", err)
	}
	pkgs := goList(t, root, "-json=ImportPath,Imports", "./...")
	for _, v := range violations(l, path, pkgs) {
		t.Error(v)
	}
	// Names in the block that are no package (yet): not an error, since a
	// line may name a package a change is about to add.
	listed := map[string]bool{}
	for _, p := range pkgs {
		listed[strings.TrimPrefix(p.ImportPath, path+"/")] = true
	}
	for name := range l {
		if !listed[name] {
			t.Logf("the layers block names %s, which is no package of the module", name)
		}
	}
}

func TestViolations(t *testing.T) {
	t.Parallel()
	const mod = "example.com/m"
	md := []byte("text\n\n```layers\na b\n\nc\nd\n```\n\nmore text\n")
	l, err := parseLayers(md)
	if err != nil {
		t.Fatal(err)
	}
	if want := (layers{"a": 0, "b": 0, "c": 1, "d": 2}); !maps.Equal(l, want) {
		t.Fatalf("parseLayers: got %v, want %v", l, want)
	}
	for _, tc := range []struct {
		name string
		pkgs []pkg
		want []string
	}{
		{"same line and lines above", []pkg{
			{ImportPath: mod + "/a", Imports: []string{"fmt", mod + "/b"}},
			{ImportPath: mod + "/d", Imports: []string{mod + "/a", mod + "/c", "other.org/x/d"}},
		}, nil},
		{"an import from a line to a line below it", []pkg{
			{ImportPath: mod + "/c", Imports: []string{mod + "/a", mod + "/d"}},
		}, []string{"c (line 2) imports d (line 3): an import from a line to a line below it"}},
		{"a package missing from the block", []pkg{
			{ImportPath: mod + "/e", Imports: []string{mod + "/a"}},
		}, []string{"package e is missing from the layers block"}},
		{"another module's packages are not placed", []pkg{
			{ImportPath: "other.org/x/e", Imports: []string{mod + "/d"}},
		}, nil},
	} {
		if got := violations(l, mod, tc.pkgs); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	for _, bad := range []string{"no block", "```layers\na\n", "```layers\n```\n", "```layers\na\nb a\n```\n"} {
		if _, err := parseLayers([]byte(bad)); err == nil {
			t.Errorf("parseLayers(%q): got no error, want one", bad)
		}
	}
}

// maxCLIDeps bounds the packages cmd/modeguard depends on (go list -deps,
// the standard library included): the CLI runs the engine offline and needs
// no webhook server nor metrics.
const maxCLIDeps = 600

// notInCLI are import paths (and everything below them) the CLI must not
// link.
var notInCLI = []string{
	"sigs.k8s.io/controller-runtime/pkg/webhook",
	"github.com/prometheus/client_golang",
}

// TestCLIDependencies: the CLI links neither the webhook server nor the
// Prometheus client, and depends on at most maxCLIDeps packages.
func TestCLIDependencies(t *testing.T) {
	root, _ := module(t)
	deps := goList(t, root, "-deps", "-json=ImportPath", "./cmd/modeguard")
	for _, d := range deps {
		for _, bad := range notInCLI {
			if d.ImportPath == bad || strings.HasPrefix(d.ImportPath, bad+"/") {
				t.Errorf("cmd/modeguard depends on %s (go mod why -m or go list -deps -f tell through what)", d.ImportPath)
			}
		}
	}
	if len(deps) > maxCLIDeps {
		t.Errorf("cmd/modeguard depends on %d packages, want at most %d", len(deps), maxCLIDeps)
	}
	t.Logf("cmd/modeguard depends on %d packages", len(deps))
}
