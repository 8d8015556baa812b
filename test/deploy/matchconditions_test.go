package deploy_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/modeguard/modeguard/policy"
	mgworkload "github.com/modeguard/modeguard/workload" // workload is this file's helper
)

// recorder is an HTTPS admission webhook that admits everything and records
// which object reached which path.
type recorder struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen map[string][]string // "Kind namespace/name" → paths, in order
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{seen: map[string][]string{}}
	rec.srv = httptest.NewTLSServer(http.HandlerFunc(rec.serve))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) serve(w http.ResponseWriter, r *http.Request) {
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
		http.Error(w, "bad review", http.StatusBadRequest)
		return
	}
	req := review.Request
	name := req.Name
	if name == "" { // generateName: read it from the object
		var m metav1.PartialObjectMetadata
		_ = json.Unmarshal(req.Object.Raw, &m)
		name = m.Name + m.GenerateName
	}
	k := fmt.Sprintf("%s %s/%s", req.Kind.Kind, req.Namespace, name)
	rec.mu.Lock()
	rec.seen[k] = append(rec.seen[k], string(req.Operation)+" "+r.URL.Path)
	rec.mu.Unlock()
	review.Response = &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	review.Request = nil
	_ = json.NewEncoder(w).Encode(&review)
}

// paths returns the distinct paths an object reached, sorted, and forgets
// them.
func (rec *recorder) paths(k string) []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	ps := slices.Clone(rec.seen[k])
	delete(rec.seen, k)
	slices.Sort(ps)
	return slices.Compact(ps)
}

// caBundle is the PEM of the recorder's certificate.
func (rec *recorder) caBundle() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rec.srv.Certificate().Raw})
}

