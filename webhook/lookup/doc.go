// Package lookup is the webhook's view of the cluster: a review.Lookup over
// controller-runtime's informer cache, limited to what the rules need.
//
// What is cached, and how:
//
//   - DaemonSets, StatefulSets and Deployments (workload.Workloads): all of
//     them (an API watch cannot select agents), but only agent workloads keep
//     their pod template; a transform reduces every other one to its
//     metadata. Agent workloads are indexed by the ConfigMap they read
//     (IndexConfigMap) and flagged (IndexAgent), both computed with the
//     settings' Recognizer (workload.Recognizer: the built-in ways and the
//     agentImages patterns).
//   - ConfigMaps: all of them, metadata always, data only for those that
//     look like agent configs (a .river or .alloy key, the
//     modeguard.dev/mode annotation or the modeguard.dev/agent label). A
//     ConfigMap without cached data that an agent reads after all (a key
//     with another extension) is read live from the API server, as is one
//     the cache does not hold yet (the cache lags the API server by a watch
//     event: a ConfigMap created a moment before its workload). Keeping
//     every ConfigMap's metadata costs little and lets the reconciler see
//     every change; keeping only agent data bounds the memory in clusters
//     with many large unrelated ConfigMaps.
//   - HorizontalPodAutoscalers (autoscaling/v2): all, they are few.
//   - Namespaces: metadata only (the labels are all the rules read).
//
// Every object loses its managedFields and its
// kubectl.kubernetes.io/last-applied-configuration annotation (a second copy
// of the object). TestCacheMemory measures the result per 1,000 ConfigMaps.
//
// Once an informer has synced, its store is read directly (its own
// indexes: the namespace, and "<namespace>/<ConfigMap>" for the agent
// workloads), without controller-runtime's reader, which builds a typed
// copy or list by reflection on each call. Such a read cannot wait. Every
// read that may wait (the reader before the sync, the API server) takes the
// request's context, bounded by ReadTimeout. A kind whose watch broke is read from the API server (see Watches), and so is one
// the cache cannot answer for; when neither the cache nor the API server
// answers, the lookup returns the error (wrapped): never an absent object.
//
// Reads that would need an informer not listed here fail
// (ReaderFailOnMissingInformer) instead of silently starting a cluster-wide
// watch.
//
// lookup knows nothing of admission or policy.
package lookup
