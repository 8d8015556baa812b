package admit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	sigsjson "sigs.k8s.io/json"

	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/webhook/dryrun"
	"github.com/modeguard/modeguard/webhook/metrics"
	"github.com/modeguard/modeguard/workload"
)

// Core is the part of an admission handler that is not about HTTP: it is
// shared by the mutating and the validating handler.
type Core struct {
	Reviewer *review.Reviewer
	// Lookup reads the objects around a subject (the informer cache).
	Lookup review.Lookup
	// Metrics records skips and evaluations (required).
	Metrics *metrics.Metrics
	// FailurePolicy answers engine errors (default FailAllow).
	FailurePolicy FailurePolicy
	// Timeout bounds one request, review included (0: DefaultTimeout). A
	// review past it stops at its next stage and FailurePolicy answers.
	Timeout time.Duration
	// Overlay remembers what dry runs admitted, so that the next object of
	// a dry-run bundle is judged with them (nil: dry runs see the cluster
	// only). Only dry-run requests read it; the validating handler fills it.
	Overlay *dryrun.Overlay
}

// DefaultTimeout bounds a request when Core.Timeout is 0: below the
// webhooks' timeoutSeconds (3 in deploy/), so that modeguard answers, by its
// failure policy, before the API server gives up on it.
const DefaultTimeout = 2500 * time.Millisecond

// withTimeout bounds a request by c.Timeout; once it has passed,
// context.Cause says so.
func (c *Core) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	d := c.Timeout
	if d <= 0 {
		d = DefaultTimeout
	}
	return context.WithTimeoutCause(ctx, d, fmt.Errorf("not done within the request timeout of %v: %w", d, context.DeadlineExceeded))
}

// Subject is a decoded admission request.
type Subject struct {
	Object    runtime.Object
	Kind      string // a kind review decides on (workload.Kind.Reviewed)
	Namespace string
	Name      string
	Operation string // CREATE or UPDATE
	DryRun    bool
	UID       string
	// User keys the dry-run overlay: the requesting user's name and UID
	// (dryrun.User).
	User string
	// Facts are the workload facts of a Pod or workload (nil for a
	// ConfigMap), computed by Guard.
	Facts *workload.Facts
}

// ErrUnhandledKind marks a request for a kind modeguard does not review.
var ErrUnhandledKind = errors.New("kind not reviewed by modeguard")

// Decode reads the object of req into its typed form. A kind modeguard does
// not review is ErrUnhandledKind; anything else that fails is a bad request.
func Decode(dec admission.Decoder, req admission.Request) (*Subject, error) {
	k := workload.KindFor(schema.GroupKind{Group: req.Kind.Group, Kind: req.Kind.Kind})
	if k == nil || !k.Reviewed {
		return nil, fmt.Errorf("%w: %s", ErrUnhandledKind, req.Kind.String())
	}
	obj := decodeDirect(req, k)
	if obj == nil {
		obj = k.New()
		if err := dec.Decode(req, obj); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", req.Kind.Kind, err)
		}
	}
	m := obj
	ns := m.GetNamespace()
	if ns == "" { // a CREATE of an object without metadata.namespace
		ns = req.Namespace
		m.SetNamespace(ns)
	}
	name := m.GetName()
	if name == "" { // a Pod from generateName, before its name is set
		name = m.GetGenerateName()
	}
	return &Subject{
		Object: obj, Kind: req.Kind.Kind, Namespace: ns, Name: name,
		Operation: string(req.Operation), DryRun: req.DryRun != nil && *req.DryRun,
		UID: string(req.UID), User: dryrun.User(req.UserInfo.Username, req.UserInfo.UID),
	}, nil
}

// decodeDirect decodes req's object as the kind k, as the admission decoder
// does (sigs.k8s.io/json, case-sensitive, integers kept), without its first
// pass over the JSON to find the apiVersion and kind: the API server sends
// the object in the version the webhook registered for, so req.Kind and the
// object's own apiVersion and kind name k.GVK. It returns nil for anything
// else (another version, a typeless or unstructured object, YAML, an
// error), which the admission decoder then decodes, or refuses, as ever.
func decodeDirect(req admission.Request, k *workload.Kind) workload.Object {
	raw := req.Object.Raw
	if len(raw) == 0 || raw[0] != '{' || req.Kind != metav1.GroupVersionKind(k.GVK) {
		return nil
	}
	obj := k.New()
	if _, ok := obj.(runtime.Unstructured); ok {
		return nil
	}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(raw, obj); err != nil {
		return nil
	}
	if obj.GetObjectKind().GroupVersionKind() != k.GVK {
		return nil
	}
	return obj
}