// TestMatchConditions installs the rendered webhook configurations on a real
// API server, with only their clientConfig pointed at a recording webhook,
// and checks which objects the API server sends: the rules, the
// namespaceSelector and the CEL matchConditions as shipped, evaluated by the
// API server itself. Every workload and Pod the webhook would take for an
// agent, with the render's settings, must be sent: an agent pulled through
// a mirror only with the Helm value agentImages, which adds the pattern to
// both.
func TestMatchConditions(t *testing.T) {
	cfg, _ := controlPlane(t)
	c := adminClient(t, cfg)
	rec := newRecorder(t)

	ensureNamespace(t, c, "agents", nil)
	ensureNamespace(t, c, namespace, nil)
	ensureNamespace(t, c, "ignored", map[string]string{"modeguard.dev/ignore": "true"})
	ensureNamespace(t, c, "ignored-empty", map[string]string{"modeguard.dev/ignore": ""})

	both := []string{"CREATE /mutate", "CREATE /validate"}
	mutateOnly := []string{"CREATE /mutate"}
	var none []string

	for i, name := range []string{"kustomize/self-signed", "kustomize/agent-configmaps-only", "helm/agent-images"} {
		t.Run(name, func(t *testing.T) {
			r := findRender(t, name)
			installRecording(t, c, r, rec)
			agents := renderSettings(t, r).Agents()
			sfx := fmt.Sprintf("-%d", i)
			cmsAll := both // every ConfigMap is sent, unless filtered
			if r.agentConfigMapsOnly {
				cmsAll = none
			}
			// An agent pulled through a mirror, without labels: sent when
			// the render's agentImages pattern names it.
			const mirrored = "registry.internal/mirror/alloy:v1.5.1"
			mirroredWorkload, mirroredPod := none, none
			if len(agents.Images) > 0 {
				mirroredWorkload, mirroredPod = both, mutateOnly
			}
			const custom = "registry.internal/custom/collector:1"
			cases := []struct {
				obj  client.Object
				want []string
			}{
				{configMap("agents", "cm-alloy"+sfx, map[string]string{"config.alloy": "logging {}"}, nil, nil), both},
				{configMap("agents", "cm-river"+sfx, map[string]string{"agent.river": "logging {}"}, nil, nil), both},
				{configMap("agents", "cm-mode"+sfx, map[string]string{"config.yaml": "x"}, map[string]string{"modeguard.dev/mode": "daemonset"}, nil), both},
				{configMap("agents", "cm-label"+sfx, map[string]string{"config.yaml": "x"}, nil, map[string]string{"modeguard.dev/agent": "true"}), both},
				{configMap("agents", "cm-plain"+sfx, map[string]string{"app.properties": "a=b"}, nil, nil), cmsAll},
				{configMap("agents", "cm-empty"+sfx, nil, nil, nil), cmsAll},
				{workload(&appsv1.Deployment{}, "agents", "deploy-alloy"+sfx, "grafana/alloy:v1.5.0", nil, nil), both},
				{workload(&appsv1.DaemonSet{}, "agents", "ds-agent"+sfx, "registry.example/grafana/agent:v0.44.2", nil, nil), both},
				{workload(&appsv1.StatefulSet{}, "agents", "sts-mirror"+sfx, "my.registry:5000/mirror/grafana/alloy:latest", nil, nil), both},
				{workload(&appsv1.Deployment{}, "agents", "deploy-nginx"+sfx, "nginx:1.27", nil, nil), none},
				{workload(&appsv1.StatefulSet{}, "agents", "sts-nginx"+sfx, "nginx:1.27", nil, nil), none},
				{workload(&appsv1.Deployment{}, "agents", "deploy-optin"+sfx, "example/custom-alloy:1", map[string]string{"modeguard.dev/agent": "true"}, nil), both},
				{workload(&appsv1.Deployment{}, "agents", "deploy-tmpl-optin"+sfx, "example/custom-alloy:1", nil, map[string]string{"modeguard.dev/agent": "true"}), both},
				{withSidecar(workload(&appsv1.DaemonSet{}, "agents", "ds-sidecar"+sfx, "nginx:1.27", nil, nil), "grafana/alloy:v1.5.0"), both},
				{pod("agents", "pod-alloy"+sfx, "grafana/alloy:v1.5.0", nil), mutateOnly},
				{pod("agents", "pod-optin"+sfx, "busybox", map[string]string{"modeguard.dev/agent": "true"}), mutateOnly},
				{pod("agents", "pod-nginx"+sfx, "nginx:1.27", nil), none},
				{workload(&appsv1.DaemonSet{}, "agents", "ds-mirror"+sfx, mirrored, nil, nil), mirroredWorkload},
				{withSidecar(workload(&appsv1.DaemonSet{}, "agents", "ds-mirror-sidecar"+sfx, "nginx:1.27", nil, nil), mirrored), mirroredWorkload},
				{pod("agents", "pod-mirror"+sfx, mirrored, nil), mirroredPod},
				{workload(&appsv1.DaemonSet{}, "agents", "ds-mirror-nginx"+sfx, "registry.internal/mirror/nginx:1.27", nil, nil), none},
				// Recognized by what they run or by the charts' marks,
				// whatever the image.
				{withCommand(workload(&appsv1.Deployment{}, "agents", "deploy-alloy-run"+sfx, custom, nil, nil), "/bin/alloy", "run", "/etc/alloy/config.alloy"), both},
				{withCommand(workload(&appsv1.StatefulSet{}, "agents", "sts-agent-flow-run"+sfx, custom, nil, nil), "grafana-agent-flow", "run", "/etc/agent/config.river"), both},
				{withEnv(workload(&appsv1.DaemonSet{}, "agents", "ds-deploy-mode"+sfx, custom, nil, nil), "ALLOY_DEPLOY_MODE", "helm"), both},
				{withCommand(workload(&appsv1.DaemonSet{}, "agents", "ds-app-alloy"+sfx, custom, nil, map[string]string{"app.kubernetes.io/name": "alloy"}), "", "run", "/etc/alloy/config.alloy"), both},
				{workload(&appsv1.Deployment{}, "agents", "deploy-app-agent"+sfx, custom, map[string]string{"app.kubernetes.io/name": "grafana-agent"}, nil), both},
				{workload(&appsv1.Deployment{}, "agents", "deploy-app-nginx"+sfx, custom, map[string]string{"app.kubernetes.io/name": "nginx"}, nil), none},
				{withCommand(pod("agents", "pod-alloy-run"+sfx, custom, nil), "alloy", "run", "/etc/alloy/config.alloy"), mutateOnly},
				{&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "agents", Name: "secret" + sfx}, StringData: map[string]string{"config.alloy": "x"}}, none},
				// Excluded namespaces see nothing.
				{configMap("kube-system", "cm-alloy"+sfx, map[string]string{"config.alloy": "logging {}"}, nil, nil), none},
				{workload(&appsv1.Deployment{}, "kube-system", "deploy-alloy"+sfx, "grafana/alloy:v1.5.0", nil, nil), none},
				{configMap(namespace, "cm-alloy"+sfx, map[string]string{"config.alloy": "logging {}"}, nil, nil), none},
				{configMap("ignored", "cm-alloy"+sfx, map[string]string{"config.alloy": "logging {}"}, nil, nil), none},
				{workload(&appsv1.Deployment{}, "ignored", "deploy-alloy"+sfx, "grafana/alloy:v1.5.0", nil, nil), none},
				{configMap("ignored-empty", "cm-alloy"+sfx, map[string]string{"config.alloy": "logging {}"}, nil, nil), none},
			}
			for _, tc := range cases {
				// What the webhook, with the render's settings, takes for
				// an agent (ConfigMaps and Secrets are not workloads).
				facts, factsErr := agents.FromObject(tc.obj.DeepCopyObject(), nil)
				if err := c.Create(t.Context(), tc.obj); err != nil {
					t.Fatalf("creating %T %s: %v", tc.obj, tc.obj.GetName(), err)
				}
				k := fmt.Sprintf("%s %s/%s", kindOf(tc.obj), tc.obj.GetNamespace(), tc.obj.GetName())
				got := rec.paths(k)
				if !slices.Equal(got, tc.want) {
					t.Errorf("%s: reached %q, want %q", k, got, tc.want)
				}
				if factsErr == nil && facts.Agent && len(got) == 0 && tc.obj.GetNamespace() == "agents" {
					t.Errorf("%s: an agent to the webhook (%s), but the matchConditions do not send it", k, facts.Reason)
				}
			}
			// The mirrored agent is one exactly when the render names
			// its image.
			f, err := agents.FromObject(workload(&appsv1.DaemonSet{}, "agents", "ds", mirrored, nil, nil), nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := len(agents.Images) > 0; f.Agent != want {
				t.Errorf("%s with the render's settings: agent %v (%s), want %v", mirrored, f.Agent, f.Reason, want)
			}

			// An update that makes a ConfigMap an agent config is sent.
			var cm corev1.ConfigMap
			if err := c.Get(t.Context(), client.ObjectKey{Namespace: "agents", Name: "cm-plain" + sfx}, &cm); err != nil {
				t.Fatal(err)
			}
			cm.Data["config.alloy"] = "logging {}"
			if err := c.Update(t.Context(), &cm); err != nil {
				t.Fatal(err)
			}
			k := "ConfigMap agents/cm-plain" + sfx
			if got, want := rec.paths(k), []string{"UPDATE /mutate", "UPDATE /validate"}; !slices.Equal(got, want) {
				t.Errorf("%s after adding config.alloy: reached %q, want %q", k, got, want)
			}
		})
	}
}

