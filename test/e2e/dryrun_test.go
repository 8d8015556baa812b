package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/webhook/dryrun"
	"github.com/modeguard/modeguard/workload"
)

// bundle is one example or corpus case as a dry run sends it: the objects
// modeguard reads (ConfigMaps, agent workloads, HPAs), in file order, and
// the labels of the namespaces they go to.
type bundle struct {
	name       string
	id         string                       // short, for namespace names
	namespaces map[string]map[string]string // namespace as written → labels
	objs       []map[string]any
	viaKubectl bool // apply with kubectl, not with applyClient
	// custom holds objects of kinds a CRD serves (Alloy), left out: this
	// cluster has no such CRD, as most have not (TestAlloy has one).
	custom bool
}

func loadBundle(id, name, file string, data []byte) (*bundle, error) {
	docs, err := manifest.Parse(file, data)
	if err != nil {
		return nil, err
	}
	b := &bundle{name: name, id: id, namespaces: map[string]map[string]string{}}
	labels := map[string]map[string]string{}
	for _, d := range docs {
		k := workload.KindOf(d.Object)
		if k == workload.KindNamespace {
			labels[d.Name] = d.Object.(*corev1.Namespace).Labels
			continue
		}
		if k != nil && k.CRD {
			b.custom = true
			continue
		}
		if !dryrun.Remembers(k) {
			continue // other kinds: no verdict of modeguard depends on them
		}
		j, err := yaml.YAMLToJSON(d.Raw)
		if err != nil {
			return nil, err
		}
		var obj map[string]any
		if err := json.Unmarshal(j, &obj); err != nil {
			return nil, err
		}
		ns := d.Namespace
		if ns == "" {
			ns = "default"
		}
		b.namespaces[ns] = nil
		obj["metadata"].(map[string]any)["namespace"] = ns
		b.objs = append(b.objs, obj)
	}
	for ns := range b.namespaces {
		b.namespaces[ns] = labels[ns]
	}
	return b, nil
}

// applyResult is what one `kubectl apply` of a bundle showed.
type applyResult struct {
	observed []string // rule:action
	lacking  int      // lacking-pair warnings
}

// apply applies b with kubectl, in file order or reversed, for real or as
// a server-side dry run, into namespaces of its own (created for real: a
// dry run cannot create objects in a namespace that does not exist).
func (b *bundle) apply(ctx context.Context, c *Cluster, dry, reversed bool, kubeconfig string) (*applyResult, error) {
	tag := map[bool]string{false: "r", true: "d"}[dry] + map[bool]string{false: "f", true: "b"}[reversed]
	names := make([]string, 0, len(b.namespaces))
	for ns := range b.namespaces {
		names = append(names, ns)
	}
	sort.Strings(names)
	target := map[string]string{}
	for i, ns := range names {
		target[ns] = fmt.Sprintf("%s-%d-%s", b.id, i, tag)
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: target[ns], Labels: b.namespaces[ns]}}
		if err := c.Client.Create(ctx, n); err != nil {
			return nil, fmt.Errorf("creating namespace %s: %w", n.Name, err)
		}
	}
	objs := slices.Clone(b.objs)
	if reversed {
		slices.Reverse(objs)
	}
	var in strings.Builder // the bundle's YAML, for kubectl
	var each []string      // each object's, for a real apply with kubectl
	for _, o := range objs {
		m := o["metadata"].(map[string]any)
		saved := m["namespace"]
		m["namespace"] = target[saved.(string)]
		j, err := json.Marshal(o)
		m["namespace"] = saved
		if err != nil {
			return nil, err
		}
		in.WriteString("---\n")
		in.Write(j)
		in.WriteString("\n")
		each = append(each, string(j))
	}
	var s Step
	if b.viaKubectl {
		var err error
		if dry {
			if s, err = applyKubectl(ctx, c, in.String(), dry, kubeconfig); err != nil {
				return nil, err
			}
		}
		// A real apply, one object per kubectl run: see applyClient.
		for i := 0; !dry && i < len(each); i++ {
			one, err := applyKubectl(ctx, c, each[i], dry, kubeconfig)
			if err != nil {
				return nil, err
			}
			s.Warnings = append(s.Warnings, one.Warnings...)
			s.Denial += one.Denial
		}
	} else {
		var err error
		if s, err = applyClient(ctx, c, objs, target, dry); err != nil {
			return nil, err
		}
	}
	res := &applyResult{observed: observe([]Step{s})}
	for _, w := range s.Warnings {
		if strings.Contains(w, "modeguard check -f") {
			res.lacking++
		}
	}
	return res, nil
}

