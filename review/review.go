package review

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"reflect"
	"slices"
	"sort"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

// Lookup finds the objects around a subject. It has the shape of
// controller-runtime's client.Reader: each method takes the request's
// context (its deadline bounds the read) and returns an error when it could
// not answer (the API server or the cache failed, the context ended). An
// object that does not exist is not an error: ConfigMap returns (nil, nil),
// the lists are empty, NamespaceLabels returns (nil, nil). Nobody reads an
// error as "absent": a review whose lookup failed is not done (see
// Surroundings.Err). Errors wrap their cause with %w.
type Lookup interface {
	// ConfigMap returns the ConfigMap; nil, nil when there is none. It may
	// share its contents with a cache's: the caller modifies a copy only.
	ConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error)
	// Consumers returns the agent workloads (the workload.Workloads kinds)
	// of the namespace that read the ConfigMap. They may be a cache's own
	// objects: the caller modifies copies only.
	Consumers(ctx context.Context, namespace, configMap string) ([]runtime.Object, error)
	// HPAs returns the HorizontalPodAutoscalers of the namespace, which may
	// share their contents with a cache's: read only.
	HPAs(ctx context.Context, namespace string) ([]autoscalingv2.HorizontalPodAutoscaler, error)
	// NamespaceLabels returns the labels of the namespace (maybe a cache's
	// own map: read only); nil, nil when there is no such namespace.
	NamespaceLabels(ctx context.Context, namespace string) (map[string]string, error)
}

// What a LookupError says was looked up (also the kind label of the
// webhook's lookup error metric).
const (
	LookupConfigMap = "ConfigMap"               // the ConfigMap a workload reads
	LookupConsumers = "Workload"                // the agent workloads reading a ConfigMap
	LookupHPAs      = "HorizontalPodAutoscaler" // the namespace's HPAs
	LookupNamespace = "Namespace"               // the namespace's labels
)

// LookupError is a lookup that failed: what was looked up and why.
type LookupError struct {
	// Kind is one of the Lookup* constants.
	Kind string
	// Namespace and Name name what was looked up (Name is the ConfigMap's
	// for LookupConfigMap and LookupConsumers, "" otherwise).
	Namespace, Name string
	Err             error
}

func (e *LookupError) Error() string {
	var what string
	switch e.Kind {
	case LookupConsumers:
		what = fmt.Sprintf("the agent workloads reading ConfigMap %s/%s", e.Namespace, e.Name)
	case LookupHPAs:
		what = "the HorizontalPodAutoscalers of namespace " + e.Namespace
	case LookupNamespace:
		what = "namespace " + e.Namespace
	default:
		what = fmt.Sprintf("%s %s/%s", e.Kind, e.Namespace, e.Name)
	}
	return fmt.Sprintf("looking up %s: %v", what, e.Err)
}

func (e *LookupError) Unwrap() error { return e.Err }

// Surroundings are the objects around one subject, looked up once (by
// Surround): what its review reads, and what the webhook's result cache
// key names, so that both see the same objects.
type Surroundings struct {
	// Namespace is the subject's.
	Namespace string
	// NamespaceLabels are the namespace's labels.
	NamespaceLabels map[string]string
	// HPAs are the namespace's HorizontalPodAutoscalers.
	HPAs []autoscalingv2.HorizontalPodAutoscaler
	// ConfigMapName is the ConfigMap an agent workload or Pod subject reads
	// ("" for none); ConfigMap is that ConfigMap, nil when there is none.
	ConfigMapName string
	ConfigMap     *corev1.ConfigMap
	// Consumers are the agent workloads reading a ConfigMap subject.
	Consumers []runtime.Object
	// Err says the surroundings are incomplete: the first lookup that
	// failed (a *LookupError) or the context's error; nothing was looked
	// up past it. Reviewing incomplete surroundings fails with it.
	Err error
}

// Surround looks up the objects around subject that its review reads:
// the namespace's labels, then the ConfigMap of an agent workload or Pod
// (nothing more for another workload: its review stops at "not an agent")
// or the consumers of a ConfigMap, then the namespace's HPAs. It stops at
// the first lookup that fails, and records it in Err. agents recognizes
// agent workloads: the Reviewer's Agents, so that the surroundings are
// those its review reads.
func Surround(ctx context.Context, lk Lookup, subject runtime.Object, agents workload.Recognizer) *Surroundings {
	return SurroundWith(ctx, lk, subject, agents, nil)
}

