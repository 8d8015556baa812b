// Package discovery holds the test that checks riverconfig's scope of every
// discovery.kubernetes block of the examples by running Prometheus'
// Kubernetes service discovery against a real kube-apiserver (see
// discovery_test.go). It is a module of its own so that Prometheus stays out
// of the modeguard module's dependencies.
package discovery
