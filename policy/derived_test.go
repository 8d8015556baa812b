package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

// derivedWorkloads are the workload facts the derived facts depend on:
// none, flags unknown, clustered or not, node-name env vars, hostNetwork.
func derivedWorkloads() map[string]*workload.Facts {
	ds := func(f func(w *workload.Facts)) *workload.Facts {
		w := &workload.Facts{Kind: "DaemonSet", Name: "alloy", Mode: "daemonset", NodeNameEnv: []string{"HOSTNAME"},
			Run: &workload.Run{}}
		f(w)
		return w
	}
	return map[string]*workload.Facts{
		"none":          nil,
		"flags unknown": ds(func(w *workload.Facts) { w.Run = nil }),
		"plain":         ds(func(*workload.Facts) {}),
		"clustered":     ds(func(w *workload.Facts) { w.Run.Cluster = workload.Cluster{Enabled: true, JoinAddresses: []string{"a"}} }),
		"discover peers": ds(func(w *workload.Facts) {
			w.Run.Cluster = workload.Cluster{Enabled: true, DiscoverPeers: "provider=k8s"}
		}),
		"enabled no peer": ds(func(w *workload.Facts) { w.Run.Cluster = workload.Cluster{Enabled: true} }),
		"NODE_NAME":       ds(func(w *workload.Facts) { w.NodeNameEnv = []string{"NODE_NAME", "B"} }),
		"no node env":     ds(func(w *workload.Facts) { w.NodeNameEnv = nil }),
		"hostNetwork":     ds(func(w *workload.Facts) { w.HostNetwork = true; w.NodeNameEnv = nil }),
		"statefulset":     ds(func(w *workload.Facts) { w.Kind, w.Mode = "StatefulSet", "statefulset" }),
		"alloy":           ds(func(w *workload.Facts) { w.Kind, w.Alloy = "Alloy", &workload.AlloyFacts{Fullname: "logs-alloy"} }),
		// Claim volumes (Derived.ClaimVolumes), two that differ only there.
		"claim a": ds(func(w *workload.Facts) {
			w.Volumes = []workload.Volume{{Name: "data", Type: workload.VolumePVC, ClaimName: "a"}, {Name: "config", Type: workload.VolumeConfigMap}}
		}),
		"claim b": ds(func(w *workload.Facts) {
			w.Volumes = []workload.Volume{{Name: "data", Type: workload.VolumePVC, ClaimName: "b"}}
		}),
		"alloy clustered": ds(func(w *workload.Facts) {
			w.Kind, w.Alloy = "Alloy", &workload.AlloyFacts{Fullname: "logs-alloy"}
			w.Run.Cluster = workload.Cluster{Enabled: true, JoinAddresses: []string{"logs-alloy-cluster"}}
		}),
	}
}

