// Package dryrun is the webhook's short memory of server-side dry runs, so
// that a dry run of a new install is judged whole.
//
// A dry run stores nothing: `kubectl apply --dry-run=server -f bundle.yaml`
// of an agent's ConfigMap and its workload sends each object to admission
// alone, and neither finds the other in the cluster. Overlay remembers, for
// a short time (DefaultTTL), the ConfigMaps, agent workloads (every
// workload.Workloads kind) and HorizontalPodAutoscalers a dry run admitted,
// keyed by the requesting user (name and UID), namespace, kind and name.
// Overlay.Lookup wraps the webhook's review.Lookup for one dry-run request
// of that user: it reads the cluster first, and the user's remembered
// object where the cluster has nothing newer (the object is absent and the
// dry run created it, or the cluster's resourceVersion is still the one
// the dry run updated). So the second object of a dry-run bundle is judged
// with the first, in either order, as a real apply would judge it.
//
// Bounds: entries expire after the TTL, and the overlay holds at most
// MaxEntries objects and MaxBytes of their encoded size (the request's raw
// object, an upper bound: managedFields and kubectl's last-applied copy are
// dropped before storing); past either bound the oldest entries go first.
// Nothing is written anywhere and nothing is logged (config text stays in
// memory), so the webhooks keep sideEffects: None. Real requests never read
// the overlay: the admission handlers wrap their lookup only for dry runs.
//
// Limits: another user's dry run sees nothing of it (by design); a
// workload remembered under one ConfigMap that the cluster holds, newer,
// under another is still counted among the first ConfigMap's consumers
// (the overlay does not read workloads back from the cluster); with several
// replicas the pair of a bundle may reach another replica (see
// docs/architecture.md).
package dryrun
