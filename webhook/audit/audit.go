package audit

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/lookup"
	"github.com/modeguard/modeguard/webhook/metrics"
	"github.com/modeguard/modeguard/workload"
)

// Defaults.
const (
	DefaultInterval = time.Hour
	DefaultDebounce = 300 * time.Millisecond
	// retryDelay is how long a namespace whose audit failed (a lookup, a
	// report write) waits before it is audited again.
	retryDelay = 5 * time.Second
	// busyShare bounds the audit's share of one CPU while a namespace keeps
	// changing: after a namespace's review took d, a change waits at least
	// d*(1/busyShare-1) before the namespace is audited again. Only the
	// review counts: writing the report waits on the API server, which
	// costs no CPU here (a first write after a restart took 2 s, and made
	// the namespace wait 18 s for its next audit). A change of
	// one object re-reviews its whole namespace, so a namespace of
	// thousands of objects that a controller touches every second would
	// otherwise be reviewed without pause.
	busyShare = 0.1
	// crdCheck is how often the loop looks for a CRD kind (the Alloy
	// object) the lookup started watching, to watch its changes too, and
	// for a policy version it has not audited with.
	crdCheck = 5 * time.Second
	// eventMemory bounds the objects remembered so that an Event is
	// recorded once per object, content and policy version: more than the
	// objects with findings of a large cluster, so that a pass over an
	// unchanged cluster records none again (each is a hash: 32 bytes).
	eventMemory  = 16384
	maxEventNote = 1000 // events.k8s.io notes are limited to 1 kB
	// DefaultEventRate and DefaultEventBurst bound the Events the audit
	// records (Auditor.Events). The events.k8s.io recorder sends each
	// Event to the API server from a goroutine of its own, unthrottled:
	// the passes while make bench's scale step created and audited its
	// 11,000 objects started thousands of requests at once (6,000
	// goroutines, 85 MB of stacks, a peak of 358 MiB). An Event over the
	// limit is not recorded, nor remembered: a later pass records it. The
	// reports hold every finding meanwhile.
	DefaultEventRate  = rate.Limit(10)
	DefaultEventBurst = 100
	// eventLogEvery spaces the log lines about Events left out.
	eventLogEvery = time.Minute
)

// Event reason and action of the Events on objects with deny, fix or warn
// findings.
const (
	ReasonViolation = "PolicyViolation"
	actionAudit     = "Audit"
)

// Lookup is what the audit reads around a subject: the webhook's
// *lookup.Cache.
type Lookup interface {
	review.Lookup
	// Watching reports whether objects of a kind are watched (a CRD kind
	// once its CustomResourceDefinition is served).
	Watching(k *workload.Kind) bool
}

var _ Lookup = (*lookup.Cache)(nil)

// Auditor is the audit loop, a manager Runnable run by the leader only.
type Auditor struct {
	// Cache is the manager's informer cache, set up by lookup.Setup (its
	// indexes): the loop lists subjects from it and watches its informers.
	Cache cache.Cache
	// Lookup is the webhook's view of the cache, shared with admission.
	Lookup Lookup
	// Reader reads reports from the API server (no informer of reports is
	// kept); Client writes them.
	Reader client.Reader
	Client client.Client
	// Reviewer is the same reviewer as the handlers'.
	Reviewer *review.Reviewer
	// Recorder records Events on objects with deny, fix and warn findings
	// (nil: none), at most as fast as Events allows (nil: a limiter of
	// DefaultEventRate and DefaultEventBurst).
	Recorder events.EventRecorder
	Events   *rate.Limiter
	Metrics  *metrics.Metrics
	Log      logr.Logger
	// Format is the report format: FormatOpenReports ("") or
	// FormatWGPolicy.
	Format string
	// Interval between full passes (0: DefaultInterval); Debounce is how
	// long a change waits for the changes after it (0: DefaultDebounce).
	Interval time.Duration
	Debounce time.Duration

	mu      sync.Mutex
	pending map[string]bool // namespaces to audit
	// retrying are the namespaces whose audit failed, queued again soon.
	retrying map[string]bool
	all      bool // a full pass is due
	wake     chan struct{}
	version  string // the policy version of the last full pass
	crds     map[*workload.Kind]bool
	regs     []registration
	events   *admit.Cache[struct{}] // by eventKey
	// eventsOver counts the Events left out since eventsLogged, when the
	// last line saying so was logged.
	eventsOver   int
	eventsLogged time.Time
	noCRD        bool // the Report CRD was found missing (logged once)
	// rest holds the namespaces that may not be audited on a change before
	// a time (busyShare); entries leave once their time has passed.
	rest map[string]time.Time
}

