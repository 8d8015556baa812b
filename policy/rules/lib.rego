# Helpers the built-in rules share. Custom rules may import them too:
#   import data.modeguard.lib
package modeguard.lib

# The config files of the input ([] when the config is unknown).
files := x if {
	x := input.config.files
} else := []

# The workload facts, or {} when no workload is known.
workload := w if {
	w := input.workload
	is_object(w)
} else := {}

# A workload is known.
has_workload if workload.kind

daemonset if input.mode == "daemonset"

statefulset if input.mode == "statefulset"

deployment if input.mode == "deployment"

# Several copies of the agent run the same config: a StatefulSet of any size,
# or a Deployment with replicas > 1 or an HPA allowing more than one.
distributed if statefulset

distributed if {
	deployment
	workload.replicated
}

# The process flags are known (a workload is at hand).
flags_known if workload.run

# The process runs with --cluster.enabled=true and a peer source (false
# when not).
process_clustered := x if {
	x := input.derived.processClustered
} else := true if {
	workload.run.cluster.enabled
	peer_source
} else := false

peer_source if count(object.get(workload.run.cluster, "joinAddresses", [])) > 0

peer_source if object.get(workload.run.cluster, "discoverPeers", "") != ""

# A collector's clustering is effective: its block says enabled = true and
# the process runs clustered. Without a workload the block is taken at its
# word (the caller says so in its message).
effective(col) if {
	col.clustered
	process_clustered
}

effective(col) if {
	col.clustered
	not flags_known
}

# The block is present but the process flags make it a no-op.
inert(col) if {
	col.clustered
	flags_known
	not process_clustered
}

# The component with that id in file f (constant time, through the index
# the engine adds to the input).
component(f, id) := f.components[input.config.index[f.file][id]]

# Without the index (inputs written by hand, e.g. in Rego tests): a scan.
component(f, id) := [c | some c in f.components; c.id == id][0] if not input.config.index[f.file]

# Source position of a component: {file, line, column}. It looks the
# component up as component does, without the function call: every
# violation about a component asks for its position.
position(f, id) := {"file": f.file, "line": c.range.start.line, "column": c.range.start.column} if {
	c := f.components[input.config.index[f.file][id]]
} else := {"file": f.file, "line": c.range.start.line, "column": c.range.start.column} if {
	not input.config.index[f.file]
	c := [c | some c in f.components; c.id == id][0]
} else := {"file": f.file, "line": 0, "column": 0}

# A violation about component id in file f.
at(f, id, msg) := object.union(position(f, id), {"msg": msg, "component": id, "target": "config"})

# The facts below need the workload and the config together. Go derives
# them once per input (input.derived, policy.Derived in the Go code); an
# input written by hand (a Rego test) has none, and lib derives the same
# here. Each carries "file" (the index of its file in files) and "at": a
# violation about its component, as at(f, id, msg) gives it, less the msg
# (a rule writes object.union(x.at, {"msg": msg})).

# Every collector, in file order: {file, index (the collector is
# files[file].collectors[index]), component, class, gathering (its class is
# one of gathering_classes), clustered, effective, wide (its sources whose
# scope, as source judges it, is cluster-wide, each as "id (reason)"), at}.
collectors := x if {
	x := input.derived.collectors
} else := [x |
	some i, f in files
	some ci, col in f.collectors
	x := {
		"file": i, "index": ci, "component": col.component,
		"class": object.get(col, "class", ""), "gathering": object.get(col, "class", "") in gathering_classes,
		"clustered": object.get(col, "clustered", false),
		"effective": is_effective(col),
		"wide": [sprintf("%s (%s)", [s.component, object.get(s, "reason", "")]) |
			some fact in col.sources
			s := source(fact)
			s.scope == "cluster-wide"
		],
		"at": at_component(f, col.component),
	}
]

