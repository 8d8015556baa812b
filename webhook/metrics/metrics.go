package metrics

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names.
const (
	RequestsTotal          = "modeguard_admission_requests_total"
	DurationSeconds        = "modeguard_admission_duration_seconds"
	DecisionsTotal         = "modeguard_decisions_total"
	FixesAppliedTotal      = "modeguard_fixes_applied_total"
	PolicyReloadsTotal     = "modeguard_policy_reloads_total"
	PolicyLastLoadSeconds  = "modeguard_policy_last_load_timestamp_seconds"
	EvaluationsSkipped     = "modeguard_evaluations_skipped_total"
	ResubmissionsTotal     = "modeguard_resubmissions_total"
	ResultCacheEntries     = "modeguard_result_cache_entries"
	EvaluationsTotal       = "modeguard_evaluations_total"
	StaleReadsTotal        = "modeguard_cache_stale_reads_total"
	LookupErrorsTotal      = "modeguard_lookup_errors_total"
	PolicyMemoTotal        = "modeguard_policy_memo_total"
	DryRunOverlayEntries   = "modeguard_dryrun_overlay_entries"
	DryRunOverlayBytes     = "modeguard_dryrun_overlay_bytes"
	AuditFindings          = "modeguard_audit_findings"
	AuditLastPassSeconds   = "modeguard_audit_last_pass_timestamp_seconds"
	AuditPassDuration      = "modeguard_audit_pass_duration_seconds"
	AuditEventsNotRecorded = "modeguard_audit_events_not_recorded_total"
)

// Results of an admission request (label result).
const (
	ResultAllowed = "allowed" // admitted unchanged, no warning
	ResultPatched = "patched" // admitted with fixes (mutating)
	ResultWarned  = "warned"  // admitted with warnings
	ResultDenied  = "denied"  // rejected by a rule
	ResultSkipped = "skipped" // not evaluated (not an agent, exempt, ...)
	ResultInvalid = "invalid" // could not be decoded (400)
	ResultError   = "error"   // the engine failed; the failure policy answered
)

// Reasons an evaluation was skipped (label reason).
const (
	SkipNotAgent  = "not-agent"        // not an agent workload, Pod or ConfigMap
	SkipExempt    = "exempt-namespace" // the settings exempt the namespace
	SkipDeleting  = "deleting"         // an update of an object being deleted
	SkipCacheHit  = "cache-hit"        // the result cache answered
	SkipUnhandled = "unhandled-kind"   // a kind modeguard does not review
	SkipTooLarge  = "too-large"        // a ConfigMap past the API server's 1 MiB limit
)

// Reload results (label result).
const (
	ReloadSuccess = "success"
	ReloadError   = "error"
)

// durationBuckets span a cache hit (tens of µs) to a timeout (3 s).
var durationBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// Metrics are the webhook's collectors.
type Metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	decisions     *prometheus.CounterVec
	fixes         *prometheus.CounterVec
	reloads       *prometheus.CounterVec
	lastLoad      prometheus.Gauge
	skipped       *prometheus.CounterVec
	evaluations   *prometheus.CounterVec
	resubmissions *prometheus.CounterVec
	cacheEntries  *prometheus.GaugeVec
	staleReads    *prometheus.CounterVec
	lookupErrors  *prometheus.CounterVec
	auditFindings *prometheus.GaugeVec
	auditLastPass prometheus.Gauge
	auditDuration prometheus.Gauge
	auditEventsNo prometheus.Counter
}

