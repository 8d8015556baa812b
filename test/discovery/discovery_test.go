package discovery_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/riverconfig"
)

// PlantEnv names a block whose engine scope the test flips before comparing
// ("EXAMPLE/COMPONENT", e.g. "mg001-passes/discovery.kubernetes.pods"): the
// test must then fail on that block. It shows the comparison can fail.
const PlantEnv = "MODEGUARD_DISCOVERY_PLANT"

// block is one discovery path of one agent's config, in one phase (before
// or after modeguard's fix), with what the agent on each node discovers.
type block struct {
	example, phase, agent string
	p                     path
	rules                 []string // rules that fired on the path's components
	fixes                 []string // those of them whose action is fix
	hostNetwork           bool
	err                   error // why it was not simulated
	specs                 map[string]sdSpec
	bases                 map[string]sdSpec
}

// TestDiscoveryScope runs Prometheus' Kubernetes service discovery for every
// discovery.kubernetes block of the examples (and testdata/variants.yaml),
// before and after modeguard's fix, as the agent's pod on each of three
// nodes would, and checks what riverconfig's scope and the rules say
// against the targets each agent really gets:
//
//   - node-local (the engine's scope): every node sees only its own
//     targets; unless MG002 fires on the block, all of them (at least one
//     when no relabel rule follows);
//   - cluster-wide: some node sees another node's targets;
//   - a block MG001 or MG002 fixed: after the fix, node-local and exactly
//     its node's targets;
//   - constants.hostname without hostNetwork as the node name, or MG002
//     firing on a node-local block: no target at all;
//   - PodSelectorOnly (MG003): every node sees every endpoint of the
//     cluster.
//
// A disagreement fails the test, naming the example, the block and the
// node. PlantEnv flips the engine's scope of one block, to see it fail.
func TestDiscoveryScope(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	began := time.Now()
	ctx := context.Background()
	kubeconfig := startWorld(t)
	t.Logf("control plane up and filled in %s", time.Since(began).Round(time.Millisecond))

	engine, err := policy.New(ctx, policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rv := &review.Reviewer{Engine: engine, Fixer: mutate.Fixer{}}

	bundles := map[string][]manifest.Document{}
	var names []string
	for _, name := range examples.Names() {
		bundles[name] = examples.Load(t, name)
		names = append(names, name)
	}
	data, err := os.ReadFile("testdata/variants.yaml")
	if err != nil {
		t.Fatal(err)
	}
	docs, err := manifest.Parse("testdata/variants.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	bundles["variants"] = docs
	names = append(names, "variants")

	var blocks []*block
	for _, name := range names {
		docs := bundles[name]
		manifest.DefaultNamespace(docs, "default")
		objs := manifest.Objects(docs)
		hasSD := false
		for _, d := range docs {
			hasSD = hasSD || strings.Contains(string(d.Raw), "discovery.kubernetes")
		}
		// The fix path of the CLI's fix: review the bundle, take each
		// object's fixed form.
		res, err := rv.ReviewBundle(ctx, objs, review.Options{Operation: "CHECK"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		fixed := make([]runtime.Object, len(objs))
		for i, o := range objs {
			fixed[i] = o
			if f := res.Fixed(i); f != nil {
				fixed[i] = f
			}
		}
		after, err := rv.ReviewBundle(ctx, fixed, review.Options{Operation: "CHECK"})
		if err != nil {
			t.Fatalf("%s after fix: %v", name, err)
		}
		before, configs := collect(t, name, "before", objs, res.Findings, kubeconfig)
		if hasSD && configs == 0 {
			t.Errorf("%s: has a discovery.kubernetes block but no config of it was found: not covered", name)
		}
		blocks = append(blocks, before...)
		fixedBlocks, _ := collect(t, name, "after", fixed, after.Findings, kubeconfig)
		blocks = append(blocks, fixedBlocks...)
	}

	// Run every distinct discovery at once: each waits for its informers
	// to settle, so one after the other would take minutes.
	results := runAll(t, ctx, blocks)
	t.Logf("%d blocks, %d distinct discoveries, %s in all", len(blocks), len(results), time.Since(began).Round(time.Millisecond))

	// The blocks MG001, or MG002 on a node-local block, fixed: after the
	// fix they must discover exactly their node's targets.
	fixedByRule := map[string]string{}
	for _, b := range blocks {
		if b.phase != "before" {
			continue
		}
		for _, r := range b.fixes {
			if r == "MG001" || r == "MG002" && b.p.fact.Scope == riverconfig.ScopeNodeLocal {
				fixedByRule[b.example+"|"+b.agent+"|"+b.p.name()] = r
			}
		}
	}

	plant := os.Getenv(PlantEnv)
	var summary []string
	for _, b := range blocks {
		id := fmt.Sprintf("%s [%s] %s %s", b.example, b.phase, b.agent, b.p.name())
		if b.err != nil {
			t.Errorf("%s: not simulated: %v", id, b.err)
			continue
		}
		scope := b.p.fact.Scope
		if plant != "" && plant == b.example+"/"+b.p.source {
			if scope == riverconfig.ScopeNodeLocal {
				scope = riverconfig.ScopeClusterWide
			} else {
				scope = riverconfig.ScopeNodeLocal
			}
			t.Logf("%s: engine scope planted: %s instead of %s", id, scope, b.p.fact.Scope)
		}
		seen := map[string][]target{}
		own := map[string][]target{}
		all := map[string]bool{}
		for _, n := range nodes {
			seen[n] = results[b.specs[n].key()]
			for _, tg := range results[b.bases[n].key()] {
				all[tg.ID] = true
				if tg.Node == n {
					own[n] = append(own[n], tg)
				}
			}
		}
		observed := observe(seen)
		var lines []string
		for _, n := range nodes {
			lines = append(lines, fmt.Sprintf("    %-9s %2d: %s", n, len(seen[n]), ids(seen[n])))
		}
		// Every block's targets with -v; without it, a failure shows
		// the failing blocks, not the hundred others.
		if testing.Verbose() {
			t.Logf("%s\n  engine: %s (%s)%s; observed: %s; rules: %s\n%s", id, scope, b.p.fact.Reason,
				flag(b.p.fact.PodSelectorOnly, " podSelectorOnly"), observed, strings.Join(b.rules, ",")+flag(len(b.rules) == 0, "none"), strings.Join(lines, "\n"))
		}
		summary = append(summary, fmt.Sprintf("%-28s %-6s %-86s %-12s %-12s %s", b.example, b.phase, b.p.source+strings.Join(append([]string{""}, b.p.via...), "→"),
			scope, observed, counts(seen)))

		fail := func(format string, a ...any) {
			t.Errorf("%s: %s", id, fmt.Sprintf(format, a...))
		}
		switch scope {
		case riverconfig.ScopeNodeLocal:
			for _, n := range nodes {
				if o := others(seen[n], n); len(o) > 0 {
					fail("engine says node-local, but the agent on %s gets other nodes' targets: %s", n, ids(o))
				}
			}
			if slices.Contains(b.rules, "MG002") {
				break
			}
			for _, n := range nodes {
				// Without relabel rules (that may keep fewer), every
				// node has targets of every role in the test world.
				if len(own[n]) == 0 && len(b.p.via) == 0 {
					fail("node %s has no target of this role: the test world does not exercise the block", n)
				} else if ids(seen[n]) != ids(own[n]) {
					fail("engine says node-local and MG002 accepts the node name, but the agent on %s gets %s, want all of its node's: %s", n, ids(seen[n]), ids(own[n]))
				}
			}
		case riverconfig.ScopeClusterWide:
			if observed == "node-local" || observed == "none" {
				fail("engine says cluster-wide, but the agent on each node (%s) gets only that node's targets (%s; per node %s)", strings.Join(nodes, ", "), observed, counts(seen))
			}
		}
		if r := fixedByRule[b.example+"|"+b.agent+"|"+b.p.name()]; r != "" && b.phase == "after" {
			if scope != riverconfig.ScopeNodeLocal {
				fail("%s fired before the fix, but after it the engine says %s", r, scope)
			}
			for _, n := range nodes {
				// Relabel rules downstream may keep fewer, even none.
				if len(seen[n]) == 0 && len(b.p.via) == 0 || ids(seen[n]) != ids(own[n]) {
					fail("%s fixed: the agent on %s gets %s, want exactly its node's: %s", r, n, ids(seen[n]), ids(own[n]))
				}
			}
		}
		// constants.hostname is the pod's name without hostNetwork: a
		// filter on it finds nothing, whatever the rules say.
		if nn := b.p.fact.NodeName; nn != nil && nn.Kind == riverconfig.NodeNameHostname && !b.hostNetwork && b.p.fact.LocalBy != "" {
			for _, n := range nodes {
				if len(seen[n]) > 0 {
					fail("the node name is constants.hostname (the pod's name), but the agent on %s discovers %s", n, ids(seen[n]))
				}
			}
		}
		// MG002: the name that should be the node's is not, so a node-local
		// discovery filtering on it finds nothing.
		if slices.Contains(b.rules, "MG002") && scope == riverconfig.ScopeNodeLocal {
			for _, n := range nodes {
				if len(seen[n]) > 0 {
					fail("MG002 says the node name is wrong, but the agent on %s discovers %s", n, ids(seen[n]))
				}
			}
		}
		if b.p.fact.PodSelectorOnly {
			for _, n := range nodes {
				if len(seen[n]) != len(all) || len(all) == 0 {
					fail("MG003: a pod selector does not filter endpoints, so the agent on %s should get every endpoint of the cluster (%d), got %d: %s", n, len(all), len(seen[n]), ids(seen[n]))
				}
			}
		}
	}
	sort.Strings(summary)
	// Printed, not logged: make test shows it without -v (go test in the
	// package's directory streams the test's output).
	fmt.Printf("discovery scope: %d blocks in %s (example, phase, path, engine scope, observed, targets per node %s):\n%s\n",
		len(summary), time.Since(began).Round(time.Millisecond), strings.Join(nodes, "/"), strings.Join(summary, "\n"))
}

func flag(b bool, s string) string {
	if b {
		return s
	}
	return ""
}

// observe names what the agents got: "none" (no target anywhere),
// "node-local" (each only its node's) or "cluster-wide" (some node gets
// another's, or a target of no node).
func observe(seen map[string][]target) string {
	total, foreign := 0, 0
	for n, ts := range seen {
		total += len(ts)
		foreign += len(others(ts, n))
	}
	switch {
	case total == 0:
		return "none"
	case foreign == 0:
		return "node-local"
	}
	return "cluster-wide"
}

// others are the targets of ts that are not node's (or of no node).
func others(ts []target, node string) []target {
	var out []target
	for _, t := range ts {
		if t.Node != node {
			out = append(out, t)
		}
	}
	return out
}

func counts(seen map[string][]target) string {
	var c []string
	for _, n := range nodes {
		c = append(c, fmt.Sprint(len(seen[n])))
	}
	return strings.Join(c, "/")
}

// collect lists the blocks of a bundle's agents, with the discovery each
// node's agent runs and its unfiltered form, and how many configs it read.
func collect(t *testing.T, example, phase string, objs []runtime.Object, findings []review.Finding, kubeconfig string) ([]*block, int) {
	t.Helper()
	var out []*block
	acs := agentConfigs(objs)
	for _, ac := range acs {
		if len(ac.facts.Errors) > 0 {
			t.Logf("%s [%s] %s: does not parse (%s): no block to run", example, phase, ac.key, ac.facts.Errors[0].Message)
			continue
		}
		ps, unreached := paths(ac.facts)
		for _, u := range unreached {
			t.Logf("%s [%s] %s: %s reaches no collector: not run", example, phase, ac.key, u)
		}
		for _, p := range ps {
			b := &block{example: example, phase: phase, p: p, specs: map[string]sdSpec{}, bases: map[string]sdSpec{}, hostNetwork: ac.wl.HostNetwork,
				agent: fmt.Sprintf("%s %s/%s %s:", ac.wl.Kind, ac.wl.Namespace, ac.wl.Name, ac.key)}
			for _, f := range findings {
				if f.Component == p.source || slices.Contains(p.via, f.Component) {
					if !slices.Contains(b.rules, f.Rule.ID) {
						b.rules = append(b.rules, f.Rule.ID)
					}
					if f.Action == policy.ActionFix && !slices.Contains(b.fixes, f.Rule.ID) {
						b.fixes = append(b.fixes, f.Rule.ID)
					}
				}
			}
			sort.Strings(b.rules)
			for _, n := range nodes {
				s, err := agentEnv{wl: ac.wl, node: n}.spec(ac.facts, p, kubeconfig)
				if err != nil {
					b.err = err
					break
				}
				b.specs[n], b.bases[n] = s, unfiltered(s, n)
			}
			out = append(out, b)
		}
	}
	return out, len(acs)
}

// runAll runs each distinct discovery of the blocks once, several at a time.
func runAll(t *testing.T, ctx context.Context, blocks []*block) map[string][]target {
	t.Helper()
	specs := map[string]sdSpec{}
	for _, b := range blocks {
		for _, m := range []map[string]sdSpec{b.specs, b.bases} {
			for _, s := range m {
				specs[s.key()] = s
			}
		}
	}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		out = map[string][]target{}
		sem = make(chan struct{}, 24)
	)
	for k, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ts, err := runSD(ctx, s)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("discovery %s: %v", k, err)
			}
			out[k] = ts
		}()
	}
	wg.Wait()
	return out
}
