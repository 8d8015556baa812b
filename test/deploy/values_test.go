package deploy_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// helmDeployment renders the chart with args and returns its Deployment.
func helmDeployment(t *testing.T, args ...string) *appsv1.Deployment {
	t.Helper()
	r := render{name: "helm " + strings.Join(args, " "), helm: true, args: args}
	var d appsv1.Deployment
	into(t, find(t, r.objects(t), "Deployment", deploymentName), &d)
	return &d
}

// TestChartValues checks that the scheduling and pod values of
// testdata/values-custom.yaml (which also carries a parent chart's global:)
// render as values.yaml documents them.
func TestChartValues(t *testing.T) {
	t.Parallel()
	d := helmDeployment(t, "-f", "test/deploy/testdata/values-custom.yaml")
	ps := d.Spec.Template.Spec
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"imagePullSecrets", ps.ImagePullSecrets, []corev1.LocalObjectReference{{Name: "regcred"}}},
		{"priorityClassName", ps.PriorityClassName, "system-cluster-critical"},
		{"nodeSelector", ps.NodeSelector, map[string]string{"kubernetes.io/os": "linux"}},
		{"tolerations", ps.Tolerations, []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "platform", Effect: corev1.TaintEffectNoSchedule}}},
		{"podAnnotations", d.Spec.Template.Annotations["example.com/team"], "platform"},
		{"podLabels", d.Spec.Template.Labels["example.com/team"], "platform"},
		// The selector labels stay: a podLabels entry cannot orphan the pods.
		{"selector label", d.Spec.Template.Labels["app.kubernetes.io/name"], "modeguard"},
		{"extraEnv", ps.Containers[0].Env[len(ps.Containers[0].Env)-1], corev1.EnvVar{Name: "GOMAXPROCS", Value: "2"}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %+v, want %+v", c.what, c.got, c.want)
		}
	}

	// affinity and topologySpreadConstraints replace the defaults.
	values := filepath.Join(t.TempDir(), "values.yaml")
	custom := `
affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms: [{matchExpressions: [{key: pool, operator: In, values: [system]}]}]
topologySpreadConstraints:
  - {maxSkew: 2, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule}
`
	if err := os.WriteFile(values, []byte(custom), 0o644); err != nil {
		t.Fatal(err)
	}
	var want struct {
		Affinity                  *corev1.Affinity                  `json:"affinity"`
		TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints"`
	}
	if err := yaml.UnmarshalStrict([]byte(custom), &want); err != nil {
		t.Fatal(err)
	}
	ps = helmDeployment(t, "-f", values).Spec.Template.Spec
	if !reflect.DeepEqual(ps.Affinity, want.Affinity) {
		t.Errorf("affinity: got %+v, want %+v", ps.Affinity, want.Affinity)
	}
	if !reflect.DeepEqual(ps.TopologySpreadConstraints, want.TopologySpreadConstraints) {
		t.Errorf("topologySpreadConstraints: got %+v, want %+v", ps.TopologySpreadConstraints, want.TopologySpreadConstraints)
	}
}

// TestChartChecksumRollsPods: a change of the settings or of a policy
// changes the pod template (so Helm rolls the pods); other values do not.
func TestChartChecksumRollsPods(t *testing.T) {
	t.Parallel()
	sum := func(args ...string) string {
		return helmDeployment(t, args...).Spec.Template.Annotations[checksumAnnotation]
	}
	base := sum()
	for _, c := range []struct {
		set     string
		changes bool
	}{
		{"settings.dryRun=true", true},
		{"settings.rules.MG003.action=deny", true},
		{`policies.acme\.rego=package acme`, true},
		{"agentImages={*/mirror/alloy*}", true}, // lands in the settings
		{"replicas=3", false},
		{"timeoutSeconds=5", false},
	} {
		if got := sum("--set", c.set); (got != base) != c.changes {
			t.Errorf("--set %s: checksum %s (default %s), want changed=%v", c.set, got, base, c.changes)
		}
	}
}

// TestChartRefuses: values the chart must not render.
func TestChartRefuses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		// The API server would stop waiting before the webhook answers.
		{[]string{"--set", "timeoutSeconds=2"}, "below timeoutSeconds"},
		{[]string{"--set", "requestTimeout=3s"}, "below timeoutSeconds"},
		{[]string{"--set", "requestTimeout=50ms"}, "at least 100ms"},
		{[]string{"--set", "requestTimeout=2.5s"}, "requestTimeout"},
		{[]string{"--set", "nodeSelectr.a=b"}, "nodeSelectr"},
		{[]string{"--set", "extraArgs={max-in-flight=3}"}, "extraArgs"},
	} {
		args := append([]string{"--namespace", namespace}, c.args...)
		_, err := tryRun(t, nil, helmTemplate(t), append(args, chartDir)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want an error about %s", c.args, err, c.want)
		}
	}
}

