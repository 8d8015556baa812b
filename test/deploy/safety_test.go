package deploy_test

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/modeguard/modeguard/policy"
)

// maxTimeoutSeconds bounds the webhooks' timeoutSeconds: the API server waits
// this long on every matching request while the webhook is slow or down.
const maxTimeoutSeconds = 3

// TestSafetyDefaults asserts, on every render, the properties that make
// modeguard safe to install: a down webhook blocks nothing (unless the
// configuration fails closed on purpose), short timeouts, no side effects,
// its own namespace and kube-system never reviewed, a locked-down pod, and
// RBAC exactly as intended.
func TestSafetyDefaults(t *testing.T) {
	for _, r := range renders {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			objs := r.objects(t)
			checkWebhooks(t, r, objs)
			checkDeployment(t, r, objs)
			checkRBAC(t, r, objs)
			checkSettings(t, objs)
		})
	}
}

// webhooks returns every webhook of both configurations, typed.
func webhooks(t testing.TB, objs []*unstructured.Unstructured) (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration) {
	t.Helper()
	var m admissionregistrationv1.MutatingWebhookConfiguration
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	into(t, find(t, objs, "MutatingWebhookConfiguration", webhookConfig), &m)
	into(t, find(t, objs, "ValidatingWebhookConfiguration", webhookConfig), &v)
	if len(m.Webhooks) == 0 || len(v.Webhooks) == 0 {
		t.Fatalf("got %d mutating and %d validating webhooks, want some of each", len(m.Webhooks), len(v.Webhooks))
	}
	return &m, &v
}

// common is what both kinds of webhook share.
type common struct {
	config, name            string
	failurePolicy           *admissionregistrationv1.FailurePolicyType
	timeoutSeconds          *int32
	sideEffects             *admissionregistrationv1.SideEffectClass
	admissionReviewVersions []string
	namespaceSelector       *metav1.LabelSelector
	clientConfig            admissionregistrationv1.WebhookClientConfig
	matchConditions         []admissionregistrationv1.MatchCondition
	rules                   []admissionregistrationv1.RuleWithOperations
}

func commons(m *admissionregistrationv1.MutatingWebhookConfiguration, v *admissionregistrationv1.ValidatingWebhookConfiguration) []common {
	var cs []common
	for _, w := range m.Webhooks {
		cs = append(cs, common{"mutating", w.Name, w.FailurePolicy, w.TimeoutSeconds, w.SideEffects, w.AdmissionReviewVersions, w.NamespaceSelector, w.ClientConfig, w.MatchConditions, w.Rules})
	}
	for _, w := range v.Webhooks {
		cs = append(cs, common{"validating", w.Name, w.FailurePolicy, w.TimeoutSeconds, w.SideEffects, w.AdmissionReviewVersions, w.NamespaceSelector, w.ClientConfig, w.MatchConditions, w.Rules})
	}
	return cs
}

// alloysWebhook is the webhook of both configurations that sends Alloy
// objects.
const alloysWebhook = "alloys.modeguard.dev"

