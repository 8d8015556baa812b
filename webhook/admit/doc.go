// Package admit is what the mutating (package mutate) and validating
// (package validate) admission handlers share: decoding a request into a
// typed subject, the guard that answers non-agent objects without
// evaluation, the objects around the subject looked up once per request
// through the informer-cache Lookup (review.Surround), the review itself,
// the failure policy for failed lookups and engine errors, the result
// cache, and the wording of warnings and denials.
//
// The result cache is keyed by the policy version, the subject's content and
// what the review reads around it, from the same review.Surroundings the
// review reads (the resourceVersion of the ConfigMap it reads, the namespace
// labels, the HPAs): the Pods of one DaemonSet rollout
// differ only in fields no rule reads (name, node, node affinity), so they
// share one entry and cost one evaluation. ConfigMaps are not cached: each
// admission of one carries new content.
//
// admit uses admission types only for decoding; building responses is left
// to the handlers.
package admit