// SurroundWith is Surround for a subject whose workload facts (without
// HPAs) the caller already has: facts, or nil to compute them with agents.
func SurroundWith(ctx context.Context, lk Lookup, subject runtime.Object, agents workload.Recognizer, facts *workload.Facts) *Surroundings {
	m, err := meta.Accessor(subject)
	if err != nil {
		return &Surroundings{Err: fmt.Errorf("%w: %v", ErrUnsupported, err)}
	}
	sur := &Surroundings{Namespace: m.GetNamespace()}
	k := workload.KindOf(subject)
	if k == nil || !k.Reviewed {
		sur.Err = fmt.Errorf("%w: %s", ErrUnsupported, KindOf(subject))
		return sur
	}
	if k != workload.KindConfigMap {
		f := facts
		if f == nil {
			if f, err = agents.FromObject(subject, nil); err != nil {
				sur.Err = err
				return sur
			}
		}
		if !f.Agent {
			return sur
		}
		sur.ConfigMapName = f.ReadsConfigMap()
	}
	ns := sur.Namespace
	look := func(kind, name string, read func() error) bool {
		if err := ctx.Err(); err != nil {
			sur.Err = err
			return false
		}
		if err := read(); err != nil {
			sur.Err = &LookupError{Kind: kind, Namespace: ns, Name: name, Err: err}
			return false
		}
		return true
	}
	if !look(LookupNamespace, "", func() (err error) { sur.NamespaceLabels, err = lk.NamespaceLabels(ctx, ns); return }) {
		return sur
	}
	switch {
	case k == workload.KindConfigMap:
		if !look(LookupConsumers, m.GetName(), func() (err error) { sur.Consumers, err = lk.Consumers(ctx, ns, m.GetName()); return }) {
			return sur
		}
	case sur.ConfigMapName != "":
		if !look(LookupConfigMap, sur.ConfigMapName, func() (err error) { sur.ConfigMap, err = lk.ConfigMap(ctx, ns, sur.ConfigMapName); return }) {
			return sur
		}
	}
	look(LookupHPAs, "", func() (err error) { sur.HPAs, err = lk.HPAs(ctx, ns); return })
	return sur
}

// Fixer carries out fix requests. The mutate package implements it.
type Fixer interface {
	// Target says what the fix of that name edits: policy.TargetConfig (a
	// ConfigMap key, through ConfigMap) or policy.TargetWorkload (through
	// Workload); ok is false for a fix it does not know.
	Target(fix string) (target string, ok bool)
	// ConfigMap applies a River fix to one key of cm, in place. parse is
	// riverconfig.Parse through the engine's file cache (nil when the engine
	// keeps none): the text of the key was just parsed with it, and a fixer
	// that checks the fixed text with it leaves that text parsed for the
	// next evaluation.
	ConfigMap(cm *corev1.ConfigMap, key string, fix policy.FixRequest, parse func(filename string, src []byte) *riverconfig.Facts) error
	// Workload applies an object fix to a workload or Pod, in place.
	Workload(obj runtime.Object, facts *workload.Facts, fix policy.FixRequest) error
}

// Options describe the request.
type Options struct {
	// Operation is CREATE, UPDATE, or CHECK (offline).
	Operation string
	DryRun    bool
	// DefaultMode is the mode of a ConfigMap whose consumers are unknown and
	// that has no modeguard.dev/mode annotation ("" for mode-free rules only).
	DefaultMode string
}

// Reviewer reviews objects with one policy engine and one fixer.
type Reviewer struct {
	Engine *policy.Engine
	Fixer  Fixer
}

// Agents recognizes agent workloads as the engine's settings ask (their
// agentImages patterns besides the built-in ways).
func (rv *Reviewer) Agents() workload.Recognizer { return rv.Engine.Settings().Agents() }

// ObjectRef names an object.
type ObjectRef = policy.ObjectRef

