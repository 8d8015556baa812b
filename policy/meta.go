package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Rule is a rule's metadata, read from its package's OPA METADATA block:
//
//	# METADATA
//	# title: DaemonSet discovery must be node-local
//	# description: ...
//	# custom:
//	#   id: MG001
//	#   slug: daemonset-node-local-discovery
//	#   action: fix
//	#   fix: node-selector
//	#   appliesTo: [DaemonSet]
//	package modeguard.rules.daemonset_node_local_discovery
//
// Fixes are the fixes the rule's violations may ask for: custom.fix names
// one, or lists several (fix: [node-name-expression, node-name-env]). The
// fixes themselves are mutate's; its tests check every name a built-in rule
// declares or asks for.
type Rule struct {
	ID          string   `json:"id"`
	Slug        string   `json:"slug"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Action      Action   `json:"action"`
	Fixes       []string `json:"fixes,omitempty"`
	AppliesTo   []string `json:"appliesTo,omitempty"`
	Package     string   `json:"package"`
	File        string   `json:"file"`
	Builtin     bool     `json:"builtin"`
}

var idPattern = regexp.MustCompile(`^[A-Z][A-Z0-9]*[0-9]+$`)

// ruleFromModule reads the METADATA of a rule module. ok is false for
// modules outside modeguard.rules (libraries, the entry point).
func ruleFromModule(s source) (*Rule, bool, error) {
	pkg := strings.TrimPrefix(s.module.Package.Path.String(), "data.")
	if !strings.HasPrefix(pkg, RulesPackage+".") || s.test {
		return nil, false, nil
	}
	r := &Rule{Package: pkg, File: s.name, Builtin: s.builtin, Action: ActionDeny}
	var ann *ast.Annotations
	for _, a := range s.module.Annotations {
		if a.Scope == "package" {
			ann = a
		}
	}
	where := fmt.Sprintf("%s: package %s", s.name, pkg)
	if strings.Contains(strings.TrimPrefix(pkg, RulesPackage+"."), ".") {
		return nil, true, fmt.Errorf("%s: a rule package must be %s.<name>, one level deep", where, RulesPackage)
	}
	if ann == nil {
		return nil, true, fmt.Errorf("%s: no METADATA block (package scope) with custom.id", where)
	}
	r.Title, r.Description = ann.Title, strings.TrimSpace(ann.Description)
	str := func(k string) string {
		v, _ := ann.Custom[k].(string)
		return v
	}
	r.ID, r.Slug = str("id"), str("slug")
	switch v := ann.Custom["fix"].(type) {
	case nil:
	case string:
		if v != "" {
			r.Fixes = []string{v}
		}
	case []any:
		for _, x := range v {
			s, ok := x.(string)
			if !ok || s == "" {
				return nil, true, fmt.Errorf("%s: METADATA custom.fix lists %v, want fix names", where, x)
			}
			r.Fixes = append(r.Fixes, s)
		}
	default:
		return nil, true, fmt.Errorf("%s: METADATA custom.fix is %v, want a fix name or a list of them", where, v)
	}
	if a := str("action"); a != "" {
		r.Action = Action(a)
	}
	if v, ok := ann.Custom["appliesTo"].([]any); ok {
		for _, k := range v {
			if s, ok := k.(string); ok {
				r.AppliesTo = append(r.AppliesTo, s)
			}
		}
	}
	if r.Slug == "" {
		r.Slug = strings.ReplaceAll(strings.TrimPrefix(pkg, RulesPackage+"."), "_", "-")
	}
	switch {
	case !idPattern.MatchString(r.ID):
		return nil, true, fmt.Errorf("%s: METADATA custom.id %q must look like MG001 or ACME7", where, r.ID)
	case !r.Action.Valid() || r.Action == ActionOff:
		return nil, true, fmt.Errorf("%s: METADATA custom.action %q is not one of deny, fix, warn, audit", where, r.Action)
	case r.Title == "":
		return nil, true, fmt.Errorf("%s: METADATA has no title", where)
	}
	return r, true, nil
}

// catalog indexes rules by package and by id.
type catalog struct {
	byPkg map[string]*Rule
	byID  map[string]*Rule
	list  []*Rule // sorted by id
}

func newCatalog(srcs []source) (*catalog, error) {
	c := &catalog{byPkg: map[string]*Rule{}, byID: map[string]*Rule{}}
	for _, s := range srcs {
		r, ok, err := ruleFromModule(s)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if prev, dup := c.byID[r.ID]; dup {
			return nil, fmt.Errorf("%s: rule id %s already used by %s (%s)", r.File, r.ID, prev.Package, prev.File)
		}
		c.byPkg[r.Package], c.byID[r.ID] = r, r
		c.list = append(c.list, r)
	}
	slices.SortFunc(c.list, func(a, b *Rule) int { return strings.Compare(a.ID, b.ID) })
	return c, nil
}