// applyKubectl runs `kubectl apply -f -` (--dry-run=server for a dry run)
// over the bundle's YAML: its warnings, and its denials as one text.
func applyKubectl(ctx context.Context, c *Cluster, in string, dry bool, kubeconfig string) (Step, error) {
	args := []string{"apply", "-f", "-"}
	if dry {
		args = append(args, "--dry-run=server")
	}
	if kubeconfig != "" {
		args = append([]string{"--kubeconfig=" + kubeconfig}, args...)
	}
	r := c.KubectlAllowFail(ctx, in, args...)
	s := Step{}
	for _, l := range strings.Split(r.Stderr, "\n") {
		if w, ok := strings.CutPrefix(l, "Warning: "); ok {
			s.Warnings = append(s.Warnings, w)
		} else if strings.TrimSpace(l) != "" {
			s.Denial += l + "\n"
		}
	}
	if r.Err != nil && !strings.Contains(s.Denial, "denied the request") {
		return s, fmt.Errorf("kubectl %s: %v\n%s", strings.Join(args, " "), r.Err, r.Stderr)
	}
	return s, nil
}

// warnings collects the warnings of the responses a client gets.
type warnings struct {
	mu   sync.Mutex
	text []string
}

func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, code int, _ string, text string) {
	if code == 299 && text != "" {
		w.mu.Lock()
		w.text = append(w.text, text)
		w.mu.Unlock()
	}
}

// realGap is how long a real apply waits after each object (applyClient).
const realGap = 250 * time.Millisecond

// httpClient is applyClient's connection pool, shared by its clients.
var (
	httpClient *http.Client
	httpErr    error
	httpOnce   sync.Once
)

// applyClient sends what `kubectl apply -f` (--dry-run=server) sends for
// new objects, without a kubectl process per bundle: one create per object
// in order, with kubectl's last-applied annotation and field manager, as
// a dry run (dryRun=All) or for real; an object denied does not stop the
// next. kubectl prints each warning once per run: so does this.
//
// A real apply waits realGap after each object: the webhook reads the
// cluster through its informer cache, a watch event behind the API server,
// and the consumers of a ConfigMap created a moment after its workload may
// not be there yet (the reconciler fixes the ConfigMap later, but kubectl
// showed less). The baseline is the verdict with the cluster caught up.
func applyClient(ctx context.Context, c *Cluster, objs []map[string]any, target map[string]string, dry bool) (Step, error) {
	w := &warnings{}
	cfg := rest.CopyConfig(c.Config)
	cfg.WarningHandler, cfg.WarningHandlerWithContext = nil, w
	httpOnce.Do(func() { httpClient, httpErr = rest.HTTPClientFor(c.Config) })
	if httpErr != nil {
		return Step{}, httpErr
	}
	cl, err := client.New(cfg, client.Options{Mapper: c.Client.RESTMapper(), HTTPClient: httpClient})
	if err != nil {
		return Step{}, err
	}
	var s Step
	for _, o := range objs {
		u := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(o)}
		u.SetNamespace(target[u.GetNamespace()])
		last, err := json.Marshal(u.Object)
		if err != nil {
			return s, err
		}
		a := u.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		a["kubectl.kubernetes.io/last-applied-configuration"] = string(last) + "\n"
		u.SetAnnotations(a)
		opts := []client.CreateOption{client.FieldOwner("kubectl-client-side-apply")}
		if dry {
			opts = append(opts, client.DryRunAll)
		}
		if err := cl.Create(ctx, u, opts...); err != nil {
			if !strings.Contains(err.Error(), "denied the request") {
				return s, fmt.Errorf("creating %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
			}
			s.Denial += err.Error() + "\n"
		}
		if !dry && len(objs) > 1 {
			time.Sleep(realGap)
		}
	}
	seen := map[string]bool{}
	for _, t := range w.text {
		if !seen[t] {
			seen[t] = true
			s.Warnings = append(s.Warnings, t)
		}
	}
	return s, nil
}

// bundleStats sums up checkBundles.
type bundleStats struct {
	bundles, denying, denyingSeen, lacking int
}

// checkBundles applies every bundle for real and as a dry run, in file
// order and reversed, and fails where the dry run showed other denials,
// warnings or fixes than the real apply. Bundles run eight at a time.
func checkBundles(t *testing.T, c *Cluster, bundles []*bundle) bundleStats {
	t.Helper()
	ctx := context.Background()
	var (
		mu    sync.Mutex
		stats bundleStats
		wg    sync.WaitGroup
		work  = make(chan *bundle)
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				denying, seen := false, true
				lacking := 0
				for _, reversed := range []bool{false, true} {
					real, err := b.apply(ctx, c, false, reversed, "")
					if err != nil {
						t.Errorf("%s: real apply: %v", b.name, err)
						break
					}
					dry, err := b.apply(ctx, c, true, reversed, "")
					if err != nil {
						t.Errorf("%s: dry run: %v", b.name, err)
						break
					}
					lacking += dry.lacking
					if !slices.Equal(dry.observed, real.observed) {
						t.Errorf("%s (reversed=%v): kubectl apply --dry-run=server showed %v, the real apply %v", b.name, reversed, dry.observed, real.observed)
					}
					if slices.ContainsFunc(real.observed, func(s string) bool { return strings.HasSuffix(s, ":deny") }) {
						denying = true
						seen = seen && slices.ContainsFunc(dry.observed, func(s string) bool { return strings.HasSuffix(s, ":deny") })
					}
				}
				mu.Lock()
				stats.bundles++
				stats.lacking += lacking
				if denying {
					stats.denying++
					if seen {
						stats.denyingSeen++
					}
				}
				mu.Unlock()
			}
		}()
	}
	for _, b := range bundles {
		work <- b
	}
	close(work)
	wg.Wait()
	return stats
}

