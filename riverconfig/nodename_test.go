package riverconfig

import (
	"slices"
	"testing"
)

func TestFieldNodeName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		field    string
		prefix   string
		kind     string
		expr     string
		envVars  []string
		envFunc  string
		hostname bool
		isNode   bool
	}{
		{"seed hostname", `"spec.nodeName=" + constants.hostname`, prefixPodNode, NodeNameHostname, "constants.hostname", nil, "", true, true},
		{"agent env", `"spec.nodeName=" + env("HOSTNAME")`, prefixPodNode, NodeNameEnv, `env("HOSTNAME")`, []string{"HOSTNAME"}, "env", false, true},
		{"alloy sys.env", `"spec.nodeName=" + sys.env("HOSTNAME")`, prefixPodNode, NodeNameEnv, `sys.env("HOSTNAME")`, []string{"HOSTNAME"}, "sys.env", false, true},
		{"alloy docs coalesce", `"spec.nodeName=" + coalesce(sys.env("HOSTNAME"), constants.hostname)`, prefixPodNode, NodeNameCoalesce, `coalesce(sys.env("HOSTNAME"), constants.hostname)`, []string{"HOSTNAME"}, "sys.env", true, true},
		{"coalesce of two vars", `"spec.nodeName=" + coalesce(env("K8S_NODE_NAME"), env("HOSTNAME"))`, prefixPodNode, NodeNameCoalesce, `coalesce(env("K8S_NODE_NAME"), env("HOSTNAME"))`, []string{"K8S_NODE_NAME", "HOSTNAME"}, "env", false, true},
		{"coalesce of literals", `"spec.nodeName=" + coalesce("a", "b")`, prefixPodNode, NodeNameCoalesce, `coalesce("a", "b")`, nil, "", false, false},
		{"literal node", `"spec.nodeName=node-1"`, prefixPodNode, NodeNameLiteral, "node-1", nil, "", false, false},
		{"literal after another requirement", `"status.phase=Running,spec.nodeName=node-1"`, prefixPodNode, NodeNameLiteral, "node-1", nil, "", false, false},
		{"literal before another requirement", `"spec.nodeName=node-1,status.phase=Running"`, prefixPodNode, NodeNameLiteral, "node-1", nil, "", false, false},
		{"literal with escape", `"spec.nodeName=n\u0031"`, prefixPodNode, NodeNameLiteral, "n1", nil, "", false, false},
		{"raw string prefix", "`spec.nodeName=` + env(\"HOSTNAME\")", prefixPodNode, NodeNameEnv, `env("HOSTNAME")`, []string{"HOSTNAME"}, "env", false, true},
		{"followed by a requirement", `"spec.nodeName=" + env("HOSTNAME") + ",status.phase=Running"`, prefixPodNode, NodeNameEnv, `env("HOSTNAME")`, []string{"HOSTNAME"}, "env", false, true},
		{"two parts", `"spec.nodeName=" + env("A") + env("B")`, prefixPodNode, NodeNameOther, `env("A") + env("B")`, []string{"A", "B"}, "env", false, false},
		{"built from pieces", `"spec.nodeName=ip-" + env("X")`, prefixPodNode, NodeNameOther, `"spec.nodeName=ip-" + env("X")`, []string{"X"}, "env", false, false},
		{"format", `format("spec.nodeName=%s", env("HOSTNAME"))`, prefixPodNode, NodeNameEnv, `env("HOSTNAME")`, []string{"HOSTNAME"}, "env", false, true},
		{"string.format node", `string.format("metadata.name=%s", sys.env("NODE"))`, prefixNode, NodeNameEnv, `sys.env("NODE")`, []string{"NODE"}, "sys.env", false, true},
		{"node hostname", `"metadata.name=" + constants.hostname`, prefixNode, NodeNameHostname, "constants.hostname", nil, "", true, true},
		{"parenthesised", `("spec.nodeName=" + (env("HOSTNAME")))`, prefixPodNode, NodeNameEnv, `(env("HOSTNAME"))`, []string{"HOSTNAME"}, "env", false, true},
		{"other reference", `"spec.nodeName=" + local.file.node.content`, prefixPodNode, NodeNameOther, "local.file.node.content", nil, "", false, false},
		{"other field selector", `"metadata.namespace=default"`, "", NodeNameOther, `"metadata.namespace=default"`, nil, "", false, false},
		{"whole field from env", `sys.env("FIELD")`, "", NodeNameOther, `sys.env("FIELD")`, []string{"FIELD"}, "sys.env", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := "discovery.kubernetes \"x\" {\n  role = \"pod\"\n  selectors {\n    role = \"pod\"\n    field = " + tt.field + "\n  }\n}\n"
			f := Parse("x.alloy", []byte(src))
			if len(f.Errors) > 0 {
				t.Fatalf("parse: %+v", f.Errors)
			}
			n := f.Components[0].Blocks[0].Attributes["field"].NodeName
			if n == nil {
				t.Fatal("got no nodeName")
			}
			if n.Prefix != tt.prefix || n.Kind != tt.kind || n.Expr != tt.expr {
				t.Errorf("got prefix %q kind %q expr %q, want %q %q %q", n.Prefix, n.Kind, n.Expr, tt.prefix, tt.kind, tt.expr)
			}
			if want := append([]string{}, tt.envVars...); !slices.Equal(n.EnvVars, want) {
				t.Errorf("got envVars %q, want %q", n.EnvVars, want)
			}
			if n.EnvFunc != tt.envFunc || n.HostnameFallback != tt.hostname {
				t.Errorf("got envFunc %q hostnameFallback %v, want %q %v", n.EnvFunc, n.HostnameFallback, tt.envFunc, tt.hostname)
			}
			if got := isNodeName(n); got != tt.isNode {
				t.Errorf("got isNodeName %v, want %v", got, tt.isNode)
			}
			// The range must be splice-able: its text is the expression
			// (for a literal, the name inside the quotes when unescaped).
			if got := src[n.Range.Start.Offset:n.Range.End.Offset]; got != n.Expr && tt.name != "literal with escape" {
				t.Errorf("got range text %q, want %q", got, n.Expr)
			}
		})
	}
}