# Every source of every collector, in file order: {file, collector,
# effective (the collector's), collectorIndex and index (the source is
# files[file].collectors[collectorIndex].sources[index]), source (its
# component, kind, role, scope, reason, localBy and podSelectorOnly), scope
# and reason (as source judges them), feedsClustered, at, envFunc (its
# file's)}.
sources := x if {
	x := input.derived.sources
} else := [x |
	some i, f in files
	some ci, col in f.collectors
	some si, fact in col.sources
	s := source(fact)
	x := {
		"file": i, "collector": col.component, "effective": is_effective(col),
		"collectorIndex": ci, "index": si,
		"source": object.filter(fact, ["component", "kind", "role", "scope", "reason", "localBy", "podSelectorOnly"]),
		"scope": object.get(s, "scope", ""), "reason": object.get(s, "reason", ""),
		"feedsClustered": source_feeds_clustered(f, fact.component),
		"at": at_component(f, fact.component),
		"envFunc": object.get(f, "envFunc", ""),
	}
]

# Indexes of the entries that have a property the rules select on, so
# that a rule looks up its few entries rather than testing every one, in
# one object (read once per decision): clusteredCollectors (the collectors
# whose clustering block says enabled) and pathCollectors (those that read
# files by path), as indexes into collectors; sourcesByLocalBy (how
# riverconfig found a source node-local → those sources) and
# podSelectorOnlySources (sources relying on a pod spec.nodeName selector
# that does not filter them), as indexes into sources; claimVolumes (the
# workload's volumes of type persistentVolumeClaim); unusedComponents (the
# components whose output nothing reads, by name, as components_named
# lists them).
index := x if {
	x := input.derived.index
} else := {
	"clusteredCollectors": [i | some i, col in collectors; col.clustered],
	"pathCollectors": [i | some i, col in collectors; count(object.get(files[col.file].collectors[col.index], "paths", [])) > 0],
	"sourcesByLocalBy": {lb: [i | some i, s in sources; s.source.localBy == lb] |
		some s in sources
		lb := s.source.localBy
		lb != ""
	},
	"podSelectorOnlySources": [i | some i, s in sources; s.source.podSelectorOnly],
	"claimVolumes": [v | some v in object.get(workload, "volumes", []); v.type == "persistentVolumeClaim"],
	"unusedComponents": {name: unused |
		some name, refs in components_named
		unused := [r | some r in refs; r.unused]
		count(unused) > 0
	},
}

# The components by name: name → [{file, index (in the file's
# components), id, unused}], in file order.
components_named := x if {
	x := input.derived.componentsByName
} else := {name: refs |
	some f in files
	some c in f.components
	name := c.name
	refs := [{"file": i, "index": j, "id": d.id, "unused": object.get(d, "unused", false)} |
		some i, g in files
		some j, d in g.components
		d.name == name
	]
}

is_effective(col) := true if effective(col) else := false

at_component(f, id) := object.union(position(f, id), {"component": id, "target": "config"})

# Sources feeding a collector whose clustering is effective, as [file, id].
clustered_sources contains [f.file, s.component] if {
	some f in files
	some col in f.collectors
	effective(col)
	some s in col.sources
}

# A source feeds a collector whose clustering is effective (false when
# not).
feeds_clustered(f, source_id) := object.get(ids, [f.file, source_id], false) if {
	ids := input.derived.clusteredSources
} else := [f.file, source_id] in clustered_sources

# A source's feedsClustered: it feeds a collector whose clustering is
# effective, or, in an Alloy object, one whose block is inert: MG007 sets
# spec.alloy.clustering.enabled, which makes it effective.
source_feeds_clustered(f, source_id) := true if {
	feeds_clustered(f, source_id)
} else := true if {
	workload.alloy.fullname != ""
	some col in f.collectors
	inert(col)
	some s in col.sources
	s.component == source_id
} else := false

# Collectors that gather on their own or from targets (not node-bound file
# readers, not push receivers).
gathering_classes := {"pull", "self-discovering"}

# The env var to read the node name from: one already set from
# fieldRef spec.nodeName (HOSTNAME first), else HOSTNAME.
node_env := x if {
	x := input.derived.nodeEnv
} else := "HOSTNAME" if {
	"HOSTNAME" in object.get(workload, "nodeNameEnv", [])
} else := v if {
	vars := object.get(workload, "nodeNameEnv", [])
	count(vars) > 0
	v := sort(vars)[0]
} else := "HOSTNAME"

