package discovery_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/discovery"
	"github.com/prometheus/prometheus/discovery/kubernetes"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"go.yaml.in/yaml/v2"
)

// sdSpec is what one agent's discovery.kubernetes is, in Prometheus' YAML
// terms: it goes through kubernetes.SDConfig's own UnmarshalYAML, so its
// checks (roles, selector roles per role, selector syntax) apply.
type sdSpec struct {
	Role       string        `yaml:"role"`
	Namespaces *nsSpec       `yaml:"namespaces,omitempty"`
	Selectors  []selSpec     `yaml:"selectors,omitempty"`
	Attach     *attachSpec   `yaml:"attach_metadata,omitempty"`
	Kubeconfig string        `yaml:"kubeconfig_file"`
	Relabel    []relabelSpec `yaml:"-"`
}

type nsSpec struct {
	OwnNamespace bool     `yaml:"own_namespace,omitempty"`
	Names        []string `yaml:"names,omitempty"`
}

type selSpec struct {
	Role  string `yaml:"role"`
	Label string `yaml:"label,omitempty"`
	Field string `yaml:"field,omitempty"`
}

type attachSpec struct {
	Node bool `yaml:"node,omitempty"`
}

// relabelSpec is one discovery.relabel rule, in Prometheus' YAML terms
// (unset fields take relabel.DefaultRelabelConfig's values).
type relabelSpec map[string]any

// key identifies a discovery run: the same spec is run once.
func (s sdSpec) key() string {
	b, _ := yaml.Marshal(struct {
		S sdSpec
		R []relabelSpec
	}{s, s.Relabel})
	return string(b)
}

// target is one discovered target: its identity and the node it belongs to
// (from the meta labels of its role), with its labels as discovered.
type target struct {
	ID, Node string
}

// metaNode are the meta labels naming a target's node, by role.
var metaNode = []model.LabelName{
	"__meta_kubernetes_pod_node_name",
	"__meta_kubernetes_node_name",
	"__meta_kubernetes_endpoint_node_name",
	"__meta_kubernetes_endpointslice_endpoint_node_name",
}

func toTarget(ls model.LabelSet) target {
	t := target{}
	for _, l := range metaNode {
		if v := ls[l]; v != "" {
			t.Node = string(v)
			break
		}
	}
	what := ls["__meta_kubernetes_pod_name"]
	if what == "" {
		what = ls["__meta_kubernetes_service_name"]
	}
	if what == "" {
		what = ls["__meta_kubernetes_node_name"]
	}
	ns := ls["__meta_kubernetes_namespace"]
	if ns != "" {
		ns += "/"
	}
	t.ID = fmt.Sprintf("%s%s@%s", ns, what, ls[model.AddressLabel])
	return t
}

// runSD runs Prometheus' Kubernetes discovery for spec until it has been
// quiet for a while (the world does not change), applies the relabel rules
// with Prometheus' relabel package, and returns the targets kept, sorted.
func runSD(ctx context.Context, spec sdSpec) ([]target, error) {
	text, err := yaml.Marshal(spec)
	if err != nil {
		return nil, err
	}
	var cfg kubernetes.SDConfig
	if err := yaml.UnmarshalStrict(text, &cfg); err != nil {
		return nil, fmt.Errorf("kubernetes SD config:\n%s: %w", text, err)
	}
	rules, err := relabelConfigs(spec.Relabel)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	rmi := discovery.NewRefreshMetrics(reg)
	metrics := cfg.NewDiscovererMetrics(reg, rmi)
	if err := metrics.Register(); err != nil {
		return nil, err
	}
	defer metrics.Unregister()
	d, err := cfg.NewDiscoverer(discovery.DiscovererOptions{Metrics: metrics})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ch := make(chan []*targetgroup.Group)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); d.Run(ctx, ch) }()
	groups := map[string]*targetgroup.Group{}
	// The informers list everything at start: the groups arrive within a
	// moment. Quiet for 2 s after at least 4 s means done (2 shared
	// cores: an informer may take a second or two to list).
	start, last := time.Now(), time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case tgs := <-ch:
			for _, g := range tgs {
				if g != nil {
					groups[g.Source] = g
				}
			}
			last = time.Now()
		case <-tick.C:
			if time.Since(start) > 4*time.Second && time.Since(last) > 2*time.Second {
				break loop
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("discovery did not settle: %w", ctx.Err())
		}
	}
	cancel()
	go func() {
		for range ch { // drain until Run returns
		}
	}()
	wg.Wait()
	close(ch)

	var out []target
	for _, g := range groups {
		for _, t := range g.Targets {
			ls := g.Labels.Merge(t)
			lb := labels.NewBuilder(labels.FromMap(toStrings(ls)))
			if relabel.ProcessBuilder(lb, rules...) {
				out = append(out, toTarget(ls))
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func toStrings(ls model.LabelSet) map[string]string {
	m := make(map[string]string, len(ls))
	for k, v := range ls {
		m[string(k)] = string(v)
	}
	return m
}

// relabelConfigs reads rules through relabel.Config's UnmarshalYAML (its
// defaults are Alloy's) and validates them.
func relabelConfigs(rules []relabelSpec) ([]*relabel.Config, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	text, err := yaml.Marshal(rules)
	if err != nil {
		return nil, err
	}
	var cfgs []*relabel.Config
	if err := yaml.UnmarshalStrict(text, &cfgs); err != nil {
		return nil, fmt.Errorf("relabel rules:\n%s: %w", text, err)
	}
	for _, c := range cfgs {
		c.NameValidationScheme = model.UTF8Validation
		if err := c.Validate(model.UTF8Validation); err != nil {
			return nil, fmt.Errorf("relabel rule %v: %w", c, err)
		}
	}
	return cfgs, nil
}

// ids lists the targets' identities.
func ids(ts []target) string {
	if len(ts) == 0 {
		return "(none)"
	}
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.ID
	}
	return strings.Join(s, " ")
}