// Finding is a decision about one object.
type Finding struct {
	policy.Decision
	// Object is what the finding is about: the ConfigMap for a config
	// finding, the workload or Pod otherwise.
	Object ObjectRef `json:"object"`
	// Key is the ConfigMap key of a config finding.
	Key string `json:"key,omitempty"`
	// Applied is true when the fix was applied to Result.Fixed (the subject)
	// or Result.Related (the other object).
	Applied bool `json:"applied,omitempty"`
	// Value is, for a finding about an Alloy object (Object, or Via), the
	// value of its spec to change: spec.alloy.clustering.enabled,
	// spec.controller.type, spec.alloy.configMap.content, ...
	Value string `json:"value,omitempty"`
	// Owner names the Alloy object (namespace/name) that owns the object
	// the finding is about: its fix was not applied there, since the
	// alloy-operator re-renders what it owns; change the owner's Value.
	Owner string `json:"owner,omitempty"`
	// Via names the workload whose mode the finding depends on, when the
	// subject is a ConfigMap read by several.
	Via *ObjectRef `json:"via,omitempty"`
}

// Result is the outcome of a review.
type Result struct {
	Subject ObjectRef `json:"subject"`
	// Skipped says why the subject was not evaluated ("" when it was).
	Skipped string `json:"skipped,omitempty"`
	// Notes say what the review could not know (unknown mode, missing
	// ConfigMap).
	Notes    []string  `json:"notes,omitempty"`
	Findings []Finding `json:"findings"`
	// Fixed is the subject with every applicable fix applied; nil when no
	// fix changed it.
	Fixed runtime.Object `json:"-"`
	// Related is the other object fixed alongside (a workload's ConfigMap,
	// or a ConfigMap's workload); nil when unchanged.
	Related runtime.Object `json:"-"`
	// PolicyVersion identifies the policy the result was computed with.
	PolicyVersion string `json:"policyVersion"`
}

// Denied reports whether any finding denies the subject.
func (r *Result) Denied() bool {
	for _, f := range r.Findings {
		if f.Action == policy.ActionDeny {
			return true
		}
	}
	return false
}

// maxPasses bounds the fix → re-evaluate loop.
const maxPasses = 4

// ErrUnsupported marks a subject kind review does not handle.
var ErrUnsupported = errors.New("unsupported object kind")

// Review decides on one subject, looking up what is around it through lk
// (Surround, then ReviewWith). It checks ctx between its stages (each
// lookup, parse, evaluation and fix): past its deadline it returns
// ctx.Err() after the stage under way.
func (rv *Reviewer) Review(ctx context.Context, subject runtime.Object, lk Lookup, opts Options) (*Result, error) {
	res, err := rv.start(ctx, subject)
	if err != nil || res.Skipped != "" {
		return res, err
	}
	return rv.ReviewWith(ctx, subject, Surround(ctx, lk, subject, rv.Agents()), opts)
}

// ReviewWith decides on one subject with the objects around it, sur (from
// Surround for this subject). When a lookup failed (sur.Err is a
// *LookupError) nothing is decided: it returns the error, wrapped, and a
// Result without findings whose note names the failed lookup.
func (rv *Reviewer) ReviewWith(ctx context.Context, subject runtime.Object, sur *Surroundings, opts Options) (*Result, error) {
	res, err := rv.start(ctx, subject)
	if err != nil || res.Skipped != "" {
		return res, err
	}
	if sur.Err != nil {
		var le *LookupError
		if !errors.As(sur.Err, &le) {
			return nil, sur.Err
		}
		res.Notes = append(res.Notes, le.Error()+": not reviewed (a failed lookup does not mean the object is absent)")
		return res, fmt.Errorf("reviewing %s %s/%s: %w", res.Subject.Kind, res.Subject.Namespace, res.Subject.Name, sur.Err)
	}
	if sur.Namespace != res.Subject.Namespace {
		return nil, fmt.Errorf("reviewing %s %s/%s with the surroundings of namespace %q", res.Subject.Kind, res.Subject.Namespace, res.Subject.Name, sur.Namespace)
	}
	scope := policy.Scope{NamespaceLabels: sur.NamespaceLabels, ObjectAnnotations: subject.(metav1.Object).GetAnnotations()}
	if workload.KindOf(subject) == workload.KindConfigMap {
		err = rv.reviewConfigMap(ctx, subject.(*corev1.ConfigMap), sur, opts, scope, res)
	} else {
		err = rv.reviewWorkload(ctx, subject, sur, opts, scope, res)
	}
	if err != nil {
		return nil, err
	}
	sortFindings(res.Findings)
	return res, nil
}

