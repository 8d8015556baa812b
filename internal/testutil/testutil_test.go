package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestHasWarning(t *testing.T) {
	t.Parallel()
	ws := []string{"MG001: fixed the config", "MG004: cannot fix the DaemonSet"}
	for _, c := range []struct {
		parts []string
		want  bool
	}{
		{[]string{"MG001"}, true},
		{[]string{"MG004", "DaemonSet"}, true},
		{[]string{"MG001", "DaemonSet"}, false}, // the parts are in different warnings
		{[]string{"MG002"}, false},
		{nil, true},
	} {
		if got := HasWarning(ws, c.parts...); got != c.want {
			t.Errorf("HasWarning(%q, %q): got %v, want %v", ws, c.parts, got, c.want)
		}
	}
	if HasWarning(nil) {
		t.Error("HasWarning(nil): got true, want false")
	}
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, a ...any) {
	r.failed = fmt.Sprintf(format, a...)
}
func (r *recorder) Fatalf(format string, a ...any) {
	r.failed = fmt.Sprintf(format, a...)
}
func (r *recorder) Fatal(a ...any) { r.failed = fmt.Sprint(a...) }

// TestGolden is not parallel: it sets -update (make update-golden runs it
// with -update on).
func TestGolden(t *testing.T) {
	defer func(was bool) { *update = was }(*update)
	*update = false
	dir := t.TempDir()
	path := filepath.Join(dir, "want.txt")
	if err := os.WriteFile(path, []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, got string
		fails     []string // what the failure says; none: passes
	}{
		{"same", "a\nb\n", nil},
		{"different line", "a\nc\n", []string{path, "-b", "+c", "-run '^TestGolden$' -update"}},
		{"no newline at the end", "a\nb", []string{path}},
	} {
		r := &recorder{TB: t}
		Golden(r, path, []byte(c.got))
		if len(c.fails) == 0 && r.failed != "" {
			t.Errorf("%s: got failure %q, want none", c.name, r.failed)
		}
		for _, f := range c.fails {
			if !strings.Contains(r.failed, f) {
				t.Errorf("%s: got failure %q, want one containing %q", c.name, r.failed, f)
			}
		}
	}

	r := &recorder{TB: t}
	Golden(r, filepath.Join(dir, "missing.txt"), []byte("x"))
	if !strings.Contains(r.failed, "-update") {
		t.Errorf("missing file: got failure %q, want the -update hint", r.failed)
	}

	*update = true
	r = &recorder{TB: t}
	Golden(r, path, []byte("new\n"))
	if got, _ := os.ReadFile(path); string(got) != "new\n" || r.failed != "" {
		t.Errorf("-update: got file %q and failure %q, want %q and none", got, r.failed, "new\n")
	}
}

func TestRepoRoot(t *testing.T) {
	t.Parallel()
	root := Root(t)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if rel, err := filepath.Rel(root, wd); err != nil || filepath.ToSlash(rel) != "internal/testutil" {
		t.Errorf("got root %s for %s, want the directory two above", root, wd)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Error(err)
	}
}

// TestNoBinaryImportsIt: the package registers -update and knows test
// layouts; it must not end up in a command.
func TestNoBinaryImportsIt(t *testing.T) {
	t.Parallel()
	root := Root(t)
	// One line a command: its import path, then every package it links.
	cmd := exec.Command("go", "list", "-f", `{{if eq .Name "main"}}{{.ImportPath}}{{range .Deps}} {{.}}{{end}}{{"\n"}}{{end}}`, "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const self = "github.com/modeguard/modeguard/internal/testutil"
	mains := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkgs := strings.Fields(line)
		if len(pkgs) == 0 {
			continue
		}
		mains++
		if slices.Contains(pkgs[1:], self) {
			t.Errorf("%s imports %s", pkgs[0], self)
		}
	}
	if mains == 0 {
		t.Fatal("no commands found")
	}
}