func checkWebhooks(t *testing.T, r render, objs []*unstructured.Unstructured) {
	m, v := webhooks(t, objs)
	wantPolicy := admissionregistrationv1.Ignore
	if r.failClosed {
		wantPolicy = admissionregistrationv1.Fail
	}
	for _, w := range m.Webhooks {
		if w.ReinvocationPolicy == nil || *w.ReinvocationPolicy != admissionregistrationv1.IfNeededReinvocationPolicy {
			t.Errorf("mutating webhook %s: reinvocationPolicy %v, want IfNeeded", w.Name, deref(w.ReinvocationPolicy))
		}
	}
	for _, c := range commons(m, v) {
		id := c.config + " webhook " + c.name
		if c.failurePolicy == nil || *c.failurePolicy != wantPolicy {
			t.Errorf("%s: failurePolicy %v, want %s", id, deref(c.failurePolicy), wantPolicy)
		}
		if c.timeoutSeconds == nil || *c.timeoutSeconds < 1 || *c.timeoutSeconds > maxTimeoutSeconds {
			t.Errorf("%s: timeoutSeconds %v, want 1-%d (unset is 10)", id, deref(c.timeoutSeconds), maxTimeoutSeconds)
		}
		if c.sideEffects == nil || *c.sideEffects != admissionregistrationv1.SideEffectClassNone {
			t.Errorf("%s: sideEffects %v, want None", id, deref(c.sideEffects))
		}
		if !slices.Equal(c.admissionReviewVersions, []string{"v1"}) {
			t.Errorf("%s: admissionReviewVersions %v, want [v1]", id, c.admissionReviewVersions)
		}
		checkNamespaceSelector(t, id, c.namespaceSelector)
		svc := c.clientConfig.Service
		wantPath := "/" + strings.TrimSuffix(c.config, "ing") + "e" // mutate, validate
		switch {
		case c.clientConfig.URL != nil:
			t.Errorf("%s: clientConfig.url %q, want the Service", id, *c.clientConfig.URL)
		case svc == nil:
			t.Errorf("%s: no clientConfig.service", id)
		case svc.Namespace != namespace || svc.Name != serviceName || deref(svc.Path) != wantPath || (svc.Port != nil && *svc.Port != 443):
			t.Errorf("%s: clientConfig.service %s/%s:%v%s, want %s/%s:443%s", id, svc.Namespace, svc.Name, deref(svc.Port), deref(svc.Path), namespace, serviceName, wantPath)
		}
		// Every workload and Pod would reach the webhook without them; all
		// ConfigMaps do, unless filtered on purpose.
		wantConditions := c.name != "configmaps.modeguard.dev" || r.agentConfigMapsOnly
		if c.name == alloysWebhook {
			wantConditions = false // every Alloy object runs Alloy
		}
		if got := len(c.matchConditions) > 0; got != wantConditions {
			t.Errorf("%s: has matchConditions %v, want %v", id, got, wantConditions)
		}
		if len(c.clientConfig.CABundle) != 0 {
			t.Errorf("%s: a caBundle is rendered; it must come from the rotator or cert-manager", id)
		}
	}
	// Both configurations send every Alloy object (the alloy-operator's
	// custom resource), created or updated.
	wantAlloys := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule: admissionregistrationv1.Rule{APIGroups: []string{"collectors.grafana.com"}, APIVersions: []string{"v1alpha1"}, Resources: []string{"alloys"},
			Scope: ptr.To(admissionregistrationv1.NamespacedScope)},
	}}
	for _, config := range []string{"mutating", "validating"} {
		found := false
		for _, c := range commons(m, v) {
			if c.config == config && c.name == alloysWebhook {
				found = true
				if !reflect.DeepEqual(c.rules, wantAlloys) {
					t.Errorf("%s webhook %s: rules %+v, want %+v", config, c.name, c.rules, wantAlloys)
				}
			}
		}
		if !found {
			t.Errorf("%s configuration: no webhook %s for Alloy objects", config, alloysWebhook)
		}
	}
	for _, cfg := range []metav1.Object{m, v} {
		inject := cfg.GetAnnotations()["cert-manager.io/inject-ca-from"]
		want := ""
		if r.certManager {
			want = namespace + "/modeguard-webhook"
		}
		if inject != want {
			t.Errorf("%T: cert-manager.io/inject-ca-from %q, want %q", cfg, inject, want)
		}
	}
}

// checkNamespaceSelector evaluates the selector on namespaces it must skip
// and one it must see, whatever form it takes.
func checkNamespaceSelector(t *testing.T, id string, ls *metav1.LabelSelector) {
	t.Helper()
	if ls == nil {
		t.Errorf("%s: no namespaceSelector", id)
		return
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		t.Errorf("%s: namespaceSelector: %v", id, err)
		return
	}
	ns := func(name string, extra ...string) labels.Set {
		l := labels.Set{corev1.LabelMetadataName: name}
		for i := 0; i+1 < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		return l
	}
	for _, skip := range []labels.Set{
		ns("kube-system"),
		ns(namespace),
		ns("team-a", "modeguard.dev/ignore", "true"),
		ns("team-b", "modeguard.dev/ignore", ""),
	} {
		if sel.Matches(skip) {
			t.Errorf("%s: namespaceSelector %q selects namespace %v; it must be excluded", id, sel, skip)
		}
	}
	if see := ns("monitoring"); !sel.Matches(see) {
		t.Errorf("%s: namespaceSelector %q does not select namespace %v", id, sel, see)
	}
}

