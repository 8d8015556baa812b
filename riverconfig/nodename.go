package riverconfig

import (
	"slices"
	"strconv"
	"strings"

	"github.com/grafana/river/ast"
	"github.com/grafana/river/token"
)

// Field selector prefixes that name a node: a pod's node, or the node
// itself.
const (
	prefixPodNode = "spec.nodeName="
	prefixNode    = "metadata.name="
)

var nodePrefixes = []string{prefixPodNode, prefixNode}

// fieldNodeName classifies a discovery.kubernetes selectors field. It finds
// the node-name prefix in the leading string literal (at its start or after
// a comma) and classifies what follows it:
//
//	"spec.nodeName=" + coalesce(sys.env("HOSTNAME"), constants.hostname)
//	"spec.nodeName=node-1"
//	format("spec.nodeName=%s", env("HOSTNAME"))
//
// Without a known prefix the whole field is reported with prefix "" and kind
// "other".
func (p *parser) fieldNodeName(e ast.Expr) *NodeName {
	if e == nil {
		return nil
	}
	inner := unparen(e)
	if call, ok := inner.(*ast.CallExpr); ok && len(call.Args) == 2 {
		if path, ok := chain(call.Value); ok {
			if fn := strings.Join(path, "."); fn == "format" || fn == "string.format" {
				if s, ok := stringLiteral(call.Args[0]); ok {
					for _, pre := range nodePrefixes {
						if i := prefixIndex(s, pre); i >= 0 && strings.HasPrefix(s[i+len(pre):], "%s") &&
							(len(s) == i+len(pre)+2 || s[i+len(pre)+2] == ',') {
							return p.nodeExprName(call.Args[1], pre)
						}
					}
				}
			}
		}
	}

	parts := flattenAdd(inner)
	if first, ok := parts[0].(*ast.LiteralExpr); ok && first.Kind == token.STRING {
		s, err := strconv.Unquote(first.Value)
		if err == nil {
			for _, pre := range nodePrefixes {
				i := prefixIndex(s, pre)
				if i < 0 {
					continue
				}
				rest := s[i+len(pre):]
				switch {
				case len(parts) == 1:
					return p.literalNodeName(first, pre, rest)
				case rest == "":
					// The node name is every part up to one starting a new
					// requirement (",...").
					k := 1
					for k < len(parts) {
						if s2, ok := stringLiteral(parts[k]); ok && strings.HasPrefix(s2, ",") {
							break
						}
						k++
					}
					switch k {
					case 1:
						return p.literalNodeName(first, pre, "")
					case 2:
						return p.nodeExprName(parts[1], pre)
					}
					start, _ := span(parts[1])
					_, end := span(parts[k-1])
					n := &NodeName{Prefix: pre, Kind: NodeNameOther, Expr: p.text(start, end), EnvVars: []string{}, Range: p.rng(start, end)}
					for _, part := range parts[1:k] {
						nodeParts(part, n)
					}
					return n
				default:
					// "spec.nodeName=ip-" + X: the name is built from pieces.
					n := p.nodeExprName(e, pre)
					n.Kind = NodeNameOther
					return n
				}
			}
		}
	}
	n := p.nodeExprName(e, "")
	n.Kind = NodeNameOther
	return n
}

// literalNodeName reports the node name written inside a string literal,
// with the range of the name inside the quotes when the literal spells it
// without escapes.
func (p *parser) literalNodeName(lit *ast.LiteralExpr, prefix, rest string) *NodeName {
	name, _, _ := strings.Cut(rest, ",")
	n := &NodeName{Prefix: prefix, Kind: NodeNameLiteral, Expr: name, EnvVars: []string{}, Range: p.nodeRange(lit)}
	if i := strings.Index(lit.Value, prefix+name); i >= 0 && lit.Value[0] == '"' {
		start := lit.ValuePos.Offset() + i + len(prefix)
		n.Range = p.rng(start, start+len(name))
	}
	return n
}

