package mutate

import (
	"bytes"
	"errors"
	"testing"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/riverconfig"
)

// composeConfig has two fixes landing on one one-line component (node
// selector and node-name expression on discovery.kubernetes.pods), a
// node-name rewrite inside an existing selector, one in a relabel rule, and a
// clustering block for the scrape right below.
const composeConfig = `discovery.kubernetes "pods" { role = "pod" }
discovery.kubernetes "nodes" {
  role = "node"
  selectors {
    role  = "node"
    field = "metadata.name=" + constants.hostname
  }
}
discovery.relabel "local" {
  targets = discovery.kubernetes.pods.targets
  rule {
    source_labels = ["__meta_kubernetes_pod_node_name"]
    action        = "keep"
    regex         = constants.hostname
  }
}
prometheus.scrape "pods" { targets = discovery.relabel.local.output
  forward_to = [] }
`

func composeFixes() []policy.FixRequest {
	p := func(name string, kv ...string) policy.FixRequest {
		params := map[string]any{"file": "config.river", "envFunc": "env", "var": "HOSTNAME"}
		for i := 0; i+1 < len(kv); i += 2 {
			params[kv[i]] = kv[i+1]
		}
		return policy.FixRequest{Name: name, Params: params}
	}
	return []policy.FixRequest{
		p(FixNodeSelector, "component", "discovery.kubernetes.pods", "role", "pod"),
		p(FixNodeNameExpression, "component", "discovery.kubernetes.pods"),
		p(FixNodeSelector, "component", "discovery.kubernetes.nodes", "role", "node"),
		p(FixNodeNameExpression, "component", "discovery.kubernetes.nodes"),
		p(FixNodeNameExpression, "component", "discovery.relabel.local"),
		p(FixClusteringBlock, "component", "prometheus.scrape.pods"),
	}
}

// TestFixesCompose applies the fixes in every order: the result is the same.
func TestFixesCompose(t *testing.T) {
	t.Parallel()
	fixes := composeFixes()
	var want []byte
	orders := 0
	permute(len(fixes), func(order []int) {
		orders++
		src := []byte(composeConfig)
		for _, i := range order {
			out, err := Config("config.river", src, fixes[i])
			if err != nil {
				t.Fatalf("order %v: fix %d: %v", order, i, err)
			}
			src = out
		}
		if want == nil {
			want = src
			return
		}
		if !bytes.Equal(src, want) {
			t.Fatalf("order %v gives\n%s\nwant\n%s", order, src, want)
		}
	})
	if orders != 720 {
		t.Fatalf("tried %d orders, want 720", orders)
	}
	if f := riverconfig.Parse("config.river", want); len(f.Errors) > 0 {
		t.Fatalf("composed result does not parse: %v", f.Errors)
	}
	const expected = `discovery.kubernetes "pods" {
  role = "pod"
  selectors {
    role = "pod"
    field = "spec.nodeName=" + coalesce(env("HOSTNAME"), constants.hostname)
  }
}
discovery.kubernetes "nodes" {
  role = "node"
  selectors {
    role  = "node"
    field = "metadata.name=" + coalesce(env("HOSTNAME"), constants.hostname)
  }
}
discovery.relabel "local" {
  targets = discovery.kubernetes.pods.targets
  rule {
    source_labels = ["__meta_kubernetes_pod_node_name"]
    action        = "keep"
    regex         = coalesce(env("HOSTNAME"), constants.hostname)
  }
}
prometheus.scrape "pods" {
  targets = discovery.relabel.local.output
  forward_to = []
  clustering {
    enabled = true
  }
}
`
	if string(want) != expected {
		t.Errorf("composed result:\n%s\nwant\n%s", want, expected)
	}
}

// TestClusteringBlockOnDiscovery: a discovery component has no clustering
// block, whatever was fixed on it before.
func TestClusteringBlockOnDiscovery(t *testing.T) {
	t.Parallel()
	fixes := composeFixes()
	src, err := Config("config.river", []byte(composeConfig), fixes[0])
	if err != nil {
		t.Fatal(err)
	}
	out, err := Config("config.river", src, policy.FixRequest{Name: FixClusteringBlock, Params: map[string]any{"component": "discovery.kubernetes.pods"}})
	if !errors.Is(err, ErrNotApplicable) {
		t.Fatalf("got error %v, want ErrNotApplicable", err)
	}
	if !bytes.Equal(out, src) {
		t.Errorf("a failed fix changed the config")
	}
}

// permute calls f with every permutation of 0..n-1 (Heap's algorithm).
func permute(n int, f func([]int)) {
	a := make([]int, n)
	for i := range a {
		a[i] = i
	}
	var gen func(k int)
	gen = func(k int) {
		if k <= 1 {
			f(a)
			return
		}
		for i := 0; i < k-1; i++ {
			gen(k - 1)
			if k%2 == 0 {
				a[i], a[k-1] = a[k-1], a[i]
			} else {
				a[0], a[k-1] = a[k-1], a[0]
			}
		}
		gen(k - 1)
	}
	gen(n)
}
