package policy

import (
	"fmt"
	"strings"
)

// Decision is a violation with its action resolved.
type Decision struct {
	Violation
	// Action is what happens: deny, fix, warn or audit (off is dropped).
	// It shadows Violation.Action, the rule's own per-violation default.
	Action Action `json:"action"`
	// Why lists how the action was reached, step by step.
	Why []string `json:"why,omitempty"`
}

// Resolve turns violations into decisions for one object in one namespace.
// Violations whose action resolves to off are dropped.
func (e *Engine) Resolve(vs []Violation, sc Scope) []Decision {
	out := make([]Decision, 0, len(vs))
	for _, v := range vs {
		def := v.Rule.Action
		if v.Action != "" {
			def = v.Action
		}
		a, why := e.settings.Resolve(v.Rule.ID, def, sc)
		if a == ActionOff {
			continue
		}
		out = append(out, Decision{Violation: v, Action: a, Why: why})
	}
	return out
}

// FixFailed turns a fix decision whose fix could not be applied into a deny
// (then adjusted by namespace, skip and dry-run as any deny is), saying why.
func (e *Engine) FixFailed(d Decision, sc Scope, reason error) Decision {
	why := append(append([]string(nil), d.Why...), fmt.Sprintf("fix %s cannot apply (%v): falls back to deny", d.fixName(), reason))
	d.Action, d.Why = e.settings.Adjust(d.Rule.ID, ActionDeny, sc, why)
	d.Message = fmt.Sprintf("%s (fix %s cannot apply: %v)", d.Message, d.fixName(), reason)
	return d
}

func (d Decision) fixName() string {
	if d.Fix != nil && d.Fix.Name != "" {
		return d.Fix.Name
	}
	return strings.Join(d.Rule.Fixes, " or ")
}

// String is the one-line form used in warnings and denials:
// "MG004 cluster-wide-collection-in-daemonset: prometheus.scrape.svc (config.alloy:12:1): message".
func (d Decision) String() string {
	s := d.Rule.ID + " " + d.Rule.Slug + ": "
	if d.Component != "" {
		s += d.Component + " "
	}
	if d.File != "" && d.Line > 0 {
		s += fmt.Sprintf("(%s:%d:%d) ", d.File, d.Line, d.Column)
	}
	return s + d.Message
}