type registration struct {
	inf cache.Informer
	reg toolscache.ResourceEventHandlerRegistration
}

// NeedLeaderElection is true: only the leader audits and writes reports.
func (a *Auditor) NeedLeaderElection() bool { return true }

// Reload asks for a full pass: the policy in force changed.
func (a *Auditor) Reload() { a.enqueueAll() }

// Start runs the loop until ctx ends: a full pass once the cache synced,
// then passes on changes, reloads and every Interval.
func (a *Auditor) Start(ctx context.Context) error {
	a.init()
	defer a.removeHandlers()
	for _, k := range append(staticKinds(), workload.KindConfigMap, workload.KindHPA, workload.KindNamespace) {
		if err := a.watch(ctx, k); err != nil {
			return err
		}
	}
	if !a.Cache.WaitForCacheSync(ctx) {
		return nil // ctx ended
	}
	a.watchCRDs(ctx)
	a.enqueueAll()
	every := time.NewTicker(a.Interval)
	defer every.Stop()
	check := time.NewTicker(crdCheck)
	defer check.Stop()
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	settling := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.wake:
			if !settling {
				settle.Reset(a.Debounce)
				settling = true
			}
		case <-settle.C:
			settling = false
			if next := a.pass(ctx); !next.IsZero() {
				settle.Reset(max(a.Debounce, time.Until(next)))
				settling = true
			}
		case <-every.C:
			a.enqueueAll()
		case <-check.C:
			a.watchCRDs(ctx)
			if v := a.Reviewer.Engine.Version(); v != a.lastVersion() {
				a.enqueueAll()
			}
		}
	}
}

func (a *Auditor) init() {
	if a.Interval <= 0 {
		a.Interval = DefaultInterval
	}
	if a.Debounce <= 0 {
		a.Debounce = DefaultDebounce
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.wake == nil {
		a.wake = make(chan struct{}, 1)
	}
	if a.pending == nil {
		a.pending = map[string]bool{}
	}
	a.crds = map[*workload.Kind]bool{}
}

func (a *Auditor) lastVersion() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.version
}

// staticKinds are the workload kinds every cluster serves.
func staticKinds() []*workload.Kind {
	var out []*workload.Kind
	for _, k := range workload.Workloads() {
		if !k.CRD {
			out = append(out, k)
		}
	}
	return out
}

// watchCRDs watches the CRD kinds the lookup started watching since.
func (a *Auditor) watchCRDs(ctx context.Context) {
	for _, k := range workload.Workloads() {
		if !k.CRD || a.crds[k] || !a.Lookup.Watching(k) {
			continue
		}
		if err := a.watch(ctx, k); err != nil {
			a.Log.Error(err, "Watching a custom resource for the audit: retrying later", "kind", k.Name)
			continue
		}
		a.crds[k] = true
	}
}