// start checks ctx, answers a subject in an exempt namespace (Skipped),
// and checks the subject's kind; otherwise it returns the empty result.
func (rv *Reviewer) start(ctx context.Context, subject runtime.Object) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, err := meta.Accessor(subject)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	res := &Result{
		Subject:       ObjectRef{Kind: KindOf(subject), Namespace: m.GetNamespace(), Name: m.GetName()},
		PolicyVersion: rv.Engine.Version(),
	}
	if rv.Engine.Settings().Exempt(m.GetNamespace()) {
		res.Skipped = fmt.Sprintf("namespace %s is exempt in the settings", m.GetNamespace())
		return res, nil
	}
	if k := workload.KindOf(subject); k == nil || !k.Reviewed {
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, res.Subject.Kind)
	}
	return res, nil
}

func (rv *Reviewer) reviewWorkload(ctx context.Context, subject runtime.Object, sur *Surroundings, opts Options, scope policy.Scope, res *Result) error {
	facts, err := rv.Agents().FromObject(subject, sur.HPAs)
	if err != nil {
		return err
	}
	if !facts.Agent {
		res.Skipped = "not an agent: " + facts.Reason
		return nil
	}
	wl := subject.DeepCopyObject()
	var cm *corev1.ConfigMap
	alloy, _ := wl.(*workload.Alloy)
	if facts.Alloy != nil {
		for _, n := range facts.Alloy.Notes {
			res.Notes = append(res.Notes, "Alloy values: "+n)
		}
	}
	if alloy != nil && facts.Alloy != nil && facts.Alloy.InlineConfig {
		// The config is the value spec.alloy.configMap.content: review the
		// ConfigMap the chart renders from it, and write fixes back there.
		cm = workload.AlloyConfigMap(alloy)
	} else if facts.Config != nil && facts.Config.ConfigMap != "" {
		if sur.ConfigMapName != facts.Config.ConfigMap {
			return fmt.Errorf("reviewing %s %s/%s, which reads ConfigMap %q, with the surroundings of one reading %q", res.Subject.Kind, res.Subject.Namespace, res.Subject.Name, facts.Config.ConfigMap, sur.ConfigMapName)
		}
		if sur.ConfigMap != nil {
			cm = sur.ConfigMap.DeepCopy()
		} else {
			res.Notes = append(res.Notes, fmt.Sprintf("ConfigMap %s/%s is not known yet: config rules wait for it", res.Subject.Namespace, facts.Config.ConfigMap))
		}
	} else if facts.Config != nil && facts.Config.Error != "" {
		res.Notes = append(res.Notes, "config not resolved: "+facts.Config.Error)
	}
	// facts are wl's too (a copy of subject): the first pass reads them.
	p := &pairing{rv: rv, subjectKind: res.Subject.Kind, wl: wl, cm: cm, hpas: sur.HPAs, opts: opts, scope: scope, res: res, facts: facts}
	p.inline = alloy != nil && facts.Alloy != nil && facts.Alloy.InlineConfig && cm != nil
	switch {
	case p.inline:
		p.submitted = workload.AlloyConfigMap(subject.(*workload.Alloy)).Data
	case cm != nil:
		p.submitted = sur.ConfigMap.Data
	}
	if err := p.run(ctx); err != nil {
		return err
	}
	if p.inline && p.cmChanged {
		workload.SetAlloyContent(alloy, cm.Data[facts.Config.Keys[0]])
		p.wlChanged, p.cmChanged = true, false
	}
	if p.wlChanged && !same(wl, subject) {
		res.Fixed = wl
	}
	if p.cmChanged && !same(cm, sur.ConfigMap) {
		res.Related = cm
	}
	return nil
}