// New creates the collectors and registers them on reg (controller-runtime's
// metrics.Registry in the webhook; a fresh registry in tests). Collectors
// already registered under the same name (a second Metrics in one process)
// are reused.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: RequestsTotal,
			Help: "Admission requests by webhook (mutate, validate), kind, operation and result (allowed, patched, warned, denied, skipped, invalid, error).",
		}, []string{"webhook", "kind", "operation", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    DurationSeconds,
			Help:    "Time to answer an admission request, from decoding to the response, by webhook and kind.",
			Buckets: durationBuckets,
		}, []string{"webhook", "kind"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: DecisionsTotal,
			Help: "Decisions by rule and action. The mutating webhook counts fix decisions, the validating webhook deny, warn and audit ones (both for Pods, which only the mutating webhook sees); the reconciler does not count.",
		}, []string{"rule", "action"}),
		fixes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: FixesAppliedTotal,
			Help: "Fixes applied to an admitted object by the mutating webhook, by rule.",
		}, []string{"rule"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: PolicyReloadsTotal,
			Help: "Policy reloads by result (success, error). After an error the last good policy stays in force.",
		}, []string{"result"}),
		lastLoad: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: PolicyLastLoadSeconds,
			Help: "When the policy in force was loaded, as a Unix timestamp.",
		}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: EvaluationsSkipped,
			Help: "Admission requests answered without evaluating the policy, by reason (not-agent, exempt-namespace, deleting, cache-hit, unhandled-kind, too-large).",
		}, []string{"reason"}),
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: EvaluationsTotal,
			Help: "Reviews that evaluated the policy, by webhook (mutate, validate, reconcile, audit) and subject kind.",
		}, []string{"webhook", "kind"}),
		resubmissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: ResubmissionsTotal,
			Help: "Objects the reconciler re-submitted through admission so that pending fixes apply, by kind and result (resubmitted, unchanged, denied, error).",
		}, []string{"kind", "result"}),
		cacheEntries: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: ResultCacheEntries,
			Help: "Entries in the admission result cache, by webhook.",
		}, []string{"webhook"}),
		staleReads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: StaleReadsTotal,
			Help: "Lookups read live from the API server because the informer watch of their kind broke and the cache was not yet seen to catch up, by kind.",
		}, []string{"kind"}),
		lookupErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: LookupErrorsTotal,
			Help: "Lookups of the objects around a subject that failed (the cache and the API server did not answer), by what was looked up (ConfigMap, Workload: the agent workloads reading a ConfigMap, HorizontalPodAutoscaler, Namespace). The subject was not reviewed: the failure policy answered, or the reconciler retries.",
		}, []string{"kind"}),
		auditFindings: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: AuditFindings,
			Help: "Findings of the audit of the objects in the cluster (webhook/audit), by namespace, rule and action (deny, fix, warn, audit), as of the namespace's last audit.",
		}, []string{"namespace", "rule", "action"}),
		auditLastPass: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: AuditLastPassSeconds,
			Help: "When the audit last completed a pass over every namespace, as a Unix timestamp (0: none yet on this replica).",
		}),
		auditDuration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: AuditPassDuration,
			Help: "How long the last complete audit pass over every namespace took.",
		}),
		auditEventsNo: prometheus.NewCounter(prometheus.CounterOpts{
			Name: AuditEventsNotRecorded,
			Help: "Events on objects with findings that the audit did not record because they came faster than its Event rate; a later pass records them (the reports hold every finding).",
		}),
	}
	var err error
	m.requests = register(reg, m.requests, &err)
	m.duration = register(reg, m.duration, &err)
	m.decisions = register(reg, m.decisions, &err)
	m.fixes = register(reg, m.fixes, &err)
	m.reloads = register(reg, m.reloads, &err)
	m.lastLoad = register(reg, m.lastLoad, &err)
	m.skipped = register(reg, m.skipped, &err)
	m.evaluations = register(reg, m.evaluations, &err)
	m.resubmissions = register(reg, m.resubmissions, &err)
	m.cacheEntries = register(reg, m.cacheEntries, &err)
	m.staleReads = register(reg, m.staleReads, &err)
	m.lookupErrors = register(reg, m.lookupErrors, &err)
	m.auditFindings = register(reg, m.auditFindings, &err)
	m.auditLastPass = register(reg, m.auditLastPass, &err)
	m.auditDuration = register(reg, m.auditDuration, &err)
	m.auditEventsNo = register(reg, m.auditEventsNo, &err)
	if err != nil {
		return nil, err
	}
	// Make the series exist from the start, so that a dashboard (or a test)
	// sees a zero rather than nothing.
	for _, r := range []string{ReloadSuccess, ReloadError} {
		m.reloads.WithLabelValues(r)
	}
	for _, r := range []string{SkipNotAgent, SkipExempt, SkipDeleting, SkipCacheHit, SkipUnhandled, SkipTooLarge} {
		m.skipped.WithLabelValues(r)
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// its name; the first error is kept in *err.
func register[C prometheus.Collector](reg prometheus.Registerer, c C, err *error) C {
	if *err != nil {
		return c
	}
	if e := reg.Register(c); e != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(e, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		*err = e
	}
	return c
}

// Request records one answered admission request.
func (m *Metrics) Request(webhook, kind, operation, result string, d time.Duration) {
	m.requests.WithLabelValues(webhook, kind, operation, result).Inc()
	m.duration.WithLabelValues(webhook, kind).Observe(d.Seconds())
}

// Decision records one decision.
func (m *Metrics) Decision(rule, action string) {
	m.decisions.WithLabelValues(rule, action).Inc()
}

// FixApplied records one fix applied to an admitted object.
func (m *Metrics) FixApplied(rule string) {
	m.fixes.WithLabelValues(rule).Inc()
}

// Skipped records a request answered without evaluation.
func (m *Metrics) Skipped(reason string) {
	m.skipped.WithLabelValues(reason).Inc()
}

// Evaluated records a review that evaluated the policy.
func (m *Metrics) Evaluated(webhook, kind string) {
	m.evaluations.WithLabelValues(webhook, kind).Inc()
}

// Reload records a policy reload; at is when the policy in force was loaded.
func (m *Metrics) Reload(ok bool, at time.Time) {
	if !ok {
		m.reloads.WithLabelValues(ReloadError).Inc()
		return
	}
	m.reloads.WithLabelValues(ReloadSuccess).Inc()
	m.PolicyLoaded(at)
}

// PolicyLoaded sets the last load time (also at start, without counting a
// reload).
func (m *Metrics) PolicyLoaded(at time.Time) {
	m.lastLoad.Set(float64(at.UnixNano()) / 1e9)
}

// Resubmission records what the reconciler did with one object.
func (m *Metrics) Resubmission(kind, result string) {
	m.resubmissions.WithLabelValues(kind, result).Inc()
}

// CacheEntries reports the size of a webhook's result cache.
func (m *Metrics) CacheEntries(webhook string, n int) {
	m.cacheEntries.WithLabelValues(webhook).Set(float64(n))
}

// StaleRead records a lookup read live because the cache may be behind.
func (m *Metrics) StaleRead(kind string) {
	m.staleReads.WithLabelValues(kind).Inc()
}

// LookupError records a lookup that failed; kind is what was looked up.
func (m *Metrics) LookupError(kind string) {
	m.lookupErrors.WithLabelValues(kind).Inc()
}

// AuditKey labels a count of audit findings: the rule and the action.
type AuditKey struct{ Rule, Action string }

// AuditNamespace sets the audit findings of namespace to counts, dropping
// the series of rules and actions no longer found there.
func (m *Metrics) AuditNamespace(namespace string, counts map[AuditKey]int) {
	m.auditFindings.DeletePartialMatch(prometheus.Labels{"namespace": namespace})
	for k, n := range counts {
		m.auditFindings.WithLabelValues(namespace, k.Rule, k.Action).Set(float64(n))
	}
}

// AuditPass records a complete audit pass that ended at end and took d.
func (m *Metrics) AuditPass(end time.Time, d time.Duration) {
	m.auditLastPass.Set(float64(end.UnixNano()) / 1e9)
	m.auditDuration.Set(d.Seconds())
}

// EventsNotRecorded counts n Events the audit left out (over its rate).
func (m *Metrics) EventsNotRecorded(n int) {
	m.auditEventsNo.Add(float64(n))
}

// WatchMemo exports the policy engine's memo of evaluations as
// PolicyMemoTotal{result="hit"|"miss"}, read from stats (policy.Memo.Stats)
// at each scrape. A second call on one registry keeps the first.
func WatchMemo(reg prometheus.Registerer, stats func() (hits, misses int64)) error {
	for _, result := range []string{"hit", "miss"} {
		c := prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        PolicyMemoTotal,
			Help:        "Policy evaluations answered from the memo of recent inputs (hit) or evaluated (miss).",
			ConstLabels: prometheus.Labels{"result": result},
		}, func() float64 {
			h, m := stats()
			if result == "hit" {
				return float64(h)
			}
			return float64(m)
		})
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return fmt.Errorf("registering %s: %w", PolicyMemoTotal, err)
			}
		}
	}
	return nil
}

// RegisterOverlay registers the gauges of the dry-run overlay's size on reg,
// read from size (entries, bytes) at each scrape. Gauges already registered
// (a second server in one process) are replaced.
func RegisterOverlay(reg prometheus.Registerer, size func() (int, int64)) error {
	entries := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: DryRunOverlayEntries,
		Help: "Objects the dry-run overlay remembers (dry-run objects of the last minute, by user).",
	}, func() float64 { n, _ := size(); return float64(n) })
	bytes := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: DryRunOverlayBytes,
		Help: "Encoded size of the objects the dry-run overlay remembers.",
	}, func() float64 { _, b := size(); return float64(b) })
	for _, c := range []prometheus.Collector{entries, bytes} {
		reg.Unregister(c)
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
