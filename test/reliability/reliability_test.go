package reliability

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modeguard/modeguard/test/e2e"
	"github.com/modeguard/modeguard/test/envtestbins"
)

// TestReliabilityShort is make reliability's short form, run by make
// test: every scenario, with a 30 s soak and 8 s of load around each
// fault. It fails when one scenario fails, and logs the whole report.
func TestReliabilityShort(t *testing.T) {
	if testing.Short() {
		t.Skip("reliability: starts kube-apiserver, etcd and the webhook; skipped under -short")
	}
	assets := envtestbins.Dir(t)
	root, err := e2e.FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "modeguard-webhook")
	if out, err := goBuild(root, bin); err != nil {
		t.Fatalf("building the webhook: %v\n%s", err, out)
	}
	rep, err := Run(context.Background(), Options{Root: root, Assets: assets, Webhook: bin, Short: true, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	md := string(rep.Markdown())
	t.Log("\n" + md)
	if out := os.Getenv("RELIABILITY_REPORT"); out != "" {
		if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
			t.Error(err)
		}
	}
	if len(rep.Rows) < 16 {
		t.Errorf("%d scenarios ran, want 16", len(rep.Rows))
	}
	for _, row := range rep.Rows {
		if !row.Pass() {
			t.Errorf("%s / %s: %s", row.Section, row.Scenario, strings.Join(row.Problems, "; "))
		}
	}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func goBuild(root, out string) ([]byte, error) {
	cmd := exec.Command("go", "build", "-o", out, "./cmd/webhook")
	cmd.Dir = root
	return cmd.CombinedOutput()
}
