package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/modeguard/modeguard/workload"
)

// Action is what modeguard does with a violation.
type Action string

// The actions, from most to least disruptive.
const (
	ActionDeny  Action = "deny"  // reject the object
	ActionFix   Action = "fix"   // apply the rule's fix; deny if it cannot apply
	ActionWarn  Action = "warn"  // admit with a warning
	ActionAudit Action = "audit" // record only: log, metric, event
	ActionOff   Action = "off"   // ignore
)

// UnmarshalJSON reads an action. YAML 1.1, which settings files are read
// as, makes an unquoted off/no/false the boolean false: that is "off". The
// boolean true (on/yes/true) names no action; it is kept as "true" for
// validate to explain.
func (a *Action) UnmarshalJSON(b []byte) error {
	switch string(bytes.TrimSpace(b)) {
	case "false":
		*a = ActionOff
		return nil
	case "true":
		*a = "true"
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("action: want one of deny, fix, warn, audit, off, got %s", b)
	}
	*a = Action(s)
	return nil
}

// Valid reports whether a is one of the known actions.
func (a Action) Valid() bool {
	switch a {
	case ActionDeny, ActionFix, ActionWarn, ActionAudit, ActionOff:
		return true
	}
	return false
}

// SettingsAPIVersion is the apiVersion a settings file must carry.
const SettingsAPIVersion = "modeguard.dev/v1"

// Settings tune the rule catalog: per-rule actions, which rules objects may
// skip, a global dry-run switch, namespaces that are never evaluated, and
// the images of agents pulled through a mirror.
type Settings struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	// DryRun turns every deny into a warn, for a safe rollout.
	DryRun bool `json:"dryRun,omitempty"`
	// Rules overrides per rule id (MG001) the default action.
	Rules map[string]RuleSettings `json:"rules,omitempty"`
	// AllowSkip lists the rule ids an object may skip with the
	// modeguard.dev/skip annotation; "*" allows every rule.
	AllowSkip []string `json:"allowSkip,omitempty"`
	// ExemptNamespaces are never evaluated.
	ExemptNamespaces []string `json:"exemptNamespaces,omitempty"`
	// EvaluationTimeout bounds one policy evaluation (default 2s).
	EvaluationTimeout Duration `json:"evaluationTimeout,omitempty"`
	// AgentImages are image patterns (workload.CheckImagePattern: globs over
	// the image as written, where * stops at /) of agent images besides
	// grafana/alloy and grafana/agent: mirrors and rebuilds.
	AgentImages []string `json:"agentImages,omitempty"`
}

// RuleSettings tune one rule.
type RuleSettings struct {
	Action Action `json:"action"`
}

// Duration is a time.Duration written as "1s", "500ms" in YAML.
type Duration struct{ time.Duration }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("evaluationTimeout: %q is not a duration like 500ms or 2s", s)
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + d.Duration.String() + `"`), nil
}

// DefaultEvaluationTimeout bounds one evaluation when settings name none.
const DefaultEvaluationTimeout = 2 * time.Second

// Timeout returns the evaluation timeout to use.
func (s *Settings) Timeout() time.Duration {
	if s == nil || s.EvaluationTimeout.Duration <= 0 {
		return DefaultEvaluationTimeout
	}
	return s.EvaluationTimeout.Duration
}

// ErrSettings marks an invalid settings document.
var ErrSettings = errors.New("invalid settings")

// LoadSettings reads and validates a settings file. An empty path yields the
// defaults.
func LoadSettings(path string) (*Settings, error) {
	if path == "" {
		return &Settings{}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading settings: %w", err)
	}
	s, err := ParseSettings(data)
	if err != nil {
		return nil, fmt.Errorf("settings %s: %w", path, err)
	}
	return s, nil
}

// ParseSettings decodes a settings document strictly: an unknown key is an
// error that names it.
func ParseSettings(data []byte) (*Settings, error) {
	s := &Settings{}
	if len(bytes.TrimSpace(data)) == 0 {
		return s, nil
	}
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSettings, err)
	}
	// Case-sensitive and strict: a misspelt key is named, with its path.
	strict, err := kjson.UnmarshalStrict(j, s, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSettings, err)
	}
	if len(strict) > 0 {
		return nil, fmt.Errorf("%w: %v", ErrSettings, errors.Join(strict...))
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Settings) validate() error {
	var errs []error
	if s.APIVersion != "" && s.APIVersion != SettingsAPIVersion {
		errs = append(errs, fmt.Errorf("%w: apiVersion %q, want %q", ErrSettings, s.APIVersion, SettingsAPIVersion))
	}
	if s.Kind != "" && s.Kind != "Settings" {
		errs = append(errs, fmt.Errorf("%w: kind %q, want Settings", ErrSettings, s.Kind))
	}
	for id, r := range s.Rules {
		if r.Action == "true" {
			errs = append(errs, fmt.Errorf("%w: rules.%s.action: YAML reads an unquoted on, yes or true as a boolean, which is no action: write one of deny, fix, warn, audit, off (quoted if in doubt: {action: \"warn\"})", ErrSettings, id))
			continue
		}
		if !r.Action.Valid() {
			errs = append(errs, fmt.Errorf("%w: rules.%s.action: %q is not one of deny, fix, warn, audit, off", ErrSettings, id, r.Action))
		}
	}
	if s.EvaluationTimeout.Duration < 0 {
		errs = append(errs, fmt.Errorf("%w: evaluationTimeout must not be negative", ErrSettings))
	}
	for i, p := range s.AgentImages {
		if err := workload.CheckImagePattern(p); err != nil {
			errs = append(errs, fmt.Errorf("%w: agentImages[%d]: %w", ErrSettings, i, err))
		}
	}
	return errors.Join(errs...)
}

// Agents is the Recognizer of agent workloads these settings ask for: the
// built-in ways and the AgentImages patterns.
func (s *Settings) Agents() workload.Recognizer {
	if s == nil {
		return workload.Recognizer{}
	}
	return workload.Recognizer{Images: slices.Clone(s.AgentImages)}
}

// checkRuleIDs reports settings keys that name no known rule.
func (s *Settings) checkRuleIDs(known func(string) bool) error {
	var errs []error
	for id := range s.Rules {
		if !known(id) {
			errs = append(errs, fmt.Errorf("%w: rules.%s: no rule has this id", ErrSettings, id))
		}
	}
	for _, id := range s.AllowSkip {
		if id != "*" && !known(id) {
			errs = append(errs, fmt.Errorf("%w: allowSkip: %q: no rule has this id", ErrSettings, id))
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// Exempt reports whether a namespace is never evaluated.
func (s *Settings) Exempt(namespace string) bool {
	return s != nil && slices.Contains(s.ExemptNamespaces, namespace)
}

func (s *Settings) skipAllowed(id string) bool {
	return s != nil && (slices.Contains(s.AllowSkip, "*") || slices.Contains(s.AllowSkip, id))
}