func checkDeployment(t *testing.T, r render, objs []*unstructured.Unstructured) {
	var d appsv1.Deployment
	into(t, find(t, objs, "Deployment", deploymentName), &d)
	if d.Namespace != namespace {
		t.Errorf("Deployment namespace %q, want %q", d.Namespace, namespace)
	}
	wantReplicas, wantImage := r.replicas, r.image
	if wantReplicas == 0 {
		wantReplicas = 2
	}
	if wantImage == "" {
		wantImage = "modeguard/webhook:latest"
	}
	if got := deref(d.Spec.Replicas); got != wantReplicas {
		t.Errorf("replicas %d, want %d", got, wantReplicas)
	}
	ps := d.Spec.Template.Spec
	if ps.ServiceAccountName != serviceAccount {
		t.Errorf("serviceAccountName %q, want %q", ps.ServiceAccountName, serviceAccount)
	}
	if len(ps.TopologySpreadConstraints) == 0 {
		t.Error("no topologySpreadConstraints")
	}
	for _, tsc := range ps.TopologySpreadConstraints {
		if !selects(t, tsc.LabelSelector, d.Spec.Template.Labels) {
			t.Errorf("topology spread on %s does not select the pods", tsc.TopologyKey)
		}
	}
	psc := ps.SecurityContext
	if psc == nil || !deref(psc.RunAsNonRoot) || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v, want runAsNonRoot and seccompProfile RuntimeDefault", psc)
	}
	if ps.HostNetwork || ps.HostPID || ps.HostIPC {
		t.Error("host namespaces shared")
	}
	if len(ps.Containers) != 1 || len(ps.InitContainers) != 0 {
		t.Fatalf("got %d containers and %d init containers, want one container", len(ps.Containers), len(ps.InitContainers))
	}
	c := ps.Containers[0]
	if c.Image != wantImage {
		t.Errorf("image %q, want %s", c.Image, wantImage)
	}
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Error("no container securityContext")
	default:
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("allowPrivilegeEscalation %v, want false", deref(sc.AllowPrivilegeEscalation))
		}
		if !deref(sc.ReadOnlyRootFilesystem) {
			t.Error("readOnlyRootFilesystem not true")
		}
		if !deref(sc.RunAsNonRoot) {
			t.Error("container runAsNonRoot not true")
		}
		if deref(sc.Privileged) {
			t.Error("privileged")
		}
		if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
			t.Errorf("capabilities %+v, want drop [ALL] and no add", sc.Capabilities)
		}
		if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("container seccompProfile %+v, want RuntimeDefault", sc.SeccompProfile)
		}
	}
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[res]; !ok {
			t.Errorf("no %s request", res)
		}
		if _, ok := c.Resources.Limits[res]; !ok {
			t.Errorf("no %s limit", res)
		}
	}
	port := func(p intstr.IntOrString) int32 {
		if p.Type == intstr.Int {
			return p.IntVal
		}
		for _, cp := range c.Ports {
			if cp.Name == p.StrVal {
				return cp.ContainerPort
			}
		}
		return -1
	}
	for what, probe := range map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != what || port(probe.HTTPGet.Port) != 8081 {
			t.Errorf("probe %s: got %+v, want httpGet %s on 8081", what, probe, what)
		}
	}
	mode := "self-managed"
	if r.certManager {
		mode = "cert-manager"
	}
	want := []string{
		"--cert-mode=" + mode,
		"--policy-dir=/etc/modeguard/policies",
		"--settings=/etc/modeguard/settings/settings.yaml",
		"--leader-elect",
		"--request-timeout=" + cmp.Or(r.requestTimeout, "2500ms"),
		"--dry-run-peer-service=modeguard-webhook-peers",
		"--memory-target=$(MEMORY_REQUEST)",
	}
	if r.certManager {
		want = append(want, "--cert-dir=/etc/modeguard/certs")
	}
	want = append(want, r.extraArgs...)
	if !slices.Equal(c.Args, want) {
		t.Errorf("args %q, want %q", c.Args, want)
	}
	mounts := map[string]string{} // mount path → what
	for _, vm := range c.VolumeMounts {
		for _, v := range ps.Volumes {
			if v.Name != vm.Name {
				continue
			}
			switch {
			case v.ConfigMap != nil:
				mounts[vm.MountPath] = "configmap " + v.ConfigMap.Name
			case v.Secret != nil:
				mounts[vm.MountPath] = "secret " + v.Secret.SecretName
			case v.EmptyDir != nil:
				mounts[vm.MountPath] = "emptyDir"
			default:
				t.Errorf("volume %s: want a ConfigMap, a Secret or an emptyDir", v.Name)
			}
		}
	}
	wantMounts := map[string]string{
		"/etc/modeguard/settings": "configmap modeguard-settings",
		"/etc/modeguard/policies": "configmap modeguard-policies",
		"/tmp":                    "emptyDir",
	}
	if r.certManager {
		wantMounts["/etc/modeguard/certs"] = "secret " + tlsSecret
	}
	if !reflect.DeepEqual(mounts, wantMounts) {
		t.Errorf("mounts %v, want %v", mounts, wantMounts)
	}

	// The replicas prefer different nodes (the default affinity).
	if a := ps.Affinity; a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		t.Errorf("affinity %+v, want a preferred podAntiAffinity", a)
	} else {
		for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			if !selects(t, w.PodAffinityTerm.LabelSelector, d.Spec.Template.Labels) || w.PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" {
				t.Errorf("podAntiAffinity %+v: want the webhook pods over kubernetes.io/hostname", w.PodAffinityTerm)
			}
		}
	}

	// A PDB only where it can let a drain through: with two replicas or more.
	var pdbs []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "PodDisruptionBudget" {
			pdbs = append(pdbs, o)
		}
	}
	if r.noPDB != (len(pdbs) == 0) {
		t.Errorf("got %d PodDisruptionBudgets with %d replicas, want them iff not noPDB (%v)", len(pdbs), wantReplicas, r.noPDB)
	}
	if !r.noPDB && wantReplicas < 2 {
		t.Errorf("a PodDisruptionBudget with minAvailable 1 and %d replica blocks every drain", wantReplicas)
	}
	for _, o := range pdbs {
		var pdb policyv1.PodDisruptionBudget
		into(t, o, &pdb)
		if pdb.Name != deploymentName || pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.String() != "1" || pdb.Spec.MaxUnavailable != nil {
			t.Errorf("PDB %s minAvailable %v maxUnavailable %v, want %s with minAvailable 1", pdb.Name, pdb.Spec.MinAvailable, pdb.Spec.MaxUnavailable, deploymentName)
		}
		if !selects(t, pdb.Spec.Selector, d.Spec.Template.Labels) {
			t.Error("the PDB does not select the webhook pods")
		}
	}
	// Helm rolls the pods when the settings or the policies change.
	if sum := d.Spec.Template.Annotations[checksumAnnotation]; r.helm && len(sum) != 64 {
		t.Errorf("pod template annotation %s = %q, want a sha256", checksumAnnotation, sum)
	}

	var svc corev1.Service
	into(t, find(t, objs, "Service", serviceName), &svc)
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) || len(svc.Spec.Selector) == 0 {
		t.Errorf("Service selector %v does not select pods labelled %v", svc.Spec.Selector, d.Spec.Template.Labels)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 443 || port(svc.Spec.Ports[0].TargetPort) != 9443 {
		t.Errorf("Service ports %+v, want 443 → 9443", svc.Spec.Ports)
	}
	// The replicas find each other for dry runs through a headless Service
	// and leave themselves out by $POD_IP.
	var peers corev1.Service
	into(t, find(t, objs, "Service", "modeguard-webhook-peers"), &peers)
	if peers.Spec.ClusterIP != corev1.ClusterIPNone || len(peers.Spec.Selector) == 0 ||
		!labels.SelectorFromSet(peers.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("peers Service: clusterIP %q selector %v, want a headless Service selecting the webhook pods", peers.Spec.ClusterIP, peers.Spec.Selector)
	}
	if len(peers.Spec.Ports) != 1 || port(peers.Spec.Ports[0].TargetPort) != 9443 {
		t.Errorf("peers Service ports %+v, want the webhook port 9443", peers.Spec.Ports)
	}
	podIP, memoryRequest := false, false
	for _, e := range c.Env {
		podIP = podIP || (e.Name == "POD_IP" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "status.podIP")
		// --memory-target=$(MEMORY_REQUEST): the container's own request,
		// in bytes (no divisor).
		if rf := e.ValueFrom; e.Name == "MEMORY_REQUEST" && rf != nil && rf.ResourceFieldRef != nil {
			memoryRequest = rf.ResourceFieldRef.ContainerName == c.Name && rf.ResourceFieldRef.Resource == "requests.memory" &&
				(rf.ResourceFieldRef.Divisor.IsZero() || rf.ResourceFieldRef.Divisor.Value() == 1)
		}
	}
	if !podIP {
		t.Error("the container has no POD_IP from status.podIP (the dry-run peers would include the replica itself)")
	}
	if !memoryRequest {
		t.Error("the container has no MEMORY_REQUEST from its own requests.memory in bytes (--memory-target would not expand)")
	}
}