// viaKubectl are the examples TestDryRunBundlesExamples applies with
// kubectl itself: a denial, fixes of both objects, a warning.
var viaKubectl = []string{"mg004-fires", "mg001-fires", "mg002-fires", "mg006-fires"}

// Every example under `kubectl apply --dry-run=server -f bundle.yaml` of a
// new install, in either order, shows the denials, warnings and fixes its
// real apply shows: the webhook's dry-run overlay lets the second object
// see the first.
func TestDryRunBundlesExamples(t *testing.T) {
	c := cluster(t)
	var bundles []*bundle
	for i, name := range examples.Names() {
		data, err := examples.FS.ReadFile(name + "/manifest.yaml")
		if err != nil {
			t.Fatal(err)
		}
		b, err := loadBundle(fmt.Sprintf("dre%d", i), name, name, data)
		if err != nil {
			t.Fatal(err)
		}
		if b.custom {
			continue // an Alloy example: TestAlloy runs it where the CRD is
		}
		// kubectl itself for a few; the same requests from a Go client
		// for the rest (a kubectl process costs a second of CPU).
		b.viaKubectl = slices.Contains(viaKubectl, name)
		bundles = append(bundles, b)
	}
	began := time.Now()
	st := checkBundles(t, c, bundles)
	t.Logf("examples: %d bundles, both orders, real and dry run, in %s; %d deny in a real apply, %d of them also in the dry run; %d lacking-pair warnings",
		st.bundles, time.Since(began).Round(time.Millisecond), st.denying, st.denyingSeen, st.lacking)
}

// TestDryRunBundlesCorpus is TestDryRunBundlesExamples over every case of
// the real-world corpus (MODEGUARD_CORPUS; skipped without it), with the
// kinds the test API server serves (its custom resources are left out).
func TestDryRunBundlesCorpus(t *testing.T) {
	dir := os.Getenv("MODEGUARD_CORPUS")
	if dir == "" {
		t.Skip("MODEGUARD_CORPUS is not set (make corpus sets it)")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*", "cases", "*", "manifests.yaml"))
	if err != nil || len(files) == 0 {
		t.Skipf("no */cases/*/manifests.yaml under %s (%v)", dir, err)
	}
	c := cluster(t)
	var bundles []*bundle
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(filepath.Dir(f))
		b, err := loadBundle(fmt.Sprintf("drc%d", i), name, f, data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		bundles = append(bundles, b)
	}
	began := time.Now()
	st := checkBundles(t, c, bundles)
	t.Logf("corpus: %d cases, both orders, real and dry run, in %s; %d deny in a real apply, %d of them also in the dry run; %d lacking-pair warnings",
		st.bundles, time.Since(began).Round(time.Millisecond), st.denying, st.denyingSeen, st.lacking)
	if st.denyingSeen != st.denying {
		t.Errorf("%d of %d denying cases denied in the dry run, want all", st.denyingSeen, st.denying)
	}
}

// A second user's dry run of the same names sees nothing of the first
// user's: the DaemonSet that Alice's dry-run ConfigMap gets denied passes
// for Bob, with the lacking-pair warning.
func TestDryRunOtherUserSeesNothing(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	bob, err := c.KubeconfigFor("dry-run-bob")
	if err != nil {
		t.Fatal(err)
	}
	ns := "dry-run-users"
	if _, err := c.Kubectl(ctx, "", "create", "namespace", ns); err != nil {
		t.Fatal(err)
	}
	swap := func(s string) string { return strings.ReplaceAll(s, "namespace: mg004-fires", "namespace: "+ns) }
	cm, ds := swap(docOf(t, "mg004-fires", "ConfigMap")), swap(docOf(t, "mg004-fires", "DaemonSet"))
	if _, err := c.Kubectl(ctx, cm, "apply", "--dry-run=server", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	r := c.KubectlAllowFail(ctx, ds, "--kubeconfig="+bob, "apply", "--dry-run=server", "-f", "-")
	if r.Err != nil || !strings.Contains(r.Stderr, "modeguard check -f") {
		t.Errorf("Bob's dry run of the DaemonSet: got %v\n%s\nwant admitted, with the lacking-pair warning", r.Err, r.Stderr)
	}
	r = c.KubectlAllowFail(ctx, ds, "apply", "--dry-run=server", "-f", "-")
	if r.Err == nil || !strings.Contains(r.Stderr, "MG004") {
		t.Errorf("the administrator's dry run of the DaemonSet after the ConfigMap's: got %v\n%s\nwant the MG004 denial", r.Err, r.Stderr)
	}
	if got := c.KubectlAllowFail(ctx, "", "get", "configmap,daemonset", "-n", ns, "-o", "name"); strings.TrimSpace(got.Stdout) != "" {
		t.Errorf("the dry runs stored %q", got.Stdout)
	}
}
