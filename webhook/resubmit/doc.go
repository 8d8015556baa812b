// Package resubmit is the reconciler of the ordering problem (docs/architecture.md):
// `kubectl apply` and Helm often create an agent's ConfigMap before the
// workload that mounts it, so the ConfigMap is admitted while its mode is
// unknown, and only mode-free rules apply to it. Once an agent workload that
// reads it is in the cache, the reconciler reviews the ConfigMap again (and
// the workloads that read it, which may wait for a fix of their own, such as
// the HOSTNAME env var a rewritten node-name expression reads). When, and only
// when, the review says a fix would apply, it re-submits the object through
// admission by setting the annotation modeguard.dev/reviewed to
// "<policy version>/<content hash>", so that the mutating webhook fixes it.
//
// It never loops: an object whose annotation already names the current
// policy and content was re-submitted once and the webhook did not change it
// (webhook unreachable, fix rejected); it is left alone, with a Warning
// event. A fixed object reviews clean, so nothing is re-submitted again. A
// policy reload re-checks every agent ConfigMap (a new version).
//
// The reconciler runs on the leader only. Dry-run requests never reach it:
// it reacts to stored objects, and a dry run stores nothing. It records
// Events on the objects for the fixes it re-submits and the audit findings
// it sees.
//
// resubmit knows nothing of admission types.
package resubmit
