package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/modeguard/modeguard/internal/testutil"
	"github.com/modeguard/modeguard/test/envtestbins"
)

// Names the deployment uses everywhere.
const (
	namespace      = "modeguard-system"
	serviceAccount = "modeguard"
	saUser         = "system:serviceaccount:" + namespace + ":" + serviceAccount
	webhookConfig  = "modeguard"
	tlsSecret      = "modeguard-webhook-tls"
	serviceName    = "modeguard-webhook"
	deploymentName = "modeguard-webhook"
)

// kubectl is the kubectl built by make k8s-bins.
func kubectl(t testing.TB) string {
	t.Helper()
	return filepath.Join(envtestbins.Dir(t), "kubectl")
}

var helmBuild struct {
	once sync.Once
	err  error
	log  string
}

// helmTemplate returns bin/helm-template, built by hack/helm/build.sh when
// missing or stale (the script skips a current binary in a moment). Under
// -short a missing binary skips the test instead of starting a build that
// takes minutes.
func helmTemplate(t testing.TB) string {
	t.Helper()
	root := testutil.Root(t)
	bin := filepath.Join(root, "bin", "helm-template")
	if testing.Short() {
		if _, err := os.Stat(bin); err != nil {
			t.Skipf("%s missing: run make helm-template (not built under -short: a cold build takes minutes)", bin)
		}
		return bin
	}
	helmBuild.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "helm", "build.sh"), filepath.Join(root, "bin"))
		out, err := cmd.CombinedOutput()
		helmBuild.log, helmBuild.err = string(out), err
	})
	if helmBuild.err != nil {
		t.Fatalf("building helm-template (make helm-template): %v\n%s", helmBuild.err, helmBuild.log)
	}
	return bin
}