func TestRelabelRegexNodeName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, labels, regex string
		kind                string // "" when no nodeName is expected
	}{
		{"pod node name env", `["__meta_kubernetes_pod_node_name"]`, `env("HOSTNAME")`, NodeNameEnv},
		{"endpoint node name coalesce", `["__meta_kubernetes_endpoint_node_name"]`, `coalesce(sys.env("HOSTNAME"), constants.hostname)`, NodeNameCoalesce},
		{"slice node name literal", `["__meta_kubernetes_endpointslice_endpoint_node_name"]`, `"node-1"`, NodeNameLiteral},
		{"node name hostname", `["__meta_kubernetes_node_name"]`, `constants.hostname`, NodeNameHostname},
		{"two labels", `["__meta_kubernetes_pod_node_name", "__meta_kubernetes_namespace"]`, `env("HOSTNAME")`, ""},
		{"other label", `["__meta_kubernetes_namespace"]`, `env("HOSTNAME")`, ""},
		{"labels not literal", `sys.env("LABELS")`, `env("HOSTNAME")`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := "discovery.relabel \"x\" {\n  targets = []\n  rule {\n    source_labels = " + tt.labels + "\n    regex = " + tt.regex + "\n    action = \"keep\"\n  }\n}\n"
			f := Parse("x.alloy", []byte(src))
			if len(f.Errors) > 0 {
				t.Fatalf("parse: %+v", f.Errors)
			}
			n := f.Components[0].Blocks[0].Attributes["regex"].NodeName
			switch {
			case tt.kind == "" && n != nil:
				t.Errorf("got nodeName %+v, want none", n)
			case tt.kind != "" && n == nil:
				t.Errorf("got no nodeName, want kind %q", tt.kind)
			case n != nil && (n.Kind != tt.kind || n.Prefix != "" || n.Expr != tt.regex):
				t.Errorf("got kind %q prefix %q expr %q, want %q \"\" %q", n.Kind, n.Prefix, n.Expr, tt.kind, tt.regex)
			}
		})
	}
}
