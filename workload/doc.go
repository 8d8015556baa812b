// Package workload recognizes Grafana Agent and Alloy workloads (Pods,
// DaemonSets, StatefulSets, Deployments, ReplicaSets) in k8s.io/api objects and
// reads how they run: mode, command-line flags, env, volumes and the ConfigMap
// that holds their config.
//
// Kinds is the table of the kinds modeguard reads (workloads, Pods,
// ConfigMaps, HPAs, Namespaces): GVK, resource, a new empty object, the way
// to the pod template, and whether review decides on it or pairs it with a
// ConfigMap. Other packages range over it (or ask KindOf) instead of
// switching on kinds; a kind name written in user data is compared with it
// by Kind.Is alone.
//
// Decode turns a manifest into a typed object; FromObject reads its Facts,
// which marshal to the JSON the Rego rules read as input.workload
// (Recognizer.FromObject with the settings' image patterns). AsHPA and
// TargetsHPA relate HorizontalPodAutoscalers to the workloads they scale.
//
// Where the facts come from:
//
//   - agent, reason, flavor: the first of these that names an agent, in this
//     order: the label modeguard.dev/agent="false" (opts out); the container
//     image (grafana/alloy, grafana/agent, grafana/agent-flow under any
//     registry, tag or digest); an image pattern of the settings'
//     agentImages, which a Recognizer carries (mirrors and rebuilds); the
//     label modeguard.dev/agent="true" (opts in); what a container runs
//     (`alloy run`, `grafana-agent-flow run`, `grafana-agent run` with
//     AGENT_MODE=flow); the Alloy chart's env var ALLOY_DEPLOY_MODE; the
//     charts' label app.kubernetes.io/name=alloy or grafana-agent. The
//     object's labels win over its pod template's; the reason names the way.
//     Grafana Agent without AGENT_MODE=flow, a grafana-agent-flow binary or
//     a run subcommand is static mode: not an agent here.
//   - mode, modeSource, owner: the kind; for a Pod its controller
//     ownerReference (a ReplicaSet means a Deployment only with a
//     pod-template-hash label, and says it is inferred).
//   - replicas, replicated, hpa, serviceName, claimTemplates: spec.replicas
//     (nil is 1), the HPAs handed to FromObject, spec.serviceName,
//     spec.volumeClaimTemplates.
//   - hostNetwork, volumes: the pod spec (a workload's spec.template.spec).
//   - container, run, env, nodeNameEnv, envFrom, agentMode, mounts: the agent
//     container's command, args, env, envFrom and volumeMounts; command and
//     args are read as the agent's flag library (pflag) reads them, with the
//     image's ENTRYPOINT/CMD where the container leaves them out.
//   - config: run path → the deepest volumeMount above it → its volume →
//     items → ConfigMap name and keys.
//
// workload knows nothing of HTTP, admission or policy; it never calls the API
// server. Everything it infers without seeing an object says so.
package workload
