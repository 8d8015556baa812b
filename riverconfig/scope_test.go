package riverconfig

import (
	"strings"
	"testing"
)

// TestSourceScope checks scope, reason and the locality flags of the first
// source of the collector prometheus.scrape.s in small configs.
func TestSourceScope(t *testing.T) {
	t.Parallel()
	const scrape = "\nprometheus.scrape \"s\" {\n  targets = %s\n  forward_to = []\n}\n"
	tests := []struct {
		name    string
		config  string
		targets string
		scope   string
		reason  string
		localBy string
		podOnly bool
		konst   bool
	}{
		{
			name:    "pod with node selector",
			config:  `discovery.kubernetes "d" { role = "pod" ` + "\n" + `selectors { role = "pod" ` + "\n" + `field = "spec.nodeName=" + env("HOSTNAME") }` + "\n}",
			targets: "discovery.kubernetes.d.targets",
			scope:   ScopeNodeLocal, reason: "role=pod with spec.nodeName field selector", localBy: "field-selector",
		},
		{
			name:    "pod without anything",
			config:  `discovery.kubernetes "d" { role = "pod" }`,
			targets: "discovery.kubernetes.d.targets",
			scope:   ScopeClusterWide, reason: "role=pod without a field selector or relabel keep on the node name",
		},
		{
			name:    "pod on a fixed node",
			config:  `discovery.kubernetes "d" { role = "pod" ` + "\n" + `selectors { role = "pod" ` + "\n" + `field = "spec.nodeName=node-1" }` + "\n}",
			targets: "discovery.kubernetes.d.targets",
			scope:   ScopeClusterWide, reason: `role=pod with a field selector on the fixed node "node-1": every agent sees the same targets`,
		},
		{
			name:    "pod selector on something else",
			config:  `discovery.kubernetes "d" { role = "pod" ` + "\n" + `selectors { role = "pod" ` + "\n" + `field = "spec.nodeName=" + local.file.n.content }` + "\n}",
			targets: "discovery.kubernetes.d.targets",
			scope:   ScopeUnknown, reason: "role=pod with a field selector on local.file.n.content, which is not a recognised node name",
		},
		{
			name:    "pod selector for another role",
			config:  `discovery.kubernetes "d" { role = "pod" ` + "\n" + `selectors { role = "node" ` + "\n" + `field = "spec.nodeName=" + env("HOSTNAME") }` + "\n}",
			targets: "discovery.kubernetes.d.targets",
			scope:   ScopeClusterWide, reason: "role=pod without a field selector or relabel keep on the node name",
		},
		{
			name:    "node with metadata.name selector",
			config:  `discovery.kubernetes "d" { role = "node" ` + "\n" + `selectors { role = "node" ` + "\n" + `field = "metadata.name=" + sys.env("HOSTNAME") }` + "\n}",
			targets: "discovery.kubernetes.d.targets",
			scope:   ScopeNodeLocal, reason: "role=node with metadata.name field selector", localBy: "field-selector",
		},
		{
			name:    "node with a pod-style selector",
			config:  `discovery.kubernetes "d" { role = "node" ` + "\n" + `selectors { role = "node" ` + "\n" + `field = "spec.nodeName=" + sys.env("HOSTNAME") }` + "\n}",
			targets: "discovery.kubernetes.d.targets",
			scope:   ScopeClusterWide, reason: "role=node without a field selector or relabel keep on the node name",
		},
		{
			name:    "node kept by node name",
			config:  `discovery.kubernetes "d" { role = "node" }` + "\n" + keep("d", "__meta_kubernetes_node_name", `sys.env("HOSTNAME")`),
			targets: "discovery.relabel.k.output",
			scope:   ScopeNodeLocal, reason: "kept by relabel on __meta_kubernetes_node_name", localBy: "relabel-keep",
		},
		{
			name:    "endpoints with pod selector only",
			config:  `discovery.kubernetes "d" { role = "endpoints" ` + "\n" + `selectors { role = "pod" ` + "\n" + `field = "spec.nodeName=" + env("HOSTNAME") }` + "\n}",
			targets: "discovery.kubernetes.d.targets",
			scope:   ScopeClusterWide, reason: "role=endpoints: a pod selector does not filter endpoints", podOnly: true,
		},
		{
			name:    "endpoints without anything",
			config:  `discovery.kubernetes "d" { role = "endpoints" }`,
			targets: "discovery.kubernetes.d.targets",
			scope:   ScopeClusterWide, reason: "role=endpoints without a relabel keep on __meta_kubernetes_endpoint_node_name",
		},
		{
			name:    "endpoints kept by pod node name",
			config:  `discovery.kubernetes "d" { role = "endpoints" }` + "\n" + keep("d", "__meta_kubernetes_pod_node_name", `env("HOSTNAME")`),
			targets: "discovery.relabel.k.output",
			scope:   ScopeNodeLocal, reason: "kept by relabel on __meta_kubernetes_pod_node_name", localBy: "relabel-keep",
		},
		{
			name:    "endpointslice kept by the endpoints label",
			config:  `discovery.kubernetes "d" { role = "endpointslice" }` + "\n" + keep("d", "__meta_kubernetes_endpoint_node_name", `env("HOSTNAME")`),
			targets: "discovery.relabel.k.output",
			scope:   ScopeClusterWide, reason: "role=endpointslice without a relabel keep on __meta_kubernetes_endpointslice_endpoint_node_name",
		},
		{
			name:    "keep on a literal node",
			config:  `discovery.kubernetes "d" { role = "pod" }` + "\n" + keep("d", "__meta_kubernetes_pod_node_name", `"node-1"`),
			targets: "discovery.relabel.k.output",
			scope:   ScopeClusterWide, reason: "role=pod without a field selector or relabel keep on the node name",
		},
		{
			name:    "keep with capitalised action",
			config:  `discovery.kubernetes "d" { role = "pod" }` + "\n" + strings.Replace(keep("d", "__meta_kubernetes_pod_node_name", `env("HOSTNAME")`), `"keep"`, `"Keep"`, 1),
			targets: "discovery.relabel.k.output",
			scope:   ScopeNodeLocal, reason: "kept by relabel on __meta_kubernetes_pod_node_name", localBy: "relabel-keep",
		},
		{
			name:    "seed endpoint typo",
			config:  `discovery.kubernetes "d" { role = "endpoint" ` + "\n" + `selectors { role = "pod" ` + "\n" + `field = "spec.nodeName=" + constants.hostname }` + "\n}",
			targets: "discovery.kubernetes.d.targets",
			scope:   ScopeClusterWide, reason: "role=endpoint (not a valid role; read as endpoints): a pod selector does not filter endpoints", podOnly: true,
		},
		{name: "service", config: `discovery.kubernetes "d" { role = "service" }`, targets: "discovery.kubernetes.d.targets", scope: ScopeClusterWide, reason: "role=service is cluster-wide"},
		{name: "ingress", config: `discovery.kubernetes "d" { role = "ingress" }`, targets: "discovery.kubernetes.d.targets", scope: ScopeClusterWide, reason: "role=ingress is cluster-wide"},
		{name: "role not literal", config: `discovery.kubernetes "d" { role = sys.env("ROLE") }`, targets: "discovery.kubernetes.d.targets", scope: ScopeUnknown, reason: `role is not a literal: sys.env("ROLE")`},
		{name: "role unknown", config: `discovery.kubernetes "d" { role = "pods" }`, targets: "discovery.kubernetes.d.targets", scope: ScopeUnknown, reason: "role=pods is not a discovery.kubernetes role"},
		{name: "kubelet", config: `discovery.kubelet "d" { }`, targets: "discovery.kubelet.d.targets", scope: ScopeNodeLocal, reason: "kubelet discovery lists its own node's pods"},
		{name: "process", config: `discovery.process "d" { }`, targets: "discovery.process.d.targets", scope: ScopeNodeLocal, reason: "discovery.process lists the processes of the host it runs on"},
		{name: "dns", config: `discovery.dns "d" { names = ["x"] }`, targets: "discovery.dns.d.targets", scope: ScopeClusterWide, reason: "discovery.dns finds the same targets from every agent"},
		{name: "unix", config: `prometheus.exporter.unix "d" { }`, targets: "prometheus.exporter.unix.d.targets", scope: ScopeHostExporter, reason: "prometheus.exporter.unix reads the host it runs on"},
		{name: "self", config: `prometheus.exporter.self "d" { }`, targets: "prometheus.exporter.self.d.targets", scope: ScopeHostExporter, reason: "prometheus.exporter.self reads the host it runs on"},
		{name: "statsd", config: `prometheus.exporter.statsd "d" { }`, targets: "prometheus.exporter.statsd.d.targets", scope: ScopeNodeLocal, reason: "statsd exporter receives what is pushed to this pod"},
		{name: "redis", config: `prometheus.exporter.redis "d" { }`, targets: "prometheus.exporter.redis.d.targets", scope: ScopeClusterWide, reason: "prometheus.exporter.redis watches a central service"},
		{name: "unknown exporter", config: `prometheus.exporter.zzz "d" { }`, targets: "prometheus.exporter.zzz.d.targets", scope: ScopeClusterWide, reason: "prometheus.exporter.zzz is not a known host exporter: assumed to watch a central service"},
		{name: "static", config: ``, targets: `[{"__address__" = "a:1"}]`, scope: ScopeClusterWide, reason: "static target list"},
		{name: "not a component", config: ``, targets: `discovery.kubernetes.nope.targets`, scope: ScopeUnknown, reason: "discovery.kubernetes.nope.targets does not name a component"},
		{name: "not a source", config: `loki.write "d" { }`, targets: `loki.write.d.receiver`, scope: ScopeUnknown, reason: "loki.write is not a known target source"},
		{
			name:    "constant instance",
			config:  `prometheus.exporter.unix "d" { }` + "\n" + relabel("prometheus.exporter.unix.d.targets", `target_label = "instance"`+"\n"+`replacement = "k8smon"`),
			targets: "discovery.relabel.r.output",
			scope:   ScopeHostExporter, reason: "prometheus.exporter.unix reads the host it runs on", konst: true,
		},
		{
			name:    "instance from a capture group",
			config:  `prometheus.exporter.unix "d" { }` + "\n" + relabel("prometheus.exporter.unix.d.targets", `target_label = "instance"`+"\n"+`replacement = "$1"`),
			targets: "discovery.relabel.r.output",
			scope:   ScopeHostExporter, reason: "prometheus.exporter.unix reads the host it runs on",
		},
		{
			name:    "instance not replaced",
			config:  `prometheus.exporter.unix "d" { }` + "\n" + relabel("prometheus.exporter.unix.d.targets", `target_label = "instance"`+"\n"+`action = "labeldrop"`+"\n"+`replacement = "x"`),
			targets: "discovery.relabel.r.output",
			scope:   ScopeHostExporter, reason: "prometheus.exporter.unix reads the host it runs on",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := tt.config + strings.Replace(scrape, "%s", tt.targets, 1)
			f := Parse("x.alloy", []byte(src))
			if len(f.Errors) > 0 {
				t.Fatalf("parse: %+v\n%s", f.Errors, src)
			}
			var col *Collector
			for i := range f.Collectors {
				if f.Collectors[i].Component == "prometheus.scrape.s" {
					col = &f.Collectors[i]
				}
			}
			if col == nil || len(col.Sources) == 0 {
				t.Fatalf("got no source for prometheus.scrape.s: %+v", f.Collectors)
			}
			s := col.Sources[0]
			if s.Scope != tt.scope || s.Reason != tt.reason {
				t.Errorf("got scope %q reason %q,\nwant %q %q", s.Scope, s.Reason, tt.scope, tt.reason)
			}
			if s.LocalBy != tt.localBy || s.PodSelectorOnly != tt.podOnly || s.ConstantIdentity != tt.konst {
				t.Errorf("got localBy %q podSelectorOnly %v constantIdentity %v, want %q %v %v",
					s.LocalBy, s.PodSelectorOnly, s.ConstantIdentity, tt.localBy, tt.podOnly, tt.konst)
			}
			if (s.LocalBy != "") != (s.NodeName != nil && s.Scope == ScopeNodeLocal) {
				t.Errorf("got localBy %q with nodeName %+v", s.LocalBy, s.NodeName)
			}
			unverifiable := false
			for _, u := range f.Unverifiable {
				unverifiable = unverifiable || u.Component == "prometheus.scrape.s"
			}
			if unverifiable != (s.Scope == ScopeUnknown) {
				t.Errorf("got unverifiable entry %v for scope %q", unverifiable, s.Scope)
			}
		})
	}
}

// keep returns discovery.relabel "k" keeping d's targets whose label equals
// regex.
func keep(d, label, regex string) string {
	return relabel("discovery.kubernetes."+d+".targets",
		`source_labels = ["`+label+`"]`+"\n"+`regex = `+regex+"\n"+`action = "keep"`)
}

// relabel returns discovery.relabel "r" (or "k" for keep) with one rule.
func relabel(targets, rule string) string {
	name := "r"
	if strings.Contains(rule, `action = "keep"`) {
		name = "k"
	}
	return "discovery.relabel \"" + name + "\" {\n  targets = " + targets + "\n  rule {\n" + rule + "\n  }\n}\n"
}
