package policy

import (
	"context"
	"strings"
	"testing"
)

func TestParseSettingsErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"dryrun: true":                                         `unknown field "dryrun"`,
		"rules:\n  MG001:\n    action: block":                  "rules.MG001.action",
		"apiVersion: v2":                                       `apiVersion "v2"`,
		"evaluationTimeout: soon":                              "evaluationTimeout",
		"rules:\n  MG001:\n    actoin: warn":                   `unknown field "rules.MG001.actoin"`,
		"agentImages: ['']":                                    "agentImages[0]: invalid image pattern: empty",
		"agentImages: ['*/mirror/alloy*', '*/mirror/[a]lloy']": `agentImages[1]: invalid image pattern: "*/mirror/[a]lloy": '['`,
		"agentImages: ['*/*']":                                 "agentImages[0]: invalid image pattern: \"*/*\": no letter or digit",
		"agentImages: '*/mirror/alloy*'":                       "agentImages",
		"agentimages: ['*/mirror/alloy*']":                     `unknown field "agentimages"`,
		"rules:\n  MG015: {action: on}":                        `rules.MG015.action: YAML reads an unquoted on, yes or true as a boolean`,
		"rules:\n  MG015: {action: [warn]}":                    `want one of deny, fix, warn, audit, off`,
	}
	for doc, want := range cases {
		_, err := ParseSettings([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSettings(%q): got %v, want an error containing %q", doc, err, want)
		}
	}
}

// TestSettingsOffUnquoted: YAML 1.1 reads an unquoted off (no, false) as
// the boolean false; the settings take it as the action off, as written.
func TestSettingsOffUnquoted(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"off", "Off", "no", "false", `"off"`} {
		s, err := ParseSettings([]byte("rules:\n  MG015: {action: " + v + "}\n  MG001:\n    action: off\n"))
		if err != nil {
			t.Errorf("action: %s: got %v, want no error", v, err)
			continue
		}
		if got := s.Rules["MG015"].Action; got != ActionOff {
			t.Errorf("action: %s: got %q, want off", v, got)
		}
		if got := s.Rules["MG001"].Action; got != ActionOff {
			t.Errorf("MG001 action: off: got %q, want off", got)
		}
	}
}

// TestSettingsAgentImages: valid patterns reach the Recognizer the
// settings hand out, which then recognizes a mirrored image.
func TestSettingsAgentImages(t *testing.T) {
	t.Parallel()
	s, err := ParseSettings([]byte("agentImages: ['*/mirror/alloy*', 'registry.internal/agents/*:v1.*']\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := s.Agents().Images
	if want := []string{"*/mirror/alloy*", "registry.internal/agents/*:v1.*"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got Agents().Images %q, want %q", got, want)
	}
	if n := (*Settings)(nil).Agents(); len(n.Images) != 0 {
		t.Errorf("nil settings: got images %q, want none", n.Images)
	}
}

func TestSettingsUnknownRule(t *testing.T) {
	t.Parallel()
	s, err := ParseSettings([]byte("rules:\n  MG099:\n    action: warn\nallowSkip: [MG098]\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(context.Background(), Options{Settings: s})
	if err == nil || !strings.Contains(err.Error(), "rules.MG099") || !strings.Contains(err.Error(), "MG098") {
		t.Fatalf("got %v, want errors naming rules.MG099 and allowSkip MG098", err)
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	base := &Settings{Rules: map[string]RuleSettings{"MG003": {Action: ActionDeny}, "MG015": {Action: ActionOff}}, AllowSkip: []string{"MG011"}}
	dry := &Settings{DryRun: true}
	ns := func(v string) map[string]string { return map[string]string{LabelEnforcement: v} }
	skip := func(v string) map[string]string { return map[string]string{AnnotationSkip: v} }
	cases := []struct {
		name string
		s    *Settings
		id   string
		def  Action
		sc   Scope
		want Action
	}{
		{"default", base, "MG004", ActionDeny, Scope{}, ActionDeny},
		{"settings raise", base, "MG003", ActionWarn, Scope{}, ActionDeny},
		{"settings off", base, "MG015", ActionAudit, Scope{}, ActionOff},
		{"namespace warn", base, "MG004", ActionDeny, Scope{NamespaceLabels: ns("warn")}, ActionWarn},
		{"namespace warn keeps fix", base, "MG001", ActionFix, Scope{NamespaceLabels: ns("warn")}, ActionFix},
		{"namespace audit", base, "MG001", ActionFix, Scope{NamespaceLabels: ns("audit")}, ActionAudit},
		{"namespace bogus ignored", base, "MG004", ActionDeny, Scope{NamespaceLabels: ns("relaxed")}, ActionDeny},
		{"skip allowed", base, "MG011", ActionWarn, Scope{ObjectAnnotations: skip("MG003, mg011")}, ActionOff},
		{"skip not allowed", base, "MG003", ActionWarn, Scope{ObjectAnnotations: skip("MG003")}, ActionDeny},
		{"skip star", &Settings{AllowSkip: []string{"*"}}, "MG004", ActionDeny, Scope{ObjectAnnotations: skip("MG004")}, ActionOff},
		{"dry run", dry, "MG004", ActionDeny, Scope{}, ActionWarn},
		{"dry run keeps fix", dry, "MG001", ActionFix, Scope{}, ActionFix},
		{"nil settings", nil, "MG004", ActionDeny, Scope{}, ActionDeny},
	}
	for _, c := range cases {
		got, why := c.s.Resolve(c.id, c.def, c.sc)
		if got != c.want {
			t.Errorf("%s: got %s, want %s (why: %v)", c.name, got, c.want, why)
		}
	}
}
