package deploy_test

import (
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/modeguard/modeguard/test/envtestbins"
)

// TestDryRunServer server-side applies every rendered object with
// --dry-run=server: the real API server validates and defaults each one
// (webhook configurations, CEL matchConditions, RBAC, the cert-manager
// objects against stand-in CRDs with cert-manager's schema for the fields
// used) without storing anything. Then a Pod made from the Deployment's pod
// template is dry-run created in the namespace as rendered, where Pod
// Security "restricted" is enforced.
func TestDryRunServer(t *testing.T) {
	cfg, kubeconfig := controlPlane(t)
	c := adminClient(t, cfg)
	for _, r := range renders {
		t.Run(r.name, func(t *testing.T) {
			stream := r.manifests(t)
			objs, err := decode(stream)
			if err != nil {
				t.Fatal(err)
			}
			// Namespaced objects need their namespace, and a Pod its service
			// account, even in a dry run: create both for real, as rendered
			// where the render has the Namespace.
			if strings.Contains(keys(objs), "Namespace "+namespace) {
				envtestbins.Kubectl(t, kubeconfig, "apply", "--server-side", "--field-manager=test", "-f", writeManifests(t, only(t, stream, "Namespace")))
			} else {
				ensureNamespace(t, c, namespace, nil)
			}
			envtestbins.Kubectl(t, kubeconfig, "apply", "--server-side", "--field-manager=test", "-f", writeManifests(t, only(t, stream, "ServiceAccount")))

			out := envtestbins.Kubectl(t, kubeconfig, "apply", "--server-side", "--dry-run=server",
				"--field-manager=modeguard-deploy", "-f", writeManifests(t, stream))
			applied := 0
			for l := range strings.Lines(out) {
				if strings.Contains(l, "serverside-applied (server dry run)") {
					applied++
				}
			}
			if applied != len(objs) {
				t.Errorf("%d of %d objects applied:\n%s", applied, len(objs), out)
			}

			var d appsv1.Deployment
			into(t, find(t, objs, "Deployment", deploymentName), &d)
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "modeguard-webhook-dry-run", Labels: d.Spec.Template.Labels},
				Spec:       d.Spec.Template.Spec,
			}
			if err := c.Create(t.Context(), pod.DeepCopy(), client.DryRunAll); err != nil {
				t.Errorf("a Pod from the Deployment's template: %v", err)
			}
			// Enforcement is on: the same Pod allowed to escalate is refused.
			bad := pod.DeepCopy()
			bad.Spec.Containers[0].SecurityContext.AllowPrivilegeEscalation = ptr.To(true)
			if err := c.Create(t.Context(), bad, client.DryRunAll); err == nil || !strings.Contains(err.Error(), "PodSecurity") {
				t.Errorf("a Pod allowed to escalate privileges: got %v, want a PodSecurity violation", err)
			}
			var ns corev1.Namespace
			if err := c.Get(t.Context(), client.ObjectKey{Name: namespace}, &ns); err != nil {
				t.Fatal(err)
			}
			if r.name != "helm/default" && ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
				data, _ := json.Marshal(ns.Labels)
				t.Errorf("namespace %s labels %s: Pod Security restricted is not enforced", namespace, data)
			}
		})
	}
}
