// Package policy turns workload and config facts into the versioned Rego input
// document, evaluates the rule catalog (embedded Rego plus the user's own) and
// returns decisions with their actions resolved from settings, namespace
// labels and object annotations.
//
// policy knows nothing of HTTP or admission types.
package policy
