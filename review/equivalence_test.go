package review_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/modeguard/modeguard/internal/testutil"
	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/riverconfig"
)

// The decision-equivalence test: the decisions of today's code, recorded in
// testdata/equivalence, for every example, every golden case and a seeded
// stream of generated inputs (and the real-world corpus when
// MODEGUARD_CORPUS names it). A change that is meant to keep every
// decision (a faster engine, facts moved from Rego into Go) must leave
// them all as recorded; a change that means to alter a decision records
// the new ones with -update (make update-golden) and says which changed.
//
// A decision here is what the CLI's check and fix and the webhook carry
// out: per reviewed object, whether it was skipped, and each finding's rule,
// action, object, ConfigMap key, component, position, fix request and
// whether it was applied, plus the fixed objects themselves.
const (
	equivDir = "testdata/equivalence"
	// equivGenerated inputs come from equivSeed: each from its own PCG
	// stream (seed, index), so that any one can be regenerated alone.
	equivGenerated = 40000
	equivSeed      = 0x6d6f6465 // "mode"
	// equivGeneratedShort of them with -short.
	equivGeneratedShort = 2000
)

// equivReviewer is the reviewer the CLI runs: built-in rules, default
// settings, mutate's fixes.
func equivReviewer(t testing.TB) *review.Reviewer {
	t.Helper()
	e, err := policy.New(context.Background(), policy.Options{CrossCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	return &review.Reviewer{Engine: e, Fixer: mutate.Fixer{}}
}

// decisions reviews objs as `modeguard check` does (one bundle) and writes
// one line per reviewed object and per finding.
func decisions(ctx context.Context, rv *review.Reviewer, objs []k8sruntime.Object) (string, error) {
	res, err := rv.ReviewBundle(ctx, objs, review.Options{Operation: "CHECK"})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, r := range res.Results {
		if r == nil {
			continue
		}
		fmt.Fprintf(&b, "%s %s/%s", r.Subject.Kind, r.Subject.Namespace, r.Subject.Name)
		if r.Skipped != "" {
			// The reason's kind, not its wording.
			kind, _, _ := strings.Cut(r.Skipped, ":")
			fmt.Fprintf(&b, " skipped(%s)", firstWords(kind, 3))
		}
		if r.Fixed != nil {
			fmt.Fprintf(&b, " fixed=%s", objectDigest(r.Fixed))
		}
		if r.Related != nil {
			m, _ := meta.Accessor(r.Related)
			fmt.Fprintf(&b, " related=%s/%s:%s", review.KindOf(r.Related), m.GetName(), objectDigest(r.Related))
		}
		b.WriteByte('\n')
		for _, f := range r.Findings {
			fmt.Fprintf(&b, "  %s %s %s %s/%s", f.Rule.ID, f.Action, f.Object.Kind, f.Object.Namespace, f.Object.Name)
			if f.Key != "" {
				fmt.Fprintf(&b, " key=%s", f.Key)
			}
			if f.Component != "" {
				fmt.Fprintf(&b, " component=%s", f.Component)
			}
			if f.File != "" || f.Line != 0 {
				fmt.Fprintf(&b, " at=%s:%d:%d", f.File, f.Line, f.Column)
			}
			fmt.Fprintf(&b, " target=%s", f.Target)
			if f.Fix != nil {
				p, _ := json.Marshal(f.Fix.Params)
				fmt.Fprintf(&b, " fix=%s%s", f.Fix.Name, p)
			}
			if f.Applied {
				b.WriteString(" applied")
			}
			if f.Via != nil {
				fmt.Fprintf(&b, " via=%s/%s", f.Via.Kind, f.Via.Name)
			}
			b.WriteByte('\n')
		}
	}
	return b.String(), nil
}

// docObjects are the objects of docs, in namespace "default" where none is
// set, as `modeguard check` reads them.
func docObjects(docs []manifest.Document) []k8sruntime.Object {
	manifest.DefaultNamespace(docs, "default")
	var objs []k8sruntime.Object
	for _, d := range docs {
		if d.Object != nil {
			objs = append(objs, d.Object)
		}
	}
	return objs
}

func firstWords(s string, n int) string {
	w := strings.Fields(s)
	return strings.Join(w[:min(n, len(w))], "-")
}

// objectDigest is a short hash of an object's JSON form (a fixed object).
func objectDigest(o k8sruntime.Object) string {
	j, err := json.Marshal(o)
	if err != nil {
		return "unencodable"
	}
	return digest(j)
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

// equivFiles are the examples and the golden cases with manifests: the
// CLI's verdict cases and the workload golden inputs.
func equivFiles(t *testing.T) []string {
	t.Helper()
	var paths []string
	for _, glob := range []string{"../examples/*/manifest.yaml", "../cmd/modeguard/testdata/verdicts/*.yaml", "../workload/testdata/*/input.yaml",
		// Cases that reach rule branches nothing above reaches, for the
		// cross-check of the rules' Go forms.
		"testdata/branches/*.yaml"} {
		m, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	if len(paths) < 40 {
		t.Fatalf("only %d manifests found", len(paths))
	}
	return paths
}

// TestGoldenDecisions: every example and golden case decides as recorded
// in testdata/equivalence/cases.txt.
func TestGoldenDecisions(t *testing.T) {
	t.Parallel()
	rv := equivReviewer(t)
	ctx := context.Background()
	var b strings.Builder
	for _, p := range equivFiles(t) {
		fmt.Fprintf(&b, "== %s\n", filepath.ToSlash(p))
		docs, err := manifest.ReadPaths([]string{p}, nil)
		if err != nil {
			fmt.Fprintf(&b, "unreadable\n")
			continue
		}
		d, err := decisions(ctx, rv, docObjects(docs))
		if err != nil {
			// The built-in rules in Go and in Rego disagree (CrossCheck),
			// or the review failed.
			t.Errorf("%s: %v", p, err)
			fmt.Fprintf(&b, "error\n")
			continue
		}
		b.WriteString(d)
	}
	testutil.Golden(t, filepath.Join(equivDir, "cases.txt"), []byte(b.String()))
}

// TestGoldenDecisionsCorpus: every case of the real-world corpus decides as
// recorded (a digest per case: the corpus is not part of the repository).
// Skipped without MODEGUARD_CORPUS.
func TestGoldenDecisionsCorpus(t *testing.T) {
	t.Parallel()
	dir := os.Getenv("MODEGUARD_CORPUS")
	if dir == "" {
		t.Skip("MODEGUARD_CORPUS is not set (make corpus sets it)")
	}
	cases, err := filepath.Glob(filepath.Join(dir, "*", "cases", "*", "manifests.yaml"))
	if err != nil || len(cases) == 0 {
		t.Skipf("no cases under %s (%v)", dir, err)
	}
	sort.Strings(cases)
	rv := equivReviewer(t)
	ctx := context.Background()
	var b strings.Builder
	for _, p := range cases {
		rel, _ := filepath.Rel(dir, filepath.Dir(p))
		rel = strings.Replace(filepath.ToSlash(rel), "/cases/", "/", 1)
		docs, err := manifest.ReadPaths([]string{p}, nil)
		d := "unreadable"
		if err == nil {
			if d, err = decisions(ctx, rv, docObjects(docs)); err != nil {
				d = "error"
			}
		}
		fmt.Fprintf(&b, "%s %s\n", rel, digest([]byte(d)))
	}
	testutil.Golden(t, filepath.Join(equivDir, "corpus.txt"), []byte(b.String()))
}

// TestGoldenDecisionsGenerated: equivGenerated inputs of the (seeded)
// generator decide as recorded, a digest of each input's decisions per line
// of testdata/equivalence/generated.txt.gz. A difference names the input,
// prints it and its decisions now.
func TestGoldenDecisionsGenerated(t *testing.T) {
	t.Parallel()
	g := newGenerator(t)
	rv := equivReviewer(t)
	ctx := context.Background()
	// The reviews allocate much and keep little.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	start := time.Now()
	n := equivGenerated
	if testing.Short() {
		// Every input decides on its own: a prefix is a smaller check.
		n = equivGeneratedShort
	}
	got := make([]string, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				d, err := decisions(ctx, rv, g.objects(i))
				if err != nil {
					mu.Lock()
					firstErr = fmt.Errorf("input %d: %w", i, err)
					mu.Unlock()
					return
				}
				got[i] = digest([]byte(d))
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	t.Logf("%d generated inputs reviewed in %s", n, time.Since(start).Round(time.Millisecond))
	file := filepath.Join(equivDir, "generated.txt.gz")
	if testutil.Update() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		for _, d := range got {
			fmt.Fprintln(zw, d)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := readDigests(t, file)
	if testing.Short() && len(want) >= n {
		want = want[:n]
	}
	if len(want) != len(got) {
		t.Fatalf("%s holds %d digests, want %d (go test -run TestGoldenDecisionsGenerated -update rewrites it)", file, len(want), len(got))
	}
	bad := 0
	for i := range got {
		if got[i] == want[i] {
			continue
		}
		bad++
		if bad <= 3 {
			docs := g.text(i)
			d, _ := decisions(ctx, rv, g.objects(i))
			t.Errorf("generated input %d decides otherwise than recorded (digest %s, want %s):\n%s\n--- decisions now:\n%s", i, got[i], want[i], docs, d)
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d generated inputs decide otherwise than recorded", bad, len(got))
	}
}

func readDigests(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("%v (go test -run TestGoldenDecisionsGenerated -update writes it)", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// generator builds manifests from the parts of the examples and golden
// cases: River components cut out of their configs (some edited), and their
// agent workloads with kinds, replicas, flags, env, mounts and host network
// varied, a ConfigMap's mode annotation, an HPA, a namespace's enforcement
// label and skip annotations. The parts are read from the repository, so
// the generated inputs change when the examples do: -update then records
// the decisions anew (and the examples' own decisions show in cases.txt).
type generator struct {
	blocks    []string         // top-level components, as written
	workloads []map[string]any // agent workloads, as decoded YAML
}

func newGenerator(t *testing.T) *generator {
	t.Helper()
	g := &generator{}
	seen := map[string]bool{}
	for _, p := range equivFiles(t) {
		if !strings.HasPrefix(p, "../examples/") {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(data), "\n---") {
			var m map[string]any
			if yaml.Unmarshal([]byte(doc), &m) != nil || m == nil {
				continue
			}
			switch m["kind"] {
			case "ConfigMap":
				cm, _ := m["data"].(map[string]any)
				keys := make([]string, 0, len(cm))
				for k := range cm {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					src, _ := cm[k].(string)
					f := riverconfig.Parse(k, []byte(src))
					end := -1
					for _, c := range f.Components {
						if c.Range.Start.Offset < end { // inside the last top-level one
							continue
						}
						end = c.Range.End.Offset
						b := src[c.Range.Start.Offset:c.Range.End.Offset]
						if !seen[b] {
							seen[b] = true
							g.blocks = append(g.blocks, b)
						}
					}
				}
			case "DaemonSet", "Deployment", "StatefulSet":
				g.workloads = append(g.workloads, m)
			}
		}
	}
	if len(g.blocks) < 20 || len(g.workloads) < 10 {
		t.Fatalf("generator: only %d blocks and %d workloads from the examples", len(g.blocks), len(g.workloads))
	}
	return g
}

// edits are text replacements the generator applies to a block at random.
var edits = [][2]string{
	{`env("HOSTNAME")`, `sys.env("NODE_NAME")`},
	{`sys.env("HOSTNAME")`, `constants.hostname`},
	{`enabled = true`, `enabled = false`},
	{`role = "pod"`, `role = "node"`},
	{`role = "node"`, `role = "endpoints"`},
	{`role = "endpoints"`, `role = "pod"`},
	{`"spec.nodeName="`, `"metadata.name="`},
	{`clustering {`, `clustering_off {`},
	{`/var/log`, `/data/log`},
}

// text is the manifest of generated input i, a JSON List.
func (g *generator) text(i int) string {
	j, err := json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List", "items": g.items(i)}, "", " ")
	if err != nil {
		panic(err)
	}
	return string(j)
}

// objects decodes the items of generated input i (as manifest.Parse would
// from text(i), without the YAML parser: a third of the test's time).
func (g *generator) objects(i int) []k8sruntime.Object {
	dec := scheme.Codecs.UniversalDeserializer()
	var out []k8sruntime.Object
	for _, it := range g.items(i) {
		j, err := json.Marshal(it)
		if err != nil {
			panic(err)
		}
		o, _, err := dec.Decode(j, nil, nil)
		if err != nil {
			// The generator writes valid objects only.
			panic(fmt.Sprintf("generated input %d: %v", i, err))
		}
		out = append(out, o)
	}
	return out
}

// items are the objects of generated input i.
func (g *generator) items(i int) []any {
	r := rand.New(rand.NewPCG(equivSeed, uint64(i)))
	pick := func(n int) int { return r.IntN(n) }
	chance := func(p float64) bool { return r.Float64() < p }

	// The config: one to six components, some edited.
	var cfg strings.Builder
	n := 1 + pick(6)
	for range n {
		b := g.blocks[pick(len(g.blocks))]
		for _, e := range edits {
			if strings.Contains(b, e[0]) && chance(0.25) {
				b = strings.ReplaceAll(b, e[0], e[1])
			}
		}
		cfg.WriteString(b)
		cfg.WriteString("\n\n")
	}
	key := "config.alloy"
	if chance(0.2) {
		key = "config.river"
	}
	ns := "gen"
	var docs []any
	nsObj := map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}
	if chance(0.1) {
		nsObj["metadata"].(map[string]any)["labels"] = map[string]any{policy.LabelEnforcement: []string{"audit", "warn", "bogus"}[pick(3)]}
	}
	docs = append(docs, nsObj)
	cmMeta := map[string]any{"name": "alloy", "namespace": ns}
	cm := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": cmMeta, "data": map[string]any{key: cfg.String()}}
	if chance(0.15) {
		cmMeta["annotations"] = map[string]any{policy.AnnotationMode: []string{"daemonset", "statefulset", "deployment"}[pick(3)]}
	}
	if chance(0.05) {
		cmMeta["annotations"] = map[string]any{policy.AnnotationSkip: []string{"MG001", "MG004,MG008", "MG002"}[pick(3)]}
	}
	docs = append(docs, cm)

	if chance(0.9) {
		w := deepCopyJSON(g.workloads[pick(len(g.workloads))])
		kind := w["kind"].(string)
		if chance(0.3) {
			kind = []string{"DaemonSet", "Deployment", "StatefulSet"}[pick(3)]
		}
		w["kind"] = kind
		m := w["metadata"].(map[string]any)
		m["name"], m["namespace"] = "alloy", ns
		delete(m, "annotations")
		if chance(0.05) {
			m["annotations"] = map[string]any{policy.AnnotationSkip: "MG001,MG008"}
		}
		spec := w["spec"].(map[string]any)
		switch kind {
		case "DaemonSet":
			delete(spec, "replicas")
			delete(spec, "volumeClaimTemplates")
			delete(spec, "serviceName")
		default:
			if chance(0.8) {
				spec["replicas"] = pick(4)
			} else {
				delete(spec, "replicas")
			}
			if kind == "Deployment" {
				delete(spec, "volumeClaimTemplates")
				delete(spec, "serviceName")
			} else if chance(0.3) {
				spec["serviceName"] = "alloy-cluster"
			}
		}
		pod, ok := nested(spec, "template", "spec")
		if !ok {
			pod = map[string]any{}
		}
		if chance(0.1) {
			pod["hostNetwork"] = true
		}
		// The config volume reads this ConfigMap.
		for _, v := range list(pod["volumes"]) {
			if c, ok := v["configMap"].(map[string]any); ok {
				c["name"] = "alloy"
			}
		}
		if chance(0.15) {
			vols := pod["volumes"].([]any)
			pod["volumes"] = append(vols, map[string]any{"name": "varlog", "hostPath": map[string]any{"path": "/var/log"}})
		}
		for _, c := range list(pod["containers"]) {
			args, _ := c["args"].([]any)
			var kept []any
			for _, a := range args {
				s, _ := a.(string)
				if strings.HasPrefix(s, "--cluster.") && chance(0.2) {
					continue
				}
				if strings.HasSuffix(s, ".alloy") || strings.HasSuffix(s, ".river") {
					s = path.Join(path.Dir(s), key)
					a = s
				}
				kept = append(kept, a)
			}
			if chance(0.15) {
				kept = append(kept, "--cluster.enabled=true")
			}
			if chance(0.1) {
				kept = append(kept, "--cluster.join-addresses=alloy-cluster")
			}
			if kept != nil {
				c["args"] = kept
			}
			env, _ := c["env"].([]any)
			if len(env) > 0 && chance(0.3) {
				env = env[:pick(len(env))]
			}
			if chance(0.2) {
				env = append(env, map[string]any{"name": []string{"HOSTNAME", "NODE_NAME"}[pick(2)],
					"valueFrom": map[string]any{"fieldRef": map[string]any{"fieldPath": "spec.nodeName"}}})
			}
			if env != nil {
				c["env"] = env
			}
			if _, ok := pod["volumes"].([]any); ok && chance(0.15) {
				mounts, _ := c["volumeMounts"].([]any)
				c["volumeMounts"] = append(mounts, map[string]any{"name": "varlog", "mountPath": []string{"/var/log", "/data/log", "/host"}[pick(3)]})
			}
		}
		docs = append(docs, w)
		if kind == "Deployment" && chance(0.2) {
			docs = append(docs, map[string]any{
				"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
				"metadata": map[string]any{"name": "alloy", "namespace": ns},
				"spec": map[string]any{
					"scaleTargetRef": map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "alloy"},
					"minReplicas":    1, "maxReplicas": 1 + pick(3),
				},
			})
		}
	}
	return docs
}

func nested(m map[string]any, keys ...string) (map[string]any, bool) {
	for _, k := range keys {
		n, ok := m[k].(map[string]any)
		if !ok {
			return nil, false
		}
		m = n
	}
	return m, true
}

func list(v any) []map[string]any {
	l, _ := v.([]any)
	var out []map[string]any
	for _, x := range l {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func deepCopyJSON(m map[string]any) map[string]any {
	j, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	var out map[string]any
	if err := json.Unmarshal(j, &out); err != nil {
		panic(err)
	}
	return out
}

// TestGeneratorVaries: the generator's inputs differ and reach most rules
// (so that its digests can catch a changed decision).
func TestGeneratorVaries(t *testing.T) {
	t.Parallel()
	g := newGenerator(t)
	rv := equivReviewer(t)
	ctx := context.Background()
	const n = 400
	texts := map[string]bool{}
	rules := map[string]bool{}
	var actions []string
	for i := range n {
		texts[g.text(i)] = true
		d, err := decisions(ctx, rv, g.objects(i))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(d, "\n") {
			if f := strings.Fields(line); len(f) > 2 && strings.HasPrefix(f[0], "MG") {
				rules[f[0]] = true
				if !slices.Contains(actions, f[1]) {
					actions = append(actions, f[1])
				}
			}
		}
	}
	if len(texts) < n*9/10 {
		t.Errorf("got %d distinct inputs of %d, want nearly all distinct", len(texts), n)
	}
	if len(rules) < 10 {
		t.Errorf("got %d rules fired over %d inputs (%v), want at least 10", len(rules), n, rules)
	}
	sort.Strings(actions)
	t.Logf("%d inputs: rules %d, actions %v", n, len(rules), actions)
}

// TestReviewLeavesLookupObjects: reviewing never modifies the objects a
// Lookup gives (a Set's are the submitted objects themselves, as the
// webhook's informer cache gives its own): every example and golden case,
// fixes included, leaves them as they were.
func TestReviewLeavesLookupObjects(t *testing.T) {
	t.Parallel()
	rv := equivReviewer(t)
	ctx := context.Background()
	for _, p := range equivFiles(t) {
		docs, err := manifest.ReadPaths([]string{p}, nil)
		if err != nil {
			continue
		}
		objs := docObjects(docs)
		before := make([]k8sruntime.Object, len(objs))
		for i, o := range objs {
			before[i] = o.DeepCopyObject()
		}
		if _, err := decisions(ctx, rv, objs); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for i, o := range objs {
			if !equality.Semantic.DeepEqual(o, before[i]) {
				t.Errorf("%s: reviewing modified object %d (%s)", p, i, review.KindOf(o))
			}
		}
	}
}
