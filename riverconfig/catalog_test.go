package riverconfig

import "testing"

// TestCatalogClasses pins the class of the components the rules judge by
// class, node-bound ones first (upstream: grafana/alloy component docs).
func TestCatalogClasses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, class string
		collector   bool
	}{
		{"loki.source.file", ClassNodeBound, true},
		{"otelcol.receiver.filelog", ClassNodeBound, true},
		{"loki.source.journal", ClassNodeBound, true},
		{"loki.source.windowsevent", ClassNodeBound, true},
		{"loki.source.docker", ClassNodeBound, true},
		{"pyroscope.ebpf", ClassNodeBound, true},
		{"pyroscope.java", ClassNodeBound, true},
		{"discovery.kubelet", ClassNodeBound, false},
		{"discovery.process", ClassNodeBound, false},
		{"prometheus.exporter.unix", ClassNodeBound, false},
		{"prometheus.exporter.process", ClassNodeBound, false},
		{"prometheus.exporter.cadvisor", ClassNodeBound, false},
		{"prometheus.exporter.windows", ClassNodeBound, false},
		{"prometheus.exporter.self", ClassNodeBound, false},
		{"prometheus.scrape", ClassPull, true},
		{"prometheus.operator.podmonitors", ClassSelfDiscovering, true},
		{"otelcol.receiver.otlp", ClassPush, true},
		{"prometheus.exporter.statsd", ClassPush, true},
		{"prometheus.exporter.redis", "", false},
		{"prometheus.exporter.someday", "", false},
		{"discovery.kubernetes", "", false},
		{"discovery.dns", "", false},
		{"local.file_match", "", false},
		{"loki.write", "", false},
	} {
		k, _ := lookup(tc.name)
		if k.class != tc.class || k.collector != tc.collector {
			t.Errorf("%s: got class %q collector %v, want %q %v", tc.name, k.class, k.collector, tc.class, tc.collector)
		}
	}
}

// TestCatalogShape checks that every entry is one the tracer can use.
func TestCatalogShape(t *testing.T) {
	t.Parallel()
	entries := map[string]kind{}
	for name, k := range catalog {
		entries[name] = k
	}
	for _, f := range families {
		entries[f.prefix+"*"] = f.kind
	}
	for name, k := range entries {
		switch {
		case k.collector && k.class == "":
			t.Errorf("%s: a collector without a class", name)
		case (k.targets != "" || k.files != "" || k.clustering) && !k.collector:
			t.Errorf("%s: targets %q, files %q or clustering %v on a component that is no collector", name, k.targets, k.files, k.clustering)
		case k.files != "" && k.class != ClassNodeBound:
			t.Errorf("%s: a file reader of class %q, want %q", name, k.class, ClassNodeBound)
		case k.files == fromPath && k.targets == "":
			t.Errorf("%s: reads the __path__ of targets it has not", name)
		case !k.collector && k.class != "" && k.class != ClassNodeBound:
			t.Errorf("%s: a source of class %q", name, k.class)
		case k.scope != "" && k.reason == "":
			t.Errorf("%s: scope %q without a reason", name, k.scope)
		case k.class == ClassSelfDiscovering && (k.targets != "" || k.scope != ScopeClusterWide):
			t.Errorf("%s: self-discovering with targets %q and scope %q, want none and %q", name, k.targets, k.scope, ScopeClusterWide)
		}
	}
}
