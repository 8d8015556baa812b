package mutate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

// Fix names, as the rules in policy/rules ask for them (fix.name of a
// violation, custom.fix of a rule's METADATA). Each is in the registry
// (Fixes), with its target, its parameters and what it does.
const (
	FixNodeSelector       = "node-selector"
	FixNodeNameExpression = "node-name-expression"
	FixClusteringBlock    = "clustering-block"
	FixNodeNameEnv        = "node-name-env"
	FixClusterFlags       = "cluster-flags"
)

// Fix is one fix the rules may ask for by name: what it edits, the
// parameters it reads, and how it applies.
type Fix struct {
	Name string
	// Target is what the fix edits: policy.TargetConfig, the text of one
	// ConfigMap key (a River or Alloy file, see Config), or
	// policy.TargetWorkload, the agent container of a workload or Pod (see
	// Workload).
	Target string
	// Doc says what the fix does.
	Doc string
	// Params are the parameters the fix reads, in the order they are
	// checked. Every parameter is a non-empty string.
	Params []Param

	// config applies a config fix to one component: every component whose
	// id is the "component" parameter gets it.
	config func(e *editor, c *riverconfig.Component, p params) error
	// workload applies a workload fix to the agent container c, which
	// facts.Container describes; where names the container in errors.
	workload func(c *corev1.Container, facts *workload.Facts, p params, where string) error
	// alloy applies a workload fix to an Alloy object: to its values, which
	// the alloy-operator renders the workload from (nil: not applicable).
	alloy func(a *workload.Alloy, p params) error
}

// Param is one parameter of a fix.
type Param struct {
	Name string
	Doc  string
	// Optional parameters may be left out.
	Optional bool
	// check says why a value is not accepted, "" when it is; nil accepts
	// any non-empty string.
	check func(v string) string
}

// The parameters several fixes share.
var (
	// paramFile is checked against the file being fixed (planConfig).
	paramFile = Param{Name: "file", Optional: true,
		Doc: "the ConfigMap key (file name) the fix is for; when given, it must be the one being fixed"}
	paramComponent = Param{Name: "component",
		Doc: "the id of the component to fix; every component of that id (in foreach or declare bodies) is fixed"}
	paramEnvFunc = Param{Name: "envFunc",
		Doc: `the env lookup the node-name expression calls: "env" (Grafana Agent) or "sys.env" (Alloy)`,
		check: func(v string) string {
			if v != "env" && v != "sys.env" {
				return fmt.Sprintf("envFunc %q is neither env nor sys.env", v)
			}
			return ""
		}}
	paramVar = Param{Name: "var",
		Doc: "the env var the node-name expression reads: coalesce(envFunc(var), constants.hostname)"}
)