# A node-name expression (a nodeName fact) yields the node name in this
# workload, as MG002 (node-name-source) requires: every env var it reads is
# set from fieldRef spec.nodeName, and constants.hostname alone is the
# node's name only with hostNetwork. Without a workload it cannot be told.
node_name_arrives(nn) if {
	has_workload
	every var in nn.envVars {
		var in object.get(workload, "nodeNameEnv", [])
	}
	not pod_hostname(nn)
}

# Without hostNetwork, constants.hostname is the pod's name.
pod_hostname(nn) if {
	nn.kind == "constants.hostname"
	not workload.hostNetwork
}

pod_hostname(nn) if {
	count(nn.envVars) == 0
	nn.hostnameFallback
	not workload.hostNetwork
}

# Why a node name does not arrive, for messages.
node_name_gap(nn) := "the workload is not known" if {
	not has_workload
} else := sprintf("the agent container does not set %s from fieldRef spec.nodeName", [concat(", ", missing)]) if {
	missing := [var | some var in nn.envVars; not var in object.get(workload, "nodeNameEnv", [])]
	count(missing) > 0
} else := "constants.hostname is the pod's name without hostNetwork"

# A source as the rules judge its scope. A loki.source.podlogs made
# node-local by its node_filter (localBy "node-filter") is node-local only
# when its node name arrives: with NODE_NAME or the node_name expression
# empty, the agent drops the filter (grafana/alloy
# internal/component/loki/source/podlogs/reconciler.go, getNodeFilterName),
# and every pod tails the pods of the whole cluster (docs/domain.md,
# Node-filtered PodLogs). Every other source is as the facts say. Rules
# that judge a source by its scope read it through this.
source(s) := object.union(s, {
	"scope": "cluster-wide",
	"reason": sprintf("node_filter on %s, but %s: the filter does not keep this node's pods", [s.nodeName.expr, node_name_gap(s.nodeName)]),
}) if {
	s.localBy == "node-filter"
	not node_name_arrives(s.nodeName)
} else := s

# Remote-write components keep a write-ahead log under --storage.path.
wal_components := {"prometheus.remote_write"}

uses_wal(f) if {
	some c in f.components
	c.name in wal_components
}

# path p lies at or under directory dir.
under(p, dir) if trim_suffix(p, "/") == trim_suffix(dir, "/")

under(p, dir) if startswith(p, concat("", [trim_suffix(dir, "/"), "/"]))

# A prometheus.exporter.unix source that reads no host data: it runs the
# textfile collector alone, on a directory that no hostPath volume of the
# agent container provides, and no host path argument points at one. Every
# replica then reads the same files: the source is neither node-bound nor
# node-local (docs/domain.md, Textfile-only unix exporter). Without a
# workload the volumes are unknown and the exporter stays host data.
textfile_only(s) if {
	has_workload
	s.unix.collectors == ["textfile"]
	dir := s.unix.textfileDirectory
	plain_path(dir)
	not on_host_path(dir)
	every p in object.get(s.unix, "pathArgs", {}) {
		plain_path(p)
		not on_host_path(p)
	}
}

# An absolute path without globs or "..", so that under() compares it
# reliably.
plain_path(p) if {
	startswith(p, "/")
	not regex.match(`[*?\[]|/\.\.(/|$)`, p)
}

# Path p is host data: the agent container's deepest mount at or above it
# is a hostPath volume, or a hostPath volume is mounted inside it (a file
# mounted into a directory).
on_host_path(p) if {
	some m in object.get(workload, "mounts", [])
	under(p, m.mountPath)
	host_path_volume(m.name)
	not deeper_mount(p, m)
}

on_host_path(p) if {
	some m in object.get(workload, "mounts", [])
	under(m.mountPath, p)
	host_path_volume(m.name)
}

# Another mount at or above p lies deeper than mount m.
deeper_mount(p, m) if {
	some n in object.get(workload, "mounts", [])
	under(p, n.mountPath)
	count(trim_suffix(n.mountPath, "/")) > count(trim_suffix(m.mountPath, "/"))
}

host_path_volume(name) if {
	some v in object.get(workload, "volumes", [])
	v.name == name
	v.type == "hostPath"
}

subject := sprintf("%s %s/%s", [input.subject.kind, input.subject.namespace, input.subject.name])
