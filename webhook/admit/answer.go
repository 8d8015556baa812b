package admit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/webhook/metrics"
	"github.com/modeguard/modeguard/workload"
)

// answer is what one handler decided for one subject. Answers are cached
// and shared by concurrent requests: they must not change once built.
type answer struct {
	denied    bool
	message   string // the denial's
	patches   []jsonpatch.JsonPatchOperation
	warnings  []string
	fixed     []string    // rule ids of the fixes in patches
	decisions [][2]string // rule, action
	result    string      // the requests metric's result label
	// size estimates the heap the answer holds (estimateSize), for the
	// result cache's byte bound; set before the answer is cached.
	size int64
}

// estimateSize is about what the answer holds on the heap, calibrated on
// the answers of examples/mg002-fires' DaemonSet (TestAnswerSizeEstimate):
// its strings, and its patches at eight times their JSON form (their
// values are decoded JSON: maps of interfaces).
func (a *answer) estimateSize() int64 {
	n := 320 + len(a.message)
	for _, w := range a.warnings {
		n += 16 + len(w)
	}
	n += 16*len(a.fixed) + 32*len(a.decisions)
	if len(a.patches) > 0 {
		b, err := json.Marshal(a.patches)
		if err != nil {
			return int64(n) + 16<<10 // unknown: counted large
		}
		n += 8 * len(b)
	}
	return int64(n)
}

// Response builds a fresh response (its warnings are the caller's).
func (a *answer) Response() admission.Response {
	r := admission.Allowed("")
	if a.denied {
		r = admission.Denied(a.message)
	}
	if len(a.patches) > 0 {
		pt := admissionv1.PatchTypeJSONPatch
		r.Patches, r.PatchType = a.patches, &pt
	}
	r.Warnings = slices.Clone(a.warnings)
	return r
}

// Count records the answer's decisions and fixes.
func (a *answer) Count(m *metrics.Metrics) {
	for _, d := range a.decisions {
		m.Decision(d[0], d[1])
	}
	for _, id := range a.fixed {
		m.FixApplied(id)
	}
}

// decideMutate is the mutating webhook's answer: the fixes as a JSON patch
// computed from the raw object, with one warning per fix. It never denies:
// that is the validating webhook's job, on the fixed object. Pods are the
// exception: the validating webhook does not see them, so this one also
// reports their warn, deny (as a warning: a Pod is never denied) and audit
// findings.
func decideMutate(ctx context.Context, req admission.Request, s *Subject, res *review.Result) (*answer, error) {
	a := &answer{warnings: FixWarnings(res)}
	pod := s.Kind == workload.KindPod.Name
	for _, f := range res.Findings {
		switch {
		case f.Action == policy.ActionFix:
			if f.Applied && f.Object == res.Subject {
				a.fixed = append(a.fixed, f.Rule.ID)
			}
		case !pod:
			continue // deny, warn and audit: the validating webhook's
		case f.Action == policy.ActionDeny:
			a.warnings = append(a.warnings, Line(res, f)+" [not denied: modeguard never denies a Pod]")
		case f.Action == policy.ActionWarn:
			a.warnings = append(a.warnings, Line(res, f))
		case f.Action == policy.ActionAudit:
			logf.FromContext(ctx).Info("Audit finding", "rule", f.Rule.ID, "finding", Line(res, f), "dryRun", s.DryRun)
		}
		a.decisions = append(a.decisions, [2]string{f.Rule.ID, string(f.Action)})
	}
	if res.Fixed != nil {
		res.Fixed.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind(req.Kind))
		fixed, err := json.Marshal(res.Fixed)
		if err != nil {
			return nil, fmt.Errorf("encoding the fixed %s: %w", s.Kind, err)
		}
		if a.patches, err = createPatch(req.Object.Raw, fixed); err != nil {
			return nil, fmt.Errorf("computing the patch of %s %s/%s: %w", s.Kind, s.Namespace, s.Name, err)
		}
	}
	switch {
	case len(a.patches) > 0:
		a.result = metrics.ResultPatched
	case len(a.warnings) > 0:
		a.result = metrics.ResultWarned
	default:
		a.result = metrics.ResultAllowed
	}
	return a, nil
}

// decideValidate is the validating webhook's answer: a denial listing the
// deny findings, warn findings as warnings, audit findings logged and
// counted. It never denies a Pod (the shipped configuration does not send it
// Pods; the mutating webhook reports theirs).
func decideValidate(ctx context.Context, _ admission.Request, s *Subject, res *review.Result) (*answer, error) {
	a := &answer{}
	pod := s.Kind == workload.KindPod.Name
	for _, f := range res.Findings {
		switch f.Action {
		case policy.ActionDeny:
			if pod {
				a.warnings = append(a.warnings, Line(res, f)+" [not denied: modeguard never denies a Pod]")
				continue
			}
			a.denied = true
		case policy.ActionWarn:
			a.warnings = append(a.warnings, Line(res, f))
		case policy.ActionAudit:
			logf.FromContext(ctx).Info("Audit finding", "rule", f.Rule.ID, "finding", Line(res, f), "dryRun", s.DryRun)
		default:
			continue // fixes: the mutating webhook's
		}
		if !pod { // the mutating webhook counts a Pod's decisions
			a.decisions = append(a.decisions, [2]string{f.Rule.ID, string(f.Action)})
		}
	}
	for _, n := range res.Notes {
		a.warnings = append(a.warnings, "modeguard: "+n)
	}
	switch {
	case a.denied:
		a.message = DenyMessage(res)
		a.result = metrics.ResultDenied
	case len(a.warnings) > 0:
		a.result = metrics.ResultWarned
	default:
		a.result = metrics.ResultAllowed
	}
	return a, nil
}
