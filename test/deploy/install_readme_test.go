package deploy_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/modeguard/modeguard/internal/testutil"
)

// firstScreen is how many lines of README.md a terminal or a repository page
// shows before one scrolls.
const firstScreen = 30

// TestReadmeInstallSection checks that README.md's first screen says how to
// install modeguard and try it offline, and runs the commands of its Install
// and Try it offline sections that need no registry (those that do are
// named so in the text and unmarked): the kustomize install against the
// control plane, and `modeguard check -f examples/` with a modeguard built
// from this tree first on PATH (what `go install …@latest` puts there).
func TestReadmeInstallSection(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testutil.Root(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?m)^<!-- test: ([a-z-]+) -->\n```sh\n((?s:.*?))```")
	blocks := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(data), -1) {
		blocks[m[1]] = m[2]
	}
	// A new user's first screen says how to install and how to try it.
	lines := strings.SplitAfter(string(data), "\n")
	first := strings.Join(lines[:min(len(lines), firstScreen)], "")
	for _, want := range []string{"helm install", "go install github.com/modeguard/modeguard/cmd/modeguard@latest", "modeguard check"} {
		if !strings.Contains(first, want) {
			t.Errorf("README.md's first %d lines do not say %q", firstScreen, want)
		}
	}
	for _, name := range []string{"readme-kustomize", "readme-try"} {
		if blocks[name] == "" {
			t.Fatalf("README.md has no block marked <!-- test: %s -->", name)
		}
	}
	// Every command of the install section is a marked block or says it
	// needs a registry.
	section := string(data)[strings.Index(string(data), "## Install"):strings.Index(string(data), "## Quick start")]
	unmarked := regexp.MustCompile("(?m)^(?:<!-- test: [a-z-]+ -->\n)?```sh\n(?s:.*?)```").FindAllStringIndex(section, -1)
	for _, loc := range unmarked {
		block := section[loc[0]:loc[1]]
		if strings.HasPrefix(block, "<!-- test:") {
			continue
		}
		before := section[max(0, loc[0]-400):loc[0]]
		if !strings.Contains(before, "registry") && !strings.Contains(before, "module proxy") {
			t.Errorf("README.md install section: unmarked block with no word of a registry before it:\n%s", block)
		}
	}

	t.Run("try", func(t *testing.T) {
		bin := t.TempDir()
		if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "modeguard"), filepath.Join(testutil.Root(t), "cmd", "modeguard")).CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", blocks["readme-try"])
		cmd.Dir = testutil.Root(t)
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("%s: got %v, want exit 1 (the examples show mistakes, as the README says)\n%s", blocks["readme-try"], err, out)
		}
		for _, want := range []string{"MG001", "examples/mg001-fires/manifest.yaml:", "findings"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("modeguard check -f examples/ printed no %q:\n%s", want, out)
			}
		}
	})

	t.Run("kustomize", func(t *testing.T) {
		cfg, kubeconfig := controlPlane(t)
		c := adminClient(t, cfg)
		out := shell(t, kubeconfig, blocks["readme-kustomize"])
		if !strings.Contains(out, "deployment.apps/modeguard-webhook") {
			t.Errorf("install output lacks deployment.apps/modeguard-webhook:\n%s", out)
		}
		var d appsv1.Deployment
		if err := c.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: deploymentName}, &d); err != nil {
			t.Fatalf("after install: %v", err)
		}
		// Gone before the next test installs into the same namespace.
		shell(t, kubeconfig, "kubectl delete -k deploy/kustomize/overlays/self-signed")
		err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			return apierrors.IsNotFound(c.Get(ctx, client.ObjectKey{Name: namespace}, &corev1.Namespace{})), nil
		})
		if err != nil {
			t.Fatalf("namespace %s still there after kubectl delete -k", namespace)
		}
	})
}
