package discovery_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/grafana/river/parser"
	"github.com/grafana/river/vm"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

// agentConfig is one config file an agent workload reads, with the
// workload's facts (its env) and the config's facts.
type agentConfig struct {
	wl    *workload.Facts
	key   string
	facts *riverconfig.Facts
}

// agentConfigs finds, in a bundle of objects, every agent workload that
// reads a ConfigMap of the bundle, and parses each config file it reads.
func agentConfigs(objs []runtime.Object) []agentConfig {
	var out []agentConfig
	read := map[string]bool{}
	for _, o := range objs {
		wl, err := workload.FromObject(o, nil)
		if err != nil || wl == nil || !wl.Agent || wl.Config == nil || wl.Config.ConfigMap == "" {
			continue
		}
		var cm *corev1.ConfigMap
		for _, c := range objs {
			if c, ok := c.(*corev1.ConfigMap); ok && c.Name == wl.Config.ConfigMap && c.Namespace == wl.Namespace {
				cm = c
			}
		}
		// An Alloy object's inline config is the ConfigMap its chart
		// renders.
		if a, ok := o.(*workload.Alloy); ok && cm == nil {
			cm = workload.RenderAlloy(a).ConfigMap
		}
		if cm == nil {
			continue
		}
		read[cm.Namespace+"/"+cm.Name] = true
		keys := wl.Config.Keys
		if wl.Config.Directory {
			keys = configKeys(cm)
		}
		for _, k := range keys {
			if src, ok := cm.Data[k]; ok {
				out = append(out, agentConfig{wl: wl, key: k, facts: riverconfig.Parse(k, []byte(src))})
			}
		}
	}
	// A ConfigMap no workload of the bundle reads (its mode given by an
	// annotation) runs in an agent whose env sets nothing.
	for _, o := range objs {
		cm, ok := o.(*corev1.ConfigMap)
		if !ok || read[cm.Namespace+"/"+cm.Name] {
			continue
		}
		wl := &workload.Facts{Kind: "ConfigMap", Namespace: cm.Namespace, Name: "alloy"}
		for _, k := range configKeys(cm) {
			out = append(out, agentConfig{wl: wl, key: k, facts: riverconfig.Parse(k, []byte(cm.Data[k]))})
		}
	}
	return out
}

