// Package admit is what the mutating (package mutate) and validating
// (package validate) admission handlers share: decoding a request into a
// typed subject, the guard that answers non-agent objects without
// evaluation, the review itself through the informer-cache Lookup, the
// failure policy for engine errors, the result cache, and the wording of
// warnings and denials.
//
// The result cache is keyed by the policy version, the subject's content and
// what the review reads around it (the resourceVersion of the ConfigMap it
// reads, the namespace labels, the HPAs): the Pods of one DaemonSet rollout
// differ only in fields no rule reads (name, node, node affinity), so they
// share one entry and cost one evaluation. ConfigMaps are not cached: each
// admission of one carries new content.
//
// admit uses admission types only for decoding; building responses is left
// to the handlers.
package admit
