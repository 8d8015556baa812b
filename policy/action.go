package policy

import (
	"fmt"
	"strings"
)

// Labels and annotations users set to tune enforcement.
const (
	// LabelEnforcement on a Namespace caps what happens there: "audit"
	// records only, "warn" turns deny into warn.
	LabelEnforcement = "modeguard.dev/enforcement"
	// AnnotationSkip on an object lists rule ids it skips (only those the
	// settings allow): "MG003,MG011".
	AnnotationSkip = "modeguard.dev/skip"
	// AnnotationMode on a ConfigMap states the mode of the agents that read
	// it when none is known: daemonset, statefulset or deployment.
	AnnotationMode = "modeguard.dev/mode"
)

// Scope is what the action of a violation depends on besides the rule.
type Scope struct {
	NamespaceLabels   map[string]string
	ObjectAnnotations map[string]string
}

// Resolve computes the action for rule id with default action def, in the
// documented order: rule default → settings → namespace label → object skip
// annotation → global dry-run. It also says why, step by step.
func (s *Settings) Resolve(id string, def Action, sc Scope) (Action, []string) {
	a, why := def, []string{fmt.Sprintf("default %s", def)}
	if r, ok := s.rules()[id]; ok && r.Action != "" {
		a = r.Action
		why = append(why, fmt.Sprintf("settings: %s", a))
	}
	return s.Adjust(id, a, sc, why)
}

// Adjust applies the namespace label, the skip annotation and the dry-run
// switch to action a. It is also used when a fix falls back to deny.
func (s *Settings) Adjust(id string, a Action, sc Scope, why []string) (Action, []string) {
	if a == ActionOff {
		return a, why
	}
	switch v := sc.NamespaceLabels[LabelEnforcement]; v {
	case "":
	case "audit":
		a = ActionAudit
		why = append(why, "namespace enforcement=audit")
	case "warn":
		if a == ActionDeny {
			a = ActionWarn
			why = append(why, "namespace enforcement=warn")
		}
	default:
		why = append(why, fmt.Sprintf("namespace label %s=%q ignored (want audit or warn)", LabelEnforcement, v))
	}
	if skipped(sc.ObjectAnnotations[AnnotationSkip], id) {
		if s.skipAllowed(id) {
			return ActionOff, append(why, "skipped by annotation "+AnnotationSkip)
		}
		why = append(why, "annotation "+AnnotationSkip+" names it, but settings do not allow skipping it")
	}
	if a == ActionDeny && s != nil && s.DryRun {
		a = ActionWarn
		why = append(why, "settings dryRun: deny becomes warn")
	}
	return a, why
}

func (s *Settings) rules() map[string]RuleSettings {
	if s == nil {
		return nil
	}
	return s.Rules
}

func skipped(list, id string) bool {
	for _, f := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(f), id) {
			return true
		}
	}
	return false
}
