package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/modeguard/modeguard/test/envtestbins"
	"github.com/modeguard/modeguard/workload"
)

// auditExamples are the examples TestAuditAPIServer applies: rules that
// fire on a DaemonSet's config (MG001), a DaemonSet (MG004), a StatefulSet
// (MG011), an Alloy object (MG001 through its values), and one that passes.
var auditExamples = []string{"mg001-fires", "mg004-fires", "mg011-fires", "alloy-mg001-fires", "mg004-passes"}

// TestAuditAPIServer: against a real API server holding the examples'
// objects, `modeguard audit -o json` reports exactly what `modeguard check
// -o json` reports on the examples' files (rule, action, object, component,
// config key and position); -n and -l narrow it; a user who may not list
// StatefulSets gets the other kinds audited, the failed call named, exit 2.
func TestAuditAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: envtestbins.Dir(t),
		CRDDirectoryPaths:     []string{"../../test/e2e/testdata/alloys.collectors.grafana.com.yaml"},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	kubeconfig := envtestbins.Kubeconfig(t, cfg)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}

	var files []string
	for _, ex := range auditExamples {
		p := filepath.Join("../../examples", ex, "manifest.yaml")
		files = append(files, p)
		// kubectl apply: managedFields and the last-applied annotation
		// come along, as in a cluster.
		envtestbins.Kubectl(t, kubeconfig, "apply", "-f", p)
	}

	check := modeguard(t, "", append([]string{"check", "-o", "json"}, files...)...)
	want := findingKeys(decodeJSON(t, check.stdout))
	if len(want) == 0 {
		t.Fatalf("check found nothing in %v; stderr %s", files, check.stderr)
	}
	audit := modeguard(t, "", "audit", "--kubeconfig", kubeconfig, "-o", "json")
	t.Logf("modeguard audit --kubeconfig KUBECONFIG -o json: exit %d\nstderr:\n%s", audit.code, audit.stderr)
	t.Logf("findings of check on the files (rule action object component key:line:column):\n%s", strings.Join(want, "\n"))
	if got := findingKeys(decodeJSON(t, audit.stdout)); !slices.Equal(got, want) {
		t.Errorf("audit:\n%s\ncheck:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if audit.code != check.code {
		t.Errorf("audit exit %d, check exit %d", audit.code, check.code)
	}
	for _, p := range []string{"Namespace: ", "DaemonSet: 3", "StatefulSet: 1", "Alloy: 1"} {
		if !strings.Contains(audit.stderr, p) {
			t.Errorf("progress: got %q, want %q in it", audit.stderr, p)
		}
	}
	text := modeguard(t, "", "audit", "--kubeconfig", kubeconfig, "-q", "--fail-on", "never")
	t.Logf("modeguard audit --kubeconfig KUBECONFIG -q --fail-on never:\n%s", text.stdout)

	// -n: the findings of those namespaces only.
	inNS := func(keys []string, nss ...string) []string {
		out := []string{}
		for _, k := range keys {
			for _, ns := range nss {
				if strings.Contains(k, "/"+ns+"/") {
					out = append(out, k)
				}
			}
		}
		return out
	}
	r := modeguard(t, "", "audit", "--kubeconfig", kubeconfig, "-o", "json", "-q", "-n", "mg004-fires,mg011-fires")
	if got, w := findingKeys(decodeJSON(t, r.stdout)), inNS(want, "mg004-fires", "mg011-fires"); !slices.Equal(got, w) || len(w) == 0 {
		t.Errorf("-n mg004-fires,mg011-fires: got %q, want %q", got, w)
	}

	// -l: the StatefulSet labelled, with the ConfigMap it reads (unlabelled).
	if _, err := dyn.Resource(gvr(workload.KindStatefulSet)).Namespace("mg011-fires").Patch(t.Context(), "alloy", types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"audit.modeguard.dev/selected":"yes"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	r = modeguard(t, "", "audit", "--kubeconfig", kubeconfig, "-o", "json", "-q", "-l", "audit.modeguard.dev/selected=yes")
	if got, w := findingKeys(decodeJSON(t, r.stdout)), inNS(want, "mg011-fires"); !slices.Equal(got, w) || len(w) == 0 {
		t.Errorf("-l: got %q, want %q", got, w)
	}

	// A user who may read everything but StatefulSets.
	envtestbins.Kubectl(t, kubeconfig, "create", "clusterrole", "auditor", "--verb=get,list",
		"--resource=namespaces,configmaps,daemonsets.apps,deployments.apps,horizontalpodautoscalers.autoscaling,alloys.collectors.grafana.com")
	envtestbins.Kubectl(t, kubeconfig, "create", "clusterrolebinding", "auditor", "--clusterrole=auditor", "--user=auditor")
	kc, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range kc.AuthInfos {
		a.Impersonate = "auditor"
	}
	limited := filepath.Join(t.TempDir(), "auditor")
	if err := clientcmd.WriteToFile(*kc, limited); err != nil {
		t.Fatal(err)
	}
	r = modeguard(t, "", "audit", "--kubeconfig", limited, "-o", "json")
	t.Logf("modeguard audit as auditor: exit %d\nstderr:\n%s", r.code, r.stderr)
	if r.code != exitUsage || !strings.Contains(r.stderr, `list statefulsets.apps in all namespaces: statefulsets.apps is forbidden: User "auditor" cannot list`) {
		t.Errorf("as auditor: exit %d, stderr %q; want 2 and the forbidden list of statefulsets named", r.code, r.stderr)
	}
	got := findingKeys(decodeJSON(t, r.stdout))
	if w := inNS(want, "mg001-fires", "mg004-fires", "alloy-mg001-fires"); !slices.Equal(inNS(got, "mg001-fires", "mg004-fires", "alloy-mg001-fires"), w) || len(w) == 0 {
		t.Errorf("as auditor, the other kinds: got %q, want %q", got, w)
	}
	for _, k := range got {
		if strings.Contains(k, "StatefulSet/") {
			t.Errorf("as auditor: got %s, want no StatefulSet read", k)
		}
	}
	_ = os.Remove(limited)
}