func kindOf(o client.Object) string {
	s := fmt.Sprintf("%T", o)
	return s[strings.LastIndex(s, ".")+1:]
}

// installRecording (re)creates r's webhook configurations with every
// webhook's clientConfig pointed at rec, and waits until the API server
// calls them.
func installRecording(t *testing.T, c client.Client, r render, rec *recorder) {
	t.Helper()
	ctx := t.Context()
	objs, err := decode(only(t, r.manifests(t), "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"))
	if err != nil {
		t.Fatal(err)
	}
	ensureNamespace(t, c, "probe", nil)
	probe := func() []string {
		name := fmt.Sprintf("probe-%d", probes.Add(1))
		if err := c.Create(ctx, configMap("probe", name, map[string]string{"config.alloy": ""}, nil, nil)); err != nil {
			t.Fatal(err)
		}
		return rec.paths("ConfigMap probe/" + name)
	}
	// Remove what an earlier test or variant left, and wait until the API
	// server stops calling it.
	for _, o := range objs {
		if err := c.Delete(ctx, o.DeepCopy()); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
	}
	awaitProbe(t, probe, false)

	for _, o := range objs {
		o := o.DeepCopy()
		ws, _ := o.Object["webhooks"].([]any)
		for _, w := range ws {
			w := w.(map[string]any)
			cc := w["clientConfig"].(map[string]any)
			path := cc["service"].(map[string]any)["path"].(string)
			w["clientConfig"] = map[string]any{
				"url":      rec.srv.URL + path,
				"caBundle": base64.StdEncoding.EncodeToString(rec.caBundle()),
			}
		}
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("creating %s: %v", key(o), err)
		}
		t.Cleanup(func() { _ = c.Delete(context.Background(), o) })
	}
	awaitProbe(t, probe, true)
}