func selects(t *testing.T, ls *metav1.LabelSelector, l map[string]string) bool {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(ls)
	return err == nil && !sel.Empty() && sel.Matches(labels.Set(l))
}

// A grant is one verb on one resource (and name) in one scope.
type grant struct{ scope, group, resource, name, verb string }

func (g grant) String() string {
	s := fmt.Sprintf("%s %s %s", g.scope, g.verb, g.resource)
	if g.group != "" {
		s += "." + g.group
	}
	if g.name != "" {
		s += "/" + g.name
	}
	return s
}

// grants flattens rules into grants.
func grants(scope string, rules []rbacv1.PolicyRule) []grant {
	var gs []grant
	for _, r := range rules {
		names := r.ResourceNames
		if len(names) == 0 {
			names = []string{""}
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, n := range names {
					for _, v := range r.Verbs {
						gs = append(gs, grant{scope, g, res, n, v})
					}
				}
			}
		}
	}
	return gs
}

// wantGrants is the service account's whole RBAC, verb by verb.
func wantGrants(certManager, wgpolicy bool) []grant {
	cluster := func(group, resource, name string, verbs ...string) []grant {
		var gs []grant
		for _, v := range verbs {
			gs = append(gs, grant{"cluster", group, resource, name, v})
		}
		return gs
	}
	ns := func(group, resource, name string, verbs ...string) []grant {
		var gs []grant
		for _, v := range verbs {
			gs = append(gs, grant{namespace, group, resource, name, v})
		}
		return gs
	}
	var gs []grant
	read := []string{"get", "list", "watch"}
	for _, r := range []struct{ group, resource string }{
		{"", "configmaps"}, {"", "namespaces"}, {"", "pods"},
		{"apps", "daemonsets"}, {"apps", "deployments"}, {"apps", "replicasets"}, {"apps", "statefulsets"},
		{"autoscaling", "horizontalpodautoscalers"},
		{"collectors.grafana.com", "alloys"},
	} {
		gs = append(gs, cluster(r.group, r.resource, "", read...)...)
	}
	gs = append(gs, cluster("", "configmaps", "", "patch", "update")...)
	gs = append(gs, cluster("collectors.grafana.com", "alloys", "", "patch")...)
	for _, res := range []string{"daemonsets", "deployments", "statefulsets"} {
		gs = append(gs, cluster("apps", res, "", "patch")...)
	}
	if wgpolicy {
		gs = append(gs, cluster("wgpolicyk8s.io", "policyreports", "", "get", "list", "create", "update", "delete")...)
	} else {
		gs = append(gs, cluster("openreports.io", "reports", "", "get", "list", "create", "update", "delete")...)
	}
	gs = append(gs, cluster("", "events", "", "create", "patch")...)
	gs = append(gs, cluster("events.k8s.io", "events", "", "create", "patch")...)
	gs = append(gs, ns("coordination.k8s.io", "leases", "modeguard-webhook.modeguard.dev", "get", "update")...)
	gs = append(gs, ns("coordination.k8s.io", "leases", "", "create")...)
	if !certManager {
		for _, res := range []string{"mutatingwebhookconfigurations", "validatingwebhookconfigurations"} {
			gs = append(gs, cluster("admissionregistration.k8s.io", res, webhookConfig, "get", "list", "watch", "patch", "update")...)
		}
		gs = append(gs, ns("", "secrets", tlsSecret, "get", "list", "watch", "patch", "update")...)
		gs = append(gs, ns("", "secrets", "", "create")...)
	}
	return gs
}

