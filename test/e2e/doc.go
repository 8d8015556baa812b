// Package e2e runs modeguard the way a user meets it: a real kube-apiserver
// and etcd (envtest, binaries built from Go modules), the webhook binary
// running as its own process with the webhook configurations deploy/ ships,
// and the real kubectl applying manifests. With Options.Controllers the
// control plane also runs kube-controller-manager (built like kube-apiserver)
// and three Nodes, so that workloads get their Pods from the real
// controllers (TestControllers; no kubelet or scheduler: see
// MarkPodsReady); with Options.CertManager, cert-manager's controller and
// cainjector issue and inject the webhook's certificate from the
// cert-manager overlay (TestCertManager). The tests in this package and
// `make demo` (hack/demo) share the harness.
package e2e