var probes atomic.Int64

// awaitProbe waits until a probe ConfigMap reaches both webhooks (or,
// called false, neither).
func awaitProbe(t *testing.T, probe func() []string, called bool) {
	t.Helper()
	var got []string
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		got = probe()
		return (len(got) == 2) == called && (len(got) == 0) != called, nil
	})
	if err != nil {
		t.Fatalf("waiting for the webhook configurations (called %v): last probe reached %q", called, got)
	}
}

func configMap(ns, name string, data, annotations, labels map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations, Labels: labels},
		Data:       data,
	}
}

func podSpec(image string) corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: image}}}
}

// workload fills a Deployment, DaemonSet or StatefulSet.
func workload(o client.Object, ns, name, image string, labels, templateLabels map[string]string) client.Object {
	sel := map[string]string{"app": name}
	tl := map[string]string{"app": name}
	for k, v := range templateLabels {
		tl[k] = v
	}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: tl}, Spec: podSpec(image)}
	ls := &metav1.LabelSelector{MatchLabels: sel}
	switch w := o.(type) {
	case *appsv1.Deployment:
		w.Spec = appsv1.DeploymentSpec{Selector: ls, Template: tmpl}
	case *appsv1.DaemonSet:
		w.Spec = appsv1.DaemonSetSpec{Selector: ls, Template: tmpl}
	case *appsv1.StatefulSet:
		w.Spec = appsv1.StatefulSetSpec{Selector: ls, Template: tmpl, ServiceName: name}
	}
	o.SetNamespace(ns)
	o.SetName(name)
	o.SetLabels(labels)
	return o
}

// withSidecar adds a native sidecar (an init container that keeps running).
func withSidecar(o client.Object, image string) client.Object {
	u, _ := o.(*appsv1.DaemonSet)
	u.Spec.Template.Spec.InitContainers = append(u.Spec.Template.Spec.InitContainers,
		corev1.Container{Name: "agent", Image: image, RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)})
	return o
}

// withCommand sets the first container's command (binary "" leaves the
// image's entrypoint and sets args only).
func withCommand(o client.Object, binary string, args ...string) client.Object {
	c := &podSpecOf(o).Containers[0]
	if binary != "" {
		c.Command = []string{binary}
	}
	c.Args = args
	return o
}

// withEnv adds a literal env var to the first container.
func withEnv(o client.Object, name, value string) client.Object {
	c := &podSpecOf(o).Containers[0]
	c.Env = append(c.Env, corev1.EnvVar{Name: name, Value: value})
	return o
}

// podSpecOf is the pod spec of a workload (its template's) or a Pod.
func podSpecOf(o client.Object) *corev1.PodSpec {
	k := mgworkload.KindOf(o)
	if k == nil || k.Pod == nil {
		panic(fmt.Sprintf("no pod spec in %T", o))
	}
	_, spec := k.Pod(o)
	return spec
}

// renderSettings parses the settings a render ships.
func renderSettings(t *testing.T, r render) *policy.Settings {
	t.Helper()
	var cm corev1.ConfigMap
	into(t, find(t, r.objects(t), "ConfigMap", "modeguard-settings"), &cm)
	s, err := policy.ParseSettings([]byte(cm.Data["settings.yaml"]))
	if err != nil {
		t.Fatalf("%s settings: %v", r.name, err)
	}
	return s
}

func pod(ns, name, image string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}, Spec: podSpec(image)}
}
