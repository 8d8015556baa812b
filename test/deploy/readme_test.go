package deploy_test

import (
	"context"
	"fmt"
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

// readmeBlocks returns deploy/README.md's shell blocks marked
// <!-- test: NAME --> on the line before, by name.
func readmeBlocks(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testutil.Root(t), "deploy", "README.md"))
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
	root := testutil.Root(t)
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

// TestFailClosedRecovery installs the fail-closed overlay with no webhook
// running and shows the risk deploy/README.md describes (ConfigMap writes are
// refused outside the excluded namespaces) and that its recovery commands,
// run as printed, and the modeguard.dev/ignore label end it.
func TestFailClosedRecovery(t *testing.T) {
	cfg, kubeconfig := controlPlane(t)
	c := adminClient(t, cfg)
	blocks := readmeBlocks(t)
	if blocks["recover"] == "" {
		t.Fatal("deploy/README.md has no block marked <!-- test: recover -->")
	}
	ensureNamespace(t, c, "agents", nil)
	ensureNamespace(t, c, "team-ignored", nil)
	shell(t, kubeconfig, "kubectl apply -k deploy/kustomize/overlays/fail-closed")
	t.Cleanup(func() {
		_, _ = tryRun(t, nil, kubectl(t), "--kubeconfig="+kubeconfig, "delete", "-k", "deploy/kustomize/overlays/fail-closed", "--ignore-not-found")
	})

	n := 0
	create := func(ctx context.Context, ns string) error {
		n++
		return c.Create(ctx, configMap(ns, fmt.Sprintf("fail-closed-%d", n), map[string]string{"config.alloy": ""}, nil, nil))
	}
	// await waits until creating a ConfigMap in ns is refused by the
	// webhook (refused true) or admitted.
	await := func(t *testing.T, ns string, refused bool) {
		t.Helper()
		var last error
		err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			last = create(ctx, ns)
			if last != nil && !strings.Contains(last.Error(), "failed calling webhook") {
				return false, last
			}
			return (last != nil) == refused, nil
		})
		if err != nil {
			t.Fatalf("creating a ConfigMap in %s: want refused %v; last: %v (%v)", ns, refused, last, err)
		}
	}

	await(t, "agents", true)
	// The control plane routes webhook calls to endpoints (there are none),
	// never to the Service's cluster IP off this machine.
	if err := create(t.Context(), "agents"); err == nil || !strings.Contains(err.Error(), "no endpoints available") {
		t.Fatalf("while no webhook answers: got %v, want a refusal for lack of endpoints", err)
	}
	await(t, "kube-system", false)
	shell(t, kubeconfig, "kubectl label namespace team-ignored modeguard.dev/ignore=true")
	await(t, "team-ignored", false)
	await(t, "agents", true)

	shell(t, kubeconfig, blocks["recover"])
	await(t, "agents", false)
}
