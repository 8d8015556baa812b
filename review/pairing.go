package review

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

// pairing reviews one (workload, ConfigMap) pair: either may be absent. It
// evaluates, applies the fixes to its copies, and evaluates again until no
// fix makes progress.
type pairing struct {
	rv          *Reviewer
	subjectKind string
	wl          runtime.Object    // a copy; fixes edit it
	cm          *corev1.ConfigMap // a copy; fixes edit it
	hpas        []autoscalingv2.HorizontalPodAutoscaler
	mode        string // when there is no workload
	modeSource  string
	consumers   []ObjectRef
	opts        Options
	scope       policy.Scope
	res         *Result
	via         bool // the subject is the ConfigMap; findings name the workload
	// submitted is the ConfigMap's data as it was submitted (or read),
	// before any fix of this or an earlier pairing: findings point into it.
	submitted map[string]string

	wlChanged, cmChanged bool
	// inline: wl is an Alloy object and cm the ConfigMap the chart renders
	// from its spec.alloy.configMap.content, where cm's fixes go back.
	inline bool

	// facts are the workload's, from the pass that computed them; stale
	// once a fix has edited the workload since.
	facts      *workload.Facts
	factsStale bool
}

var errStillFires = errors.New("the fix was applied, but the rule still fires")

func (p *pairing) run(ctx context.Context) error {
	engine := p.rv.Engine
	tried := map[string]error{} // fix key → nil (applied) or why it failed
	triedIn := map[string]int{} // fix key → the pass that tried it
	stillFires := map[string]bool{}
	var applied []Finding
	for pass := 0; ; pass++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		in, facts, err := p.input(ctx)
		if err != nil {
			return err
		}
		vs, err := engine.Evaluate(ctx, in)
		if err != nil {
			return err
		}
		// The decisions of this pass point into the texts it evaluated,
		// which earlier passes may have fixed: findings point into the
		// submitted texts.
		toSubmitted := p.positionMap()
		finding := func(d policy.Decision) Finding { return p.finding(toSubmitted(d)) }
		var final []Finding
		progressed := false
		for _, d := range p.resolve(vs) {
			if d.Action != policy.ActionFix {
				final = append(final, finding(d))
				continue
			}
			key := p.fixKey(d)
			if why, done := tried[key]; done {
				if owned := (*ownedError)(nil); errors.As(why, &owned) {
					final = append(final, p.ownedFinding(finding(d), owned))
					continue
				}
				if triedIn[key] == pass {
					// Another violation of this pass asks for the same
					// edit (MG001 once per collector a discovery feeds):
					// it shares the outcome of the first.
					f := finding(d)
					if why != nil {
						f = finding(engine.FixFailed(d, p.scopeFor(d.Violation), why))
						final = append(final, f)
						continue
					}
					f.Applied = true
					applied = append(applied, f)
					continue
				}
				if why == nil {
					why = errStillFires
					stillFires[key] = true
				}
				final = append(final, finding(engine.FixFailed(d, p.scopeFor(d.Violation), why)))
				continue
			}
			if pass >= maxPasses-1 {
				final = append(final, finding(engine.FixFailed(d, p.scopeFor(d.Violation), fmt.Errorf("fixes did not settle after %d passes", maxPasses))))
				continue
			}
			if err := ctx.Err(); err != nil {
				return err // a fix re-parses the file: check before each
			}
			err := p.apply(d, facts)
			tried[key], triedIn[key] = err, pass
			var owned *ownedError
			if errors.As(err, &owned) {
				final = append(final, p.ownedFinding(finding(d), owned))
				continue
			}
			if err != nil {
				final = append(final, finding(engine.FixFailed(d, p.scopeFor(d.Violation), err)))
				continue
			}
			f := finding(d)
			f.Applied = true
			applied = append(applied, f)
			progressed = true
		}
		if !progressed {
			for _, f := range applied {
				if !stillFires[p.fixKey(f.Decision)] {
					p.res.Findings = append(p.res.Findings, f)
				}
			}
			p.res.Findings = append(p.res.Findings, final...)
			if p.res.Notes == nil && in.Mode == "" && p.wl == nil {
				p.res.Notes = append(p.res.Notes, "mode unknown: mode-free rules only")
			}
			return nil
		}
	}
}