// TestDerivedMatchesRego: the rules decide the same from the facts Go
// derives (input.derived) as from those lib derives in Rego when an input
// has none (Rego tests' inputs), over every River file of the repository's
// test data and workloads that change each derived fact. The Rego tests
// check lib's derivation; this ties Go's to it.
func TestDerivedMatchesRego(t *testing.T) {
	t.Parallel()
	var paths []string
	for _, g := range []string{"../riverconfig/testdata/*/*.alloy", "../riverconfig/testdata/*/*.river", "../mutate/testdata/*/*.alloy", "../mutate/testdata/*/*.river"} {
		m, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	if len(paths) < 50 {
		t.Fatalf("found %d River files, want at least 50", len(paths))
	}
	e, err := New(context.Background(), Options{FileCacheEntries: -1, MemoEntries: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var compared, found int
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		facts := riverconfig.Parse(filepath.Base(p), src)
		for name, w := range derivedWorkloads() {
			mode := "daemonset"
			if w != nil {
				mode = w.Mode
			}
			in := &Input{Subject: Subject{Kind: "ConfigMap", Namespace: "ns", Name: "alloy", Operation: "CHECK"},
				Mode: mode, Workload: w, Config: &Config{Namespace: "ns", Name: "alloy", Files: []*riverconfig.Facts{facts}}}
			v, err := ToValue(in)
			if err != nil {
				t.Fatal(err)
			}
			withGo, err := e.EvaluateValue(ctx, v)
			if err != nil {
				t.Fatal(err)
			}
			obj := v.(ast.Object)
			without := ast.NewObject()
			obj.Foreach(func(k, x *ast.Term) {
				if k.Value.Compare(ast.String("derived")) != 0 {
					without.Insert(k, x)
				}
			})
			withRego, err := e.EvaluateValue(ctx, without)
			if err != nil {
				t.Fatal(err)
			}
			got, want := violationsJSON(t, withGo), violationsJSON(t, withRego)
			if got != want {
				t.Errorf("%s, workload %s: with input.derived got\n%s\nwant (lib's derivation)\n%s", p, name, got, want)
			}
			compared++
			found += len(withGo)
		}
	}
	if found == 0 {
		t.Errorf("compared %d inputs without a single violation: the comparison proves nothing", compared)
	}
}

func violationsJSON(t *testing.T, vs []Violation) string {
	t.Helper()
	out := make([]string, len(vs))
	for i, v := range vs {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = fmt.Sprintf("%s %s", v.Rule.ID, b)
	}
	b, _ := json.MarshalIndent(out, "", " ")
	return string(b)
}

// TestDerive checks the derived facts of small inputs.
func TestDerive(t *testing.T) {
	t.Parallel()
	w := derivedWorkloads()
	for _, c := range []struct {
		name      string
		w         *workload.Facts
		nodeEnv   string
		clustered bool
	}{
		{"no workload", w["none"], "HOSTNAME", false},
		{"HOSTNAME set", w["plain"], "HOSTNAME", false},
		{"first var by name", w["NODE_NAME"], "B", false},
		{"no node env", w["no node env"], "HOSTNAME", false},
		{"join addresses", w["clustered"], "HOSTNAME", true},
		{"discover peers", w["discover peers"], "HOSTNAME", true},
		{"enabled without a peer source", w["enabled no peer"], "HOSTNAME", false},
		{"flags unknown", w["flags unknown"], "HOSTNAME", false},
	} {
		d := derive(&Input{Workload: c.w})
		if d.NodeEnv != c.nodeEnv || d.ProcessClustered != c.clustered {
			t.Errorf("%s: got nodeEnv %q, processClustered %v; want %q, %v", c.name, d.NodeEnv, d.ProcessClustered, c.nodeEnv, c.clustered)
		}
	}

	const cfg = `discovery.kubernetes "pods" {
  role = "pod"
}

prometheus.scrape "a" {
  targets    = discovery.kubernetes.pods.targets
  forward_to = []
  clustering {
    enabled = true
  }
}

prometheus.scrape "b" {
  targets    = discovery.kubernetes.pods.targets
  forward_to = []
}
`
	f := riverconfig.Parse("c.alloy", []byte(cfg))
	for _, c := range []struct {
		name                       string
		w                          *workload.Facts
		effectiveA, feedsClustered bool
	}{
		{"flags unknown: the block at its word", w["flags unknown"], true, true},
		{"not clustered", w["plain"], false, false},
		{"clustered", w["clustered"], true, true},
	} {
		d := derive(&Input{Workload: c.w, Config: &Config{Files: []*riverconfig.Facts{f}}})
		if len(d.Collectors) != 2 || len(d.Sources) != 2 {
			t.Fatalf("%s: got %d collectors and %d sources, want 2 and 2", c.name, len(d.Collectors), len(d.Sources))
		}
		a, b := d.Collectors[0], d.Collectors[1]
		if a.Effective != c.effectiveA || b.Effective {
			t.Errorf("%s: effective got %v, %v; want %v, false", c.name, a.Effective, b.Effective, c.effectiveA)
		}
		if got := d.Sources[1].FeedsClustered; got != c.feedsClustered {
			t.Errorf("%s: pods feeds clustered got %v, want %v", c.name, got, c.feedsClustered)
		}
		if got, want := d.Sources[1].At, (Location{File: "c.alloy", Line: 1, Column: 1, Component: "discovery.kubernetes.pods", Target: "config"}); got != want {
			t.Errorf("%s: at got %+v, want %+v", c.name, got, want)
		}
		if got, want := fmt.Sprint(b.Wide), "[discovery.kubernetes.pods ("+d.Sources[1].Reason+")]"; got != want {
			t.Errorf("%s: wide got %s, want %s", c.name, got, want)
		}
		if got := len(d.ComponentsByName["prometheus.scrape"]); got != 2 {
			t.Errorf("%s: got %d prometheus.scrape components, want 2", c.name, got)
		}
	}
}
