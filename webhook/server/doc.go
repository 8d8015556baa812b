// Package server wires the modeguard admission webhook: a controller-runtime
// manager with the webhook server (TLS from package certs), the mutating
// (/mutate) and validating (/validate) handlers, the informer-cache Lookup
// (package lookup), the reconciler of the ordering problem (package
// resubmit, leader only), the policy directory watcher, the metrics endpoint
// and the health probes.
//
// Readiness (/readyz) holds until the serving certificate is loaded and
// valid, the informer cache has synced, the policy is loaded, and the
// webhook server answers; it fails again as soon as shutdown starts, and the
// server keeps answering for ShutdownDelay so that the API server stops
// sending requests before the listener closes; in-flight requests are then
// drained (the webhook server's graceful shutdown).
//
// cmd/webhook parses flags into Options and calls Run; tests construct a
// Server from the same Options.
package server