// watch adds the loop's handler to the informer of k: a change queues the
// namespace it is in.
func (a *Auditor) watch(ctx context.Context, k *workload.Kind) error {
	inf, err := a.Cache.GetInformer(ctx, k.Informer(), cache.BlockUntilSynced(false))
	if err != nil {
		return fmt.Errorf("informer for %ss: %w", k.Name, err)
	}
	relevant := a.relevance(k)
	h := toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) {
			if ns, ok := relevant(o); ok {
				a.enqueue(ns)
			}
		},
		UpdateFunc: func(old, o any) {
			ns, ok := relevant(o)
			if !ok {
				ns, ok = relevant(old) // no longer an agent: its results go
			}
			if ok {
				a.enqueue(ns)
			}
		},
		DeleteFunc: func(o any) {
			if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
				o = d.Obj
			}
			if ns, ok := relevant(o); ok {
				a.enqueue(ns)
			}
		},
	}
	reg, err := inf.AddEventHandler(h)
	if err != nil {
		return fmt.Errorf("watching %s changes: %w", k.Name, err)
	}
	a.regs = append(a.regs, registration{inf: inf, reg: reg})
	return nil
}

func (a *Auditor) removeHandlers() {
	for _, r := range a.regs {
		_ = r.inf.RemoveEventHandler(r.reg) // the informer stops with the manager anyway
	}
	a.regs = nil
}

// relevance returns the filter of k's changes: the namespace a change
// queues, and whether it queues one. Changes of objects that cannot be
// agents or their config (a Deployment of something else, a ConfigMap
// nothing reads as an agent config) are dropped, so that the churn of a
// large cluster does not keep the loop busy.
func (a *Auditor) relevance(k *workload.Kind) func(o any) (string, bool) {
	switch {
	case k == workload.KindNamespace:
		return func(o any) (string, bool) {
			m, err := meta.Accessor(o)
			if err != nil {
				return "", false
			}
			return m.GetName(), true
		}
	case k == workload.KindConfigMap:
		return func(o any) (string, bool) {
			cm, ok := o.(*corev1.ConfigMap)
			if !ok {
				return "", false
			}
			if len(cm.Data) > 0 || len(cm.BinaryData) > 0 { // kept by lookup.TransformConfigMap: looks like agent config
				return cm.Namespace, true
			}
			// A predicate gets no context; the lookup bounds its reads.
			cons, err := a.Lookup.Consumers(context.Background(), cm.Namespace, cm.Name)
			return cm.Namespace, err != nil || len(cons) > 0
		}
	case k.Workload:
		return func(o any) (string, bool) {
			obj, ok := o.(runtime.Object)
			if !ok {
				return "", false
			}
			f, err := a.Reviewer.Agents().FromObject(obj, nil)
			if err != nil || !f.Agent {
				return "", false
			}
			return f.Namespace, true
		}
	default: // HPAs
		return func(o any) (string, bool) {
			m, err := meta.Accessor(o)
			if err != nil {
				return "", false
			}
			return m.GetNamespace(), true
		}
	}
}

func (a *Auditor) enqueue(ns string) {
	a.mu.Lock()
	if a.pending == nil { // before Start: Start audits everything anyway
		a.pending = map[string]bool{}
	}
	a.pending[ns] = true
	a.mu.Unlock()
	a.nudge()
}

func (a *Auditor) enqueueAll() {
	a.mu.Lock()
	a.all = true
	a.mu.Unlock()
	a.nudge()
}

// nudge wakes the loop; before Start (a.wake nil: a replica that is not
// the leader) it does nothing.
func (a *Auditor) nudge() {
	a.mu.Lock()
	wake := a.wake
	a.mu.Unlock()
	select {
	case wake <- struct{}{}:
	default: // a wake-up is queued already, or no loop runs
	}
}