func checkRBAC(t *testing.T, r render, objs []*unstructured.Unstructured) {
	var got []grant
	sa := rbacv1.Subject{Kind: "ServiceAccount", Name: serviceAccount, Namespace: namespace}
	for _, o := range objs {
		switch o.GetKind() {
		case "ClusterRole":
			var cr rbacv1.ClusterRole
			into(t, o, &cr)
			if cr.AggregationRule != nil {
				t.Errorf("ClusterRole %s aggregates: its rules are not all rendered", cr.Name)
			}
			got = append(got, grants("cluster", cr.Rules)...)
		case "Role":
			var role rbacv1.Role
			into(t, o, &role)
			got = append(got, grants(role.Namespace, role.Rules)...)
		case "ClusterRoleBinding", "RoleBinding":
			var b rbacv1.RoleBinding // same shape
			into(t, o, &b)
			if !slices.Equal(b.Subjects, []rbacv1.Subject{sa}) {
				t.Errorf("%s: subjects %+v, want only %+v", key(o), b.Subjects, sa)
			}
			if b.RoleRef.Name != "modeguard" || (o.GetKind() == "RoleBinding" && b.RoleRef.Kind != "Role") {
				t.Errorf("%s: roleRef %+v, want the modeguard %s", key(o), b.RoleRef, strings.TrimSuffix(o.GetKind(), "Binding"))
			}
		}
	}
	want := wantGrants(r.certManager, r.wgpolicy)
	missing, extra := diffGrants(got, want)
	for _, g := range missing {
		t.Errorf("RBAC lacks %s", g)
	}
	for _, g := range extra {
		t.Errorf("RBAC grants %s, which is not intended", g)
	}
}

