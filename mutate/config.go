package mutate

import (
	"fmt"
	"strconv"
	"strings"

	riverparser "github.com/grafana/river/parser"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/riverconfig"
)

// Field selector prefixes naming the node, by selector role.
var nodePrefix = map[string]string{
	"pod":  "spec.nodeName=",
	"node": "metadata.name=",
}

// Config applies one config fix (a fix of the registry whose target is
// policy.TargetConfig: see Fixes) to src, the text of file file, and returns
// the new text. It parses src itself (riverconfig.Parse) to find positions
// and splices text at them: every other byte stays as it was. It is
// idempotent: fixing an already fixed config returns it unchanged (the same
// slice) and no error. The result must parse; if it would not, Config
// returns an error and the original. Every config fix takes the parameter
// "file", which must name file when given, and "component": a component id
// held by several components (in foreach or declare bodies) fixes each of
// them.
func Config(file string, src []byte, fix policy.FixRequest) ([]byte, error) {
	out, _, err := fixConfig(file, src, fix, nil)
	if err != nil {
		return src, err
	}
	return out, nil
}

// parseFunc parses River text as riverconfig.Parse does, possibly through
// a cache (its facts are then shared: read-only).
type parseFunc = func(filename string, src []byte) *riverconfig.Facts

// fixConfig returns the fixed text and the edits that made it from src. It
// parses src with parse, riverconfig.Parse when nil.
func fixConfig(file string, src []byte, fix policy.FixRequest, parse parseFunc) ([]byte, []edit, error) {
	edits, err := planConfig(file, src, fix, parse)
	if err != nil || len(edits) == 0 {
		return src, nil, err
	}
	out, err := splice(src, edits)
	if err != nil {
		return src, nil, fmt.Errorf("fix %s on %s: %w", fix.Name, file, err)
	}
	if err := checkParses(file, out, parse); err != nil {
		return src, nil, notApplicablef("fix %s on %s would not parse (%v): not changed", fix.Name, file, err)
	}
	return out, edits, nil
}

// checkParses says why the River parser refuses src, nil when it accepts
// it. The River parser alone decides, not the facts riverconfig builds on
// top. With a parse function (a cache the next evaluation reads), facts
// without errors say it accepted src (riverconfig.Parse ran it); otherwise
// it is asked, since riverconfig does not hand a file past its limits to it.
func checkParses(file string, src []byte, parse parseFunc) error {
	if parse != nil {
		if f := parse(file, src); len(f.Errors) == 0 && !tooLarge(f) {
			return nil
		}
	}
	_, err := riverparser.ParseFile(file, src)
	return err
}

func tooLarge(f *riverconfig.Facts) bool {
	for _, u := range f.Unverifiable {
		if u.Kind == riverconfig.UnverifiableTooLarge {
			return true
		}
	}
	return false
}

// planConfig computes the edits of one fix, parsing src with parse
// (riverconfig.Parse when nil).
func planConfig(file string, src []byte, req policy.FixRequest, parse parseFunc) ([]edit, error) {
	fix, err := lookupFor(req, policy.TargetConfig, "the config "+file)
	if err != nil {
		return nil, err
	}
	if v, ok := req.Params[paramFile.Name]; ok && v != file {
		return nil, notApplicablef("fix %s is for file %v, not %s", fix.Name, v, file)
	}
	p, err := fix.params(req)
	if err != nil {
		return nil, err
	}
	id := p[paramComponent.Name]

	if parse == nil {
		parse = riverconfig.Parse
	}
	facts := parse(file, src)
	if len(facts.Errors) > 0 {
		d := facts.Errors[0]
		return nil, notApplicablef("%s does not parse (%d:%d: %s)", file, d.Line, d.Column, d.Message)
	}
	e := newEditor(src, facts)
	found := false
	for i := range facts.Components {
		c := &facts.Components[i]
		if c.ID != id {
			continue
		}
		found = true
		if err := fix.config(e, c, p); err != nil {
			return nil, err
		}
	}
	if !found {
		return nil, notApplicablef("%s has no component %s", file, id)
	}
	return e.edits, nil
}

