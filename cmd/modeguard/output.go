package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"golang.org/x/term"

	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/workload"
)

func useColor(mode string, w io.Writer) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("NO_COLOR") == ""
}

var actionColor = map[policy.Action]string{
	policy.ActionDeny: "\x1b[31m", policy.ActionWarn: "\x1b[33m", policy.ActionFix: "\x1b[32m", policy.ActionAudit: "\x1b[36m",
}

// fixLine says in one line what the fix does (or why there is none).
func fixLine(f review.Finding) string {
	switch {
	case f.Action == policy.ActionFix && f.Applied:
		return fmt.Sprintf("%s%s (applied by modeguard fix / the mutating webhook)", f.Fix.Name, params(f.Fix.Params))
	case f.Fix != nil && f.Fix.Name != "":
		return fmt.Sprintf("%s%s (not applied: action is %s)", f.Fix.Name, params(f.Fix.Params), f.Action)
	}
	return "none: change the manifest"
}

func params(p map[string]any) string {
	if len(p) == 0 {
		return ""
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		if k != "file" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%v", k, p[k]))
	}
	return " " + strings.Join(parts, " ")
}

// writeText writes the findings for people: audit findings (record only)
// only with showAudit, counted in the summary all the same.
func writeText(w io.Writer, c *checked, color, showAudit bool) {
	paint := func(a policy.Action, s string) string {
		if !color {
			return s
		}
		return actionColor[a] + s + "\x1b[0m"
	}
	hidden := 0
	for i, f := range c.result.Findings {
		if f.Action == policy.ActionAudit && !showAudit {
			hidden++
			continue
		}
		d := c.findingDoc(i)
		where := "(input)"
		if d != nil {
			where = docWhere(*d)
		}
		if f.Key != "" && f.Line > 0 {
			if l := configLine(d, f.Key, f.Line); l > 0 {
				where = fmt.Sprintf("%s:%d", d.File, l)
			}
			where += fmt.Sprintf(" (%s:%d:%d)", f.Key, f.Line, f.Column)
		}
		fmt.Fprintf(w, "%s %s %s %s\n", where, f.Rule.ID, f.Rule.Slug, paint(f.Action, strings.ToUpper(string(f.Action))))
		obj := objectName(f.Object)
		if f.Component != "" {
			obj += " " + f.Component
		}
		if f.Via != nil && *f.Via != f.Object {
			obj += " (read by " + objectName(*f.Via) + ")"
		}
		fmt.Fprintf(w, "  %s\n  %s\n", obj, f.Message)
		if v := alloyValueLine(f); v != "" {
			fmt.Fprintf(w, "  change: %s\n", v)
		}
		fmt.Fprintf(w, "  fix: %s\n\n", fixLine(f))
	}
	for i, r := range c.result.Results {
		if r == nil {
			continue
		}
		for _, n := range r.Notes {
			d := c.docs[c.objDocs[i]]
			if d.File == "" {
				fmt.Fprintf(w, "note: %s: %s\n", objectName(r.Subject), n)
				continue
			}
			fmt.Fprintf(w, "note: %s %s: %s\n", d.Where(), objectName(r.Subject), n)
		}
	}
	for _, s := range c.input.Skipped {
		if s.File == "" {
			fmt.Fprintf(w, "note: %s\n", s.Reason) // not about a file: an audit's failed API call
			continue
		}
		fmt.Fprintf(w, "note: %s\n", s)
	}
	s := summarize(c).String()
	if hidden > 0 {
		s += fmt.Sprintf("; %s not shown (--show-audit)", plural(hidden, "audit finding", "audit findings"))
	}
	fmt.Fprintln(w, s)
}

// docWhere is where a document is: "file:line", or for an object read
// from a cluster (no file) Kind/namespace/name.
func docWhere(d manifest.Document) string {
	if d.File == "" {
		return objectPath(d)
	}
	return d.Where()
}

// jsonFinding is the stable JSON form of a finding (documented in README).
type jsonFinding struct {
	Rule         string             `json:"rule"`
	Slug         string             `json:"slug"`
	Action       policy.Action      `json:"action"`
	Kind         string             `json:"kind"`
	Namespace    string             `json:"namespace"`
	Name         string             `json:"name"`
	Component    string             `json:"component,omitempty"`
	File         string             `json:"file,omitempty"`
	Line         int                `json:"line,omitempty"`
	ConfigKey    string             `json:"configKey,omitempty"`
	ConfigLine   int                `json:"configLine,omitempty"`
	ConfigColumn int                `json:"configColumn,omitempty"`
	Message      string             `json:"message"`
	Fix          *policy.FixRequest `json:"fix,omitempty"`
	Applied      bool               `json:"applied"`
	Via          *review.ObjectRef  `json:"via,omitempty"`
	// Value is the value of an Alloy object's spec to change; Owner the
	// Alloy object owning the object (which is then not patched).
	Value string   `json:"value,omitempty"`
	Owner string   `json:"owner,omitempty"`
	Why   []string `json:"why,omitempty"`
}

// alloyValueLine says which value of which Alloy object a finding asks to
// change, "" when it is not about one.
func alloyValueLine(f review.Finding) string {
	switch {
	case f.Value == "":
		return ""
	case f.Owner != "":
		return f.Value + " of Alloy " + f.Owner
	case f.Object.Kind == workload.KindAlloy.Name:
		return f.Value + " of " + objectName(f.Object)
	case f.Via != nil && f.Via.Kind == workload.KindAlloy.Name:
		return f.Value + " of " + objectName(*f.Via)
	}
	return ""
}

type jsonNote struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	File      string `json:"file"`
	Line      int    `json:"line"`
	Note      string `json:"note"`
}

// toJSON is finding i of c in its JSON form.
func toJSON(c *checked, i int) jsonFinding {
	f := c.result.Findings[i]
	j := jsonFinding{
		Rule: f.Rule.ID, Slug: f.Rule.Slug, Action: f.Action,
		Kind: f.Object.Kind, Namespace: f.Object.Namespace, Name: f.Object.Name,
		Component: f.Component, Message: f.Message, Fix: f.Fix, Applied: f.Applied, Via: f.Via, Why: f.Why,
		Value: f.Value, Owner: f.Owner,
	}
	d := c.findingDoc(i)
	if d != nil {
		j.File, j.Line = d.File, d.Line
	}
	if f.Key != "" {
		j.ConfigKey, j.ConfigLine, j.ConfigColumn = f.Key, f.Line, f.Column
		if l := configLine(d, f.Key, f.Line); l > 0 {
			j.Line = l
		}
	}
	return j
}

func writeJSON(w io.Writer, c *checked) error {
	out := struct {
		Findings []jsonFinding `json:"findings"`
		Notes    []jsonNote    `json:"notes"`
		Summary  summary       `json:"summary"`
	}{Findings: []jsonFinding{}, Notes: []jsonNote{}, Summary: summarize(c)}
	for i := range c.result.Findings {
		out.Findings = append(out.Findings, toJSON(c, i))
	}
	for i, r := range c.result.Results {
		if r == nil {
			continue
		}
		d := c.docs[c.objDocs[i]]
		for _, n := range r.Notes {
			out.Notes = append(out.Notes, jsonNote{Kind: r.Subject.Kind, Namespace: r.Subject.Namespace, Name: r.Subject.Name, File: d.File, Line: d.Line, Note: n})
		}
	}
	for _, s := range c.input.Skipped {
		note := "skipped: " + s.Reason
		if s.File == "" {
			note = s.Reason
		}
		out.Notes = append(out.Notes, jsonNote{File: s.File, Line: s.Line, Note: note})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
