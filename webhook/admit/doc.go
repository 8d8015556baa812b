// Package admit holds modeguard's admission handlers: the mutating one
// (NewMutating, served at MutatePath), which returns the fixes as a JSON
// patch, and the validating one (NewValidating, at ValidatePath), which sees
// objects after the mutating webhook fixed them and denies those that still
// break a rule whose action is deny (or whose fix could not apply), with a
// message listing each deny finding (rule id and slug, component, River
// position, and the object it is about). Warn findings become admission
// warnings, audit findings are logged and counted. Neither denies a Pod
// (modeguard's Pod checks are fixes; a denied Pod only shows up as a
// controller event).
//
// Both are one Handler with its own decide step (answer.go) over the same
// flow: decoding a request into a typed subject, the guard that answers
// non-agent objects without evaluation, the objects around the subject
// looked up once per request through the informer-cache Lookup
// (review.Surround), the review itself, the failure policy for failed
// lookups and engine errors, the result cache, and the wording of warnings
// and denials.
//
// The result cache is keyed by the policy version, the subject's content and
// what the review reads around it, from the same review.Surroundings the
// review reads (the resourceVersion of the ConfigMap it reads, the namespace
// labels, the HPAs): the Pods of one DaemonSet rollout
// differ only in fields no rule reads (name, node, node affinity), so they
// share one entry and cost one evaluation. A ConfigMap's entry also holds
// the resourceVersion of each workload reading it, so that a GitOps
// controller re-applying an unchanged ConfigMap is answered from the cache,
// and a changed workload is judged again. It is an LRU bounded by entries
// (DefaultCacheSize) and by an estimate of the heap its answers hold
// (DefaultCacheBytes), so that a stream of objects never asked for twice
// cannot fill it with large answers.
//
// Dry-run requests read the lookup through the dry-run overlay
// (Core.Overlay, package webhook/dryrun): the validating handler remembers
// what a user's dry run admitted, so that the next object of the same dry
// run is judged with it, and adds a warning naming `modeguard check` to a
// dry-run verdict that still lacks its pair (LackingPair).
package admit
