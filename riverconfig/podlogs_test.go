package riverconfig

import (
	"slices"
	"strings"
	"testing"
)

// TestPodLogsNodeFilter checks the node-name facts of a loki.source.podlogs
// node_filter block and the scope of the source it makes of the collector.
func TestPodLogsNodeFilter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		filter string // the node_filter block, or ""
		// The node name: on node_name (attr) or on the component (implicit),
		// with its kind and env vars; kind "" when there is none.
		implicit bool
		kind     string
		envVars  []string
		scope    string
		reason   string
		localBy  string
	}{
		{
			name: "no node_filter", filter: "",
			scope: ScopeClusterWide, reason: "loki.source.podlogs watches PodLogs resources and tails pods across the cluster",
		},
		{
			name: "disabled", filter: "node_filter {\n    enabled = false\n    node_name = constants.hostname\n  }",
			scope: ScopeClusterWide, reason: "loki.source.podlogs watches PodLogs resources and tails pods across the cluster",
		},
		{
			name: "enabled by an expression", filter: "node_filter {\n    enabled = sys.env(\"FILTER\") == \"on\"\n  }",
			scope: ScopeClusterWide, reason: "loki.source.podlogs watches PodLogs resources and tails pods across the cluster",
		},
		{
			name: "enabled without node_name", filter: "node_filter {\n    enabled = true\n  }",
			implicit: true, kind: NodeNameEnv, envVars: []string{"NODE_NAME"},
			scope: ScopeNodeLocal, reason: "node_filter without node_name keeps the pods of the node named by env var NODE_NAME", localBy: "node-filter",
		},
		{
			name: "enabled with an empty node_name", filter: "node_filter {\n    enabled = true\n    node_name = \"\"\n  }",
			implicit: true, kind: NodeNameEnv, envVars: []string{"NODE_NAME"},
			scope: ScopeNodeLocal, reason: "node_filter without node_name keeps the pods of the node named by env var NODE_NAME", localBy: "node-filter",
		},
		{
			name: "node_name from an env var", filter: "node_filter {\n    enabled = true\n    node_name = sys.env(\"K8S_NODE_NAME\")\n  }",
			kind: NodeNameEnv, envVars: []string{"K8S_NODE_NAME"},
			scope: ScopeNodeLocal, reason: `node_filter keeps the pods of the node named by sys.env("K8S_NODE_NAME")`, localBy: "node-filter",
		},
		{
			name: "node_name coalesce", filter: "node_filter {\n    enabled = true\n    node_name = coalesce(sys.env(\"HOSTNAME\"), constants.hostname)\n  }",
			kind: NodeNameCoalesce, envVars: []string{"HOSTNAME"},
			scope: ScopeNodeLocal, reason: `node_filter keeps the pods of the node named by coalesce(sys.env("HOSTNAME"), constants.hostname)`, localBy: "node-filter",
		},
		{
			name: "node_name hostname", filter: "node_filter {\n    enabled = true\n    node_name = constants.hostname\n  }",
			kind: NodeNameHostname, envVars: []string{},
			scope: ScopeNodeLocal, reason: "node_filter keeps the pods of the node named by constants.hostname", localBy: "node-filter",
		},
		{
			name: "fixed node", filter: "node_filter {\n    enabled = true\n    node_name = \"node-1\"\n  }",
			kind: NodeNameLiteral, envVars: []string{},
			scope: ScopeClusterWide, reason: `node_filter on the fixed node "node-1": every agent tails the same pods`,
		},
		{
			name: "something else", filter: "node_filter {\n    enabled = true\n    node_name = local.file.node.content\n  }",
			kind: NodeNameOther, envVars: []string{},
			scope: ScopeUnknown, reason: "node_filter on local.file.node.content, which is not a recognised node name",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := "loki.source.podlogs \"pods\" {\n  forward_to = []\n  " + tt.filter + "\n}\n"
			f := Parse("x.alloy", []byte(src))
			if len(f.Errors) > 0 {
				t.Fatalf("parse: %+v\n%s", f.Errors, src)
			}
			checkInvariants(t, []byte(src), f)
			c := f.Components[0]
			var attr *NodeName
			for _, b := range c.Blocks {
				if b.Name == "node_filter" {
					attr = b.Attributes["node_name"].NodeName
				}
			}
			n := attr
			if tt.implicit {
				n = c.NodeName
				if attr != nil {
					t.Errorf("got a nodeName on node_name %+v, want none", attr)
				}
			} else if c.NodeName != nil {
				t.Errorf("got a component nodeName %+v, want none", c.NodeName)
			}
			switch {
			case tt.kind == "" && n != nil:
				t.Errorf("got nodeName %+v, want none", n)
			case tt.kind != "" && n == nil:
				t.Fatalf("got no nodeName, want kind %q", tt.kind)
			case n != nil && (n.Kind != tt.kind || !slices.Equal(n.EnvVars, tt.envVars)):
				t.Errorf("got nodeName kind %q envVars %q, want %q %q", n.Kind, n.EnvVars, tt.kind, tt.envVars)
			}
			if tt.implicit {
				if !strings.Contains(n.Expr, "implicitly") || !strings.HasPrefix(src[n.Range.Start.Offset:n.Range.End.Offset], "node_filter {") {
					t.Errorf("got implicit expr %q at %q, want it to say so, at the node_filter block", n.Expr, src[n.Range.Start.Offset:n.Range.End.Offset])
				}
			}
			if len(f.Collectors) != 1 || len(f.Collectors[0].Sources) != 1 {
				t.Fatalf("got collectors %+v, want one with one source", f.Collectors)
			}
			s := f.Collectors[0].Sources[0]
			if s.Component != "loki.source.podlogs.pods" || s.Scope != tt.scope || s.Reason != tt.reason || s.LocalBy != tt.localBy {
				t.Errorf("got source %s scope %q reason %q localBy %q,\nwant scope %q reason %q localBy %q", s.Component, s.Scope, s.Reason, s.LocalBy, tt.scope, tt.reason, tt.localBy)
			}
			if (s.LocalBy != "" || s.Scope == ScopeUnknown) != (s.NodeName != nil && s.NodeName == n) {
				t.Errorf("got source nodeName %+v with localBy %q, scope %q; want the filter's %+v", s.NodeName, s.LocalBy, s.Scope, n)
			}
			unverifiable := slices.ContainsFunc(f.Unverifiable, func(u Unverifiable) bool { return u.Component == "loki.source.podlogs.pods" })
			if unverifiable != (s.Scope == ScopeUnknown) {
				t.Errorf("got unverifiable entry %v for scope %q: %+v", unverifiable, s.Scope, f.Unverifiable)
			}
		})
	}
}