func (rv *Reviewer) reviewConfigMap(ctx context.Context, cm *corev1.ConfigMap, sur *Surroundings, opts Options, scope policy.Scope, res *Result) error {
	consumers, hpas := sur.Consumers, sur.HPAs
	var refs []ObjectRef
	for _, c := range consumers {
		if m, err := meta.Accessor(c); err == nil {
			refs = append(refs, ObjectRef{Kind: KindOf(c), Namespace: m.GetNamespace(), Name: m.GetName()})
		}
	}
	fixed := cm.DeepCopy()
	var changed bool
	if len(consumers) == 0 {
		if !agentConfigMap(cm) {
			res.Skipped = "not an agent ConfigMap: no agent workload reads it, no .river/.alloy key, no " + policy.AnnotationMode + " annotation"
			return nil
		}
		mode, source := cm.Annotations[policy.AnnotationMode], "annotation "+policy.AnnotationMode
		if mode == "" && opts.DefaultMode != "" {
			mode, source = opts.DefaultMode, "default mode"
		}
		if mode == "" {
			res.Notes = append(res.Notes, "no agent workload reads this ConfigMap and it has no "+policy.AnnotationMode+" annotation: mode-free rules only")
		} else {
			res.Notes = append(res.Notes, fmt.Sprintf("no agent workload reads this ConfigMap: mode %s from the %s", mode, source))
		}
		p := &pairing{rv: rv, subjectKind: workload.KindConfigMap.Name, cm: fixed, mode: mode, modeSource: source, consumers: refs, opts: opts, scope: scope, res: res, submitted: cm.Data}
		if err := p.run(ctx); err != nil {
			return err
		}
		changed = p.cmChanged
	}
	for _, c := range consumers {
		wl := c.DeepCopyObject()
		p := &pairing{rv: rv, subjectKind: workload.KindConfigMap.Name, wl: wl, cm: fixed, hpas: hpas, consumers: refs, opts: opts, scope: scope, res: res, via: true, submitted: cm.Data}
		if err := p.run(ctx); err != nil {
			return err
		}
		changed = changed || p.cmChanged
	}
	if changed && !same(fixed, cm) {
		res.Fixed = fixed
	}
	return nil
}

// agentConfigMap tells whether a ConfigMap nobody is known to read looks
// like an agent config.
func agentConfigMap(cm *corev1.ConfigMap) bool {
	if cm.Annotations[policy.AnnotationMode] != "" || cm.Labels[workload.LabelAgent] == "true" {
		return true
	}
	return len(configKeys(cm, nil)) > 0
}

// configKeys are the keys of cm holding agent config: those the workload
// reads, or else every .river/.alloy key.
func configKeys(cm *corev1.ConfigMap, cfg *workload.Config) []string {
	var keys []string
	if cfg != nil && len(cfg.Keys) > 0 {
		for _, k := range cfg.Keys {
			if _, ok := cm.Data[k]; ok {
				keys = append(keys, k)
			}
		}
		return keys
	}
	for k := range cm.Data {
		if ext := path.Ext(k); ext == ".river" || ext == ".alloy" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// KindOf names the kind of an object: its kind in workload.Kinds, else
// its TypeMeta's (which may be empty), else its Go type.
func KindOf(o runtime.Object) string {
	if k := workload.KindOf(o); k != nil {
		return k.Name
	}
	if k := o.GetObjectKind().GroupVersionKind().Kind; k != "" {
		return k
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", o), "*")
}

func sortFindings(fs []Finding) {
	rank := map[policy.Action]int{policy.ActionDeny: 0, policy.ActionFix: 1, policy.ActionWarn: 2, policy.ActionAudit: 3}
	slices.SortStableFunc(fs, func(a, b Finding) int {
		if d := rank[a.Action] - rank[b.Action]; d != 0 {
			return d
		}
		if a.Rule.ID != b.Rule.ID {
			return strings.Compare(a.Rule.ID, b.Rule.ID)
		}
		if a.Key != b.Key {
			return strings.Compare(a.Key, b.Key)
		}
		return a.Line - b.Line
	})
}

// same reports whether fixed, a copy of orig that fixes edited, equals
// orig again: their protobuf encodings are equal, when both have one (the
// API types' generated Marshal: deterministic, map keys sorted), else
// equality.Semantic. The encodings cost a fraction of Semantic's reflective
// walk (which calls its equality functions through reflect), and agree with
// it here: a nil and an empty slice or map encode alike, and the fixes
// rewrite no quantity or time, the values Semantic compares by meaning.
func same(fixed, orig runtime.Object) bool {
	type marshaler interface{ Marshal() ([]byte, error) }
	a, okA := fixed.(marshaler)
	b, okB := orig.(marshaler)
	if okA && okB && reflect.TypeOf(fixed) == reflect.TypeOf(orig) && !reflect.ValueOf(fixed).IsNil() && !reflect.ValueOf(orig).IsNil() {
		ab, errA := a.Marshal()
		bb, errB := b.Marshal()
		if errA == nil && errB == nil {
			return bytes.Equal(ab, bb)
		}
	}
	return equality.Semantic.DeepEqual(fixed, orig)
}
