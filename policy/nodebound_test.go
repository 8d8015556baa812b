package policy

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

// TestNodeBoundOutsideDaemonSet runs River text through the facts and the
// built-in rules: MG008 denies every collector the catalog classes
// node-bound, or fed by a node-bound source, outside a DaemonSet, and no
// other.
func TestNodeBoundOutsideDaemonSet(t *testing.T) {
	t.Parallel()
	e, err := New(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	const sink = `
loki.write "default" {
  endpoint {
    url = "http://loki/loki/api/v1/push"
  }
}
`
	for _, tc := range []struct {
		name, config string
		want         []string // components MG008 reports outside a DaemonSet
	}{
		{"filelog on node paths", `
otelcol.receiver.filelog "pods" {
  include = ["/var/log/pods/*/*/*.log"]
  output { }
}`, []string{"otelcol.receiver.filelog.pods"}},
		{"filelog on a volume of its own", `
otelcol.receiver.filelog "app" {
  include = ["/data/app/*.log"]
  output { }
}`, []string{}},
		{"file_match on node paths", `
local.file_match "pods" {
  path_targets = [{"__path__" = "/var/log/pods/*/*/*.log"}]
}
loki.source.file "pods" {
  targets    = local.file_match.pods.targets
  forward_to = [loki.write.default.receiver]
}`, []string{"loki.source.file.pods"}},
		{"windows event log", `
loki.source.windowsevent "app" {
  eventlog_name = "Application"
  forward_to    = [loki.write.default.receiver]
}`, []string{"loki.source.windowsevent.app"}},
		{"journal", `
loki.source.journal "node" {
  forward_to = [loki.write.default.receiver]
}`, []string{"loki.source.journal.node"}},
		{"local docker", `
discovery.docker "local" {
  host = "unix:///var/run/docker.sock"
}
loki.source.docker "containers" {
  host       = "unix:///var/run/docker.sock"
  targets    = discovery.docker.local.targets
  forward_to = [loki.write.default.receiver]
}`, []string{"loki.source.docker.containers"}},
		{"kubelet discovery", `
discovery.kubelet "pods" { }
prometheus.scrape "pods" {
  targets    = discovery.kubelet.pods.targets
  forward_to = []
}`, []string{"prometheus.scrape.pods"}},
		{"process discovery and eBPF", `
discovery.process "all" { }
pyroscope.ebpf "host" {
  targets    = discovery.process.all.targets
  forward_to = []
}`, []string{"pyroscope.ebpf.host"}},
		{"host exporter", `
prometheus.exporter.unix "node" { }
prometheus.scrape "node" {
  targets    = prometheus.exporter.unix.node.targets
  forward_to = []
}`, []string{"prometheus.scrape.node"}},
		{"central exporter", `
prometheus.exporter.redis "cache" {
  redis_addr = "redis:6379"
}
prometheus.scrape "cache" {
  targets    = prometheus.exporter.redis.cache.targets
  forward_to = []
}`, []string{}},
		{"push receiver", `
loki.source.api "push" {
  http {
    listen_port = 3500
  }
  forward_to = [loki.write.default.receiver]
}`, []string{}},
	} {
		facts := riverconfig.Parse("config.alloy", []byte(tc.config+sink))
		if len(facts.Errors) > 0 {
			t.Fatalf("%s: %v", tc.name, facts.Errors)
		}
		for _, mode := range []string{"statefulset", "deployment", "daemonset"} {
			in := &Input{APIVersion: InputAPIVersion, Subject: Subject{Kind: "ConfigMap", Namespace: "ns", Name: "alloy", Operation: "CHECK"},
				Mode: mode, Config: &Config{Namespace: "ns", Name: "alloy", Files: []*riverconfig.Facts{facts}}}
			vs, err := e.Evaluate(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, v := range vs {
				if v.Rule.ID == "MG008" && !slices.Contains(got, v.Component) {
					got = append(got, v.Component)
				}
			}
			want := tc.want
			if mode == "daemonset" {
				want = []string{}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s in a %s: MG008 on %v, want %v", tc.name, mode, got, want)
			}
		}
	}
}

// TestTextfileOnlyExporter runs a chart-telemetry config (a unix exporter
// with only the textfile collector, scraped with clustering, its instance
// made constant by a prometheus.relabel after the scrape) and a clustered
// StatefulSet through the facts and the built-in rules: MG005 and MG008
// leave it alone when the textfile directory is a ConfigMap mount, and deny
// it when the directory is the node's (a hostPath mount) or when the
// exporter runs other collectors too.
func TestTextfileOnlyExporter(t *testing.T) {
	t.Parallel()
	e, err := New(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	const config = `
prometheus.exporter.unix "telemetry" {
  set_collectors = %s
  textfile {
    directory = "/etc/telemetry"
  }
}

prometheus.scrape "telemetry" {
  targets    = prometheus.exporter.unix.telemetry.targets
  clustering {
    enabled = true
  }
  forward_to = [prometheus.relabel.telemetry.receiver]
}

prometheus.relabel "telemetry" {
  rule {
    target_label = "instance"
    replacement  = "release"
  }
  forward_to = []
}
`
	const sts = `
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: agent
  namespace: ns
spec:
  replicas: 1
  serviceName: agent-cluster
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers:
        - name: agent
          image: grafana/agent:v0.40.2
          args: [run, /etc/agent/config.river, --cluster.enabled=true, --cluster.join-addresses=agent-cluster]
          env:
            - {name: AGENT_MODE, value: flow}
          volumeMounts:
            - {name: config, mountPath: /etc/agent}
            - {name: telemetry, mountPath: /etc/telemetry}
      volumes:
        - name: config
          configMap: {name: agent}
        - name: telemetry
%s
`
	const configMapVolume = "          configMap: {name: telemetry}"
	const hostPathVolume = "          hostPath: {path: /var/lib/telemetry}"
	for _, tc := range []struct {
		name, collectors, volume string
		want                     []string // rules that fire on prometheus.scrape.telemetry
	}{
		{"textfile on a ConfigMap", `["textfile"]`, configMapVolume, []string{}},
		{"textfile on a hostPath", `["textfile"]`, hostPathVolume, []string{"MG005", "MG008"}},
		{"textfile and meminfo on a ConfigMap", `["textfile", "meminfo"]`, configMapVolume, []string{"MG005", "MG008"}},
		{"default collectors", `[]`, configMapVolume, []string{"MG005", "MG008"}},
	} {
		facts := riverconfig.Parse("config.river", []byte(fmt.Sprintf(config, tc.collectors)))
		if len(facts.Errors) > 0 {
			t.Fatalf("%s: %v", tc.name, facts.Errors)
		}
		obj, err := workload.Decode([]byte(fmt.Sprintf(sts, tc.volume)))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		w, err := workload.FromObject(obj, nil)
		if err != nil || !w.Agent {
			t.Fatalf("%s: workload facts %+v, %v", tc.name, w, err)
		}
		in := &Input{APIVersion: InputAPIVersion, Subject: Subject{Kind: "ConfigMap", Namespace: "ns", Name: "agent", Operation: "CHECK"},
			Mode: w.Mode, Workload: w, Config: &Config{Namespace: "ns", Name: "agent", Files: []*riverconfig.Facts{facts}}}
		vs, err := e.Evaluate(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		got := []string{}
		for _, v := range vs {
			if v.Component == "prometheus.scrape.telemetry" && (v.Rule.ID == "MG005" || v.Rule.ID == "MG008") && !slices.Contains(got, v.Rule.ID) {
				got = append(got, v.Rule.ID)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v on prometheus.scrape.telemetry, want %v", tc.name, got, tc.want)
		}
	}
}
