package resubmit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/lookup"
	"github.com/modeguard/modeguard/webhook/metrics"
	"github.com/modeguard/modeguard/workload"
)

// AnnotationReviewed is set on an object the reconciler re-submits:
// "<policy version>/<content hash>".
const AnnotationReviewed = "modeguard.dev/reviewed"

// MaxResubmissions bounds the re-submissions of one object under one policy
// version, in case a fix and the review of its result ever disagree.
const MaxResubmissions = 3

// Event reasons.
const (
	ReasonResubmitted   = "FixResubmitted" // re-submitted so that a fix applies
	ReasonNotApplied    = "FixNotApplied"  // re-submitted before, still unfixed
	ReasonDenied        = "ResubmitDenied" // the re-submission was rejected
	ReasonLimit         = "ResubmitLimit"  // MaxResubmissions reached
	ReasonAudit         = "AuditFinding"   // audit findings
	controllerName      = "modeguard-resubmit"
	maxEventNote        = 1000 // events.k8s.io notes are limited to 1 kB
	resubmissionCounter = 4096 // objects remembered for counts and events
)

// Lookup is what the reconciler reads: the objects around a ConfigMap, and
// every ConfigMap an agent reads (re-checked after a policy reload). The
// webhook's is a *lookup.Cache.
type Lookup interface {
	review.Lookup
	AgentConfigMaps(ctx context.Context) ([]types.NamespacedName, error)
}

var _ Lookup = (*lookup.Cache)(nil)

// Reconciler re-submits agent ConfigMaps and their workloads whose review
// would apply a fix. A reconcile.Request names a ConfigMap.
type Reconciler struct {
	// Client writes the annotation (the manager's client).
	Client client.Client
	// Lookup is the webhook's informer-cache view, shared with the handlers.
	Lookup Lookup
	// Reviewer is the same reviewer as the handlers'.
	Reviewer *review.Reviewer
	// Recorder records Events on the objects.
	Recorder events.EventRecorder
	Metrics  *metrics.Metrics

	seen   *admit.Cache[struct{}] // what was evented, by object and value
	counts *admit.Cache[int]      // re-submissions by object and policy version
}

// SetupWithManager registers the reconciler: it watches ConfigMaps read by
// agent workloads, the agent workloads themselves (mapped to their
// ConfigMap), and resync, on which every agent ConfigMap is reconciled (send
// on it after a policy reload).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, resync <-chan event.GenericEvent) error {
	r.Init()
	toConfigMap := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		if cm := lookup.ConfigMapOf(o, r.Reviewer.Agents()); cm != "" {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: cm}}}
		}
		return nil
	})
	all := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
		cms, err := r.Lookup.AgentConfigMaps(ctx)
		if err != nil {
			logf.FromContext(ctx).Error(err, "Listing agent ConfigMaps to re-check")
			return nil
		}
		out := make([]reconcile.Request, len(cms))
		for i, cm := range cms {
			out[i] = reconcile.Request{NamespacedName: cm}
		}
		return out
	})
	consumed := predicate.NewPredicateFuncs(func(o client.Object) bool {
		// A predicate gets no context; the lookup bounds its reads. One
		// that fails lets the event through: Reconcile reports it.
		cons, err := r.Lookup.Consumers(context.Background(), o.GetNamespace(), o.GetName())
		return err != nil || len(cons) > 0
	})
	b := builder.ControllerManagedBy(mgr).
		Named(controllerName).
		For(workload.KindConfigMap.New(), builder.WithPredicates(consumed))
	for _, k := range workload.Workloads() {
		if k.CRD {
			// A cluster may not serve it (the Alloy CRD): a watch would
			// fail there. A changed Alloy object is admitted, and so
			// reviewed, anyway.
			continue
		}
		b = b.Watches(k.New(), toConfigMap)
	}
	return b.WatchesRawSource(source.Channel(resync, all)).Complete(r)
}

// Init prepares the reconciler's memory (SetupWithManager calls it; a test
// calling Reconcile directly calls it first).
func (r *Reconciler) Init() {
	r.seen = admit.NewCache[struct{}](resubmissionCounter)
	r.counts = admit.NewCache[int](resubmissionCounter)
}

// Reconcile reviews one ConfigMap and the agent workloads that read it, and
// re-submits those a fix would change.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	cm, err := r.Lookup.ConfigMap(ctx, req.Namespace, req.Name)
	if err != nil {
		return reconcile.Result{}, r.failed(&review.LookupError{Kind: review.LookupConfigMap, Namespace: req.Namespace, Name: req.Name, Err: err})
	}
	if cm == nil {
		return reconcile.Result{}, nil
	}
	sur := review.Surround(ctx, r.Lookup, cm, r.Reviewer.Agents())
	if sur.Err != nil {
		return reconcile.Result{}, r.failed(fmt.Errorf("reconciling ConfigMap %s: %w", req.NamespacedName, sur.Err))
	}
	if len(sur.Consumers) == 0 {
		return reconcile.Result{}, nil // mode unknown: the admission review was all there is
	}
	opts := review.Options{Operation: "UPDATE"}
	for i, obj := range append([]runtime.Object{cm}, sur.Consumers...) {
		var res *review.Result
		if i == 0 {
			res, err = r.Reviewer.ReviewWith(ctx, obj, sur, opts)
		} else {
			res, err = r.Reviewer.Review(ctx, obj, r.Lookup, opts)
		}
		if err != nil {
			return reconcile.Result{}, r.failed(fmt.Errorf("reviewing %s %s/%s: %w", review.KindOf(obj), req.Namespace, name(obj), err))
		}
		if res.Skipped != "" {
			continue
		}
		if err := r.settle(ctx, obj.(client.Object), res); err != nil {
			return reconcile.Result{}, err
		}
	}
	return reconcile.Result{}, nil
}