// pass audits the namespaces queued, or every namespace when a full pass is
// due. A namespace that fails is queued again after retryDelay; a full pass
// in which one failed is not recorded as complete. A namespace queued by a
// change while it rests (busyShare) stays queued: next is the earliest time
// one may be audited (zero: none left).
func (a *Auditor) pass(ctx context.Context) (next time.Time) {
	a.mu.Lock()
	pending, all := a.pending, a.all
	a.pending, a.all = map[string]bool{}, false
	if !all {
		next = resting(pending, a.pending, a.rest, time.Now())
	}
	a.mu.Unlock()
	began := time.Now()
	version := a.Reviewer.Engine.Version()
	if all {
		nss, err := a.namespaces(ctx)
		if err != nil {
			// The version check queues the full pass again.
			a.Log.Error(err, "Listing the namespaces to audit: retrying later")
			all = false
		}
		for _, ns := range nss {
			pending[ns] = true
		}
	}
	names := make([]string, 0, len(pending))
	for ns := range pending {
		names = append(names, ns)
	}
	sort.Strings(names)
	failed := 0
	for _, ns := range names {
		if ctx.Err() != nil {
			return next
		}
		reviewed, err := a.namespace(ctx, ns)
		a.rested(ns, reviewed)
		if err != nil {
			failed++
			a.Log.Error(err, "Auditing a namespace: retrying later", "namespace", ns, "in", retryDelay.String())
			a.retry(ns)
		}
	}
	if !all {
		return next
	}
	// The namespaces that failed are retried on their own: the version is
	// audited either way.
	a.mu.Lock()
	a.version = version
	a.mu.Unlock()
	if failed > 0 {
		a.Log.Info("Audit pass incomplete", "namespaces", len(names), "failed", failed)
		return next
	}
	end := time.Now()
	// A full pass reviews every agent object: return its garbage to the
	// system now rather than keep it resident until the next one.
	debug.FreeOSMemory()
	a.Metrics.AuditPass(end, end.Sub(began))
	a.Log.Info("Audit pass complete", "namespaces", len(names), "duration", end.Sub(began).Round(time.Millisecond).String(), "policyVersion", version)
	return next
}

// resting moves the namespaces of pending that rest at now into later, and
// forgets the rests that ended; next is the earliest end of a rest that
// kept a namespace back (zero: none).
func resting(pending, later map[string]bool, rest map[string]time.Time, now time.Time) (next time.Time) {
	for ns, until := range rest {
		switch {
		case !now.Before(until):
			delete(rest, ns)
		case pending[ns]:
			delete(pending, ns)
			later[ns] = true
			if next.IsZero() || until.Before(next) {
				next = until
			}
		}
	}
	return next
}

// rested makes ns rest after an audit that took d (busyShare).
func (a *Auditor) rested(ns string, d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.rest == nil {
		a.rest = map[string]time.Time{}
	}
	a.rest[ns] = time.Now().Add(time.Duration(float64(d) * (1/busyShare - 1)))
}

// retry queues ns again after retryDelay, once however often it failed
// meanwhile.
func (a *Auditor) retry(ns string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.retrying[ns] {
		return
	}
	if a.retrying == nil {
		a.retrying = map[string]bool{}
	}
	a.retrying[ns] = true
	time.AfterFunc(retryDelay, func() {
		a.mu.Lock()
		delete(a.retrying, ns)
		a.mu.Unlock()
		a.enqueue(ns)
	})
}

// namespaces are the namespaces a full pass audits: those holding agent
// workloads or agent-looking ConfigMaps, and those holding a modeguard
// report (which may have to go).
func (a *Auditor) namespaces(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	for _, k := range a.workloads() {
		list := k.NewList()
		if err := a.Cache.List(ctx, list, client.MatchingFields{lookup.IndexAgent: "true"}, client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("listing agent %ss: %w", k.Name, err)
		}
		objs, err := meta.ExtractList(list)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			seen[o.(client.Object).GetNamespace()] = true
		}
	}
	cms := &corev1.ConfigMapList{}
	if err := a.Cache.List(ctx, cms, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing ConfigMaps: %w", err)
	}
	for i := range cms.Items {
		if cm := &cms.Items[i]; len(cm.Data) > 0 || len(cm.BinaryData) > 0 {
			seen[cm.Namespace] = true
		}
	}
	reports := &unstructured.UnstructuredList{}
	gvk := GVK(a.Format)
	reports.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	switch err := a.Reader.List(ctx, reports, client.MatchingLabels{LabelManagedBy: ManagedBy}); {
	case err == nil:
		for _, r := range reports.Items {
			seen[r.GetNamespace()] = true
		}
	case meta.IsNoMatchError(err):
		a.reportCRDMissing(err)
	default:
		return nil, fmt.Errorf("listing modeguard's reports: %w", err)
	}
	out := make([]string, 0, len(seen))
	for ns := range seen {
		out = append(out, ns)
	}
	return out, nil
}

