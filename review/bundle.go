package review

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

// BundleResult is the review of every object of a bundle.
type BundleResult struct {
	// Results holds one review per object, in input order; Results[i] is
	// nil for objects review does not handle (Services, RBAC, ...).
	Results []*Result
	// Findings merges the findings of every review by the object they are
	// about: a config finding seen while reviewing both the ConfigMap and its
	// DaemonSet is listed once, as the ConfigMap's own review saw it.
	Findings []Finding
}

// Fixed returns the fixed form of objs[i] (nil when unchanged or not
// reviewed).
func (b *BundleResult) Fixed(i int) runtime.Object {
	if b.Results[i] == nil {
		return nil
	}
	return b.Results[i].Fixed
}

// Denied reports whether any finding denies.
func (b *BundleResult) Denied() bool {
	for _, r := range b.Results {
		if r != nil && r.Denied() {
			return true
		}
	}
	return false
}

// ReviewBundle reviews every object of objs as if all were applied
// together: objects relate to each other through a Set of the bundle.
func (rv *Reviewer) ReviewBundle(ctx context.Context, objs []runtime.Object, opts Options) (*BundleResult, error) {
	set := NewSetWith(objs, rv.Agents())
	out := &BundleResult{Results: make([]*Result, len(objs))}
	for i, o := range objs {
		r, err := rv.Review(ctx, o, set, opts)
		if errors.Is(err, ErrUnsupported) {
			continue
		}
		if err != nil {
			m, _ := meta.Accessor(o)
			name := ""
			if m != nil {
				name = m.GetNamespace() + "/" + m.GetName()
			}
			return nil, fmt.Errorf("reviewing %s %s: %w", KindOf(o), name, err)
		}
		out.Results[i] = r
	}
	rv.noteUnrecognized(ctx, objs, set, out.Results)
	out.Findings = merge(out.Results)
	return out, nil
}

// MergeFindings is the merge of ReviewBundle over results reviewed
// elsewhere (the webhook's audit, over the informer caches): each finding
// once, preferring the review of the object it is about.
func MergeFindings(results []*Result) []Finding { return merge(results) }

func findingKey(f Finding) string {
	return fmt.Sprintf("%s|%s/%s/%s|%s|%d|%d|%s|%s", f.Rule.ID, f.Object.Kind, f.Object.Namespace, f.Object.Name, f.Key, f.Line, f.Column, f.Component, f.Message)
}

// merge keeps each finding once, preferring the review of the object the
// finding is about (its annotations decide skips there).
func merge(results []*Result) []Finding {
	seen := map[string]bool{}
	var out []Finding
	for _, own := range []bool{true, false} {
		for _, r := range results {
			if r == nil {
				continue
			}
			for _, f := range r.Findings {
				if (f.Object == r.Subject) != own {
					continue
				}
				k := findingKey(f)
				if seen[k] {
					continue
				}
				seen[k] = true
				out = append(out, f)
			}
		}
	}
	sortFindings(out)
	return out
}