// Guard tells why s is answered without evaluation (a metrics.Skip* reason
// and a sentence), or "" when it must be reviewed. It sets s.Facts. A
// ConfigMap is only known to be unrelated to agents once review has looked
// for its consumers: review reports that with Result.Skipped.
func (c *Core) Guard(s *Subject) (reason, why string) {
	m, err := meta.Accessor(s.Object)
	if err != nil {
		return metrics.SkipUnhandled, err.Error()
	}
	if m.GetDeletionTimestamp() != nil {
		return metrics.SkipDeleting, "the object is being deleted"
	}
	if c.Reviewer.Engine.Settings().Exempt(s.Namespace) {
		return metrics.SkipExempt, "namespace " + s.Namespace + " is exempt in the settings"
	}
	if cm, ok := s.Object.(*corev1.ConfigMap); ok {
		if n := dataSize(cm); n > MaxConfigMapBytes {
			return metrics.SkipTooLarge, fmt.Sprintf("modeguard did not review ConfigMap %s/%s: its data is %d bytes, more than the %d bytes the API server stores in a ConfigMap (it will be rejected)",
				s.Namespace, s.Name, n, MaxConfigMapBytes)
		}
		return "", ""
	}
	f, err := c.Reviewer.Agents().FromObject(s.Object, nil)
	if err != nil {
		return metrics.SkipUnhandled, err.Error()
	}
	if !f.Agent {
		return metrics.SkipNotAgent, "not an agent: " + f.Reason
	}
	s.Facts = f
	return "", ""
}

// MaxConfigMapBytes is the most data the API server accepts in one
// ConfigMap (its validation uses the Secret limit). A bigger one is
// rejected after admission anyway; reviewing it would only cost time.
const MaxConfigMapBytes = corev1.MaxSecretSize

func dataSize(cm *corev1.ConfigMap) int {
	n := 0
	for k, v := range cm.Data {
		n += len(k) + len(v)
	}
	for k, v := range cm.BinaryData {
		n += len(k) + len(v)
	}
	return n
}

// Surround looks up the objects around s, once for the request: Key and
// Review both read them. A dry run also sees what the same user's earlier
// dry runs admitted (Overlay).
func (c *Core) Surround(ctx context.Context, s *Subject) *review.Surroundings {
	lk := c.Lookup
	if s.DryRun {
		lk = c.Overlay.Lookup(s.User, lk)
	}
	return review.SurroundWith(ctx, lk, s.Object, c.Reviewer.Agents(), s.Facts) // the Guard's facts
}

// Review reviews s, with the objects around it sur (from Surround), for the
// named webhook (mutate, validate), counting the evaluation, the skip or the
// failed lookup. A failed lookup is an error (wrapping a
// *review.LookupError), returned with the result that notes it.
func (c *Core) Review(ctx context.Context, webhook string, s *Subject, sur *review.Surroundings) (*review.Result, error) {
	res, err := c.Reviewer.ReviewWith(ctx, s.Object, sur, review.Options{Operation: s.Operation, DryRun: s.DryRun})
	if err != nil {
		if le := (*review.LookupError)(nil); errors.As(err, &le) {
			c.Metrics.LookupError(le.Kind)
		}
		return res, err
	}
	if res.Skipped != "" {
		c.Metrics.Skipped(metrics.SkipNotAgent)
		return res, nil
	}
	c.Metrics.Evaluated(webhook, s.Kind)
	return res, nil
}

