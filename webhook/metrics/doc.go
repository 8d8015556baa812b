// Package metrics holds the Prometheus collectors of the modeguard webhook:
// admission requests and their latency, decisions by rule and action, fixes
// applied, evaluations skipped (and why), and policy reloads. They register on
// controller-runtime's registry, so the manager's metrics endpoint serves them
// next to its own (and the certificate expiry gauge of package certs).
//
// metrics knows nothing of admission types or policy: callers pass plain
// label values.
package metrics
