package admit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/webhook/metrics"
)

// Paths where the handlers are served.
const (
	MutatePath   = "/mutate"
	ValidatePath = "/validate"
)

// Handler is an admission handler of modeguard: the flow both webhooks
// share (decode, 400 on failure; guard, non-agent objects pass untouched,
// counted as skipped; the objects around the subject looked up once; result
// cache; review; failure policy on failed lookups, engine errors and
// timeouts; decide; count), and the webhook's own decide step, which turns a
// review into its answer.
type Handler struct {
	core    *Core
	decoder admission.Decoder
	webhook string // mutate or validate: the metrics' webhook label
	decide  decideFunc
	cache   *Cache[*answer]
	// seen admits an answer to the cache on its key's second miss.
	seen *Doorkeeper
	// decisions logs the Decision lines: not the request's logger, whose
	// six values (controller-runtime's: the object, its namespace, name
	// and resource, the user, the request's UID) the line carries in its
	// own, cheaper to write.
	decisions logr.Logger
}

var _ admission.Handler = (*Handler)(nil)

// decideFunc turns a review into an answer.
type decideFunc func(ctx context.Context, req admission.Request, s *Subject, res *review.Result) (*answer, error)

// NewMutating returns the mutating handler over core: it returns the fixes
// as a JSON patch, with one warning per fix (applied here, or pending on the
// object it edits), and never denies (see decideMutate). A cacheSize of 0
// means DefaultCacheSize; a negative one, no result cache.
func NewMutating(core *Core, decoder admission.Decoder, cacheSize int) *Handler {
	return newHandler(core, decoder, "mutate", cacheSize, decideMutate)
}

// NewValidating returns the validating handler over core: it denies what
// still breaks a deny rule once fixed, and warns (see decideValidate). A
// cacheSize of 0 means DefaultCacheSize; a negative one, no result cache.
func NewValidating(core *Core, decoder admission.Decoder, cacheSize int) *Handler {
	return newHandler(core, decoder, "validate", cacheSize, decideValidate)
}

// Cached returns how many answers the handler's result cache holds, and
// what they cost by its estimate of their heap.
func (p *Handler) Cached() (entries int, bytes int64) {
	return p.cache.Len(), p.cache.Bytes()
}

func newHandler(core *Core, decoder admission.Decoder, webhook string, cacheSize int, decide decideFunc) *Handler {
	p := &Handler{core: core, decoder: decoder, webhook: webhook, decide: decide, decisions: logf.Log.WithName("admission")}
	if cacheSize >= 0 {
		p.cache = NewCacheBytes(cacheSize, DefaultCacheBytes, func(k string, a *answer) int64 { return int64(len(k)) + a.size })
		p.seen = NewDoorkeeper(cacheSize)
	}
	return p
}

// Handle answers one admission request, within the core's Timeout: it
// implements admission.Handler.
func (p *Handler) Handle(ctx context.Context, req admission.Request) admission.Response {
	start := time.Now()
	ctx, cancel := p.core.withTimeout(ctx)
	defer cancel()
	resp, result := p.handle(ctx, req)
	p.core.Metrics.Request(p.webhook, req.Kind.Kind, string(req.Operation), result, time.Since(start))
	return resp
}

func (p *Handler) handle(ctx context.Context, req admission.Request) (resp admission.Response, result string) {
	log := logf.FromContext(ctx)
	s, err := Decode(p.decoder, req)
	if errors.Is(err, ErrUnhandledKind) {
		if p.webhook == "validate" {
			p.core.rememberUnreviewed(p.decoder, req)
		}
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
	if s.DryRun && p.webhook == "validate" {
		defer func() { resp = p.core.dryRunDone(req, s, sur, resp, result) }()
	}
	var key string
	if p.cache != nil { // the key hashes the subject: not without a cache
		key = p.core.Key(s, sur)
	}
	if a, ok := p.cache.Get(key); ok {
		p.core.Metrics.Skipped(metrics.SkipCacheHit)
		a.Count(p.core.Metrics)
		return a.Response(), a.result
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
		p.decisions.Info("Decision", "uid", s.UID, "webhook", p.webhook, "kind", s.Kind, "namespace", s.Namespace, "name", s.Name,
			"user", req.UserInfo.Username, "operation", req.Operation, "dryRun", s.DryRun, "result", a.result, "findings", found)
	}
	if p.cache != nil && p.seen.Again(key) {
		a.size = a.estimateSize()
		p.cache.Add(key, a)
	}
	p.core.Metrics.CacheEntries(p.webhook, p.cache.Len())
	a.Count(p.core.Metrics)
	return a.Response(), a.result
}
