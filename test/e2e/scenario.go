package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pmezard/go-difflib/difflib"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/workload"
)

// Step is one `kubectl apply` of one object.
type Step struct {
	Object   string // "ConfigMap ns/name"
	Allowed  bool
	Warnings []string // as kubectl printed them, without "Warning: "
	Denial   string   // the error kubectl printed
}

// Outcome is what happened to one example in the cluster.
type Outcome struct {
	Name      string
	Summary   string // the example's first comment line
	Order     string // "ConfigMap first" or "workload first"
	Steps     []Step
	Observed  []string // rule:action seen in kubectl's output, sorted
	Expected  []string // rule:action the annotations promise, less audit (not shown by kubectl)
	Diffs     []string // what the fixes changed in the live objects
	Remaining []string // fix findings a review of the live objects still makes
	Settled   time.Duration
}

// OK reports whether the example behaved as its annotations say.
func (o *Outcome) OK() bool {
	return slices.Equal(o.Observed, o.Expected) && len(o.Remaining) == 0
}

var ruleRef = regexp.MustCompile(`\b(MG\d{3}) [a-z0-9-]+:`)

// observe reads rule ids and actions out of kubectl's warnings and denial.
func observe(steps []Step) []string {
	seen := map[string]bool{}
	for _, s := range steps {
		for _, w := range s.Warnings {
			for _, m := range ruleRef.FindAllStringSubmatch(w, -1) {
				action := "warn"
				switch {
				case strings.Contains(w, "[fixed]"), strings.Contains(w, "[fix will be applied"):
					action = "fix"
				case strings.Contains(w, "[not denied"):
					action = "deny"
				}
				seen[m[1]+":"+action] = true
			}
		}
		for _, m := range ruleRef.FindAllStringSubmatch(s.Denial, -1) {
			seen[m[1]+":deny"] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func expectations(docs []manifest.Document) []string {
	seen := map[string]bool{}
	for _, d := range docs {
		if d.Object == nil {
			continue
		}
		m, _ := meta.Accessor(d.Object)
		for _, e := range strings.Split(m.GetAnnotations()[examples.AnnotationExpect], ",") {
			e = strings.TrimSpace(e)
			if e == "" || e == "none" || strings.HasSuffix(e, ":audit") {
				continue
			}
			seen[e] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func objName(d manifest.Document) string {
	if d.Namespace == "" {
		return d.Kind + " " + d.Name
	}
	return fmt.Sprintf("%s %s/%s", d.Kind, d.Namespace, d.Name)
}

// RunExample applies one example's objects one by one with kubectl (its
// Namespace first, then the ConfigMap before or after the workload), waits
// until the reconciler has applied the fixes that waited for the mode, and
// reports what happened.
func (c *Cluster) RunExample(ctx context.Context, rv *review.Reviewer, name string, docs []manifest.Document, workloadFirst bool) (*Outcome, error) {
	o := &Outcome{Name: name, Expected: expectations(docs), Order: "ConfigMap first"}
	if len(docs) > 0 {
		o.Summary = strings.TrimPrefix(strings.SplitN(string(docs[0].Raw), "\n", 2)[0], "# ")
	}
	var order []manifest.Document
	rank := func(d manifest.Document) int {
		switch d.Kind {
		case "Namespace":
			return 0
		case "ConfigMap":
			if workloadFirst {
				return 2
			}
			return 1
		}
		if workloadFirst {
			return 1
		}
		return 2
	}
	order = append(order, docs...)
	sort.SliceStable(order, func(i, j int) bool { return rank(order[i]) < rank(order[j]) })
	if workloadFirst {
		o.Order = "workload first"
	}
	for _, d := range order {
		r := c.KubectlAllowFail(ctx, string(d.Raw), "apply", "-f", "-")
		if d.Kind == "Namespace" {
			if r.Err != nil {
				return nil, fmt.Errorf("creating %s: %v: %s", objName(d), r.Err, r.Stderr)
			}
			continue
		}
		s := Step{Object: objName(d), Allowed: r.Err == nil}
		for _, l := range strings.Split(r.Stderr, "\n") {
			if w, ok := strings.CutPrefix(l, "Warning: "); ok {
				s.Warnings = append(s.Warnings, w)
			} else if strings.TrimSpace(l) != "" && r.Err != nil {
				s.Denial += l + "\n"
			}
		}
		o.Steps = append(o.Steps, s)
	}
	o.Observed = observe(o.Steps)
	began := time.Now()
	live, err := c.settle(ctx, rv, docs, o)
	if err != nil {
		return nil, err
	}
	o.Settled = time.Since(began)
	o.Diffs = diffs(docs, live)
	return o, nil
}

// settle waits (up to 30 s) until reviewing the live objects finds no fix
// left to apply: the reconciler has re-submitted what waited for the mode.
func (c *Cluster) settle(ctx context.Context, rv *review.Reviewer, docs []manifest.Document, o *Outcome) (map[string]runtime.Object, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		live, err := c.liveObjects(ctx, docs)
		if err != nil {
			return nil, err
		}
		objs := make([]runtime.Object, 0, len(live))
		for _, d := range docs {
			if l, ok := live[objName(d)]; ok {
				objs = append(objs, l)
			}
		}
		res, err := rv.ReviewBundle(ctx, objs, review.Options{Operation: "CHECK"})
		if err != nil {
			return nil, err
		}
		o.Remaining = o.Remaining[:0]
		for _, f := range res.Findings {
			if f.Action == policy.ActionFix {
				o.Remaining = append(o.Remaining, f.Decision.String())
			}
		}
		if len(o.Remaining) == 0 || time.Now().After(deadline) {
			return live, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// liveObjects reads the example's admitted objects back from the cluster.
func (c *Cluster) liveObjects(ctx context.Context, docs []manifest.Document) (map[string]runtime.Object, error) {
	out := map[string]runtime.Object{}
	for _, d := range docs {
		if d.Object == nil || d.Kind == "Namespace" {
			continue
		}
		r := c.KubectlAllowFail(ctx, "", "get", "-n", d.Namespace, strings.ToLower(d.Kind), d.Name, "-o", "yaml", "--ignore-not-found")
		if r.Err != nil {
			return nil, fmt.Errorf("reading %s back: %v: %s", objName(d), r.Err, r.Stderr)
		}
		if strings.TrimSpace(r.Stdout) == "" {
			continue // denied: never created
		}
		ds, err := manifest.Parse(objName(d), []byte(r.Stdout))
		if err != nil || len(ds) != 1 || ds[0].Object == nil {
			return nil, fmt.Errorf("reading %s back: %v", objName(d), err)
		}
		out[objName(d)] = ds[0].Object
	}
	return out, nil
}

// diffs shows what changed between each manifest and its live object: the
// config text of ConfigMaps, the containers of workloads.
func diffs(docs []manifest.Document, live map[string]runtime.Object) []string {
	var out []string
	for _, d := range docs {
		l, ok := live[objName(d)]
		if !ok {
			continue
		}
		var before, after map[string]string
		switch o := d.Object.(type) {
		case *corev1.ConfigMap:
			before, after = o.Data, l.(*corev1.ConfigMap).Data
		case *appsv1.DaemonSet:
			before, after = containers(o.Spec.Template.Spec), containers(l.(*appsv1.DaemonSet).Spec.Template.Spec)
		case *appsv1.StatefulSet:
			before, after = containers(o.Spec.Template.Spec), containers(l.(*appsv1.StatefulSet).Spec.Template.Spec)
		case *appsv1.Deployment:
			before, after = containers(o.Spec.Template.Spec), containers(l.(*appsv1.Deployment).Spec.Template.Spec)
		case *workload.Alloy:
			before, after = alloyValues(o), alloyValues(l.(*workload.Alloy))
		default:
			continue
		}
		keys := make([]string, 0, len(before))
		for k := range before {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if before[k] == after[k] {
				continue
			}
			diff, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
				A: difflib.SplitLines(before[k]), B: difflib.SplitLines(after[k]),
				FromFile: objName(d) + " " + k + " (as applied)", ToFile: objName(d) + " " + k + " (in the cluster)", Context: 1,
			})
			out = append(out, diff)
		}
	}
	return out
}

// alloyValues renders an Alloy object's spec as YAML (its config content
// apart, so that a diff of it reads as one of the config).
func alloyValues(a *workload.Alloy) map[string]string {
	out := map[string]string{}
	if cm := workload.AlloyConfigMap(a); cm != nil {
		for k, v := range cm.Data {
			out["spec.alloy.configMap.content ("+k+")"] = v
		}
	}
	spec := a.DeepCopy().Spec
	if al, ok := spec["alloy"].(map[string]any); ok {
		if c, ok := al["configMap"].(map[string]any); ok {
			delete(c, "content")
		}
	}
	b, _ := yaml.Marshal(spec)
	out["spec"] = string(b)
	return out
}

// containers renders each container's command line and env as YAML.
func containers(spec corev1.PodSpec) map[string]string {
	out := map[string]string{}
	for _, c := range spec.Containers {
		b, _ := yaml.Marshal(map[string]any{"command": c.Command, "args": c.Args, "env": c.Env})
		out["container "+c.Name] = string(b)
	}
	return out
}
