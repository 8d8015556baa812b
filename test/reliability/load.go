package reliability

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/workload"
)

// Outcome is what the API server answered one dry-run request: denied
// (with the rule ids the denial names) or admitted (with a hash of the
// admitted object's reviewed content: a ConfigMap's data, a workload's pod
// template, a Pod's containers and volumes).
type Outcome struct {
	Denied bool
	Rules  []string
	Hash   string
}

func (o Outcome) String() string {
	if o.Denied {
		return "denied " + strings.Join(o.Rules, ",")
	}
	return "admitted " + o.Hash
}

// Equal reports whether two answers are the same decision.
func (o Outcome) Equal(p Outcome) bool {
	return o.Denied == p.Denied && o.Hash == p.Hash && slices.Equal(o.Rules, p.Rules)
}

// Case is one admission request the load repeats: a server-side dry-run
// create or update of an example object, and the answer it got at rest.
type Case struct {
	Name   string // "ConfigMap ns/name (update)"
	Obj    client.Object
	Update bool
	Expect string // the modeguard.dev/expect annotation
	// ExampleExpect joins the annotations of every object of its example.
	ExampleExpect string
	Want          Outcome
}

var ruleID = regexp.MustCompile(`\b[A-Z][A-Z0-9]*\d{3}\b`)

// do sends c once.
func do(ctx context.Context, cl client.Client, c *Case) (Outcome, error) {
	obj := c.Obj.DeepCopyObject().(client.Object)
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var err error
	if c.Update {
		err = cl.Update(ctx, obj, client.DryRunAll)
	} else {
		err = cl.Create(ctx, obj, client.DryRunAll)
	}
	if err != nil {
		if msg := err.Error(); strings.Contains(msg, "denied the request") {
			ids := ruleID.FindAllString(msg, -1)
			slices.Sort(ids)
			return Outcome{Denied: true, Rules: slices.Compact(ids)}, nil
		}
		return Outcome{}, err
	}
	return Outcome{Hash: contentHash(obj)}, nil
}

// contentHash hashes what modeguard may change in obj.
func contentHash(obj client.Object) string {
	var v any
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		v = []any{o.Data, o.BinaryData}
	case *appsv1.DaemonSet:
		v = o.Spec.Template
	case *appsv1.StatefulSet:
		v = o.Spec.Template
	case *appsv1.Deployment:
		v = o.Spec.Template
	case *corev1.Pod:
		v = []any{o.Spec.InitContainers, o.Spec.Containers, o.Spec.Volumes}
	default:
		v = obj
	}
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// exampleDocs reads every example's documents but those of Alloy objects.
func exampleDocs() (map[string][]manifest.Document, error) {
	out := map[string][]manifest.Document{}
	for _, name := range examples.Names() {
		docs, err := examples.Documents(name)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(docs, func(d manifest.Document) bool { return d.Kind == workload.KindAlloy.Name }) {
			// The suite's cluster has no Alloy CRD, as most clusters do
			// (test/e2e's TestAlloy runs these examples on one that has).
			continue
		}
		out[name] = docs
	}
	return out, nil
}

// buildCases turns the examples (already applied) into requests: an update
// of each object the cluster holds, a create of each it denied, and a Pod
// of each DaemonSet, as its controller would create it.
func buildCases(ctx context.Context, cl client.Client, all map[string][]manifest.Document) ([]*Case, error) {
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	var cases []*Case
	for _, n := range names {
		first := len(cases)
		var joined []string
		for _, d := range all[n] {
			if m, ok := d.Object.(client.Object); ok {
				joined = append(joined, m.GetAnnotations()[examples.AnnotationExpect])
			}
		}
		for _, d := range all[n] {
			obj, ok := d.Object.(client.Object)
			if !ok {
				continue
			}
			switch d.Kind {
			case "ConfigMap", "DaemonSet", "StatefulSet", "Deployment":
			default:
				continue
			}
			live := obj.DeepCopyObject().(client.Object)
			err := cl.Get(ctx, client.ObjectKeyFromObject(obj), live)
			switch {
			case apierrors.IsNotFound(err):
				cases = append(cases, &Case{Name: fmt.Sprintf("%s %s/%s (create)", d.Kind, d.Namespace, d.Name), Obj: obj,
					Expect: obj.GetAnnotations()[examples.AnnotationExpect]})
				continue
			case err != nil:
				return nil, fmt.Errorf("reading %s %s/%s: %w", d.Kind, d.Namespace, d.Name, err)
			}
			cases = append(cases, &Case{Name: fmt.Sprintf("%s %s/%s (update)", d.Kind, d.Namespace, d.Name), Obj: obj, Update: true,
				Expect: obj.GetAnnotations()[examples.AnnotationExpect]})
			if ds, ok := obj.(*appsv1.DaemonSet); ok {
				pod := &corev1.Pod{
					TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
					ObjectMeta: metav1.ObjectMeta{
						Namespace: ds.Namespace, GenerateName: ds.Name + "-", Labels: ds.Spec.Template.Labels,
						OwnerReferences: []metav1.OwnerReference{{
							APIVersion: "apps/v1", Kind: "DaemonSet", Name: ds.Name, UID: live.GetUID(),
							Controller: ptrTo(true), BlockOwnerDeletion: ptrTo(true),
						}},
					},
					Spec: *ds.Spec.Template.Spec.DeepCopy(),
				}
				cases = append(cases, &Case{Name: fmt.Sprintf("Pod %s/%s-* (create)", ds.Namespace, ds.Name), Obj: pod})
			}
		}
		for _, c := range cases[first:] {
			c.ExampleExpect = strings.Join(joined, ",")
		}
	}
	return cases, nil
}