// workloads are the workload kinds watched now.
func (a *Auditor) workloads() []*workload.Kind {
	var out []*workload.Kind
	for _, k := range workload.Workloads() {
		if a.Lookup.Watching(k) {
			out = append(out, k)
		}
	}
	return out
}

// Review reviews every agent workload and agent ConfigMap of namespace as
// admission would, in CHECK mode (nothing is patched), and returns their
// findings, each once (review.MergeFindings), and the objects reviewed by
// reference.
func (a *Auditor) Review(ctx context.Context, namespace string) ([]review.Finding, map[review.ObjectRef]client.Object, error) {
	workloads, configMaps, err := a.subjects(ctx, namespace)
	if err != nil {
		return nil, nil, err
	}
	// Objects are kept only while reviewed, or when they have findings (for
	// the report's UIDs and the Events): a namespace of thousands of
	// ConfigMaps is never held whole.
	objs := map[review.ObjectRef]client.Object{}
	var results []*review.Result
	reviewOne := func(s client.Object) error {
		res, err := a.Reviewer.Review(ctx, s, a.Lookup, review.Options{Operation: "CHECK"})
		switch {
		case errors.Is(err, review.ErrUnsupported):
			return nil
		case err != nil:
			if le := (*review.LookupError)(nil); errors.As(err, &le) {
				a.Metrics.LookupError(le.Kind)
			}
			return err
		case res.Skipped != "":
			return nil
		}
		a.Metrics.Evaluated("audit", res.Subject.Kind)
		if len(res.Findings) > 0 {
			objs[res.Subject] = s
		}
		// Only the findings are reported: the fixed copies would be held
		// for the whole namespace until the merge.
		res.Fixed, res.Related = nil, nil
		results = append(results, res)
		return nil
	}
	for _, s := range workloads {
		if err := reviewOne(s); err != nil {
			return nil, nil, err
		}
	}
	for _, n := range configMaps {
		// Through the lookup: it reads the API server when the cache holds
		// the ConfigMap without its data.
		cm, err := a.Lookup.ConfigMap(ctx, namespace, n)
		if err != nil {
			return nil, nil, &review.LookupError{Kind: review.LookupConfigMap, Namespace: namespace, Name: n, Err: err}
		}
		if cm == nil || cm.DeletionTimestamp != nil {
			continue
		}
		if err := reviewOne(cm); err != nil {
			return nil, nil, err
		}
	}
	return review.MergeFindings(results), objs, nil
}

// subjects are what namespace holds to review: its agent workloads, and the
// names of the ConfigMaps they read and of those that look like agent
// config (read one at a time by Review). Workloads being deleted are left
// out, as admission leaves them.
func (a *Auditor) subjects(ctx context.Context, namespace string) (workloads []client.Object, configMaps []string, err error) {
	reads := map[string]bool{}
	for _, k := range a.workloads() {
		list := k.NewList()
		if err := a.Cache.List(ctx, list, client.InNamespace(namespace), client.MatchingFields{lookup.IndexAgent: "true"}); err != nil {
			return nil, nil, fmt.Errorf("listing agent %ss of %s: %w", k.Name, namespace, err)
		}
		objs, err := meta.ExtractList(list)
		if err != nil {
			return nil, nil, err
		}
		for _, o := range objs {
			obj := o.(client.Object)
			if obj.GetDeletionTimestamp() != nil {
				continue
			}
			workloads = append(workloads, obj)
			if cm := lookup.ConfigMapOf(obj, a.Reviewer.Agents()); cm != "" {
				reads[cm] = true
			}
		}
	}
	cms := &corev1.ConfigMapList{}
	// Only names and sizes are read here: no copy of every ConfigMap's data.
	if err := a.Cache.List(ctx, cms, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, nil, fmt.Errorf("listing ConfigMaps of %s: %w", namespace, err)
	}
	for i := range cms.Items {
		if cm := &cms.Items[i]; len(cm.Data) > 0 || len(cm.BinaryData) > 0 {
			reads[cm.Name] = true
		}
	}
	configMaps = make([]string, 0, len(reads))
	for n := range reads {
		configMaps = append(configMaps, n)
	}
	sort.Strings(configMaps)
	return workloads, configMaps, nil
}

