package deploy_test

import (
	"context"
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
)

// readmeBlocks returns deploy/README.md's shell blocks marked
// <!-- test: NAME --> on the line before, by name.
func readmeBlocks(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?m)^<!-- test: ([a-z-]+) -->\n```sh\n((?s:.*?))```")
	blocks := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(string(data), -1) {
		blocks[m[1]] = m[2]
	}
	return blocks
}

// shell runs a script as a user would, from the repository root, with the
// built kubectl and bin/ first on PATH and KUBECONFIG set.
func shell(t *testing.T, kubeconfig, script string, extraEnv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	root := repoRoot(t)
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = root
	cmd.Env = append(os.Environ(),
		"PATH="+filepath.Dir(kubectl(t))+string(os.PathListSeparator)+os.Getenv("PATH"),
		"KUBECONFIG="+kubeconfig)
	cmd.Env = append(cmd.Env, extraEnv...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s\n%v\n%s", script, err, out)
	}
	t.Logf("$ %s\n%s", strings.TrimSpace(script), out)
	return string(out)
}

// TestReadmeInstall runs deploy/README.md's install and uninstall commands as
// printed (kustomize, then Helm through bin/helm-template), and make deploy /
// make undeploy, against the control plane, checking what each leaves behind.
func TestReadmeInstall(t *testing.T) {
	cfg, kubeconfig := controlPlane(t)
	c := adminClient(t, cfg)
	helmTemplate(t) // the Helm blocks run bin/helm-template
	blocks := readmeBlocks(t)
	for _, name := range []string{"install-kustomize", "uninstall-kustomize", "install-helm", "uninstall-helm"} {
		if blocks[name] == "" {
			t.Fatalf("deploy/README.md has no block marked <!-- test: %s -->", name)
		}
	}

	installed := func(t *testing.T) {
		t.Helper()
		var d appsv1.Deployment
		if err := c.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: deploymentName}, &d); err != nil {
			t.Fatalf("after install: %v", err)
		}
		var ns corev1.Namespace
		if err := c.Get(t.Context(), client.ObjectKey{Name: namespace}, &ns); err != nil {
			t.Fatal(err)
		}
		if ns.Labels["modeguard.dev/ignore"] != "true" {
			t.Errorf("namespace labels %v: want modeguard.dev/ignore=true", ns.Labels)
		}
	}
	removed := func(t *testing.T) {
		t.Helper()
		err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			err := c.Get(ctx, client.ObjectKey{Name: namespace}, &corev1.Namespace{})
			return apierrors.IsNotFound(err), nil
		})
		if err != nil {
			t.Fatalf("namespace %s still there after uninstall", namespace)
		}
		for _, kind := range []string{"mutatingwebhookconfiguration", "validatingwebhookconfiguration", "clusterrole", "clusterrolebinding"} {
			out, err := tryRun(t, nil, kubectl(t), "--kubeconfig="+kubeconfig, "get", kind, webhookConfig, "--ignore-not-found", "-o", "name")
			if err != nil || strings.TrimSpace(out) != "" {
				t.Errorf("%s %s after uninstall: %q %v", kind, webhookConfig, out, err)
			}
		}
	}

	t.Run("kustomize", func(t *testing.T) {
		out := shell(t, kubeconfig, blocks["install-kustomize"])
		for _, want := range []string{"deployment.apps/modeguard-webhook", "service/modeguard-webhook", "configmap/modeguard-settings", "mutatingwebhookconfiguration.admissionregistration.k8s.io/modeguard"} {
			if !strings.Contains(out, want) {
				t.Errorf("install output lacks %s", want)
			}
		}
		installed(t)
		shell(t, kubeconfig, blocks["uninstall-kustomize"])
		removed(t)
	})
	t.Run("helm", func(t *testing.T) {
		shell(t, kubeconfig, blocks["install-helm"])
		installed(t)
		shell(t, kubeconfig, blocks["uninstall-helm"])
		removed(t)
	})
	t.Run("make deploy", func(t *testing.T) {
		shell(t, kubeconfig, "make deploy")
		installed(t)
		shell(t, kubeconfig, "make undeploy")
		removed(t)
	})
}
