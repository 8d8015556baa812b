package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/modeguard/modeguard/certs"
	"github.com/modeguard/modeguard/internal/freeport"
	"github.com/modeguard/modeguard/internal/testutil"
	"github.com/modeguard/modeguard/test/envtestbins"
	"github.com/modeguard/modeguard/webhook/admittest"
	"github.com/modeguard/modeguard/webhook/metrics"
	"github.com/modeguard/modeguard/webhook/metrics/metricstest"
	"github.com/modeguard/modeguard/webhook/resubmit"
	"github.com/modeguard/modeguard/webhook/server"
)

// wait bounds every wait for the webhook, the cache or the reconciler.
const wait = 30 * time.Second

// harness is a real kube-apiserver with deploy/'s webhook configurations
// installed, and the webhook server running in-process against it.
type harness struct {
	c           client.Client
	warnings    *warnings
	metricsURL  string
	readyURL    string
	policyDir   string
	srv         *server.Server
	cfg         *rest.Config
	webhookHost string
	webhookPort int
	stop        func() error // stops the server, returns what Start returned
}

// warnings records the API server's warning headers.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

// take returns the warnings since the last take.
func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

func freeAddr(t *testing.T) string {
	t.Helper()
	a, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func start(t *testing.T) *harness {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a kube-apiserver and etcd (envtest); skipped under -short")
	}
	logf.SetLogger(testLogger(t))
	env := &envtest.Environment{
		BinaryAssetsDirectory: envtestbins.Dir(t),
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			Paths:            []string{filepath.Join(testutil.Root(t), "deploy", "kustomize", "base", "webhooks.yaml")},
			LocalServingHost: "127.0.0.1",
		},
	}
	if os.Getenv("KUBEBUILDER_CONTROLPLANE_START_TIMEOUT") == "" {
		env.ControlPlaneStartTimeout = 2 * time.Minute // 2 shared cores
	}
	began := time.Now()
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting the control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	})
	t.Logf("control plane up in %v", time.Since(began).Round(time.Millisecond))

	h := &harness{warnings: &warnings{}, policyDir: t.TempDir(), cfg: cfg}
	ccfg := *cfg
	ccfg.WarningHandlerWithContext = h.warnings
	if h.c, err = client.New(&ccfg, client.Options{}); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	own := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: server.DefaultNamespace, Labels: map[string]string{"modeguard.dev/ignore": "true"}}}
	if err := h.c.Create(ctx, own); err != nil {
		t.Fatal(err)
	}

	wo := env.WebhookInstallOptions
	metricsAddr, healthAddr := freeAddr(t), freeAddr(t)
	o := server.DefaultOptions()
	o.CertMode, o.CertDir, o.CertNames = server.CertDir, wo.LocalServingCertDir, []string{wo.LocalServingHost}
	o.WebhookHost, o.WebhookPort = wo.LocalServingHost, wo.LocalServingPort
	h.webhookHost, h.webhookPort = o.WebhookHost, o.WebhookPort
	o.MetricsBindAddress, o.HealthProbeBindAddress = metricsAddr, healthAddr
	o.LeaderElection = true
	o.ShutdownDelay = time.Second
	o.PolicyDir = h.policyDir
	o.PolicyPollInterval = time.Second
	h.metricsURL, h.readyURL = "http://"+metricsAddr+"/metrics", "http://"+healthAddr+"/readyz"

	srvCtx, cancel := context.WithCancel(context.Background())
	h.srv, err = server.New(srvCtx, cfg, o)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- h.srv.Start(srvCtx) }()
	var once sync.Once
	var stopErr error
	h.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(time.Minute):
				stopErr = errors.New("the server did not stop within a minute")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := h.stop(); err != nil {
			t.Errorf("server stopped with %v", err)
		}
	})
	began = time.Now()
	eventually(t, "the webhook is ready", func() error { return h.ready() })
	t.Logf("webhook ready in %v", time.Since(began).Round(time.Millisecond))
	return h
}