func ptrTo[T any](v T) *T { return &v }

// record sends every case at rest until two rounds agree (the reconciler
// may still be settling what the examples applied) and keeps that answer
// as the expected one. A create the examples promise to deny must be
// denied, and only those.
func record(ctx context.Context, cl client.Client, cases []*Case) error {
	deadline := time.Now().Add(time.Minute)
	prev := map[*Case]Outcome{}
	for {
		stable := true
		for _, c := range cases {
			got, err := do(ctx, cl, c)
			if err != nil {
				return fmt.Errorf("%s at rest: %w", c.Name, err)
			}
			if p, ok := prev[c]; !ok || !p.Equal(got) {
				stable = false
			}
			prev[c] = got
		}
		if stable {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("answers at rest still changing after a minute")
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, c := range cases {
		c.Want = prev[c]
		if c.Update || c.Obj.GetObjectKind().GroupVersionKind().Kind == "Pod" {
			continue
		}
		// The object the annotation says is denied must be; another object
		// of the example may be denied too, for a rule the example denies
		// (a workload whose ConfigMap was denied, say).
		if strings.Contains(c.Expect, ":deny") && !c.Want.Denied {
			return fmt.Errorf("%s at rest: %s, but its %s annotation says %q", c.Name, c.Want, examples.AnnotationExpect, c.Expect)
		}
		for _, id := range c.Want.Rules {
			if !strings.Contains(c.ExampleExpect, id+":deny") {
				return fmt.Errorf("%s at rest: %s, but no %s annotation of its example denies %s", c.Name, c.Want, examples.AnnotationExpect, id)
			}
		}
	}
	return nil
}

// windows are the time spans of a fault during which a request may go
// unreviewed (the webhook down) or unanswered (the API server down).
type windows struct {
	mu    sync.Mutex
	spans [][2]time.Time
}

// open starts a window; the returned func closes it.
func (w *windows) open() func() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.spans = append(w.spans, [2]time.Time{time.Now(), {}})
	i := len(w.spans) - 1
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.spans[i][1] = time.Now()
	}
}

// overlaps reports whether [from, to] meets a window.
func (w *windows) overlaps(from, to time.Time) bool {
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.spans {
		end := s[1]
		if end.IsZero() {
			end = to
		}
		if !from.After(end) && !to.Before(s[0]) {
			return true
		}
	}
	return false
}

// Load is what one load run counted.
type Load struct {
	Requests, Failed, Wrong atomic.Int64
	// Unreviewed are admissions made without the webhook while it was down
	// (the API server's failurePolicy: Ignore); Unavailable are requests
	// the API server could not take while it was down.
	Unreviewed, Unavailable atomic.Int64
	Took                    time.Duration

	mu      sync.Mutex
	samples []string
}

func (l *Load) sample(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.samples) < 5 {
		l.samples = append(l.samples, fmt.Sprintf(format, a...))
	}
}

// Samples are the first few failures and wrong answers.
func (l *Load) Samples() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.samples)
}

// Rate is requests per second.
func (l *Load) Rate() float64 {
	if l.Took <= 0 {
		return 0
	}
	return float64(l.Requests.Load()) / l.Took.Seconds()
}

// loadOptions shape one load run.
type loadOptions struct {
	workers int
	// webhookDown and apiDown are fault windows (nil: none).
	webhookDown, apiDown *windows
	// extra is called for every request with its outcome (nil: none); a
	// non-empty return is a wrong answer.
	check func(c *Case, got Outcome) string
}

// runLoad sends the cases round robin from o.workers clients until ctx
// ends, comparing each answer with the case's.
func runLoad(ctx context.Context, cl client.Client, cases []*Case, o loadOptions) *Load {
	l := &Load{}
	var next atomic.Int64
	var wg sync.WaitGroup
	began := time.Now()
	for range o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				c := cases[int(next.Add(1)-1)%len(cases)]
				from := time.Now()
				got, err := do(context.WithoutCancel(ctx), cl, c)
				to := time.Now()
				l.Requests.Add(1)
				switch {
				case err != nil && o.apiDown.overlaps(from, to):
					l.Unavailable.Add(1)
					time.Sleep(50 * time.Millisecond) // no busy loop on refused connections
				case err != nil:
					l.Failed.Add(1)
					l.sample("%s: %v", c.Name, err)
				case !got.Equal(c.Want) && !got.Denied && o.webhookDown.overlaps(from, to):
					l.Unreviewed.Add(1)
				case !got.Equal(c.Want):
					l.Wrong.Add(1)
					l.sample("%s: got %s, want %s", c.Name, got, c.Want)
				case o.check != nil:
					if why := o.check(c, got); why != "" {
						l.Wrong.Add(1)
						l.sample("%s: %s", c.Name, why)
					}
				}
			}
		}()
	}
	wg.Wait()
	l.Took = time.Since(began)
	return l
}
