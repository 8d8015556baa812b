package policy

import (
	"bytes"
	"fmt"
	"strings"
)

// RulesMarkdown renders the rules reference (docs/rules.md) from the rules'
// METADATA, so the document cannot drift from the policy. Only the tests use
// it (make docs writes the file through TestRulesDoc), hence a test file.
func RulesMarkdown(rules []*Rule) []byte {
	var b bytes.Buffer
	b.WriteString("# modeguard rules\n\n")
	b.WriteString("<!-- Generated from the METADATA of policy/rules/*.rego by `make docs`; do not edit. -->\n\n")
	b.WriteString("Every rule is Rego in `policy/rules/<slug>.rego`. Change a rule's action in the settings file,\n")
	b.WriteString("per namespace with the label `modeguard.dev/enforcement`, per object with the annotation\n")
	b.WriteString("`modeguard.dev/skip` (where settings allow), or replace the rule with your own Rego (README: Policies).\n\n")
	b.WriteString("| id | slug | applies to | default | fix | title |\n|---|---|---|---|---|---|\n")
	for _, r := range rules {
		fmt.Fprintf(&b, "| [%s](#%s) | `%s` | %s | %s | %s | %s |\n", r.ID, strings.ToLower(r.ID), r.Slug,
			strings.Join(r.AppliesTo, ", "), r.Action, orDash(strings.Join(r.Fixes, ", ")), r.Title)
	}
	for _, r := range rules {
		fmt.Fprintf(&b, "\n## %s\n\n**%s** — `%s`, default action `%s`", r.ID, r.Title, r.Slug, r.Action)
		if len(r.Fixes) > 0 {
			fmt.Fprintf(&b, ", fix `%s`", strings.Join(r.Fixes, "`, `"))
		}
		fmt.Fprintf(&b, ".\n\n%s\n\nSource: [`%s`](../policy/%s).\n", r.Description, r.File, r.File)
	}
	return b.Bytes()
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
