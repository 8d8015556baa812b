// Package envtestbins finds the kube-apiserver, etcd and kubectl binaries
// that `make k8s-bins` builds from Go modules (hack/k8s/build.sh), and helps
// tests use them with controller-runtime's envtest: [Dir] is the directory to
// give envtest.Environment.BinaryAssetsDirectory, [Kubeconfig] writes a
// kubeconfig for a started control plane, and [Kubectl] runs the built
// kubectl against it.
//
// The binaries are found in $KUBEBUILDER_ASSETS (the Makefile exports it) or,
// when that is unset, in <repo>/bin/k8s. When they are missing, a test fails
// with "run make k8s-bins", or is skipped under -short.
//
// TestControlPlane in this package is the smoke test of the whole chain: the
// built binaries start, serve a client and kubectl, and stop without leaving
// a process or a port behind.
package envtestbins
