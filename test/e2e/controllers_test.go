package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/webhook/metrics"
	"github.com/modeguard/modeguard/webhook/metrics/metricstest"
)

// TestControllers runs kube-controller-manager's DaemonSet, Deployment,
// ReplicaSet and StatefulSet controllers against the API server with the
// webhook installed as deploy/ installs it, so that the Pods modeguard's
// Pod webhook admits are the ones real controllers create:
//
//   - mg002-fires, its DaemonSet and ConfigMap stored unfixed (their
//     namespace was exempt, as for an agent installed before modeguard):
//     once the exemption is lifted, the Pods the DaemonSet controller
//     creates get MG002's HOSTNAME env fix from the Pod webhook, the
//     result cache answering all but the first two of them (it keeps an
//     answer asked for twice);
//   - a rollout of the same DaemonSet (kubectl rollout restart, an UPDATE
//     the workload webhook fixes): the fixed template rolls out fixed Pods,
//     admitted unchanged;
//   - a DaemonSet, a Deployment and a StatefulSet of the examples applied
//     as they are: each gets all its Pods.
//
// No Pod may be denied or fail its admission (the webhook's metrics, and no
// FailedCreate event from a controller). No kubelet runs: MarkPodsReady sets
// the Pods Running and Ready so that rollouts progress; no container starts,
// no scheduler binds a Pod, nothing resolves the HOSTNAME fieldRef (the test
// checks the Pod spec, not a running agent's environment), and nothing mounts
// the ConfigMap.
func TestControllers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	began := time.Now()
	c, _ := ownCluster(t, Options{Controllers: true})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kube-controller-manager's log (tail):\n%s", tail(c.ControllerManagerLog, 20))
		}
	})
	namespaces := []string{"mg002-fires", "mg002-passes", "events-deployment", "seed-statefulset"}
	standIn, stopStandIn := context.WithCancel(ctx)
	defer stopStandIn()
	standInErrs := c.MarkPodsReady(standIn, namespaces...)

	// 1. A DaemonSet stored unfixed; its Pods re-created through the Pod
	// webhook.
	const ns = "mg002-fires"
	mustKubectl(t, c, "", "create", "namespace", ns)
	mustKubectl(t, c, "", "label", "namespace", ns, "modeguard.dev/ignore=true")
	mustKubectl(t, c, manifestOf(t, ns), "apply", "-f", "-")
	ds := &appsv1.DaemonSet{}
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "alloy"}, ds); err != nil {
		t.Fatal(err)
	}
	if hasHostnameEnv(ds.Spec.Template.Spec) {
		t.Fatalf("DaemonSet %s/alloy was fixed in an exempt namespace; the scenario needs it unfixed", ns)
	}
	old := waitPods(ctx, t, c, ns, len(Nodes), nil)
	for _, p := range old {
		if hasHostnameEnv(p.Spec) {
			t.Fatalf("Pod %s/%s has HOSTNAME from spec.nodeName in an exempt namespace", ns, p.Name)
		}
	}
	mustKubectl(t, c, "", "label", "namespace", ns, "modeguard.dev/ignore-")
	m0 := podMetrics(t, c)
	// As a node drain or an eviction would: the controller re-creates them.
	mustKubectl(t, c, "", "delete", "pods", "--all", "-n", ns, "--wait=false")
	recreated := waitPods(ctx, t, c, ns, len(Nodes), names(old))
	m1 := podMetrics(t, c)
	for _, p := range recreated {
		if !hasHostnameEnv(p.Spec) {
			t.Errorf("re-created Pod %s/%s: got no HOSTNAME env from fieldRef spec.nodeName, want MG002's fix from the Pod webhook", ns, p.Name)
		}
	}
	d1 := m1.minus(m0)
	t.Logf("controllers: DaemonSet %s/alloy (stored unfixed), its %d Pods re-created by the DaemonSet controller: %s", ns, len(recreated), d1)
	if d1.fixed != len(recreated) {
		t.Errorf("Pods fixed by the Pod webhook: got %d, want %d (every re-created Pod)", d1.fixed, len(recreated))
	}
	if d1.cached < len(recreated)-2 {
		t.Errorf("Pods answered from the result cache: got %d, want at least %d (all but the first two: the Pods of one DaemonSet differ only in fields no rule reads, and the cache keeps an answer asked for twice)", d1.cached, len(recreated)-2)
	}

	// 2. A rollout: the workload webhook fixes the template, whose Pods
	// need no fix.
	mustKubectl(t, c, "", "rollout", "restart", "daemonset/alloy", "-n", ns)
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "alloy"}, ds); err != nil {
		t.Fatal(err)
	}
	if !hasHostnameEnv(ds.Spec.Template.Spec) {
		t.Fatalf("DaemonSet %s/alloy after rollout restart: got no HOSTNAME env in its template, want MG002's fix from the workload webhook", ns)
	}
	mustKubectl(t, c, "", "rollout", "status", "daemonset/alloy", "-n", ns, "--timeout=60s")
	rolled := waitPods(ctx, t, c, ns, len(Nodes), names(recreated))
	m2 := podMetrics(t, c)
	for _, p := range rolled {
		if !hasHostnameEnv(p.Spec) {
			t.Errorf("rolled-out Pod %s/%s: got no HOSTNAME env, want the fixed template's", ns, p.Name)
		}
	}
	d2 := m2.minus(m1)
	t.Logf("controllers: DaemonSet %s/alloy, fixed template rolled out to %d Pods: %s", ns, len(rolled), d2)
	if d2.fixed != 0 {
		t.Errorf("Pods of the fixed template patched by the Pod webhook: got %d, want 0 (nothing left to fix)", d2.fixed)
	}

	// 3. Examples as they are, one of each controller.
	for _, w := range []struct {
		ns   string
		pods int
	}{{"mg002-passes", len(Nodes)}, {"events-deployment", 1}, {"seed-statefulset", 3}} {
		mustKubectl(t, c, manifestOf(t, w.ns), "apply", "-f", "-")
		pods := waitPods(ctx, t, c, w.ns, w.pods, nil)
		t.Logf("controllers: %s: %d Pods created", w.ns, len(pods))
	}

	stopStandIn()
	if err := <-standInErrs; err != nil {
		t.Errorf("marking Pods Ready: %v", err)
	}
	all := podMetrics(t, c).minus(m0)
	t.Logf("controllers: in all, from the first re-created Pod: %s (%s since the cluster began starting)", all, time.Since(began).Round(time.Millisecond))
	if all.denied != 0 || all.failed != 0 {
		t.Errorf("Pods denied: %d, failed admissions: %d; want 0 (modeguard never denies a Pod)", all.denied, all.failed)
	}
	var events corev1.EventList
	if err := c.Client.List(ctx, &events); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if e.Reason == "FailedCreate" {
			t.Errorf("event %s/%s on %s %s: %s", e.Namespace, e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Message)
		}
	}
	if !c.ControllerManagerRunning() {
		t.Error("kube-controller-manager exited during the test")
	}
}

