package mutate

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
	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/metrics"
)

// Path is where the mutating handler is served.
const Path = "/mutate"

// Handler is the mutating admission handler: it decodes the request,
// answers non-agent objects untouched, reviews the rest, and returns the
// fixes as a JSON patch computed from the raw object, with one warning per
// fix (applied here, or pending on the object it edits). It never denies:
// that is the validating handler's job, on the fixed object. Pods are the
// exception: the validating webhook does not see them, so this handler also
// reports their warn, deny (as a warning: a Pod is never denied) and audit
// findings.
type Handler struct {
	pipeline *admit.Pipeline
}

var _ admission.Handler = (*Handler)(nil)

// NewHandler returns a handler over core, with a result cache of cacheSize
// entries (admit.DefaultCacheSize when 0; no cache when negative).
func NewHandler(core *admit.Core, decoder admission.Decoder, cacheSize int) *Handler {
	return &Handler{pipeline: admit.NewPipeline(core, decoder, "mutate", cacheSize, decide)}
}

// Handle implements admission.Handler.
func (h *Handler) Handle(ctx context.Context, req admission.Request) admission.Response {
	return h.pipeline.Handle(ctx, req)
}

// answer is the mutating handler's admit.Answer.
type answer struct {
	patches   []jsonpatch.JsonPatchOperation
	warnings  []string
	fixed     []string    // rule ids of the fixes in patches
	decisions [][2]string // rule, action
	result    string
}

func (a *answer) Response() admission.Response {
	r := admission.Allowed("")
	if len(a.patches) > 0 {
		pt := admissionv1.PatchTypeJSONPatch
		r.Patches, r.PatchType = a.patches, &pt
	}
	r.Warnings = slices.Clone(a.warnings)
	return r
}

func (a *answer) Result() string { return a.result }

func (a *answer) Count(m *metrics.Metrics) {
	for _, d := range a.decisions {
		m.Decision(d[0], d[1])
	}
	for _, id := range a.fixed {
		m.FixApplied(id)
	}
}

// decide turns a review into patches, warnings and what to count.
func decide(ctx context.Context, req admission.Request, s *admit.Subject, res *review.Result) (admit.Answer, error) {
	a := &answer{warnings: admit.FixWarnings(res)}
	pod := s.Kind == "Pod"
	for _, f := range res.Findings {
		switch {
		case f.Action == policy.ActionFix:
			if f.Applied && f.Object == res.Subject {
				a.fixed = append(a.fixed, f.Rule.ID)
			}
		case !pod:
			continue // deny, warn and audit: the validating handler's
		case f.Action == policy.ActionDeny:
			a.warnings = append(a.warnings, admit.Line(res, f)+" [not denied: modeguard never denies a Pod]")
		case f.Action == policy.ActionWarn:
			a.warnings = append(a.warnings, admit.Line(res, f))
		case f.Action == policy.ActionAudit:
			logf.FromContext(ctx).Info("Audit finding", "rule", f.Rule.ID, "finding", admit.Line(res, f), "dryRun", s.DryRun)
		}
		a.decisions = append(a.decisions, [2]string{f.Rule.ID, string(f.Action)})
	}
	if res.Fixed != nil {
		res.Fixed.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind(req.Kind))
		fixed, err := json.Marshal(res.Fixed)
		if err != nil {
			return nil, fmt.Errorf("encoding the fixed %s: %w", s.Kind, err)
		}
		r := admission.PatchResponseFromRaw(req.Object.Raw, fixed)
		if !r.Allowed {
			return nil, fmt.Errorf("computing the patch of %s %s/%s: %s", s.Kind, s.Namespace, s.Name, r.Result.Message)
		}
		a.patches = r.Patches
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