// resolve turns the violations into decisions, each in the scope of the
// object it is about (scopeFor).
func (p *pairing) resolve(vs []policy.Violation) []policy.Decision {
	out := make([]policy.Decision, 0, len(vs))
	for i := range vs {
		out = append(out, p.rv.Engine.Resolve(vs[i:i+1], p.scopeFor(vs[i]))...)
	}
	return out
}

// scopeFor is the scope a violation's action is resolved in: the namespace
// of the subject, and the modeguard.dev/skip annotation of the object the
// finding is about (finding: the workload, or the ConfigMap for config
// findings), whichever object is the subject under review. A config
// finding is also skipped by the workload's annotation: the workload's mode
// decides it, so the workload's owner may waive it.
func (p *pairing) scopeFor(v policy.Violation) policy.Scope {
	sc := policy.Scope{NamespaceLabels: p.scope.NamespaceLabels, ObjectAnnotations: p.scope.ObjectAnnotations}
	var wlAnn map[string]string
	if p.wl != nil {
		if m, err := meta.Accessor(p.wl); err == nil {
			wlAnn = m.GetAnnotations()
		}
	}
	switch {
	case v.Target == policy.TargetConfig && p.cm != nil:
		skips := []string{p.cm.Annotations[policy.AnnotationSkip], wlAnn[policy.AnnotationSkip]}
		sc.ObjectAnnotations = map[string]string{policy.AnnotationSkip: strings.Join(skips, ",")}
	case p.wl != nil:
		sc.ObjectAnnotations = wlAnn
	}
	return sc
}

// fixKey identifies a fix request on one object: the rule, the target the
// fix edits (the one the fixer gives for it, else the decision's), the
// place and the fix.
func (p *pairing) fixKey(d policy.Decision) string {
	name := strings.Join(d.Rule.Fixes, " or ")
	if d.Fix != nil {
		name = d.Fix.Name
	}
	target := d.Target
	if t, ok := p.rv.Fixer.Target(name); ok {
		target = t
	}
	return fmt.Sprintf("%s|%s|%s|%s|%s", d.Rule.ID, target, d.File, d.Component, name)
}

func (p *pairing) apply(d policy.Decision, facts *workload.Facts) error {
	if d.Fix == nil || d.Fix.Name == "" {
		return errors.New("the rule names no fix for this case")
	}
	target, ok := p.rv.Fixer.Target(d.Fix.Name)
	switch {
	case !ok:
		return fmt.Errorf("unknown fix %q", d.Fix.Name)
	case target != d.Target:
		// The finding names one object and the fix would edit the other.
		return fmt.Errorf("fix %s edits the %s, but the finding is about the %s", d.Fix.Name, target, d.Target)
	}
	if target == policy.TargetConfig {
		if p.cm == nil {
			return errors.New("the ConfigMap is not known")
		}
		if owner := workload.AlloyOwner(p.cm); owner != "" && !p.inline {
			return &ownedError{owner: owner, object: ObjectRef{Kind: workload.KindConfigMap.Name, Namespace: p.cm.Namespace, Name: p.cm.Name}}
		}
		if _, ok := p.cm.Data[d.File]; !ok {
			return fmt.Errorf("ConfigMap %s/%s has no key %q", p.cm.Namespace, p.cm.Name, d.File)
		}
		var parse func(string, []byte) *riverconfig.Facts
		if p.rv.Engine.FileCache() != nil {
			parse = p.rv.Engine.ParseConfig
		}
		if err := p.rv.Fixer.ConfigMap(p.cm, d.File, *d.Fix, parse); err != nil {
			return err
		}
		p.cmChanged = true
		return nil
	}
	if p.wl == nil {
		return errors.New("no agent workload is known for this ConfigMap")
	}
	if m, err := meta.Accessor(p.wl); err == nil {
		if owner := workload.AlloyOwner(m); owner != "" {
			return &ownedError{owner: owner, object: *p.wlRef()}
		}
	}
	p.factsStale = true // even a failed fix may have edited it
	if err := p.rv.Fixer.Workload(p.wl, facts, *d.Fix); err != nil {
		return err
	}
	p.wlChanged = true
	return nil
}