// podCounts are the mutating webhook's Pod admissions, from its metrics.
type podCounts struct {
	admitted, fixed, cached, evaluated, denied, failed int
}

func (p podCounts) minus(q podCounts) podCounts {
	return podCounts{p.admitted - q.admitted, p.fixed - q.fixed, p.cached - q.cached,
		p.evaluated - q.evaluated, p.denied - q.denied, p.failed - q.failed}
}

func (p podCounts) String() string {
	hit := 0.0
	if p.admitted > 0 {
		hit = 100 * float64(p.cached) / float64(p.admitted)
	}
	return fmt.Sprintf("Pods admitted %d, fixed %d, answered from the cache %d (hit rate %.0f%%), evaluated %d, denied %d, failed %d",
		p.admitted, p.fixed, p.cached, hit, p.evaluated, p.denied, p.failed)
}

// podMetrics reads the Pod admissions from the webhook's /metrics. A Pod
// answered from the result cache is one admitted, not skipped, and not
// evaluated (the cache-hit counter itself has no kind label).
func podMetrics(t *testing.T, c *Cluster) podCounts {
	t.Helper()
	resp, err := http.Get(c.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	fams, err := metricstest.Parse(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	req := func(result string) int {
		l := map[string]string{"webhook": "mutate", "kind": "Pod"}
		if result != "" {
			l["result"] = result
		}
		return int(fams.Sum(metrics.RequestsTotal, l))
	}
	p := podCounts{
		admitted:  req(""),
		fixed:     req(metrics.ResultPatched),
		evaluated: int(fams.Sum(metrics.EvaluationsTotal, map[string]string{"webhook": "mutate", "kind": "Pod"})),
		denied:    req(metrics.ResultDenied),
		failed:    req(metrics.ResultError) + req(metrics.ResultInvalid),
	}
	p.cached = p.admitted - req(metrics.ResultSkipped) - p.evaluated
	return p
}

// waitPods waits until namespace ns holds want Pods none of whose names is
// in old, and no other Pods, and returns them.
func waitPods(ctx context.Context, t *testing.T, c *Cluster, ns string, want int, old []string) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	for deadline := time.Now().Add(60 * time.Second); ; {
		if err := c.Client.List(ctx, &pods, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil && !slices.Contains(old, p.Name) {
				n++
			}
		}
		if n == want && len(pods.Items) == want {
			return pods.Items
		}
		if time.Now().After(deadline) {
			ev, _ := c.Kubectl(ctx, "", "get", "events", "-n", ns)
			t.Fatalf("namespace %s: got %d new Pods of %d, want %d new and no others (the controllers did not converge in 60s); its events:\n%s\nkube-controller-manager's log:\n%s",
				ns, n, len(pods.Items), want, ev.Stdout, tail(c.ControllerManagerLog, 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func names(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

// hasHostnameEnv reports whether a container sets HOSTNAME from fieldRef
// spec.nodeName, MG002's fix.
func hasHostnameEnv(spec corev1.PodSpec) bool {
	for _, ct := range spec.Containers {
		for _, e := range ct.Env {
			if e.Name == "HOSTNAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName" {
				return true
			}
		}
	}
	return false
}

// manifestOf is an example's manifest.yaml.
func manifestOf(t *testing.T, name string) string {
	t.Helper()
	b, err := examples.FS.ReadFile(name + "/manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustKubectl(t *testing.T, c *Cluster, stdin string, args ...string) string {
	t.Helper()
	r, err := c.Kubectl(context.Background(), stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return r.Stdout
}
