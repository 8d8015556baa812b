// Package reliability is `make reliability`: it starts a control plane
// (kube-apiserver and etcd built from Go modules) with the modeguard
// webhook installed as deploy/ installs it, and checks that the webhook
// keeps answering correctly
//
//   - under a sustained mixed admission load through the API server (every
//     response compared with the answer the same request got at rest),
//   - through faults made during that load (a broken policy, a new policy,
//     a certificate rotation, the webhook killed and restarted, the API
//     server restarted),
//   - against hostile input sent straight to its HTTPS port (malformed,
//     huge, deeply nested, enormous configs, slow clients, connection
//     floods),
//   - and that its security properties hold (TLS versions and suites, no
//     config text or Secret data in its log, exempt namespaces untouched).
//
// Run returns a Report (one row per scenario: requests, failed, wrong, max
// RSS, notes); Report.Markdown is docs/reliability.md. The test in this
// package runs the short form inside make test.
package reliability
