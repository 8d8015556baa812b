package review

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

// Lookup finds the objects around a subject.
type Lookup interface {
	// ConfigMap returns the ConfigMap, or nil when it is unknown.
	ConfigMap(namespace, name string) *corev1.ConfigMap
	// Consumers returns the agent workloads (DaemonSets, StatefulSets,
	// Deployments) of the namespace that read the ConfigMap.
	Consumers(namespace, configMap string) []runtime.Object
	// HPAs returns the HorizontalPodAutoscalers of the namespace.
	HPAs(namespace string) []autoscalingv2.HorizontalPodAutoscaler
	// NamespaceLabels returns the labels of the namespace (nil if unknown).
	NamespaceLabels(namespace string) map[string]string
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

// Review decides on one subject. It checks ctx between its stages (each
// parse, evaluation and fix): past its deadline it returns ctx.Err() after
// the stage under way.
func (rv *Reviewer) Review(ctx context.Context, subject runtime.Object, lk Lookup, opts Options) (*Result, error) {
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
	scope := policy.Scope{NamespaceLabels: lk.NamespaceLabels(m.GetNamespace()), ObjectAnnotations: m.GetAnnotations()}
	switch o := subject.(type) {
	case *corev1.ConfigMap:
		err = rv.reviewConfigMap(ctx, o, lk, opts, scope, res)
	case *corev1.Pod, *appsv1.DaemonSet, *appsv1.StatefulSet, *appsv1.Deployment:
		err = rv.reviewWorkload(ctx, subject, lk, opts, scope, res)
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, res.Subject.Kind)
	}
	if err != nil {
		return nil, err
	}
	sortFindings(res.Findings)
	return res, nil
}

func (rv *Reviewer) reviewWorkload(ctx context.Context, subject runtime.Object, lk Lookup, opts Options, scope policy.Scope, res *Result) error {
	facts, err := workload.FromObject(subject, lk.HPAs(res.Subject.Namespace))
	if err != nil {
		return err
	}
	if !facts.Agent {
		res.Skipped = "not an agent: " + facts.Reason
		return nil
	}
	wl := subject.DeepCopyObject()
	var cm *corev1.ConfigMap
	if facts.Config != nil && facts.Config.ConfigMap != "" {
		if c := lk.ConfigMap(res.Subject.Namespace, facts.Config.ConfigMap); c != nil {
			cm = c.DeepCopy()
		} else {
			res.Notes = append(res.Notes, fmt.Sprintf("ConfigMap %s/%s is not known yet: config rules wait for it", res.Subject.Namespace, facts.Config.ConfigMap))
		}
	} else if facts.Config != nil && facts.Config.Error != "" {
		res.Notes = append(res.Notes, "config not resolved: "+facts.Config.Error)
	}
	p := &pairing{rv: rv, subjectKind: res.Subject.Kind, wl: wl, cm: cm, hpas: lk.HPAs(res.Subject.Namespace), opts: opts, scope: scope, res: res}
	if err := p.run(ctx); err != nil {
		return err
	}
	if p.wlChanged && !equality.Semantic.DeepEqual(wl, subject) {
		res.Fixed = wl
	}
	if p.cmChanged && !equality.Semantic.DeepEqual(cm, lk.ConfigMap(res.Subject.Namespace, cm.Name)) {
		res.Related = cm
	}
	return nil
}

func (rv *Reviewer) reviewConfigMap(ctx context.Context, cm *corev1.ConfigMap, lk Lookup, opts Options, scope policy.Scope, res *Result) error {
	consumers := lk.Consumers(cm.Namespace, cm.Name)
	hpas := lk.HPAs(cm.Namespace)
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
		p := &pairing{rv: rv, subjectKind: "ConfigMap", cm: fixed, mode: mode, modeSource: source, consumers: refs, opts: opts, scope: scope, res: res}
		if err := p.run(ctx); err != nil {
			return err
		}
		changed = p.cmChanged
	}
	for _, c := range consumers {
		wl := c.DeepCopyObject()
		p := &pairing{rv: rv, subjectKind: "ConfigMap", wl: wl, cm: fixed, hpas: hpas, consumers: refs, opts: opts, scope: scope, res: res, via: true}
		if err := p.run(ctx); err != nil {
			return err
		}
		changed = changed || p.cmChanged
	}
	if changed && !equality.Semantic.DeepEqual(fixed, cm) {
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

// KindOf names the kind of a typed object (its TypeMeta may be empty).
func KindOf(o runtime.Object) string {
	switch o.(type) {
	case *corev1.ConfigMap:
		return "ConfigMap"
	case *corev1.Pod:
		return "Pod"
	case *appsv1.DaemonSet:
		return "DaemonSet"
	case *appsv1.StatefulSet:
		return "StatefulSet"
	case *appsv1.Deployment:
		return "Deployment"
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
