package admit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/webhook/metrics"
)

// Answer is what one handler decided for one subject. Answers are cached
// and shared by concurrent requests: they must not change once built.
type Answer interface {
	// Response builds a fresh response (its slices are the caller's).
	Response() admission.Response
	// Result is the requests metric's result label.
	Result() string
	// Count records the answer's decisions and fixes.
	Count(m *metrics.Metrics)
}

// Decide turns a review into an answer.
type Decide func(ctx context.Context, req admission.Request, s *Subject, res *review.Result) (Answer, error)

// Pipeline is the flow both handlers share: decode (400 on failure), guard
// (non-agent objects pass untouched, counted as skipped), the objects
// around the subject looked up once, result cache, review, failure policy on
// failed lookups, engine errors and timeouts, decide, count.
type Pipeline struct {
	core    *Core
	decoder admission.Decoder
	webhook string
	decide  Decide
	cache   *Cache[Answer]
}

// NewPipeline returns the flow of the named webhook (mutate, validate). A
// cacheSize of 0 means DefaultCacheSize; a negative one, no result cache.
func NewPipeline(core *Core, decoder admission.Decoder, webhook string, cacheSize int, decide Decide) *Pipeline {
	p := &Pipeline{core: core, decoder: decoder, webhook: webhook, decide: decide}
	if cacheSize >= 0 {
		p.cache = NewCache[Answer](cacheSize)
	}
	return p
}

// Handle answers one admission request, within the core's Timeout.
func (p *Pipeline) Handle(ctx context.Context, req admission.Request) admission.Response {
	start := time.Now()
	ctx, cancel := p.core.withTimeout(ctx)
	defer cancel()
	resp, result := p.handle(ctx, req)
	p.core.Metrics.Request(p.webhook, req.Kind.Kind, string(req.Operation), result, time.Since(start))
	return resp
}

func (p *Pipeline) handle(ctx context.Context, req admission.Request) (admission.Response, string) {
	log := logf.FromContext(ctx)
	s, err := Decode(p.decoder, req)
	if errors.Is(err, ErrUnhandledKind) {
		p.core.Metrics.Skipped(metrics.SkipUnhandled)
		return admission.Allowed(""), metrics.ResultSkipped
	}
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err), metrics.ResultInvalid
	}
	if reason, why := p.core.Guard(s); reason != "" {
		p.core.Metrics.Skipped(reason)
		log.V(1).Info("Not evaluated", "reason", why)
		if reason == metrics.SkipTooLarge {
			return admission.Allowed("").WithWarnings(why), metrics.ResultSkipped
		}
		return admission.Allowed(""), metrics.ResultSkipped
	}
	sur := p.core.Surround(ctx, s)
	key := p.core.Key(s, sur)
	if a, ok := p.cache.Get(key); ok {
		p.core.Metrics.Skipped(metrics.SkipCacheHit)
		a.Count(p.core.Metrics)
		return a.Response(), a.Result()
	}
	res, err := p.core.Review(ctx, p.webhook, s, sur)
	if err != nil {
		// A failed lookup, an engine error or the deadline: not cached,
		// the next request may be luckier.
		what := "Policy evaluation failed"
		if errors.As(err, new(*review.LookupError)) {
			what = "Looking up the objects around the subject failed: not reviewed"
		}
		if ctx.Err() != nil {
			// Out of time (or the API server hung up): that is why,
			// whatever stage it interrupted.
			err = context.Cause(ctx)
		}
		log.Error(err, what, "uid", s.UID, "failurePolicy", p.core.FailurePolicy)
		if p.core.FailurePolicy == FailDeny {
			return admission.Errored(http.StatusInternalServerError,
				fmt.Errorf("modeguard could not evaluate %s %s/%s (request %s): %w", s.Kind, s.Namespace, s.Name, s.UID, err)), metrics.ResultError
		}
		return admission.Allowed("").WithWarnings(EngineErrorWarning(s.UID, err)), metrics.ResultError
	}
	if res.Skipped != "" {
		log.V(1).Info("Not evaluated", "reason", res.Skipped)
		return admission.Allowed(""), metrics.ResultSkipped
	}
	a, err := p.decide(ctx, req, s, res)
	if err != nil {
		log.Error(err, "Building the answer failed", "uid", s.UID)
		return admission.Errored(http.StatusInternalServerError, err), metrics.ResultError
	}
	if len(res.Findings) > 0 {
		// One line per decision that found something: rule, action and
		// component, never config text or object data.
		found := make([]string, 0, len(res.Findings))
		for _, f := range res.Findings {
			found = append(found, f.Rule.ID+":"+string(f.Action)+":"+f.Component)
		}
		log.Info("Decision", "uid", s.UID, "webhook", p.webhook, "kind", s.Kind, "namespace", s.Namespace, "name", s.Name,
			"operation", req.Operation, "dryRun", s.DryRun, "result", a.Result(), "findings", found)
	}
	p.cache.Add(key, a)
	p.core.Metrics.CacheEntries(p.webhook, p.cache.Len())
	a.Count(p.core.Metrics)
	return a.Response(), a.Result()
}
