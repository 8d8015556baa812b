package validate

import (
	"context"
	"slices"

	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/metrics"
)

// Path is where the validating handler is served.
const Path = "/validate"

// Handler is the validating admission handler.
type Handler struct {
	pipeline *admit.Pipeline
}

var _ admission.Handler = (*Handler)(nil)

// NewHandler returns a handler over core, with a result cache of cacheSize
// entries (admit.DefaultCacheSize when 0; no cache when negative).
func NewHandler(core *admit.Core, decoder admission.Decoder, cacheSize int) *Handler {
	return &Handler{pipeline: admit.NewPipeline(core, decoder, "validate", cacheSize, decide)}
}

// Handle implements admission.Handler.
func (h *Handler) Handle(ctx context.Context, req admission.Request) admission.Response {
	return h.pipeline.Handle(ctx, req)
}

// answer is the validating handler's admit.Answer.
type answer struct {
	denied    bool
	message   string
	warnings  []string
	decisions [][2]string // rule, action
	result    string
}

func (a *answer) Response() admission.Response {
	r := admission.Allowed("")
	if a.denied {
		r = admission.Denied(a.message)
	}
	r.Warnings = slices.Clone(a.warnings)
	return r
}

func (a *answer) Result() string { return a.result }

func (a *answer) Count(m *metrics.Metrics) {
	for _, d := range a.decisions {
		m.Decision(d[0], d[1])
	}
}

// decide turns a review into a verdict, warnings and what to count.
func decide(ctx context.Context, _ admission.Request, s *admit.Subject, res *review.Result) (admit.Answer, error) {
	a := &answer{}
	pod := s.Kind == "Pod"
	for _, f := range res.Findings {
		switch f.Action {
		case policy.ActionDeny:
			if pod {
				a.warnings = append(a.warnings, admit.Line(res, f)+" [not denied: modeguard never denies a Pod]")
				continue
			}
			a.denied = true
		case policy.ActionWarn:
			a.warnings = append(a.warnings, admit.Line(res, f))
		case policy.ActionAudit:
			logf.FromContext(ctx).Info("Audit finding", "rule", f.Rule.ID, "finding", admit.Line(res, f), "dryRun", s.DryRun)
		default:
			continue // fixes: the mutating handler's
		}
		if !pod { // the mutating handler counts a Pod's decisions
			a.decisions = append(a.decisions, [2]string{f.Rule.ID, string(f.Action)})
		}
	}
	for _, n := range res.Notes {
		a.warnings = append(a.warnings, "modeguard: "+n)
	}
	switch {
	case a.denied:
		a.message = admit.DenyMessage(res)
		a.result = metrics.ResultDenied
	case len(a.warnings) > 0:
		a.result = metrics.ResultWarned
	default:
		a.result = metrics.ResultAllowed
	}
	return a, nil
}
