package version_test

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modeguard/modeguard/internal/testutil"
)

// TestStampedBinaries builds both commands with the -ldflags make build, make
// image and the release workflow use, and reads the stamp back: `--version`
// of each, and the CLI's SARIF driver.version.
func TestStampedBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("links both commands")
	}
	const v, commit = "v9.9.9-stamp", "feedface"
	ldflags := "-X github.com/modeguard/modeguard/internal/version.Version=" + v +
		" -X github.com/modeguard/modeguard/internal/version.Commit=" + commit
	root, dir := testutil.Root(t), t.TempDir()
	for _, cmd := range []string{"modeguard", "webhook"} {
		out, err := exec.Command("go", "build", "-C", root, "-ldflags", ldflags, "-o", filepath.Join(dir, cmd), "./cmd/"+cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("go build ./cmd/%s: %v\n%s", cmd, err, out)
		}
	}
	for cmd, want := range map[string]string{
		"modeguard": "modeguard version " + v + " (commit " + commit + ")\n",
		"webhook":   "modeguard-webhook " + v + " (commit " + commit + ")\n",
	} {
		out, err := exec.Command(filepath.Join(dir, cmd), "--version").CombinedOutput()
		if err != nil || string(out) != want {
			t.Errorf("%s --version: got %q (%v), want %q", cmd, out, err, want)
		}
	}
	c := exec.Command(filepath.Join(dir, "modeguard"), "check", "-o", "sarif", "-f", "examples/mg001-fires")
	c.Dir = root
	out, _ := c.Output() // exits 1: the example fires
	var sarif struct {
		Runs []struct {
			Tool struct {
				Driver struct{ Version string } `json:"driver"`
			} `json:"tool"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(out, &sarif); err != nil || len(sarif.Runs) == 0 {
		t.Fatalf("check -o sarif: %v\n%s", err, strings.TrimSpace(string(out)))
	}
	if got := sarif.Runs[0].Tool.Driver.Version; got != v {
		t.Errorf("SARIF driver.version: got %q, want %q", got, v)
	}
}