// Namespace audits one namespace: it reviews its subjects, sets the gauge,
// records Events, and writes, updates or deletes its report.
func (a *Auditor) Namespace(ctx context.Context, namespace string) error {
	_, err := a.namespace(ctx, namespace)
	return err
}

// namespace is Namespace, and says how long the review took (its CPU
// work, without the report's round trips to the API server).
func (a *Auditor) namespace(ctx context.Context, namespace string) (reviewed time.Duration, err error) {
	began := time.Now()
	findings, objs, err := a.Review(ctx, namespace)
	reviewed = time.Since(began)
	if err != nil {
		return reviewed, err
	}
	counts := map[metrics.AuditKey]int{}
	uids := map[review.ObjectRef]types.UID{}
	for ref, o := range objs {
		uids[ref] = o.GetUID()
	}
	for _, f := range findings {
		counts[metrics.AuditKey{Rule: f.Rule.ID, Action: string(f.Action)}]++
	}
	if err := a.writeReport(ctx, namespace, findings, uids); err != nil {
		return reviewed, err
	}
	a.Metrics.AuditNamespace(namespace, counts)
	a.record(findings, objs)
	return reviewed, nil
}

// strict makes the API server refuse a report its CRD's schema does not
// hold, instead of dropping the fields it does not know.
const strict = client.FieldValidation("Strict")

// writeReport makes namespace's report say findings: created, updated in
// place when its content changed, deleted when there is nothing to say.
func (a *Auditor) writeReport(ctx context.Context, namespace string, findings []review.Finding, uids map[review.ObjectRef]types.UID) error {
	gvk := GVK(a.Format)
	raw := &unstructured.Unstructured{}
	raw.SetGroupVersionKind(gvk)
	var have *reportsv1alpha1.Report
	err := a.Reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ReportName}, raw)
	switch {
	case meta.IsNoMatchError(err):
		a.reportCRDMissing(err)
		return nil
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("reading the %s of %s: %w", gvk.Kind, namespace, err)
	default:
		if have, err = Decode(raw); err != nil {
			return err
		}
	}
	if have != nil && !Owned(have) {
		a.Log.Info("A report of modeguard's name is not modeguard's: left alone, not written", "namespace", namespace, "kind", gvk.Kind, "report", ReportName, "label", LabelManagedBy+"="+ManagedBy)
		return nil
	}
	if len(findings) == 0 {
		if have == nil {
			return nil
		}
		if err := a.Client.Delete(ctx, raw, client.Preconditions{UID: &have.UID}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting the %s of %s: %w", gvk.Kind, namespace, err)
		}
		a.Log.V(1).Info("Report deleted: no finding left", "namespace", namespace, "kind", gvk.Kind)
		return nil
	}
	var prev []reportsv1alpha1.ReportResult
	if have != nil {
		prev = have.Results
	}
	want := NewReport(namespace, Results(findings, uids, prev, time.Now()))
	if have == nil {
		u, err := Encode(want, a.Format)
		if err != nil {
			return err
		}
		if err := a.Client.Create(ctx, u, strict); err != nil {
			return fmt.Errorf("creating the %s of %s: %w", gvk.Kind, namespace, err)
		}
		a.Log.V(1).Info("Report created", "namespace", namespace, "kind", gvk.Kind, "results", len(want.Results))
		return nil
	}
	if sameContent(have, want) {
		return nil
	}
	for k, v := range want.Labels {
		if have.Labels == nil {
			have.Labels = map[string]string{}
		}
		have.Labels[k] = v
	}
	have.Source, have.Results, have.Summary = want.Source, want.Results, want.Summary
	u, err := Encode(have, a.Format)
	if err != nil {
		return err
	}
	if err := a.Client.Update(ctx, u, strict); err != nil {
		return fmt.Errorf("updating the %s of %s: %w", gvk.Kind, namespace, err)
	}
	a.Log.V(1).Info("Report updated", "namespace", namespace, "kind", gvk.Kind, "results", len(want.Results))
	return nil
}