// failed counts err when a lookup failed, and returns it: the
// reconcile is retried.
func (r *Reconciler) failed(err error) error {
	if le := (*review.LookupError)(nil); errors.As(err, &le) && r.Metrics != nil {
		r.Metrics.LookupError(le.Kind)
	}
	return err
}

// settle records audit findings and re-submits obj if a fix would change it.
func (r *Reconciler) settle(ctx context.Context, obj client.Object, res *review.Result) error {
	log := logf.FromContext(ctx).WithValues("object", res.Subject)
	kind, key := res.Subject.Kind, objectKey(obj)
	value := res.PolicyVersion + "/" + contentHash(obj)
	if audits := admit.Findings(res, policy.ActionAudit); len(audits) > 0 && r.once("audit", key, value) {
		r.event(obj, corev1.EventTypeNormal, ReasonAudit, "Review", lines(res, audits))
	}
	pending := pendingFixes(res)
	if res.Fixed == nil || len(pending) == 0 {
		return nil
	}
	if obj.GetAnnotations()[AnnotationReviewed] == value {
		r.Metrics.Resubmission(kind, "unchanged")
		if r.once("not-applied", key, value) {
			log.Info("Re-submitted before, still not fixed: is the mutating webhook reachable?", "reviewed", value)
			r.event(obj, corev1.EventTypeWarning, ReasonNotApplied, "Resubmit",
				"re-submitted for these fixes, but the object did not change; the mutating webhook may be unreachable:\n"+lines(res, pending))
		}
		return nil
	}
	countKey := key + "/" + res.PolicyVersion
	n, _ := r.counts.Get(countKey)
	if n >= MaxResubmissions {
		r.Metrics.Resubmission(kind, "limit")
		if r.once("limit", key, res.PolicyVersion) {
			r.event(obj, corev1.EventTypeWarning, ReasonLimit, "Resubmit",
				fmt.Sprintf("re-submitted %d times under this policy and a fix still applies; giving up:\n%s", n, lines(res, pending)))
		}
		return nil
	}
	// obj may be the informer cache's own object (the Lookup's consumers
	// are not copies): the annotation goes on a copy, which the Patch
	// also overwrites with the API server's answer.
	patch := client.MergeFrom(obj)
	obj = obj.DeepCopyObject().(client.Object)
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[AnnotationReviewed] = value
	obj.SetAnnotations(a)
	if err := r.Client.Patch(ctx, obj, patch); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case apierrors.IsForbidden(err) || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
			r.Metrics.Resubmission(kind, "denied")
			log.Info("Re-submission rejected", "error", err.Error())
			if r.once("denied", key, value) {
				r.event(obj, corev1.EventTypeWarning, ReasonDenied, "Resubmit", "re-submission rejected: "+err.Error())
			}
			return nil
		}
		r.Metrics.Resubmission(kind, "error")
		return fmt.Errorf("re-submitting %s %s/%s: %w", kind, obj.GetNamespace(), obj.GetName(), err)
	}
	r.counts.Add(countKey, n+1)
	r.Metrics.Resubmission(kind, "resubmitted")
	log.Info("Re-submitted for fixes", "reviewed", value, "fixes", len(pending))
	r.event(obj, corev1.EventTypeNormal, ReasonResubmitted, "Resubmit",
		"re-submitted so that the mutating webhook applies these fixes, now that the mode is known:\n"+lines(res, pending))
	return nil
}

// once reports whether this (what, object, value) is seen for the first
// time: events are recorded once per object, content and policy version.
func (r *Reconciler) once(what, key, value string) bool {
	k := what + "|" + key + "|" + value
	if _, ok := r.seen.Get(k); ok {
		return false
	}
	r.seen.Add(k, struct{}{})
	return true
}

// objectKey names obj in the reconciler's memory: a ConfigMap and a
// DaemonSet may share a name, and a re-created object gets a new UID.
func objectKey(obj client.Object) string {
	return fmt.Sprintf("%s/%s/%s/%s", review.KindOf(obj), obj.GetNamespace(), obj.GetName(), obj.GetUID())
}

func (r *Reconciler) event(obj runtime.Object, typ, reason, action, note string) {
	if r.Recorder == nil {
		return
	}
	if len(note) > maxEventNote {
		note = note[:maxEventNote-3] + "..."
	}
	r.Recorder.Eventf(obj, nil, typ, reason, action, "%s", note)
}

// pendingFixes are the fixes a review applied to its own subject: what a
// re-submission makes the mutating webhook apply.
func pendingFixes(res *review.Result) []review.Finding {
	var out []review.Finding
	for _, f := range res.Findings {
		if f.Action == policy.ActionFix && f.Applied && f.Object == res.Subject {
			out = append(out, f)
		}
	}
	return out
}

func lines(res *review.Result, fs []review.Finding) string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = "- " + admit.Line(res, f)
	}
	return strings.Join(out, "\n")
}

// contentHash hashes what fixes edit: a ConfigMap's data, a workload's spec.
func contentHash(obj runtime.Object) string {
	var v any = obj
	if cm, ok := obj.(*corev1.ConfigMap); ok {
		v = []any{cm.Data, cm.BinaryData}
	} else if k := workload.KindOf(obj); k != nil && k.Workload {
		v = k.Spec(obj)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "unhashable"
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func name(obj runtime.Object) string {
	if o, ok := obj.(client.Object); ok {
		return o.GetName()
	}
	return ""
}
