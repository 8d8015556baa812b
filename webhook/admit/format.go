package admit

import (
	"fmt"
	"strings"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
)

// Line is the one-line form of a finding in a warning or a denial: the
// decision (rule id and slug, component, River position, message), and the
// object it is about when that is not the subject.
func Line(res *review.Result, f review.Finding) string {
	s := f.Decision.String()
	if f.Object != res.Subject {
		s += fmt.Sprintf(" [%s %s/%s]", f.Object.Kind, f.Object.Namespace, f.Object.Name)
	}
	if f.Value != "" && f.Owner == "" { // an owned object's message names the owner's value
		s += " [change " + f.Value + "]"
	}
	return s
}

// FixWarnings are the warnings of the mutating webhook: one per fix applied
// to the subject, and one per fix that will be applied to another object
// (the reconciler re-submits it so that the mutating webhook fixes it).
func FixWarnings(res *review.Result) []string {
	var out []string
	for _, f := range res.Findings {
		if f.Action != policy.ActionFix || !f.Applied {
			continue
		}
		if f.Object == res.Subject {
			out = append(out, f.Decision.String()+" [fixed]")
			continue
		}
		out = append(out, fmt.Sprintf("%s [fix will be applied to %s %s/%s]", f.Decision.String(), f.Object.Kind, f.Object.Namespace, f.Object.Name))
	}
	return out
}

// Findings returns the findings of res with one of the actions.
func Findings(res *review.Result, actions ...policy.Action) []review.Finding {
	var out []review.Finding
	for _, f := range res.Findings {
		for _, a := range actions {
			if f.Action == a {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// DenyMessage lists the deny findings of res, one per line.
func DenyMessage(res *review.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "modeguard denied %s %s/%s:", res.Subject.Kind, res.Subject.Namespace, res.Subject.Name)
	for _, f := range Findings(res, policy.ActionDeny) {
		b.WriteString("\n- ")
		b.WriteString(Line(res, f))
	}
	return b.String()
}

// EngineErrorWarning is the warning of a request admitted by FailAllow.
func EngineErrorWarning(uid string, err error) string {
	return fmt.Sprintf("modeguard could not evaluate this object (request %s), admitted unchecked: %v", uid, err)
}
