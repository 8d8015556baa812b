// Package review decides what happens to one object the way the API server
// would admit it: it relates the object to the objects around it (a
// ConfigMap to the agent workloads that mount it, a workload to its
// ConfigMap), builds the facts, evaluates the policy, applies the fixes (as
// the mutating webhook would) and evaluates again on the fixed objects (as the
// validating webhook would). The webhook and the offline CLI both call it, so
// their verdicts agree.
//
// review knows nothing of HTTP or admission types; it reads the objects
// around the subject through a Lookup (an informer cache in the webhook, the
// input files in the CLI), once per subject (Surround). A lookup that fails
// is not an absent object: the review is not done, and says why.
package review