// configKeys are the keys of cm holding an Agent or Alloy config, sorted.
func configKeys(cm *corev1.ConfigMap) []string {
	var keys []string
	for k := range cm.Data {
		if strings.HasSuffix(k, ".alloy") || strings.HasSuffix(k, ".river") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// path is one chain from a discovery.kubernetes to the collectors it feeds,
// with the scope riverconfig gives it.
type path struct {
	source     string   // the discovery.kubernetes component's id
	via        []string // what lies between, source side first
	collectors []string
	fact       riverconfig.Source
}

func (p path) name() string {
	parts := append([]string{p.source}, p.via...)
	return strings.Join(parts, " → ") + " → " + strings.Join(p.collectors, ", ")
}

// paths lists the distinct discovery.kubernetes paths of a config, and the
// discovery.kubernetes components that reach no collector.
func paths(f *riverconfig.Facts) (out []path, unreached []string) {
	seen := map[string]int{}
	reached := map[string]bool{}
	for _, c := range f.Collectors {
		for _, s := range c.Sources {
			if s.Kind != "discovery.kubernetes" {
				continue
			}
			reached[s.Component] = true
			k := s.Component + "|" + strings.Join(s.Via, "|")
			if i, ok := seen[k]; ok {
				out[i].collectors = append(out[i].collectors, c.Component)
				continue
			}
			seen[k] = len(out)
			out = append(out, path{source: s.Component, via: s.Via, collectors: []string{c.Component}, fact: s})
		}
	}
	for _, c := range f.Components {
		if c.Name == "discovery.kubernetes" && !reached[c.ID] {
			unreached = append(unreached, c.ID)
		}
	}
	return out, unreached
}

func component(f *riverconfig.Facts, id string) *riverconfig.Component {
	for i := range f.Components {
		if f.Components[i].ID == id {
			return &f.Components[i]
		}
	}
	return nil
}

// agentEnv is what a River expression sees in the agent's container on a
// node: the workload's env, HOSTNAME as the container runtime sets it (the
// pod's name, the node's with hostNetwork) when the env does not, and
// constants.hostname, which is os.Hostname() (docs/domain.md, "The node
// name").
type agentEnv struct {
	wl   *workload.Facts
	node string
}

func (e agentEnv) podName() string { return agentPod(e.wl.Name, e.node) }

func (e agentEnv) hostname() string {
	if e.wl.HostNetwork {
		return e.node
	}
	return e.podName()
}

func (e agentEnv) getenv(name string) string {
	v, ok := e.wl.Env[name]
	if !ok {
		if name == "HOSTNAME" {
			return e.hostname()
		}
		return ""
	}
	switch v.Source {
	case workload.EnvLiteral:
		return v.Value
	case workload.EnvFieldRef:
		switch v.FieldRef {
		case "spec.nodeName":
			return e.node
		case "metadata.name":
			return e.podName()
		case "metadata.namespace":
			return e.wl.Namespace
		}
	}
	return ""
}

// eval evaluates an attribute with the agent's env, using River's own
// evaluator: env, sys.env and constants are the agent's, the rest of the
// standard library (coalesce, concat, format) River's.
func (e agentEnv) eval(v riverconfig.Value, out any) error {
	expr, err := parser.ParseExpression(v.Expr)
	if err != nil {
		return fmt.Errorf("parsing %s: %w", v.Expr, err)
	}
	scope := &vm.Scope{Variables: map[string]any{
		"env":       e.getenv,
		"sys":       map[string]any{"env": e.getenv},
		"constants": map[string]string{"hostname": e.hostname(), "os": "linux", "arch": "amd64"},
	}}
	if err := vm.New(expr).Evaluate(scope, out); err != nil {
		return fmt.Errorf("evaluating %s: %w", v.Expr, err)
	}
	return nil
}

func (e agentEnv) str(attrs map[string]riverconfig.Value, name string) (string, error) {
	v, ok := attrs[name]
	if !ok {
		return "", nil
	}
	var s string
	err := e.eval(v, &s)
	return s, err
}

// spec translates a discovery.kubernetes component and the discovery.relabel
// rules of the path into Prometheus' terms, as the agent on the node sees
// them (Alloy's discovery.kubernetes converts its arguments the same way).
func (e agentEnv) spec(f *riverconfig.Facts, p path, kubeconfig string) (sdSpec, error) {
	c := component(f, p.source)
	if c == nil {
		return sdSpec{}, fmt.Errorf("no component %s", p.source)
	}
	s := sdSpec{Kubeconfig: kubeconfig}
	var err error
	if s.Role, err = e.str(c.Attributes, "role"); err != nil {
		return s, err
	}
	for _, b := range c.Blocks {
		switch b.Name {
		case "selectors":
			var sel selSpec
			for name, dst := range map[string]*string{"role": &sel.Role, "label": &sel.Label, "field": &sel.Field} {
				if *dst, err = e.str(b.Attributes, name); err != nil {
					return s, err
				}
			}
			s.Selectors = append(s.Selectors, sel)
		case "namespaces":
			ns := &nsSpec{}
			if v, ok := b.Attributes["names"]; ok {
				if err := e.eval(v, &ns.Names); err != nil {
					return s, err
				}
			}
			if v, ok := b.Attributes["own_namespace"]; ok {
				var own bool
				if err := e.eval(v, &own); err != nil {
					return s, err
				}
				// The own namespace is read from the service account's
				// files in a pod; out of cluster it is named here.
				if own {
					ns.Names = append(ns.Names, e.wl.Namespace)
				}
			}
			s.Namespaces = ns
		case "attach_metadata":
			if v, ok := b.Attributes["node"]; ok {
				s.Attach = &attachSpec{}
				if err := e.eval(v, &s.Attach.Node); err != nil {
					return s, err
				}
			}
		}
	}
	for _, id := range p.via {
		r := component(f, id)
		switch {
		case strings.HasPrefix(id, "foreach."):
			// foreach runs its template once per target: a
			// discovery.relabel in it relabels that target as it
			// would the list.
			continue
		case r != nil && r.Name == "local.file_match":
			// It keeps every target, adding the files its
			// __path__ matches on this node: the discovery's
			// targets are what is compared.
			continue
		case r == nil || r.Name != "discovery.relabel":
			return s, fmt.Errorf("%s on the path is not a discovery.relabel, local.file_match or foreach: not simulated", id)
		}
		for _, b := range r.Blocks {
			if b.Name != "rule" {
				continue
			}
			rule := relabelSpec{}
			for name, v := range b.Attributes {
				switch name {
				case "source_labels":
					var l []string
					if err := e.eval(v, &l); err != nil {
						return s, err
					}
					rule[name] = l
				case "modulus":
					var m uint64
					if err := e.eval(v, &m); err != nil {
						return s, err
					}
					rule[name] = m
				default:
					var str string
					if err := e.eval(v, &str); err != nil {
						return s, err
					}
					rule[name] = str
				}
			}
			s.Relabel = append(s.Relabel, rule)
		}
	}
	return s, nil
}

// Meta labels that name a target's node, by the role whose targets carry
// them (riverconfig's nodeNameLabels).
var nodeLabels = map[string][]string{
	"pod":           {"__meta_kubernetes_pod_node_name"},
	"node":          {"__meta_kubernetes_node_name"},
	"endpoints":     {"__meta_kubernetes_endpoint_node_name", "__meta_kubernetes_pod_node_name"},
	"endpointslice": {"__meta_kubernetes_endpointslice_endpoint_node_name", "__meta_kubernetes_pod_node_name"},
}

// unfiltered is spec without what limits it to node: the field selector
// requirements naming node, and the relabel keeps of node on a node-name
// label. Its targets of node are what a node-local discovery must yield
// there; all of its targets, what a cluster-wide one yields.
func unfiltered(s sdSpec, node string) sdSpec {
	u := s
	u.Selectors = nil
	for _, sel := range s.Selectors {
		var keep []string
		for _, req := range strings.Split(sel.Field, ",") {
			if req != "" && req != "spec.nodeName="+node && req != "metadata.name="+node {
				keep = append(keep, req)
			}
		}
		sel.Field = strings.Join(keep, ",")
		if sel.Field != "" || sel.Label != "" {
			u.Selectors = append(u.Selectors, sel)
		}
	}
	u.Relabel = nil
	for _, r := range s.Relabel {
		src, _ := r["source_labels"].([]string)
		if a, _ := r["action"].(string); strings.EqualFold(a, "keep") && len(src) == 1 && slices.Contains(nodeLabels[s.Role], src[0]) && r["regex"] == node {
			continue
		}
		u.Relabel = append(u.Relabel, r)
	}
	return u
}