// registry holds every fix; Fixes and Lookup read it.
var registry = []Fix{
	{
		Name:   FixNodeSelector,
		Target: policy.TargetConfig,
		Doc: `In a discovery.kubernetes component, the selectors block of the role gets field = "spec.nodeName=" + ` +
			`coalesce(envFunc("var"), constants.hostname) ("metadata.name=" for role node). A selectors block of the ` +
			`role (or without a role) gets the field; an existing literal field is combined with a comma; a field ` +
			`that already names the node is left alone; a non-literal field is not changed (not applicable). ` +
			`Otherwise a new selectors block is added (a block of another role stays).`,
		Params: []Param{paramFile, paramComponent, paramEnvFunc, paramVar, {
			Name: "role",
			Doc:  `the selector role: "pod" (field spec.nodeName) or "node" (field metadata.name)`,
			check: func(v string) string {
				if nodePrefix[v] == "" {
					return fmt.Sprintf("role %q has no node field selector (pod or node)", v)
				}
				return ""
			},
		}},
		config: func(e *editor, c *riverconfig.Component, p params) error {
			return e.nodeSelector(c, p["role"], p.nodeExpr())
		},
	},
	{
		Name:   FixNodeNameExpression,
		Target: policy.TargetConfig,
		Doc:    `Every bare constants.hostname node-name expression of the component becomes coalesce(envFunc("var"), constants.hostname).`,
		Params: []Param{paramFile, paramComponent, paramEnvFunc, paramVar},
		config: func(e *editor, c *riverconfig.Component, p params) error {
			return e.nodeNameExpression(c, p.nodeExpr())
		},
	},
	{
		Name:   FixClusteringBlock,
		Target: policy.TargetConfig,
		Doc: `The component says clustering { enabled = true }: the block is added, or completed, or flipped from a ` +
			`literal false; a non-literal enabled, or a component without clustering support, is not applicable.`,
		Params: []Param{paramFile, paramComponent},
		config: func(e *editor, c *riverconfig.Component, _ params) error {
			return e.clusteringBlock(c)
		},
	},
	{
		Name:   FixNodeNameEnv,
		Target: policy.TargetWorkload,
		Doc: `The agent container's env entry var comes from fieldRef spec.nodeName. Existing entries of that name ` +
			`(a literal or any other source) are changed where they stand; otherwise one is appended. On an Alloy ` +
			`object the entry goes to spec.alloy.extraEnv (HOSTNAME and K8S_NODE_NAME the chart always sets so).`,
		Params: []Param{{
			Name: "var",
			Doc:  "the env var to set from the node name",
			check: func(v string) string {
				if strings.Contains(v, "=") {
					return fmt.Sprintf("%q is not an env var name", v)
				}
				return ""
			},
		}},
		workload: func(c *corev1.Container, _ *workload.Facts, p params, _ string) error {
			setNodeNameEnv(c, p["var"])
			return nil
		},
		alloy: func(a *workload.Alloy, p params) error { return workload.SetAlloyNodeNameEnv(a, p["var"]) },
	},
	{
		Name:   FixClusterFlags,
		Target: policy.TargetWorkload,
		Doc: `The agent container runs with --cluster.enabled=true and --cluster.join-addresses=<joinAddresses>, ` +
			`written in the command or args field the flags are written in, in the flag style they are written in. ` +
			`Flags already present are changed in place (--cluster.enabled=false becomes =true), never duplicated. ` +
			`A join address or discover-peers flag already set is a peer source and stays as it is (the two are ` +
			`mutually exclusive). A container setting neither command nor args is not applicable: writing args ` +
			`would replace the image's default command. On an Alloy object it sets spec.alloy.clustering.enabled: true ` +
			`(the chart then writes both flags, joining its <fullname>-cluster Service).`,
		Params: []Param{{Name: "joinAddresses", Doc: "the peers to join: a StatefulSet's governing Service"}},
		workload: func(c *corev1.Container, facts *workload.Facts, p params, where string) error {
			return clusterFlags(c, facts.Container, p["joinAddresses"], where)
		},
		// The chart writes the flags from spec.alloy.clustering.enabled, with
		// its own headless Service as the peers: joinAddresses is not used.
		alloy: func(a *workload.Alloy, _ params) error { workload.SetAlloyClustering(a); return nil },
	},
}

// Fixes lists every fix, sorted by name.
func Fixes() []Fix {
	out := slices.Clone(registry)
	slices.SortFunc(out, func(a, b Fix) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Lookup returns the fix of that name.
func Lookup(name string) (Fix, bool) {
	for _, f := range registry {
		if f.Name == name {
			return f, true
		}
	}
	return Fix{}, false
}

// lookupFor returns the fix a request names when it edits target, and
// says why not otherwise (where: what the caller was asked to fix).
func lookupFor(req policy.FixRequest, target, where string) (Fix, error) {
	f, ok := Lookup(req.Name)
	switch {
	case !ok:
		return Fix{}, notApplicablef("unknown fix %q", req.Name)
	case f.Target != target:
		return Fix{}, notApplicablef("fix %s changes %s, not %s", f.Name, targetNoun[f.Target], where)
	}
	return f, nil
}

// targetNoun names a target in errors.
var targetNoun = map[string]string{
	policy.TargetConfig:   "a config",
	policy.TargetWorkload: "a workload",
}

// params are a fix request's parameters, checked.
type params map[string]string

// params checks the request's parameters against the fix's, in order.
func (f Fix) params(req policy.FixRequest) (params, error) {
	p := make(params, len(f.Params))
	for _, d := range f.Params {
		if _, ok := req.Params[d.Name]; !ok && d.Optional {
			continue
		}
		v, err := stringParam(req, d.Name)
		if err != nil {
			return nil, err
		}
		if d.check != nil {
			if why := d.check(v); why != "" {
				return nil, notApplicablef("fix %s: %s", f.Name, why)
			}
		}
		p[d.Name] = v
	}
	return p, nil
}

// nodeExpr is the node-name expression the envFunc and var parameters
// make: coalesce(sys.env("HOSTNAME"), constants.hostname).
func (p params) nodeExpr() string {
	return fmt.Sprintf("coalesce(%s(%s), constants.hostname)", p["envFunc"], strconv.Quote(p["var"]))
}