func (a *Auditor) reportCRDMissing(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.noCRD {
		a.noCRD = true
		gvk := GVK(a.Format)
		a.Log.Error(err, "The report CRD is not installed: no reports are written; the gauge and Events still are", "group", gvk.Group, "version", gvk.Version, "kind", gvk.Kind)
	}
}

// record records one Event per object with deny, fix or warn findings, once
// per object, content (resourceVersion) and policy version, as fast as
// a.Events allows; the Events it leaves out are counted and logged.
func (a *Auditor) record(findings []review.Finding, objs map[review.ObjectRef]client.Object) {
	if a.Recorder == nil {
		return
	}
	a.mu.Lock()
	if a.events == nil {
		a.events = admit.NewCache[struct{}](eventMemory)
	}
	if a.Events == nil {
		a.Events = rate.NewLimiter(DefaultEventRate, DefaultEventBurst)
	}
	a.mu.Unlock()
	by := map[review.ObjectRef][]string{}
	var refs []review.ObjectRef
	for _, f := range findings {
		if f.Action != policy.ActionDeny && f.Action != policy.ActionFix && f.Action != policy.ActionWarn {
			continue
		}
		if _, ok := objs[f.Object]; !ok {
			continue
		}
		if by[f.Object] == nil {
			refs = append(refs, f.Object)
		}
		by[f.Object] = append(by[f.Object], fmt.Sprintf("- %s [%s]", f.Decision.String(), f.Action))
	}
	version := a.Reviewer.Engine.Version()
	var over []review.ObjectRef
	for _, ref := range refs {
		obj := objs[ref]
		note := "modeguard's audit found:\n" + strings.Join(by[ref], "\n")
		key := eventKey(ref, obj, version, note)
		if _, ok := a.events.Get(key); ok {
			continue
		}
		if !a.Events.Allow() {
			over = append(over, ref)
			continue
		}
		a.events.Add(key, struct{}{})
		if len(note) > maxEventNote {
			note = note[:maxEventNote-3] + "..."
		}
		a.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, ReasonViolation, actionAudit, "%s", note)
	}
	if len(over) == 0 {
		return
	}
	a.Metrics.EventsNotRecorded(len(over))
	// One log line a minute at most: a pass over many namespaces calls
	// record once for each.
	a.mu.Lock()
	a.eventsOver += len(over)
	n, now := a.eventsOver, time.Now()
	due := now.Sub(a.eventsLogged) >= eventLogEvery
	if due {
		a.eventsOver, a.eventsLogged = 0, now
	}
	a.mu.Unlock()
	if due {
		a.Log.Info("Events not recorded: over the audit's Event rate; a later pass records them, and the reports hold every finding",
			"objects", n, "last", over[0].Kind+" "+over[0].Namespace+"/"+over[0].Name, "ratePerSecond", float64(a.Events.Limit()), "burst", a.Events.Burst())
	}
}

// eventKey identifies an Event in the audit's memory of those recorded: the
// object (with its UID and resourceVersion), the policy version and the
// note, as a hash.
func eventKey(ref review.ObjectRef, obj client.Object, version, note string) string {
	h := sha256.New()
	for _, s := range []string{ref.Kind, ref.Namespace, ref.Name, string(obj.GetUID()), obj.GetResourceVersion(), version, note} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return string(h.Sum(nil))
}