// Key identifies the answer to s with the objects around it sur, for a
// result cache: the policy version, the request's operation and dry-run
// flag, the subject's content (for a Pod, without the fields that differ
// between the Pods of one controller and that no rule reads), the
// resourceVersion of the ConfigMap it reads (of each workload reading it,
// for a ConfigMap), the namespace's labels and the namespace's HPAs: a
// GitOps controller re-applying an unchanged ConfigMap or workload is
// answered from the cache. "" (not cached) before Guard, or when a lookup
// failed.
func (c *Core) Key(s *Subject, sur *review.Surroundings) string {
	_, isCM := s.Object.(*corev1.ConfigMap)
	if (s.Facts == nil && !isCM) || sur == nil || sur.Err != nil {
		return ""
	}
	h := sha256.New()
	field(h, c.Reviewer.Engine.Version(), s.Kind, s.Operation, strconv.FormatBool(s.DryRun))
	if err := encodeContent(h, normalized(s.Object)); err != nil {
		return ""
	}
	consumers := make([]string, 0, len(sur.Consumers)) // a ConfigMap's
	for _, w := range sur.Consumers {
		m, err := meta.Accessor(w)
		if err != nil {
			return ""
		}
		rv := m.GetResourceVersion()
		if rv == "" { // a Lookup without resourceVersions (tests, the CLI's Set)
			rv = contentHash(w)
		}
		consumers = append(consumers, review.KindOf(w)+"\x00"+m.GetName()+"\x00"+rv)
	}
	slices.Sort(consumers)
	for _, w := range consumers {
		field(h, "consumer", w)
	}
	if s.Facts != nil && s.Facts.Config != nil && s.Facts.Config.ConfigMap != "" {
		cfg := s.Facts.Config
		rv := "absent"
		if cm := sur.ConfigMap; cm != nil {
			rv = cm.ResourceVersion
			if rv == "" { // a Lookup without resourceVersions (tests, the CLI's Set)
				rv = contentHash(cm)
			}
		}
		field(h, "configmap", cfg.ConfigMap, rv)
	}
	labels := sur.NamespaceLabels
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		field(h, "label", k, labels[k])
	}
	for _, hpa := range sur.HPAs {
		field(h, "hpa", hpa.Name, hpa.ResourceVersion, contentHash(&hpa.Spec))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func field(h io.Writer, parts ...string) {
	for _, p := range parts {
		io.WriteString(h, p)
		h.Write([]byte{0})
	}
}

// protoMarshaler is the generated protobuf code of the Kubernetes API
// types: every field but TypeMeta, map keys sorted, so one encoding per
// content.
type protoMarshaler interface {
	Marshal() ([]byte, error)
}

// encodeContent writes obj's content to w: its apiVersion and kind, then
// its protobuf encoding where the type has one (several times cheaper
// than encoding/json's reflection, and the key is computed for every
// request, the cache's answers included), else its JSON (an unstructured
// object: the Alloy custom resource). Protobuf encodes a nil and an empty
// list or map alike, as JSON does for the fields it omits when empty
// (nearly all of the API's).
func encodeContent(w io.Writer, obj runtime.Object) error {
	if m, ok := obj.(protoMarshaler); ok {
		b, err := m.Marshal()
		if err == nil {
			field(w, "proto", obj.GetObjectKind().GroupVersionKind().String())
			_, err = w.Write(b)
		}
		return err
	}
	field(w, "json")
	return json.NewEncoder(w).Encode(obj)
}

func contentHash(v any) string {
	h := sha256.New()
	if err := json.NewEncoder(h).Encode(v); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// shallowCopy copies the struct obj points to, not what its fields point
// to: enough for normalized, which only sets fields of the object's own
// struct, its ObjectMeta and, for a Pod, its Spec and Status (values in
// every API type), never what they share with obj. Anything else (an
// unstructured object's map) is copied deep. The subject is encoded for
// the key of every request the result cache answers: a deep copy of a Pod
// was a fifth of that path.
func shallowCopy(obj runtime.Object) runtime.Object {
	v := reflect.ValueOf(obj)
	if _, ok := obj.(*unstructured.Unstructured); ok || v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return obj.DeepCopyObject()
	}
	c := reflect.New(v.Elem().Type())
	c.Elem().Set(v.Elem())
	o, ok := c.Interface().(runtime.Object)
	if !ok {
		return obj.DeepCopyObject()
	}
	return o
}

// normalized returns obj without what differs between otherwise equal
// submissions and that no rule reads. For a Pod that includes its name,
// node and node affinity (a DaemonSet pins each Pod to its node). None of
// these fields is ever edited by a fix, so a patch computed for one Pod
// applies unchanged to its siblings.
func normalized(obj runtime.Object) runtime.Object {
	o := shallowCopy(obj)
	if m, err := meta.Accessor(o); err == nil {
		m.SetResourceVersion("")
		m.SetManagedFields(nil)
		m.SetGeneration(0)
		m.SetUID("")
		m.SetCreationTimestamp(metav1.Time{})
	}
	if p, ok := o.(*corev1.Pod); ok {
		p.Name = ""
		p.Spec.NodeName = ""
		p.Spec.Affinity = nil
		p.Spec.Hostname = ""
		p.Status = corev1.PodStatus{}
	}
	return o
}