// prefixIndex returns where pre starts a requirement of the selector s (at
// its start or after a comma), or -1.
func prefixIndex(s, pre string) int {
	if strings.HasPrefix(s, pre) {
		return 0
	}
	if i := strings.Index(s, ","+pre); i >= 0 {
		return i + 1
	}
	return -1
}

// nodeExprName classifies an expression meant to yield a node name: a
// relabel regex, or the part of a field selector after its prefix.
func (p *parser) nodeExprName(e ast.Expr, prefix string) *NodeName {
	if e == nil {
		return nil
	}
	n := &NodeName{Prefix: prefix, Kind: NodeNameOther, Expr: p.nodeText(e), EnvVars: []string{}, Range: p.nodeRange(e)}
	inner := unparen(e)
	switch x := inner.(type) {
	case *ast.LiteralExpr:
		if x.Kind == token.STRING {
			n.Kind = NodeNameLiteral
		}
	case *ast.IdentifierExpr, *ast.AccessExpr:
		if path, ok := chain(x); ok && strings.Join(path, ".") == "constants.hostname" {
			n.Kind = NodeNameHostname
		}
	case *ast.CallExpr:
		switch callName(x) {
		case "env", "sys.env":
			n.Kind = NodeNameEnv
		case "coalesce":
			n.Kind = NodeNameCoalesce
		}
	}
	nodeParts(inner, n)
	return n
}

// nodeParts records the env variables and constants.hostname found in e.
func nodeParts(e ast.Expr, n *NodeName) {
	switch x := e.(type) {
	case *ast.IdentifierExpr, *ast.AccessExpr:
		if path, ok := chain(x); ok {
			if strings.Join(path, ".") == "constants.hostname" {
				n.HostnameFallback = true
			}
			return
		}
		if a, ok := x.(*ast.AccessExpr); ok {
			nodeParts(a.Value, n)
		}
	case *ast.CallExpr:
		if fn := callName(x); fn == "env" || fn == "sys.env" {
			if n.EnvFunc == "" {
				n.EnvFunc = fn
			}
			if len(x.Args) == 1 {
				if v, ok := stringLiteral(x.Args[0]); ok && !slices.Contains(n.EnvVars, v) {
					n.EnvVars = append(n.EnvVars, v)
				}
			}
		}
		for _, a := range x.Args {
			nodeParts(a, n)
		}
	case *ast.ParenExpr:
		nodeParts(x.Inner, n)
	case *ast.BinaryExpr:
		nodeParts(x.Left, n)
		nodeParts(x.Right, n)
	case *ast.UnaryExpr:
		nodeParts(x.Value, n)
	case *ast.IndexExpr:
		nodeParts(x.Value, n)
		nodeParts(x.Index, n)
	case *ast.ArrayExpr:
		for _, el := range x.Elements {
			nodeParts(el, n)
		}
	case *ast.ObjectExpr:
		for _, f := range x.Fields {
			nodeParts(f.Value, n)
		}
	}
}

// isNodeName reports whether a classified expression reads the node name at
// run time: an env variable, constants.hostname, or a coalesce of them.
// Whether it really yields the node name (a hostname is the pod name without
// hostNetwork; a variable must come from spec.nodeName) is for the rules to
// judge against the workload.
func isNodeName(n *NodeName) bool {
	if n == nil {
		return false
	}
	switch n.Kind {
	case NodeNameEnv, NodeNameHostname:
		return true
	case NodeNameCoalesce:
		return len(n.EnvVars) > 0 || n.HostnameFallback
	}
	return false
}

func callName(c *ast.CallExpr) string {
	path, ok := chain(c.Value)
	if !ok {
		return ""
	}
	return strings.Join(path, ".")
}

func unparen(e ast.Expr) ast.Expr {
	for {
		pe, ok := e.(*ast.ParenExpr)
		if !ok {
			return e
		}
		e = pe.Inner
	}
}

// flattenAdd splits a chain of "+" into its operands, left to right.
func flattenAdd(e ast.Expr) []ast.Expr {
	if b, ok := e.(*ast.BinaryExpr); ok && b.Kind == token.ADD {
		return append(flattenAdd(b.Left), flattenAdd(b.Right)...)
	}
	return []ast.Expr{e}
}