// TestChartNotes: NOTES.txt says what is enforced and how to check it, and
// warns when the release namespace is one agents run in (modeguard never
// reviews its own namespace).
func TestChartNotes(t *testing.T) {
	t.Parallel()
	notes := func(ns string, args ...string) string {
		return run(t, nil, helmTemplate(t), append(append([]string{"--notes", "--namespace", ns}, args...), chartDir)...)
	}
	own := notes(namespace)
	for _, want := range []string{"What is enforced", "every namespace but " + namespace + ", kube-system", "rollout status deployment/modeguard-webhook", "failurePolicy is Ignore"} {
		if !strings.Contains(own, want) {
			t.Errorf("NOTES in %s lack %q:\n%s", namespace, want, own)
		}
	}
	if strings.Contains(own, "WARNING") {
		t.Errorf("NOTES in %s warn:\n%s", namespace, own)
	}
	for _, ns := range []string{"monitoring", "alloy"} {
		if got := notes(ns); !strings.Contains(got, "WARNING: "+ns) || !strings.Contains(got, "NOT checked") {
			t.Errorf("NOTES in %s: no warning that its agents are not checked:\n%s", ns, got)
		}
	}
	if got := notes("agents", "--set", "agentNamespaces={agents}"); !strings.Contains(got, "WARNING: agents") {
		t.Errorf("NOTES in agents with agentNamespaces={agents}: no warning:\n%s", got)
	}
	if got := notes(namespace, "--set", "settings.dryRun=true"); !strings.Contains(got, "Dry run is ON") {
		t.Errorf("NOTES with dryRun: no word of it:\n%s", got)
	}
}

// TestChartMonitoring: the monitoring values render the generated rules and
// dashboard of deploy/monitoring (hack/monitoring), and a ServiceMonitor
// whose Service selects the webhook pods and names the job the rules select.
func TestChartMonitoring(t *testing.T) {
	t.Parallel()
	objs := findRender(t, "helm/monitoring").objects(t)
	root := filepath.Join("..", "..", "deploy", "monitoring")
	var want struct {
		Spec map[string]any `json:"spec"`
	}
	data, err := os.ReadFile(filepath.Join(root, "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if got := find(t, objs, "PrometheusRule", "modeguard").Object["spec"]; !reflect.DeepEqual(normalizeJSON(t, got), normalizeJSON(t, want.Spec)) {
		t.Errorf("PrometheusRule spec differs from deploy/monitoring/prometheusrule.yaml")
	}
	dash, err := os.ReadFile(filepath.Join(root, "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	cm := find(t, objs, "ConfigMap", "modeguard-dashboard")
	if got, _, _ := unstructured.NestedString(cm.Object, "data", "modeguard.json"); strings.TrimSpace(got) != strings.TrimSpace(string(dash)) {
		t.Errorf("dashboard ConfigMap differs from deploy/monitoring/dashboard.json")
	}
	if cm.GetLabels()["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap labels %v, want grafana_dashboard: \"1\" (the Grafana sidecar's default)", cm.GetLabels())
	}
	var svc corev1.Service
	into(t, find(t, objs, "Service", "modeguard-webhook-metrics"), &svc)
	var d appsv1.Deployment
	into(t, find(t, objs, "Deployment", deploymentName), &d)
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("metrics Service selector %v does not select the pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
		}
	}
	if !strings.Contains(string(data), `job="`+svc.Name+`"`) {
		t.Errorf("the rules do not select job=%q, the metrics Service's name", svc.Name)
	}
	sm := find(t, objs, "ServiceMonitor", "modeguard-webhook")
	sel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	for k, v := range sel {
		if svc.Labels[k] != v {
			t.Errorf("ServiceMonitor selector %v does not select the metrics Service %v", sel, svc.Labels)
		}
	}
	// Off by default.
	for _, o := range findRender(t, "helm/default").objects(t) {
		if o.GetKind() == "ServiceMonitor" || o.GetKind() == "PrometheusRule" || o.GetName() == "modeguard-dashboard" {
			t.Errorf("default render has %s", key(o))
		}
	}
}

func normalizeJSON(t *testing.T, v any) any {
	t.Helper()
	data, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := yaml.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
