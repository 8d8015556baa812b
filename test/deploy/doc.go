// Package deploy tests what deploy/ ships: the kustomize base and overlays
// and the Helm chart deploy/helm/modeguard.
//
// Every render (kubectl kustomize for each overlay; bin/helm-template for the
// chart with several value sets) is checked three ways:
//
//   - statically: the safety defaults (failurePolicy Ignore, short timeouts,
//     sideEffects None, namespace exclusions, the pod's securityContext, RBAC
//     verb by verb) are asserted on the rendered objects, and the kustomize
//     and Helm renders of the same configuration must be equal object for
//     object (Helm's own labels aside), so neither can drift silently;
//   - against a real kube-apiserver (envtest, binaries from make k8s-bins):
//     every object is server-side applied with --dry-run=server; the RBAC is
//     applied and probed with SubjectAccessReviews and impersonated requests
//     for the modeguard service account; the webhook configurations'
//     matchConditions and namespaceSelector are applied, pointed at a
//     recording HTTPS server, and fed agent and non-agent objects;
//   - as a user would: the commands in deploy/README.md marked for testing run
//     as printed against the control plane, and so do make deploy / undeploy;
//     the fail-closed overlay refuses ConfigMap writes while no webhook
//     answers, and the README's recovery commands end that.
//
// The control plane routes webhook calls to a Service's endpoints
// (--enable-aggregator-routing), which nothing fills here: a call to the
// modeguard Service fails at once instead of going to a cluster IP.
//
// The control-plane tests are skipped under -short; the render tests need
// bin/k8s/kubectl and bin/helm-template (built by the test from hack/helm when
// missing or stale, or by make helm-template).
package deploy