// run runs a program and returns its standard output; the test fails with
// its standard error if it fails.
func run(t testing.TB, stdin io.Reader, name string, args ...string) string {
	t.Helper()
	out, err := tryRun(t, stdin, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tryRun(t testing.TB, stdin io.Reader, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = testutil.Root(t)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// A render is one way of producing the manifests a user installs.
type render struct {
	name string
	// same names the render of the other tool that must be equal to this one.
	same string
	args []string // kustomize dir, or helm-template arguments
	helm bool
	// certManager: the render uses cert-manager for certificates.
	certManager bool
	// failClosed: failurePolicy Fail on purpose.
	failClosed bool
	// agentConfigMapsOnly: ConfigMaps are filtered by a matchCondition.
	agentConfigMapsOnly bool
	// image and replicas, when not the defaults.
	image    string
	replicas int32
	// noPDB: the render has no PodDisruptionBudget (one replica, or
	// podDisruptionBudget.enabled=false).
	noPDB bool
	// requestTimeout, when not the default 2500ms.
	requestTimeout string
	// extraArgs: webhook flags after the chart's own.
	extraArgs []string
	// monitoring: the ServiceMonitor, the PrometheusRule and the dashboard.
	monitoring bool
	// reportsCRD: the openreports.io Report CRD.
	reportsCRD bool
	// wgpolicy: the audit writes wgpolicyk8s.io PolicyReports (RBAC on
	// them instead of Reports); wgpolicyCRD: their CRD is rendered.
	wgpolicy, wgpolicyCRD bool
}

const chartDir = "deploy/helm/modeguard"

// renders lists every configuration shipped. Pairs named in same must render
// equal objects.
var renders = []render{
	{name: "kustomize/base", args: []string{"deploy/kustomize/base"}},
	{name: "kustomize/self-signed", same: "helm/default+namespace", args: []string{"deploy/kustomize/overlays/self-signed"}},
	{name: "kustomize/cert-manager", same: "helm/cert-manager", args: []string{"deploy/kustomize/overlays/cert-manager"}, certManager: true},
	{name: "kustomize/fail-closed", same: "helm/fail-closed", args: []string{"deploy/kustomize/overlays/fail-closed"}, failClosed: true},
	{name: "helm/default", helm: true},
	{name: "helm/default+namespace", helm: true, args: []string{"--set", "namespace.create=true"}},
	{name: "helm/cert-manager", helm: true, certManager: true, args: []string{"--set", "namespace.create=true", "--set", "certMode=cert-manager"}},
	{name: "helm/fail-closed", helm: true, failClosed: true, args: []string{"--set", "namespace.create=true", "--set", "failurePolicy=Fail"}},
	{name: "kustomize/agent-configmaps-only", same: "helm/agent-configmaps-only", args: []string{"test/deploy/testdata/agent-configmaps-only"}, agentConfigMapsOnly: true},
	{name: "helm/agent-configmaps-only", helm: true, agentConfigMapsOnly: true, args: []string{"--set", "namespace.create=true", "--set", "agentConfigMapsOnly=true"}},
	{name: "helm/agent-images", helm: true, args: []string{"--set", "namespace.create=true", "--set", "agentImages={*/mirror/alloy*}"}},
	{
		name: "helm/custom", helm: true, agentConfigMapsOnly: true, args: []string{"-f", "test/deploy/testdata/values-custom.yaml"},
		image: "registry.example/mirror/modeguard-webhook:v0.1.0", replicas: 3, requestTimeout: "1500ms", extraArgs: []string{"--max-in-flight=32", "--v=1"},
	},
	{name: "helm/one-replica", helm: true, noPDB: true, replicas: 1, args: []string{"--set", "namespace.create=true", "--set", "replicas=1"}},
	{
		name: "helm/monitoring", helm: true, monitoring: true,
		args: []string{"--set", "namespace.create=true", "--set", "monitoring.serviceMonitor.enabled=true", "--set", "monitoring.prometheusRule.enabled=true", "--set", "monitoring.dashboard.enabled=true"},
	},
	{name: "helm/no-pdb", helm: true, noPDB: true, args: []string{"--set", "namespace.create=true", "--set", "podDisruptionBudget.enabled=false"}},
	{name: "kustomize/reports-crd", same: "helm/reports-crd", args: []string{"test/deploy/testdata/reports-crd"}, reportsCRD: true},
	{name: "helm/reports-crd", helm: true, reportsCRD: true, args: []string{"--set", "namespace.create=true", "--set", "reports.installCRDs=true"}},
	{name: "kustomize/wgpolicyk8s-reports", same: "helm/wgpolicyk8s-reports", args: []string{"test/deploy/testdata/wgpolicyk8s-reports"}, wgpolicy: true, extraArgs: []string{"--report-format=wgpolicyk8s"}},
	{name: "helm/wgpolicyk8s-reports", helm: true, wgpolicy: true, extraArgs: []string{"--report-format=wgpolicyk8s"}, args: []string{"--set", "namespace.create=true", "--set", "reports.format=wgpolicyk8s"}},
	{name: "helm/wgpolicyk8s-crd", helm: true, wgpolicy: true, wgpolicyCRD: true, extraArgs: []string{"--report-format=wgpolicyk8s"}, args: []string{"--set", "namespace.create=true", "--set", "reports.format=wgpolicyk8s", "--set", "reports.installCRDs=true"}},
	{
		name: "helm/audit-off", helm: true, args: []string{"--set", "namespace.create=true", "--set", "audit.enabled=false", "--set", "audit.interval=30m"},
		extraArgs: []string{"--audit=false", "--audit-interval=30m"},
	},
}

func findRender(t testing.TB, name string) render {
	t.Helper()
	for _, r := range renders {
		if r.name == name {
			return r
		}
	}
	t.Fatalf("no render %q", name)
	return render{}
}

// manifests renders r into one YAML stream.
func (r render) manifests(t testing.TB) string {
	t.Helper()
	if r.helm {
		args := append([]string{"--name", "modeguard", "--namespace", namespace}, r.args...)
		return run(t, nil, helmTemplate(t), append(args, chartDir)...)
	}
	return run(t, nil, kubectl(t), append([]string{"kustomize"}, r.args...)...)
}

// objects renders r and decodes every document.
func (r render) objects(t testing.TB) []*unstructured.Unstructured {
	t.Helper()
	objs, err := decode(r.manifests(t))
	if err != nil {
		t.Fatalf("%s: %v", r.name, err)
	}
	if len(objs) == 0 {
		t.Fatalf("%s: rendered nothing", r.name)
	}
	return objs
}

func decode(stream string) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	d := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(stream), 4096)
	for {
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// key names an object: Kind namespace/name.
func key(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetKind() + " " + o.GetName()
	}
	return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}

// find returns the object of that kind and name, failing the test if absent.
func find(t testing.TB, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s among %s", kind, name, keys(objs))
	return nil
}

func keys(objs []*unstructured.Unstructured) string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, key(o))
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

// into converts an object into a typed one.
func into(t testing.TB, o *unstructured.Unstructured, typed any) {
	t.Helper()
	data, err := yaml.Marshal(o.Object)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, typed); err != nil {
		t.Fatalf("%s: %v", key(o), err)
	}
}