// nodeSelector makes the role's selectors block of a discovery.kubernetes
// component select the agent's node.
func (e *editor) nodeSelector(c *riverconfig.Component, role, node string) error {
	if c.Name != "discovery.kubernetes" {
		return notApplicablef("%s is a %s, not a discovery.kubernetes: no node selector", c.ID, c.Name)
	}
	rv, ok := c.Attributes["role"]
	have, isString := rv.Value.(string)
	switch {
	case !ok:
		return notApplicablef("%s has no role", c.ID)
	case !rv.Literal || !isString:
		return notApplicablef("%s: role %s is not a string literal: cannot tell whether a role=%q selector belongs there", c.ID, rv.Expr, role)
	case have != role:
		return notApplicablef("%s has role %q: a role=%q selector is not allowed there", c.ID, have, role)
	}
	prefix := nodePrefix[role]
	roleLine := line{text: "role = " + strconv.Quote(role)}
	fieldLine := line{text: "field = " + strconv.Quote(prefix) + " + " + node}

	var target, roleless *riverconfig.Block
	for i := range c.Blocks {
		b := &c.Blocks[i]
		if b.Name != "selectors" {
			continue
		}
		sr, ok := b.Attributes["role"]
		if !ok {
			if roleless == nil {
				roleless = b
			}
			continue
		}
		s, isString := sr.Value.(string)
		if !sr.Literal || !isString {
			return notApplicablef("%s: selectors role %s is not a string literal: not changed", c.ID, sr.Expr)
		}
		if s == role && target == nil {
			target = b
		}
	}
	if target == nil {
		target = roleless
	}
	if target == nil {
		e.appendStmts(componentBody(c), []line{
			{text: "selectors {"},
			{depth: 1, text: roleLine.text},
			{depth: 1, text: fieldLine.text},
			{text: "}"},
		})
		return nil
	}

	var add []line
	if _, ok := target.Attributes["role"]; !ok {
		add = append(add, roleLine)
	}
	if f, ok := target.Attributes["field"]; !ok {
		add = append(add, fieldLine)
	} else if !hasRequirement(f, prefix) {
		s, isString := f.Value.(string)
		if !f.Literal || !isString {
			return notApplicablef("%s: existing field selector %s is not a literal: not changed", c.ID, f.Expr)
		}
		e.combineField(f, s, prefix, node)
	}
	if len(add) > 0 {
		e.appendStmts(blockBody(target), add)
	}
	return nil
}

// combineField adds the node requirement to a literal field selector:
// "status.phase=Running" becomes
// "status.phase=Running,spec.nodeName=" + NODE. A literal written as one
// string token keeps its text: the requirement goes in before its closing
// quote.
func (e *editor) combineField(f riverconfig.Value, value, prefix, node string) {
	start, end := f.Range.Start.Offset, f.Range.End.Offset
	switch {
	case value == "":
		e.replace(start, end, strconv.Quote(prefix)+" + "+node)
	case f.Lead != nil && f.Lead.Range == f.Range:
		e.replace(end-1, end-1, ","+prefix)
		e.replace(end, end, " + "+node)
	default:
		e.replace(start, end, strconv.Quote(value+","+prefix)+" + "+node)
	}
}

// hasRequirement reports whether a field selector already holds a
// requirement on prefix ("spec.nodeName="), in the string literal it
// starts with (riverconfig's Lead: its leading operand, or the format
// string of format("spec.nodeName=%s", ...)), at its start or after a
// comma.
func hasRequirement(f riverconfig.Value, prefix string) bool {
	if f.Lead == nil {
		return false
	}
	s := f.Lead.Value
	return strings.HasPrefix(s, prefix) || strings.Contains(s, ","+prefix)
}

// nodeNameExpression rewrites every bare constants.hostname node-name
// expression of the component.
func (e *editor) nodeNameExpression(c *riverconfig.Component, node string) error {
	seen := map[int]bool{}
	var walk func(attrs map[string]riverconfig.Value, blocks []riverconfig.Block) error
	walk = func(attrs map[string]riverconfig.Value, blocks []riverconfig.Block) error {
		for _, v := range attrs {
			n := v.NodeName
			if n == nil || n.Kind != riverconfig.NodeNameHostname || seen[n.Range.Start.Offset] {
				continue
			}
			start, end := n.Range.Start.Offset, n.Range.End.Offset
			if start < 0 || end > len(e.src) || start >= end || !strings.Contains(string(e.src[start:end]), "constants.hostname") {
				return fmt.Errorf("%s: node name range %d:%d does not hold constants.hostname", c.ID, n.Range.Start.Line, n.Range.Start.Column)
			}
			seen[start] = true
			e.replace(start, end, node)
		}
		for i := range blocks {
			if err := walk(blocks[i].Attributes, blocks[i].Blocks); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(c.Attributes, c.Blocks)
}

// clusteringBlock makes the component say clustering { enabled = true }.
func (e *editor) clusteringBlock(c *riverconfig.Component) error {
	if c.Clustering == nil || !c.Clustering.Capable {
		return notApplicablef("%s has no clustering support", c.ID)
	}
	for i := range c.Blocks {
		b := &c.Blocks[i]
		if b.Name != "clustering" {
			continue
		}
		v, ok := b.Attributes["enabled"]
		if !ok {
			e.appendStmts(blockBody(b), []line{{text: "enabled = true"}})
			return nil
		}
		on, isBool := v.Value.(bool)
		switch {
		case !v.Literal || !isBool:
			return notApplicablef("%s: clustering enabled is %s, not a literal: not changed", c.ID, v.Expr)
		case !on:
			e.replace(v.Range.Start.Offset, v.Range.End.Offset, "true")
		}
		return nil
	}
	e.appendStmts(componentBody(c), []line{
		{text: "clustering {"},
		{depth: 1, text: "enabled = true"},
		{text: "}"},
	})
	return nil
}