// diffGrants returns the grants in want but not in got, and in got but not in
// want, sorted.
func diffGrants(got, want []grant) (missing, extra []grant) {
	in := func(gs []grant, g grant) bool { return slices.Contains(gs, g) }
	for _, g := range want {
		if !in(got, g) {
			missing = append(missing, g)
		}
	}
	for _, g := range got {
		if !in(want, g) && !in(extra, g) {
			extra = append(extra, g)
		}
	}
	less := func(a, b grant) int { return strings.Compare(a.String(), b.String()) }
	slices.SortFunc(missing, less)
	slices.SortFunc(extra, less)
	return missing, extra
}

// checkSettings parses the settings the way the webhook does, and checks the
// evaluation timeout leaves the webhook time to answer.
func checkSettings(t *testing.T, objs []*unstructured.Unstructured) {
	var cm corev1.ConfigMap
	into(t, find(t, objs, "ConfigMap", "modeguard-settings"), &cm)
	s, err := policy.ParseSettings([]byte(cm.Data["settings.yaml"]))
	if err != nil {
		t.Fatalf("settings.yaml: %v", err)
	}
	if s.APIVersion != policy.SettingsAPIVersion || s.Kind != "Settings" {
		t.Errorf("settings apiVersion %q kind %q, want %s Settings", s.APIVersion, s.Kind, policy.SettingsAPIVersion)
	}
	if s.Timeout().Seconds() >= maxTimeoutSeconds {
		t.Errorf("evaluationTimeout %v: must be below the webhook timeout (%ds)", s.Timeout(), maxTimeoutSeconds)
	}
	for _, ns := range []string{"kube-system", namespace} {
		if !s.Exempt(ns) {
			t.Errorf("settings do not exempt %s", ns)
		}
	}
	// The webhook's engine starts with these settings and this policy
	// directory, as the mounted ConfigMaps give them.
	var pol corev1.ConfigMap
	into(t, find(t, objs, "ConfigMap", "modeguard-policies"), &pol)
	dir := t.TempDir()
	for k, v := range pol.Data {
		if !strings.HasSuffix(k, ".rego") {
			t.Errorf("policy ConfigMap key %q: not a .rego file", k)
		}
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := policy.New(t.Context(), policy.Options{PolicyDir: dir, Settings: s}); err != nil {
		t.Errorf("the policy engine does not start with the rendered settings and policies: %v", err)
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// TestKustomizeHelmAgree renders the same configuration with kustomize and
// with Helm and requires equal objects, Helm's own labels aside: a change to
// one that is not made to the other fails here.
func TestKustomizeHelmAgree(t *testing.T) {
	for _, r := range renders {
		if r.same == "" {
			continue
		}
		t.Run(r.name+"="+r.same, func(t *testing.T) {
			t.Parallel()
			a := normalize(r.objects(t))
			b := normalize(findRender(t, r.same).objects(t))
			for _, k := range union(a, b) {
				x, inA := a[k]
				y, inB := b[k]
				switch {
				case !inA:
					t.Errorf("%s: only in %s", k, r.same)
				case !inB:
					t.Errorf("%s: only in %s", k, r.name)
				default:
					for _, d := range diffValues("", x, y) {
						t.Errorf("%s: %s", k, d)
					}
				}
			}
		})
	}
}

// checksumAnnotation is the pod template annotation by which Helm rolls the
// pods on a settings or policy change; kustomize has none (kubectl apply of
// a changed ConfigMap needs a rollout restart, see deploy/README.md).
const checksumAnnotation = "checksum/config"

// helmOnlyLabels are the labels Helm renders and kustomize does not.
var helmOnlyLabels = []string{"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance"}

func normalize(objs []*unstructured.Unstructured) map[string]any {
	out := map[string]any{}
	for _, o := range objs {
		o = o.DeepCopy()
		l := o.GetLabels()
		for _, k := range helmOnlyLabels {
			delete(l, k)
		}
		o.SetLabels(l)
		unstructured.RemoveNestedField(o.Object, "spec", "template", "metadata", "annotations", checksumAnnotation)
		if a, _, _ := unstructured.NestedMap(o.Object, "spec", "template", "metadata", "annotations"); len(a) == 0 {
			unstructured.RemoveNestedField(o.Object, "spec", "template", "metadata", "annotations")
		}
		// CEL ignores whitespace; YAML parsers do not agree on folded
		// scalars with more-indented lines (kustomize's doubles their line
		// breaks).
		ws, _ := o.Object["webhooks"].([]any)
		for _, w := range ws {
			mcs, _ := w.(map[string]any)["matchConditions"].([]any)
			for _, mc := range mcs {
				mc := mc.(map[string]any)
				mc["expression"] = strings.Join(strings.Fields(mc["expression"].(string)), " ")
			}
		}
		// Through JSON, so that numbers and strings compare alike.
		data, _ := yaml.Marshal(o.Object)
		var v any
		_ = yaml.Unmarshal(data, &v)
		out[key(o)] = v
	}
	return out
}

func union(a, b map[string]any) []string {
	var ks []string
	for k := range a {
		ks = append(ks, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

// diffValues lists where two decoded YAML values differ, by path.
func diffValues(path string, a, b any) []string {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			break
		}
		var ds []string
		for _, k := range union(x, y) {
			ds = append(ds, diffValues(path+"."+k, x[k], y[k])...)
		}
		return ds
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			break
		}
		var ds []string
		for i := range x {
			ds = append(ds, diffValues(fmt.Sprintf("%s[%d]", path, i), x[i], y[i])...)
		}
		return ds
	}
	if reflect.DeepEqual(a, b) {
		return nil
	}
	ya, _ := yaml.Marshal(a)
	yb, _ := yaml.Marshal(b)
	return []string{fmt.Sprintf("%s:\n  kustomize: %s\n  helm:      %s", path, strings.TrimSpace(string(ya)), strings.TrimSpace(string(yb)))}
}