func (p *pairing) finding(d policy.Decision) Finding {
	f := Finding{Decision: d}
	wlRef := p.wlRef()
	if _, ok := p.wl.(*workload.Alloy); ok {
		f.Value = workload.AlloyValue(d.Rule.ID, d.Target, p.inline)
	}
	switch {
	case d.Target == policy.TargetConfig && p.inline:
		// The config is the Alloy object's value: the finding is its.
		f.Object, f.Key = *wlRef, d.File
	case d.Target == policy.TargetConfig && p.cm != nil:
		f.Object = ObjectRef{Kind: workload.KindConfigMap.Name, Namespace: p.cm.Namespace, Name: p.cm.Name}
		f.Key = d.File
	case wlRef != nil:
		f.Object = *wlRef
	default:
		f.Object = p.res.Subject
	}
	if p.via && wlRef != nil {
		f.Via = wlRef
	}
	return f
}

// ownedError says a fix was not applied because an Alloy object owns the
// object it would edit: the alloy-operator re-renders it from the Alloy
// object's values and would undo the edit.
type ownedError struct {
	owner  string // namespace/name of the Alloy object
	object ObjectRef
}

func (e *ownedError) Error() string {
	return fmt.Sprintf("%s %s/%s is owned by Alloy %s", e.object.Kind, e.object.Namespace, e.object.Name, e.owner)
}

// ownedFinding is the finding of a fix not applied to an object an Alloy
// object owns: a warning naming the owner (and the value to change there,
// when the rule says one), recorded, never a patch the operator would undo.
func (p *pairing) ownedFinding(f Finding, e *ownedError) Finding {
	f.Owner = e.owner
	if f.Value == "" {
		f.Value = workload.AlloyValue(f.Rule.ID, f.Target, true)
	}
	where := "its values"
	if f.Value != "" {
		where = f.Value
	}
	f.Action = policy.ActionWarn
	f.Why = append(append([]string(nil), f.Why...), fmt.Sprintf("not fixed: %s; the alloy-operator re-renders it from the Alloy object's values and would undo a patch: warn", e.Error()))
	f.Message = fmt.Sprintf("%s (not fixed here: owned by Alloy %s, whose operator would undo a patch; change %s of Alloy %s)", f.Message, e.owner, where, e.owner)
	return f
}

func (p *pairing) wlRef() *ObjectRef {
	if p.wl == nil {
		return nil
	}
	m, err := meta.Accessor(p.wl)
	if err != nil {
		return nil
	}
	return &ObjectRef{Kind: KindOf(p.wl), Namespace: m.GetNamespace(), Name: m.GetName()}
}

