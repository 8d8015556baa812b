package deploy_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/modeguard/modeguard/certs"
	"github.com/modeguard/modeguard/test/envtestbins"
)

// saGroups are the groups the API server gives the service account.
var saGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}

const leaseName = "modeguard-webhook.modeguard.dev"

// An access is one request the service account may or may not make.
type access struct {
	verb, group, resource, namespace, name string
}

func (a access) String() string {
	s := a.verb + " " + a.resource
	if a.group != "" {
		s += "." + a.group
	}
	if a.namespace != "" {
		s += " in " + a.namespace
	}
	if a.name != "" {
		s += " named " + a.name
	}
	return s
}

// TestRBAC applies the rendered RBAC to a real API server and asks it, with
// SubjectAccessReviews for system:serviceaccount:modeguard-system:modeguard,
// what the service account can do; then makes the requests modeguard makes
// (certificate rotation and caBundle injection, leader election, the
// informers' lists and watches, the annotation bump, an Event) as that
// service account, by impersonation, and some it must not.
func TestRBAC(t *testing.T) {
	cfg, kubeconfig := controlPlane(t)
	admin := adminClient(t, cfg)
	ensureNamespace(t, admin, "agents", nil)

	// What modeguard needs, in any certificate mode.
	can := []access{
		{"create", "", "events", "agents", ""},
		{"patch", "events.k8s.io", "events", "agents", ""},
		{"patch", "", "configmaps", "agents", "agent-config"},
		{"update", "", "configmaps", "agents", "agent-config"},
		{"patch", "apps", "daemonsets", "agents", "alloy"},
		{"patch", "apps", "statefulsets", "agents", "alloy"},
		{"patch", "apps", "deployments", "agents", "alloy"},
		{"patch", "collectors.grafana.com", "alloys", "agents", "alloy"},
		// The audit's reports.
		{"get", "openreports.io", "reports", "agents", "modeguard"},
		{"list", "openreports.io", "reports", "", ""},
		{"create", "openreports.io", "reports", "agents", ""},
		{"update", "openreports.io", "reports", "agents", "modeguard"},
		{"delete", "openreports.io", "reports", "agents", "modeguard"},
		{"create", "coordination.k8s.io", "leases", namespace, ""},
		{"get", "coordination.k8s.io", "leases", namespace, leaseName},
		{"update", "coordination.k8s.io", "leases", namespace, leaseName},
	}
	for _, r := range []struct{ group, resource string }{
		{"", "configmaps"}, {"", "namespaces"}, {"", "pods"},
		{"apps", "daemonsets"}, {"apps", "deployments"}, {"apps", "replicasets"}, {"apps", "statefulsets"},
		{"autoscaling", "horizontalpodautoscalers"},
		{"collectors.grafana.com", "alloys"}, // the alloy-operator's objects, read once its CRD is served
	} {
		for _, verb := range []string{"get", "list", "watch"} {
			can = append(can, access{verb, r.group, r.resource, "", ""}, access{verb, r.group, r.resource, "agents", ""})
		}
	}
	// What it must never do.
	cannot := []access{
		// Other Secrets, anywhere; its own only by name.
		{"get", "", "secrets", namespace, "other"},
		{"list", "", "secrets", namespace, ""},
		{"watch", "", "secrets", namespace, ""},
		{"get", "", "secrets", "agents", tlsSecret},
		{"list", "", "secrets", "", ""},
		{"create", "", "secrets", "agents", ""},
		{"delete", "", "secrets", namespace, tlsSecret},
		{"update", "", "secrets", namespace, "other"},
		// Workloads and Pods: read only.
		{"create", "", "pods", "agents", ""},
		{"delete", "", "pods", "agents", "p"},
		{"create", "", "pods/exec", "agents", "p"},
		{"create", "", "pods/eviction", "agents", "p"},
		// ConfigMaps: bump only.
		{"create", "", "configmaps", "agents", ""},
		{"delete", "", "configmaps", "agents", "agent-config"},
		{"deletecollection", "", "configmaps", "agents", ""},
		// Other webhook configurations, and its own beyond the caBundle.
		{"get", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", "other"},
		{"update", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", "other"},
		{"patch", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", "other"},
		{"delete", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", "other"},
		{"list", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", ""},
		{"create", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", ""},
		{"delete", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", webhookConfig},
		{"delete", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", webhookConfig},
		{"create", "admissionregistration.k8s.io", "validatingadmissionpolicies", "", ""},
		// Leases: its own, in its namespace.
		{"get", "coordination.k8s.io", "leases", namespace, "other"},
		{"update", "coordination.k8s.io", "leases", "kube-system", leaseName},
		{"delete", "coordination.k8s.io", "leases", namespace, leaseName},
		// No way up.
		{"escalate", "rbac.authorization.k8s.io", "clusterroles", "", ""},
		{"bind", "rbac.authorization.k8s.io", "clusterroles", "", ""},
		{"create", "rbac.authorization.k8s.io", "rolebindings", namespace, ""},
		{"impersonate", "", "users", "", ""},
		{"create", "", "serviceaccounts/token", namespace, serviceAccount},
		{"get", "", "nodes", "", ""},
		{"update", "", "namespaces", "", "agents"},
		{"delete", "", "events", "agents", ""},
		// Reports: no watch, no other kinds of report.
		{"watch", "openreports.io", "reports", "", ""},
		{"patch", "openreports.io", "reports", "agents", "modeguard"},
		{"deletecollection", "openreports.io", "reports", "agents", ""},
		{"create", "openreports.io", "clusterreports", "", ""},
		{"create", "wgpolicyk8s.io", "policyreports", "agents", ""},
	}
	for _, verb := range []string{"create", "update", "patch", "delete"} {
		for _, res := range []string{"daemonsets", "deployments", "replicasets", "statefulsets"} {
			if verb == "patch" && res != "replicasets" {
				continue // the reconciler's annotation bump
			}
			cannot = append(cannot, access{verb, "apps", res, "agents", "w"})
		}
		cannot = append(cannot, access{verb, "autoscaling", "horizontalpodautoscalers", "agents", "h"})
		// Alloy objects: read and the annotation bump only.
		if verb != "patch" {
			cannot = append(cannot, access{verb, "collectors.grafana.com", "alloys", "agents", "a"})
		}
	}
	for _, verb := range []string{"update", "patch"} {
		cannot = append(cannot, access{verb, "", "pods", "agents", "p"})
	}
	// The certificate's own rights: self-managed mode only.
	certRights := []access{
		{"create", "", "secrets", namespace, ""},
		{"update", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", webhookConfig},
	}
	for _, verb := range []string{"get", "list", "watch", "update", "patch"} {
		certRights = append(certRights,
			access{verb, "", "secrets", namespace, tlsSecret},
			access{verb, "admissionregistration.k8s.io", "mutatingwebhookconfigurations", "", webhookConfig},
			access{verb, "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", webhookConfig},
		)
	}

	for _, name := range []string{"kustomize/self-signed", "kustomize/cert-manager"} {
		t.Run(name, func(t *testing.T) {
			r := findRender(t, name)
			rbac := only(t, r.manifests(t), "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
			envtestbins.Kubectl(t, kubeconfig, "apply", "--server-side", "--force-conflicts", "--field-manager=modeguard-deploy", "-f", writeManifests(t, rbac))

			wantCan, wantCannot := can, cannot
			if r.certManager {
				wantCannot = append(wantCannot, certRights...)
			} else {
				wantCan = append(wantCan, certRights...)
			}
			for _, a := range wantCan {
				checkAccess(t, admin, a, true)
			}
			for _, a := range wantCannot {
				checkAccess(t, admin, a, false)
			}
			if !r.certManager {
				asServiceAccount(t, cfg, admin, r)
			}
		})
	}
}

// checkAccess asks the API server whether the service account may make a
// request, waiting a little for the RBAC just applied to reach the
// authorizer.
func checkAccess(t *testing.T, c client.Client, a access, want bool) {
	t.Helper()
	var got bool
	var reason string
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   saUser,
			Groups: saGroups,
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: a.namespace, Verb: a.verb, Group: a.group, Resource: a.resource, Name: a.name,
			},
		}}
		if err := c.Create(ctx, sar); err != nil {
			return false, err
		}
		got, reason = sar.Status.Allowed, sar.Status.Reason+sar.Status.EvaluationError
		return got == want, nil
	})
	if err != nil {
		t.Errorf("%s %s: allowed %v, want %v (%s)", saUser, a, got, want, reason)
	}
}

// asServiceAccount makes modeguard's own requests with the service
// account's rights (impersonation), and some it must not make.
func asServiceAccount(t *testing.T, cfg *rest.Config, admin client.WithWatch, r render) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	saCfg := rest.CopyConfig(cfg)
	saCfg.Impersonate = rest.ImpersonationConfig{UserName: saUser, Groups: saGroups}
	sa, err := client.NewWithWatch(saCfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}

	// The webhook configurations the Rotator injects into (stored for real;
	// they fail open, and are deleted at the end).
	hooks := only(t, r.manifests(t), "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
	objs, err := decode(hooks)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			t.Fatalf("creating %s: %v", key(o), err)
		}
		t.Cleanup(func() { _ = admin.Delete(context.Background(), o) })
	}

	t.Run("certificate rotation and caBundle injection", func(t *testing.T) {
		rot, err := certs.NewRotator(saCfg, certs.RotatorOptions{
			Secret:                         types.NamespacedName{Namespace: namespace, Name: tlsSecret},
			MutatingWebhookConfiguration:   webhookConfig,
			ValidatingWebhookConfiguration: webhookConfig,
			Policy:                         certs.Policy{DNSNames: certs.DNSNames(serviceName, namespace)},
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 { // creates, then reads and finds it current
			if _, err := rot.Sync(ctx); err != nil {
				t.Fatalf("Rotator.Sync #%d as the service account: %v", i+1, err)
			}
		}
		var m admissionregistrationv1.MutatingWebhookConfiguration
		var v admissionregistrationv1.ValidatingWebhookConfiguration
		if err := admin.Get(ctx, client.ObjectKey{Name: webhookConfig}, &m); err != nil {
			t.Fatal(err)
		}
		if err := admin.Get(ctx, client.ObjectKey{Name: webhookConfig}, &v); err != nil {
			t.Fatal(err)
		}
		for _, w := range m.Webhooks {
			if len(w.ClientConfig.CABundle) == 0 {
				t.Errorf("mutating webhook %s: no caBundle injected", w.Name)
			}
		}
		for _, w := range v.Webhooks {
			if len(w.ClientConfig.CABundle) == 0 {
				t.Errorf("validating webhook %s: no caBundle injected", w.Name)
			}
		}
	})

	t.Run("list and watch by name", func(t *testing.T) {
		byName := func(name string) []client.ListOption {
			return []client.ListOption{client.MatchingFields{"metadata.name": name}}
		}
		lists := []struct {
			list client.ObjectList
			opts []client.ListOption
		}{
			{&corev1.SecretList{}, append(byName(tlsSecret), client.InNamespace(namespace))},
			{&admissionregistrationv1.MutatingWebhookConfigurationList{}, byName(webhookConfig)},
			{&admissionregistrationv1.ValidatingWebhookConfigurationList{}, byName(webhookConfig)},
		}
		for _, l := range lists {
			if err := sa.List(ctx, l.list, l.opts...); err != nil {
				t.Errorf("list %T by name: %v", l.list, err)
			}
			w, err := sa.Watch(ctx, l.list, l.opts...)
			if err != nil {
				t.Errorf("watch %T by name: %v", l.list, err)
				continue
			}
			w.Stop()
		}
		if err := sa.List(ctx, &corev1.SecretList{}, client.InNamespace(namespace)); !apierrors.IsForbidden(err) {
			t.Errorf("listing every Secret in %s: got %v, want Forbidden", namespace, err)
		}
		if err := sa.List(ctx, &admissionregistrationv1.ValidatingWebhookConfigurationList{}); !apierrors.IsForbidden(err) {
			t.Errorf("listing every ValidatingWebhookConfiguration: got %v, want Forbidden", err)
		}
	})

	t.Run("leader election", func(t *testing.T) {
		cs := kubernetes.NewForConfigOrDie(saCfg)
		lock, err := resourcelock.New(resourcelock.LeasesResourceLock, namespace, leaseName,
			cs.CoreV1(), cs.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: "test-deploy"})
		if err != nil {
			t.Fatal(err)
		}
		lctx, lcancel := context.WithTimeout(ctx, 30*time.Second)
		defer lcancel()
		led := false
		leaderelection.RunOrDie(lctx, leaderelection.LeaderElectionConfig{
			Lock: lock, LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: time.Second,
			ReleaseOnCancel: true,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(context.Context) { led = true; lcancel() },
				OnStoppedLeading: func() {},
			},
		})
		if !led {
			t.Errorf("the service account could not take the Lease %s/%s", namespace, leaseName)
		}
	})

	t.Run("informer lists and watches", func(t *testing.T) {
		for _, l := range []client.ObjectList{
			&corev1.ConfigMapList{}, &corev1.NamespaceList{}, &corev1.PodList{},
			&appsv1.DaemonSetList{}, &appsv1.DeploymentList{}, &appsv1.ReplicaSetList{}, &appsv1.StatefulSetList{},
			&autoscalingv2.HorizontalPodAutoscalerList{},
		} {
			if err := sa.List(ctx, l); err != nil {
				t.Errorf("list %T cluster-wide: %v", l, err)
			}
			w, err := sa.Watch(ctx, l)
			if err != nil {
				t.Errorf("watch %T cluster-wide: %v", l, err)
				continue
			}
			w.Stop()
		}
	})

	t.Run("configmap bump, event; no delete", func(t *testing.T) {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "agents", Name: "agent-config"}, Data: map[string]string{"config.alloy": "logging {}\n"}}
		if err := ignoreExists(admin.Create(ctx, cm)); err != nil {
			t.Fatal(err)
		}
		patch := client.RawPatch(types.MergePatchType, []byte(fmt.Sprintf(`{"metadata":{"annotations":{"modeguard.dev/resubmitted":%q}}}`, time.Now().Format(time.RFC3339Nano))))
		if err := sa.Patch(ctx, cm.DeepCopy(), patch); err != nil {
			t.Errorf("annotation bump: %v", err)
		}
		if err := sa.Delete(ctx, cm.DeepCopy()); !apierrors.IsForbidden(err) {
			t.Errorf("deleting a ConfigMap: got %v, want Forbidden", err)
		}
		ev := &eventsv1.Event{
			ObjectMeta:          metav1.ObjectMeta{Namespace: "agents", GenerateName: "agent-config-"},
			EventTime:           metav1.NowMicro(),
			ReportingController: "modeguard.dev/webhook",
			ReportingInstance:   "test",
			Action:              "Audit",
			Reason:              "MG015",
			Type:                corev1.EventTypeNormal,
			Regarding:           corev1.ObjectReference{Kind: "ConfigMap", Namespace: "agents", Name: cm.Name, APIVersion: "v1"},
		}
		if err := sa.Create(ctx, ev); err != nil {
			t.Errorf("recording an Event: %v", err)
		}
		d := &appsv1.Deployment{}
		if err := sa.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "anything"}, &corev1.Secret{}); !apierrors.IsForbidden(err) {
			t.Errorf("reading another Secret: got %v, want Forbidden", err)
		}
		d.Namespace, d.Name = "agents", "w"
		if err := sa.Update(ctx, d); !apierrors.IsForbidden(err) {
			t.Errorf("updating a Deployment: got %v, want Forbidden", err)
		}
		if err := sa.Delete(ctx, d); !apierrors.IsForbidden(err) {
			t.Errorf("deleting a Deployment: got %v, want Forbidden", err)
		}
	})
}