func (h *harness) ready() error {
	resp, err := http.Get(h.readyURL + "?verbose")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b := new(strings.Builder)
		_, _ = fmt.Fprint(b, resp.Status)
		return errors.New(b.String())
	}
	return nil
}

// scrape reads the metrics endpoint.
func (h *harness) scrape(t *testing.T) metricstest.Families {
	t.Helper()
	resp, err := http.Get(h.metricsURL)
	if err != nil {
		t.Fatalf("scraping %s: %v", h.metricsURL, err)
	}
	defer resp.Body.Close()
	if resp.Uncompressed { // the client offered gzip, as Prometheus does
		t.Error("the metrics came gzip-compressed: want them plain (metricsHandlerOpts)")
	}
	f, err := metricstest.Parse(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// eventually retries check every 100ms until it returns nil, or fails the
// test after wait with its last error.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not after %v: %v", what, wait, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// example loads examples/<name> into namespace ns (the Namespace object
// renamed, every object moved), returned in file order.
func example(t *testing.T, name, ns string) []client.Object {
	t.Helper()
	var out []client.Object
	for _, o := range admittest.Example(t, name) {
		co := o.(client.Object)
		if _, ok := o.(*corev1.Namespace); ok {
			co.SetName(ns)
		} else {
			co.SetNamespace(ns)
		}
		out = append(out, co)
	}
	return out
}

func find[T client.Object](t *testing.T, objs []client.Object) T {
	t.Helper()
	for _, o := range objs {
		if v, ok := o.(T); ok {
			return v
		}
	}
	var zero T
	t.Fatalf("no %T in the example", zero)
	return zero
}

// create creates obj and returns the warnings of the request.
func (h *harness) create(t *testing.T, obj client.Object, opts ...client.CreateOption) ([]string, error) {
	t.Helper()
	h.warnings.take()
	err := h.c.Create(t.Context(), obj.DeepCopyObject().(client.Object), opts...)
	return h.warnings.take(), err
}

func (h *harness) mustCreate(t *testing.T, obj client.Object) []string {
	t.Helper()
	ws, err := h.create(t, obj)
	if err != nil {
		t.Fatalf("creating %T %s/%s: %v", obj, obj.GetNamespace(), obj.GetName(), err)
	}
	return ws
}

func (h *harness) get(t *testing.T, obj client.Object) error {
	t.Helper()
	return h.c.Get(t.Context(), client.ObjectKeyFromObject(obj), obj)
}

// configFixed waits until the ConfigMap's config contains every part.
func (h *harness) configFixed(t *testing.T, cm *corev1.ConfigMap, parts ...string) *corev1.ConfigMap {
	t.Helper()
	got := &corev1.ConfigMap{}
	got.Namespace, got.Name = cm.Namespace, cm.Name
	eventually(t, "ConfigMap "+cm.Namespace+"/"+cm.Name+" fixed", func() error {
		if err := h.get(t, got); err != nil {
			return err
		}
		for _, p := range parts {
			if !strings.Contains(got.Data["config.alloy"], p) {
				return fmt.Errorf("config has no %q:\n%s", p, got.Data["config.alloy"])
			}
		}
		return nil
	})
	return got
}

func hostnameEnv(spec *corev1.PodSpec) error {
	for _, e := range spec.Containers[0].Env {
		if e.Name == "HOSTNAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName" {
			return nil
		}
	}
	return fmt.Errorf("no HOSTNAME from fieldRef spec.nodeName in %+v", spec.Containers[0].Env)
}

// counter is a metric series the tests watch move.
type counter struct {
	name   string
	labels map[string]string
}

func (h *harness) values(t *testing.T, cs ...counter) []float64 {
	t.Helper()
	f := h.scrape(t)
	out := make([]float64, len(cs))
	for i, c := range cs {
		out[i] = f.Sum(c.name, c.labels)
	}
	return out
}

// moved checks that each counter moved by want (from before).
func (h *harness) moved(t *testing.T, before []float64, cs []counter, want []float64) {
	t.Helper()
	after := h.values(t, cs...)
	for i, c := range cs {
		if d := after[i] - before[i]; d != want[i] {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, d, want[i])
		}
	}
}

func TestWebhook(t *testing.T) {
	h := start(t)

	for _, order := range []string{"configmap-first", "daemonset-first"} {
		t.Run("MG001+MG002 DaemonSet and ConfigMap, "+order, func(t *testing.T) {
			for _, ex := range []string{"mg001-fires", "mg002-fires"} {
				objs := example(t, ex, ex+"-"+order)
				ns, cm, ds := find[*corev1.Namespace](t, objs), find[*corev1.ConfigMap](t, objs), find[*appsv1.DaemonSet](t, objs)
				h.mustCreate(t, ns)
				first, second := client.Object(cm), client.Object(ds)
				if order == "daemonset-first" {
					first, second = ds, cm
				}
				h.mustCreate(t, first)
				ws := h.mustCreate(t, second)
				t.Logf("%s: warnings creating the %T: %q", ex, second, ws)

				h.configFixed(t, cm, `"spec.nodeName=" + coalesce(sys.env("HOSTNAME"), constants.hostname)`)
				got := &appsv1.DaemonSet{}
				got.Namespace, got.Name = ds.Namespace, ds.Name
				eventually(t, "DaemonSet has the HOSTNAME env", func() error {
					if err := h.get(t, got); err != nil {
						return err
					}
					return hostnameEnv(&got.Spec.Template.Spec)
				})
			}
		})
	}

	t.Run("the reconciler converges", func(t *testing.T) {
		objs := example(t, "mg001-fires", "converge")
		ns, cm, ds := find[*corev1.Namespace](t, objs), find[*corev1.ConfigMap](t, objs), find[*appsv1.DaemonSet](t, objs)
		resubmitted := []counter{{metrics.ResubmissionsTotal, map[string]string{"kind": "ConfigMap", "result": "resubmitted"}}}
		before := h.values(t, resubmitted...)
		h.mustCreate(t, ns)
		h.mustCreate(t, cm)
		ws := h.mustCreate(t, ds)
		if !testutil.HasWarning(ws, "MG001", "discovery.kubernetes.pods", "will be applied to ConfigMap converge/alloy") {
			t.Errorf("DaemonSet warnings %q: want MG001 ... will be applied to ConfigMap converge/alloy", ws)
		}
		fixed := h.configFixed(t, cm, `"spec.nodeName=" +`)
		if fixed.Annotations[resubmit.AnnotationReviewed] == "" {
			t.Errorf("fixed ConfigMap has no %s annotation", resubmit.AnnotationReviewed)
		}
		// Settled: nothing changes any more.
		rv := fixed.ResourceVersion
		time.Sleep(3 * time.Second) // a loop would show within this window
		if err := h.get(t, fixed); err != nil {
			t.Fatal(err)
		}
		if fixed.ResourceVersion != rv {
			t.Errorf("ConfigMap changed again after the fix (resourceVersion %s → %s): %v", rv, fixed.ResourceVersion, fixed.Annotations)
		}
		h.moved(t, before, resubmitted, []float64{1})
		eventually(t, "a FixResubmitted event on the ConfigMap", func() error {
			evs := &eventsv1.EventList{}
			if err := h.c.List(t.Context(), evs, client.InNamespace("converge")); err != nil {
				return err
			}
			for _, e := range evs.Items {
				if e.Reason == resubmit.ReasonResubmitted && e.Regarding.Kind == "ConfigMap" && strings.Contains(e.Note, "MG001") {
					return nil
				}
			}
			return fmt.Errorf("%d events, none %s on the ConfigMap naming MG001", len(evs.Items), resubmit.ReasonResubmitted)
		})
	})

	t.Run("MG006+MG007 StatefulSet without clustering is fixed", func(t *testing.T) {
		objs := example(t, "mg006-fires", "mg006-fires")
		ns, cm, sts := find[*corev1.Namespace](t, objs), find[*corev1.ConfigMap](t, objs), find[*appsv1.StatefulSet](t, objs)
		fixes := []counter{
			{metrics.FixesAppliedTotal, map[string]string{"rule": "MG006"}},
			{metrics.FixesAppliedTotal, map[string]string{"rule": "MG007"}},
		}
		before := h.values(t, fixes...)
		h.mustCreate(t, ns)
		h.mustCreate(t, cm)
		ws := h.mustCreate(t, sts)
		t.Logf("StatefulSet warnings: %q", ws)
		h.configFixed(t, cm, "clustering {", "enabled = true")
		got := &appsv1.StatefulSet{}
		got.Namespace, got.Name = sts.Namespace, sts.Name
		eventually(t, "StatefulSet has the cluster flags", func() error {
			if err := h.get(t, got); err != nil {
				return err
			}
			args := strings.Join(got.Spec.Template.Spec.Containers[0].Args, " ")
			if !strings.Contains(args, "--cluster.enabled=true") || !strings.Contains(args, "--cluster.join-addresses=alloy-cluster") {
				return fmt.Errorf("args %q lack --cluster.enabled=true --cluster.join-addresses=alloy-cluster", args)
			}
			return nil
		})
		h.moved(t, before, fixes, []float64{1, 1})
	})

	t.Run("MG004 DaemonSet scraping services without clustering is denied", func(t *testing.T) {
		objs := example(t, "mg004-fires", "mg004-fires")
		ns, cm, ds := find[*corev1.Namespace](t, objs), find[*corev1.ConfigMap](t, objs), find[*appsv1.DaemonSet](t, objs)
		denied := []counter{
			{metrics.DecisionsTotal, map[string]string{"rule": "MG004", "action": "deny"}},
			{metrics.RequestsTotal, map[string]string{"webhook": "validate", "kind": "DaemonSet", "operation": "CREATE", "result": "denied"}},
		}
		before := h.values(t, denied...)
		h.mustCreate(t, ns)
		h.mustCreate(t, cm)
		_, err := h.create(t, ds)
		if !apierrors.IsForbidden(err) {
			t.Fatalf("creating the DaemonSet: %v, want Forbidden", err)
		}
		for _, want := range []string{"MG004", "cluster-wide-collection-in-daemonset", "prometheus.scrape.services", "config.alloy:5:1"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("denial %q does not name %q", err, want)
			}
		}
		t.Logf("denial: %v", err)
		h.moved(t, before, denied, []float64{1, 1})
	})

	t.Run("server-side dry run warns and denies, stores nothing, resubmits nothing", func(t *testing.T) {
		deny := example(t, "mg004-fires", "dryrun-deny")
		h.mustCreate(t, find[*corev1.Namespace](t, deny))
		h.mustCreate(t, find[*corev1.ConfigMap](t, deny))
		ds := find[*appsv1.DaemonSet](t, deny)
		_, err := h.create(t, ds, client.DryRunAll)
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "MG004") {
			t.Errorf("dry-run create: %v, want a denial naming MG004", err)
		}
		if err := h.get(t, ds); !apierrors.IsNotFound(err) {
			t.Errorf("dry-run denied DaemonSet: get = %v, want NotFound", err)
		}

		fix := example(t, "mg001-fires", "dryrun-fix")
		cm := find[*corev1.ConfigMap](t, fix)
		h.mustCreate(t, find[*corev1.Namespace](t, fix))
		h.mustCreate(t, cm)
		ds = find[*appsv1.DaemonSet](t, fix)
		ws, err := h.create(t, ds, client.DryRunAll)
		if err != nil {
			t.Fatalf("dry-run create: %v", err)
		}
		if !testutil.HasWarning(ws, "MG001", "will be applied to ConfigMap dryrun-fix/alloy") {
			t.Errorf("dry-run warnings %q: want MG001 ... will be applied to ConfigMap dryrun-fix/alloy", ws)
		}
		if err := h.get(t, ds); !apierrors.IsNotFound(err) {
			t.Errorf("dry-run DaemonSet: get = %v, want NotFound", err)
		}
		time.Sleep(2 * time.Second) // what a resubmission would take, many times over
		got := &corev1.ConfigMap{}
		got.Namespace, got.Name = cm.Namespace, cm.Name
		if err := h.get(t, got); err != nil {
			t.Fatal(err)
		}
		if got.Annotations[resubmit.AnnotationReviewed] != "" || got.Data["config.alloy"] != cm.Data["config.alloy"] {
			t.Errorf("the dry run changed the ConfigMap: annotations %v, config:\n%s", got.Annotations, got.Data["config.alloy"])
		}
	})

	t.Run("a Pod of a DaemonSet gets the HOSTNAME env", func(t *testing.T) {
		objs := example(t, "mg002-fires", "pod")
		ns, cm, ds := find[*corev1.Namespace](t, objs), find[*corev1.ConfigMap](t, objs), find[*appsv1.DaemonSet](t, objs)
		h.mustCreate(t, ns)
		h.mustCreate(t, cm)
		h.mustCreate(t, ds)
		owner := &appsv1.DaemonSet{}
		owner.Namespace, owner.Name = ds.Namespace, ds.Name
		if err := h.get(t, owner); err != nil {
			t.Fatal(err)
		}
		// Let the reconciler's fix of the ConfigMap (MG002 too) land first.
		h.configFixed(t, cm, `coalesce(sys.env("HOSTNAME"), constants.hostname)`)
		fixes := []counter{{metrics.FixesAppliedTotal, map[string]string{"rule": "MG002"}}}
		before := h.values(t, fixes...)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: ds.Namespace, Name: ds.Name + "-x1", Labels: ds.Spec.Template.Labels,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: owner.Name, UID: owner.UID, Controller: ptr.To(true)}},
			},
			Spec: *ds.Spec.Template.Spec.DeepCopy(), // the template as written: no env
		}
		ws := h.mustCreate(t, pod)
		if err := h.get(t, pod); err != nil {
			t.Fatal(err)
		}
		if err := hostnameEnv(&pod.Spec); err != nil {
			t.Errorf("stored Pod: %v (warnings %q)", err, ws)
		}
		if !testutil.HasWarning(ws, "MG002", "[fixed]") {
			t.Errorf("Pod warnings %q: want MG002 ... [fixed]", ws)
		}
		h.moved(t, before, fixes, []float64{1})
	})

	t.Run("non-agent workload and ConfigMap pass untouched, unevaluated", func(t *testing.T) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "plain"}}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "plain", Name: "web"}, Data: map[string]string{"nginx.conf": "events {}\n"}}
		dep := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "plain", Name: "web"},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
					Spec: corev1.PodSpec{
						Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.27", VolumeMounts: []corev1.VolumeMount{{Name: "conf", MountPath: "/etc/nginx"}}}},
						Volumes:    []corev1.Volume{{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web"}}}}},
					},
				},
			},
		}
		cs := []counter{
			{metrics.EvaluationsSkipped, map[string]string{"reason": metrics.SkipNotAgent}},
			{metrics.RequestsTotal, map[string]string{"kind": "Deployment"}},
			{metrics.EvaluationsTotal, nil},
		}
		before := h.values(t, cs...)
		h.mustCreate(t, ns)
		ws := append(h.mustCreate(t, cm), h.mustCreate(t, dep)...)
		if len(ws) > 0 {
			t.Errorf("warnings %q, want none", ws)
		}
		// The ConfigMap reaches both webhooks and is skipped there; the
		// Deployment is filtered out by the matchConditions and never
		// reaches the webhook.
		h.moved(t, before, cs, []float64{2, 0, 0})
		gotCM, gotDep := &corev1.ConfigMap{}, &appsv1.Deployment{}
		gotCM.Namespace, gotCM.Name, gotDep.Namespace, gotDep.Name = "plain", "web", "plain", "web"
		if err := h.get(t, gotCM); err != nil || gotCM.Data["nginx.conf"] != cm.Data["nginx.conf"] || len(gotCM.Annotations) > 0 {
			t.Errorf("ConfigMap changed: %v %v %v", err, gotCM.Data, gotCM.Annotations)
		}
		if err := h.get(t, gotDep); err != nil || len(gotDep.Annotations) > 0 || len(gotDep.Spec.Template.Spec.Containers[0].Env) > 0 {
			t.Errorf("Deployment changed: %v %v", err, gotDep.Annotations)
		}
	})

	t.Run("metrics: requests, latency, decisions, fixes, policy load", func(t *testing.T) {
		f := h.scrape(t)
		for _, c := range []counter{
			{metrics.RequestsTotal, map[string]string{"webhook": "mutate", "kind": "ConfigMap", "result": "patched"}},
			{metrics.RequestsTotal, map[string]string{"webhook": "mutate", "kind": "Pod", "result": "patched"}},
			{metrics.RequestsTotal, map[string]string{"webhook": "validate", "kind": "DaemonSet", "result": "denied"}},
			{metrics.DurationSeconds, map[string]string{"webhook": "mutate", "kind": "ConfigMap"}},
			{metrics.DecisionsTotal, map[string]string{"rule": "MG001", "action": "fix"}},
			{metrics.FixesAppliedTotal, map[string]string{"rule": "MG001"}},
			{metrics.PolicyLastLoadSeconds, nil},
			{"modeguard_cert_expiry_timestamp_seconds", map[string]string{"cert": "serving"}},
		} {
			if v := f.Sum(c.name, c.labels); v <= 0 {
				t.Errorf("%s%v = %v, want > 0", c.name, c.labels, v)
			}
		}
	})

	t.Run("policy reload: a broken file keeps the last good policy", func(t *testing.T) {
		reloads := []counter{
			{metrics.PolicyReloadsTotal, map[string]string{"result": "error"}},
			{metrics.PolicyReloadsTotal, map[string]string{"result": "success"}},
		}
		before := h.values(t, reloads...)
		version := h.srv.Engine().Version()
		path := filepath.Join(h.policyDir, "custom.rego")
		if err := os.WriteFile(path, []byte(admittest.BrokenRule[:40]), 0o644); err != nil { // cut short: does not parse
			t.Fatal(err)
		}
		eventually(t, "a failed reload", func() error {
			if v := h.values(t, reloads[0]); v[0] <= before[0] {
				return errors.New("no failed reload counted yet")
			}
			return nil
		})
		if v := h.srv.Engine().Version(); v != version {
			t.Errorf("policy version %s after a failed reload, want %s kept", v, version)
		}
		if err := h.ready(); err != nil {
			t.Errorf("not ready after a failed reload: %v", err)
		}
		good := strings.Replace(admittest.BrokenRule, `"line": "not a number"`, `"line": 1`, 1)
		good = strings.Replace(good, "violations contains", "violations contains v if { input.subject.kind == \"Secret\"; v :=", 1) + "}\n"
		if err := os.WriteFile(path, []byte(good), 0o644); err != nil {
			t.Fatal(err)
		}
		eventually(t, "a successful reload", func() error {
			if h.srv.Engine().Version() == version {
				return errors.New("policy version unchanged")
			}
			return nil
		})
		h.moved(t, before, reloads, []float64{1, 1})
	})

	t.Run("shutdown: not ready at once, in-flight requests drained", func(t *testing.T) {
		// A request that is still being answered when shutdown starts.
		entered := make(chan struct{})
		h.srv.Manager().GetWebhookServer().Register("/slow", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			close(entered)
			time.Sleep(2 * time.Second)
			fmt.Fprint(w, "done")
		}))
		insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // a test against a local server
		answered := make(chan error, 1)
		go func() {
			resp, err := insecure.Get("https://" + net.JoinHostPort(h.webhookHost, strconv.Itoa(h.webhookPort)) + "/slow")
			if err == nil {
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				if string(b) != "done" {
					err = fmt.Errorf("%s %q", resp.Status, b)
				}
			}
			answered <- err
		}()
		<-entered
		stopped := make(chan error, 1)
		go func() { stopped <- h.stop() }()
		eventually(t, "readiness fails once shutdown starts", func() error {
			resp, err := http.Get(h.readyURL)
			if err != nil {
				return fmt.Errorf("probe server gone before readiness failed: %w", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusInternalServerError {
				return fmt.Errorf("readyz %s", resp.Status)
			}
			return nil
		})
		if err := <-answered; err != nil {
			t.Errorf("in-flight request: %v, want it answered", err)
		}
		if err := <-stopped; err != nil {
			t.Fatalf("server stopped with %v, want nil", err)
		}
		if err := h.ready(); err == nil {
			t.Errorf("still ready after shutdown")
		}
	})

	t.Run("the binary, self-managed certificates: Secret issued, CA injected, ready, SIGTERM", func(t *testing.T) {
		if _, err := exec.LookPath("go"); err != nil {
			t.Skip("no go command to build cmd/webhook with")
		}
		bin := filepath.Join(t.TempDir(), "modeguard-webhook")
		build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/webhook")
		build.Dir = testutil.Root(t)
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build ./cmd/webhook: %v\n%s", err, out)
		}
		o := server.DefaultOptions()
		health := freeAddr(t)
		cmd := exec.Command(bin,
			"--kubeconfig="+envtestbins.Kubeconfig(t, h.cfg),
			"--cert-mode=self-managed", "--webhook-host=127.0.0.1", "--webhook-port="+strings.Split(freeAddr(t), ":")[1],
			"--metrics-bind-address=0", "--health-probe-bind-address="+health,
			"--leader-elect", "--shutdown-delay=0s", "--log-format=text")
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		defer func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-exited:
				if err != nil {
					t.Errorf("after SIGTERM: %v, want exit 0", err)
				}
			case <-time.After(time.Minute):
				_ = cmd.Process.Kill()
				t.Errorf("no exit within a minute of SIGTERM")
			}
			if t.Failed() {
				t.Logf("webhook output:\n%s", logs.String())
			}
		}()
		secret := &corev1.Secret{}
		secret.Namespace, secret.Name = o.Namespace, o.CertSecret
		eventually(t, "the certificate Secret", func() error { return h.get(t, secret) })
		eventually(t, "the CA injected into both webhook configurations", func() error {
			if err := h.get(t, secret); err != nil {
				return err
			}
			want := certs.BundleFromData(secret.Data).Trusted()
			mwc, vwc := &admissionregistrationv1.MutatingWebhookConfiguration{}, &admissionregistrationv1.ValidatingWebhookConfiguration{}
			mwc.Name, vwc.Name = o.MutatingWebhookConfiguration, o.ValidatingWebhookConfiguration
			if err := h.get(t, mwc); err != nil {
				return err
			}
			if err := h.get(t, vwc); err != nil {
				return err
			}
			var got [][]byte
			for _, w := range mwc.Webhooks {
				got = append(got, w.ClientConfig.CABundle)
			}
			for _, w := range vwc.Webhooks {
				got = append(got, w.ClientConfig.CABundle)
			}
			for _, b := range got {
				if len(want) == 0 || !bytes.Equal(b, want) {
					return errors.New("a caBundle is not the Secret's CA bundle yet")
				}
			}
			return nil
		})
		eventually(t, "ready", func() error {
			resp, err := http.Get("http://" + health + "/readyz")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return errors.New(resp.Status)
			}
			return nil
		})
	})
}