// input builds the policy input from the current (possibly fixed) copies,
// checking ctx between the files it parses.
func (p *pairing) input(ctx context.Context) (*policy.Input, *workload.Facts, error) {
	in := &policy.Input{
		APIVersion: policy.InputAPIVersion,
		Subject: policy.Subject{
			Kind: p.subjectKind, Namespace: p.res.Subject.Namespace, Name: p.res.Subject.Name,
			Operation: p.opts.Operation, DryRun: p.opts.DryRun,
		},
		Mode: p.mode, ModeSource: p.modeSource,
	}
	var facts *workload.Facts
	var cfg *workload.Config
	if p.wl != nil {
		if p.facts == nil || p.factsStale {
			f, err := p.rv.Agents().FromObject(p.wl, p.hpas)
			if err != nil {
				return nil, nil, err
			}
			p.facts, p.factsStale = f, false
		}
		f := p.facts
		facts, cfg = f, f.Config
		in.Workload, in.Mode, in.ModeSource = f, f.Mode, f.ModeSource
		if cfg != nil && cfg.ConfigMap != "" {
			in.Relation.ConfigMap = &ObjectRef{Kind: workload.KindConfigMap.Name, Namespace: p.res.Subject.Namespace, Name: cfg.ConfigMap}
		}
	}
	if p.cm != nil {
		in.Relation.ModeAnnotation = p.cm.Annotations[policy.AnnotationMode]
		in.Relation.Consumers = p.consumers
		c := &policy.Config{Namespace: p.cm.Namespace, Name: p.cm.Name, Files: []*riverconfig.Facts{}}
		keys := configKeys(p.cm, cfg)
		if len(keys) == 0 {
			c.Error = fmt.Sprintf("ConfigMap %s/%s holds none of the keys the agent reads", p.cm.Namespace, p.cm.Name)
		}
		for _, k := range keys {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			c.Files = append(c.Files, p.rv.Engine.ParseConfig(k, []byte(p.cm.Data[k])))
		}
		in.Config = c
	}
	return in, facts, nil
}

// positionMap returns what turns a decision's config position (File, Line,
// Column), taken in the ConfigMap's current texts, into the same place in
// the submitted texts. Fixes insert whole lines or rewrite an expression
// where it stands, so lines the fixes left alone map one to one, a
// rewritten line to itself, and a line a fix inserted to the submitted
// line before it.
func (p *pairing) positionMap() func(policy.Decision) policy.Decision {
	if p.cm == nil || p.submitted == nil {
		return func(d policy.Decision) policy.Decision { return d }
	}
	// The texts as this pass evaluated them: its fixes edit p.cm as it goes.
	current := make(map[string]string, len(p.cm.Data))
	for k, v := range p.cm.Data {
		current[k] = v
	}
	lines := map[string][]int{} // key → submitted line of each current line (1-based), nil when unchanged
	return func(d policy.Decision) policy.Decision {
		if d.File == "" || d.Line <= 0 {
			return d
		}
		m, ok := lines[d.File]
		if !ok {
			cur, okc := current[d.File]
			sub, oks := p.submitted[d.File]
			if okc && oks && cur != sub {
				m = lineMap(sub, cur)
			}
			lines[d.File] = m
		}
		if m != nil && d.Line <= len(m) {
			d.Line = m[d.Line-1]
			if d.Line < 0 { // a line a fix inserted: no column of it is in the submitted line
				d.Line, d.Column = -d.Line, 1
			}
		}
		return d
	}
}

// lineMap returns, for each line of after (1-based, at index line-1), the
// line of before it stands for (see positionMap), negated for a line that
// before does not have.
func lineMap(before, after string) []int {
	a, b := difflib.SplitLines(before), difflib.SplitLines(after)
	m := make([]int, len(b))
	// Fixes touch a few lines of a file: match the lines around them
	// directly, and only the changed middle with the (quadratic) matcher.
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		m[pre] = pre + 1
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		m[len(b)-1-suf] = len(a) - suf
		suf++
	}
	for _, op := range difflib.NewMatcher(a[pre:len(a)-suf], b[pre:len(b)-suf]).GetOpCodes() {
		for j := op.J1; j < op.J2; j++ {
			switch {
			case op.Tag == 'e' || (op.Tag == 'r' && j-op.J1 < op.I2-op.I1):
				m[pre+j] = pre + op.I1 + (j - op.J1) + 1
			default: // inserted: the submitted line before it
				m[pre+j] = -max(pre+op.I1, 1)
			}
		}
	}
	return m
}
