package policy

import (
	"fmt"

	"github.com/modeguard/modeguard/riverconfig"
)

func init() {
	registerNative("modeguard.rules.config_syntax", configSyntax)
	registerNative("modeguard.rules.unverifiable_config", unverifiableConfig)
}

// configSyntax is MG013 (rules/config-syntax.rego): one violation per
// parser diagnostic of every file, at the diagnostic's own file, line and
// column (not the file's name), about the config.
func configSyntax(n *nativeInput) []Violation {
	var out []Violation
	for _, f := range n.files {
		if f == nil { // a null file has no errors in Rego
			continue
		}
		for _, e := range f.Errors {
			out = append(out, Violation{
				Message: fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Message),
				File:    e.File, Line: e.Line, Column: e.Column, Target: TargetConfig,
			})
		}
	}
	return out
}

// unverifiableConfig is MG014 (rules/unverifiable-config.rego): one
// violation per unverifiable entry of every file, at the entry's range;
// a file too large to analyse says it was not checked and warns.
func unverifiableConfig(n *nativeInput) []Violation {
	var out []Violation
	for _, f := range n.files {
		if f == nil {
			continue
		}
		for _, u := range f.Unverifiable {
			v := Violation{
				Message:   unverifiableMessage(u),
				Component: u.Component, File: f.File,
				Line: u.Range.Start.Line, Column: u.Range.Start.Column, Target: TargetConfig,
			}
			// action(u): {"action": "warn"} for too-large, else {}.
			if u.Kind == riverconfig.UnverifiableTooLarge {
				v.Action = ActionWarn
			}
			out = append(out, v)
		}
	}
	return out
}

// unverifiableMessage is MG014's message(u).
func unverifiableMessage(u riverconfig.Unverifiable) string {
	if u.Kind == riverconfig.UnverifiableTooLarge {
		return fmt.Sprintf("not checked: %s", u.Reason)
	}
	return fmt.Sprintf("cannot verify (%s): %s", u.Kind, u.Reason)
}
