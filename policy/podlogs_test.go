package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

// TestPodLogsNodeFilter runs a loki.source.podlogs with a node_filter and a
// DaemonSet through the facts and the built-in rules. The filter is
// node-local only when its node name reaches the agent: a node_filter
// without node_name reads NODE_NAME, which the charts do not set, and MG002
// adds it; until then the source is cluster-wide (MG004, or nothing from
// MG005 when clustered). Where clustering is effective, MG002 only records
// the gap: a working filter would lose data.
func TestPodLogsNodeFilter(t *testing.T) {
	t.Parallel()
	e, err := New(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	const config = `
loki.source.podlogs "pods" {
  forward_to = [loki.write.default.receiver]
%s
}

loki.write "default" {
  endpoint {
    url = "http://loki/loki/api/v1/push"
  }
}
`
	// The Alloy chart's env: HOSTNAME and K8S_NODE_NAME from spec.nodeName.
	const ds = `
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: alloy
  namespace: ns
spec:
  selector:
    matchLabels: {app: alloy}
  template:
    metadata:
      labels: {app: alloy}
    spec:
      hostNetwork: %v
      containers:
        - name: alloy
          image: grafana/alloy:v1.9.0
          args: [run, /etc/alloy/config.alloy%s]
          env:
            - name: HOSTNAME
              valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
            - name: K8S_NODE_NAME
              valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
%s
          volumeMounts:
            - {name: config, mountPath: /etc/alloy}
      volumes:
        - name: config
          configMap: {name: alloy}
`
	const (
		implicit   = "  node_filter {\n    enabled = true\n  }"
		clustering = "  clustering {\n    enabled = true\n  }"
		nodeName   = "            - name: NODE_NAME\n              valueFrom: {fieldRef: {fieldPath: spec.nodeName}}"
		flags      = ", --cluster.enabled=true, --cluster.join-addresses=alloy-cluster"
	)
	filter := func(name string) string {
		return "  node_filter {\n    enabled   = true\n    node_name = " + name + "\n  }"
	}
	for _, tc := range []struct {
		name, blocks, env, flags string
		hostNetwork              bool
		want                     []string // rule[:fix[/var]][ action] on the podlogs, sorted
	}{
		{"no node_filter", "", "", "", false, []string{"MG004"}},
		{"node_filter without NODE_NAME", implicit, "", "", false, []string{"MG002:node-name-env/NODE_NAME", "MG004"}},
		{"node_filter with NODE_NAME", implicit, nodeName, "", false, []string{}},
		{"node_name from the chart's var", filter(`sys.env("K8S_NODE_NAME")`), "", "", false, []string{}},
		{"node_name from an unset var", filter(`sys.env("MY_NODE")`), "", "", false, []string{"MG002:node-name-env/MY_NODE", "MG004"}},
		{"node_name hostname", filter("constants.hostname"), "", "", false, []string{"MG002:node-name-expression/HOSTNAME", "MG004"}},
		{"node_name hostname with hostNetwork", filter("constants.hostname"), "", "", true, []string{}},
		{"node_name on a fixed node", filter(`"node-1"`), "", "", false, []string{"MG004"}},
		{"clustered without a node_filter", clustering, "", flags, false, []string{}},
		{"clustered node_filter without NODE_NAME", implicit + "\n" + clustering, "", flags, false, []string{"MG002 audit"}},
		{"clustered node_filter with NODE_NAME", implicit + "\n" + clustering, nodeName, flags, false, []string{"MG005"}},
	} {
		facts := riverconfig.Parse("config.alloy", []byte(fmt.Sprintf(config, tc.blocks)))
		if len(facts.Errors) > 0 {
			t.Fatalf("%s: %v", tc.name, facts.Errors)
		}
		obj, err := workload.Decode([]byte(fmt.Sprintf(ds, tc.hostNetwork, tc.flags, tc.env)))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		w, err := workload.FromObject(obj, nil)
		if err != nil || !w.Agent {
			t.Fatalf("%s: workload facts %+v, %v", tc.name, w, err)
		}
		in := &Input{APIVersion: InputAPIVersion, Subject: Subject{Kind: "DaemonSet", Namespace: "ns", Name: "alloy", Operation: "CHECK"},
			Mode: w.Mode, Workload: w, Config: &Config{Namespace: "ns", Name: "alloy", Files: []*riverconfig.Facts{facts}}}
		vs, err := e.Evaluate(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		got := []string{}
		for _, v := range vs {
			if v.Component != "loki.source.podlogs.pods" {
				continue
			}
			s := v.Rule.ID
			if v.Fix != nil {
				s += ":" + v.Fix.Name + "/" + fmt.Sprint(v.Fix.Params["var"])
			}
			if v.Action != "" {
				s += " " + string(v.Action)
			}
			got = append(got, s)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v on loki.source.podlogs.pods, want %v", tc.name, got, tc.want)

		}
		for _, v := range vs {
			if v.Rule.ID == "MG004" && strings.Contains(tc.blocks, "node_filter") && !strings.Contains(v.Message, "node_filter") {
				t.Errorf("%s: MG004 says %q, want it to name node_filter", tc.name, v.Message)
			}
		}
	}
}
