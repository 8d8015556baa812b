// Package workload recognizes Grafana Agent and Alloy workloads (Pods,
// DaemonSets, StatefulSets, Deployments) in k8s.io/api objects and reads how
// they run: mode, command-line flags, env, volumes and the ConfigMap that holds
// their config.
//
// workload knows nothing of HTTP, admission or policy; it never calls the API
// server. Everything it infers without seeing an object says so.
package workload
