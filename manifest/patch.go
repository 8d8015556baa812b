package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"gomodules.xyz/jsonpatch/v2"
)

// ApplyPatch applies JSON patch operations to a YAML document's text.
// Each operation is a splice of the text at the node it changes (spliceOp):
// the output differs from raw only inside those edits, so comments, key
// order, quoting, list indentation, block scalars and line breaks stay as
// written. An operation no splice can carry out (a YAML anchor, a flow
// collection over several lines) falls back to editing the node tree and
// encoding the document again, which keeps comments and key order only.
func ApplyPatch(raw []byte, ops []jsonpatch.Operation) ([]byte, error) {
	out := raw
	for _, op := range ops {
		e, err := spliceOp(out, op)
		if errors.Is(err, errNoSplice) {
			return reencode(raw, ops)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", op.Operation, op.Path, err)
		}
		out = e.minimize(out).apply(out)
	}
	return out, nil
}

// reencode applies ops to the node tree of raw and encodes it again.
func reencode(raw []byte, ops []jsonpatch.Operation) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("reading YAML: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, fmt.Errorf("want one YAML document")
	}
	for _, op := range ops {
		if err := applyOp(doc.Content[0], op); err != nil {
			return nil, fmt.Errorf("%s %s: %w", op.Operation, op.Path, err)
		}
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(indentOf(raw))
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// indentOf guesses the document's mapping indent (2 by default).
func indentOf(raw []byte) int {
	for _, l := range strings.Split(string(raw), "\n") {
		t := strings.TrimLeft(l, " ")
		if n := len(l) - len(t); n > 0 && t != "" && !strings.HasPrefix(t, "#") && !strings.HasPrefix(t, "- ") {
			return n
		}
	}
	return 2
}

func splitPointer(p string) []string {
	if p == "" || p == "/" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts
}

func applyOp(root *yaml.Node, op jsonpatch.Operation) error {
	parts := splitPointer(op.Path)
	if len(parts) == 0 {
		return fmt.Errorf("cannot replace the whole document")
	}
	parent := root
	for _, p := range parts[:len(parts)-1] {
		next, err := child(parent, p)
		if err != nil {
			return err
		}
		parent = next
	}
	last := parts[len(parts)-1]
	var val *yaml.Node
	if op.Operation != "remove" {
		v, err := toNode(op.Value)
		if err != nil {
			return err
		}
		val = v
	}
	switch parent.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(parent.Content); i += 2 {
			if parent.Content[i].Value == last {
				switch op.Operation {
				case "remove":
					parent.Content = append(parent.Content[:i], parent.Content[i+2:]...)
				default:
					keepStyle(parent.Content[i+1], val)
					parent.Content[i+1] = val
				}
				return nil
			}
		}
		if op.Operation == "remove" || op.Operation == "replace" {
			return fmt.Errorf("no key %q", last)
		}
		parent.Content = append(parent.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: last}, val)
		return nil
	case yaml.SequenceNode:
		if last == "-" && op.Operation == "add" {
			parent.Content = append(parent.Content, val)
			return nil
		}
		i, err := strconv.Atoi(last)
		if err != nil || i < 0 || i > len(parent.Content) || (i == len(parent.Content) && op.Operation != "add") {
			return fmt.Errorf("bad index %q", last)
		}
		switch op.Operation {
		case "add":
			parent.Content = append(parent.Content[:i], append([]*yaml.Node{val}, parent.Content[i:]...)...)
		case "remove":
			parent.Content = append(parent.Content[:i], parent.Content[i+1:]...)
		default:
			keepStyle(parent.Content[i], val)
			parent.Content[i] = val
		}
		return nil
	}
	return fmt.Errorf("cannot edit inside a scalar")
}

func child(n *yaml.Node, key string) (*yaml.Node, error) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1], nil
			}
		}
		return nil, fmt.Errorf("no key %q", key)
	case yaml.SequenceNode:
		i, err := strconv.Atoi(key)
		if err != nil || i < 0 || i >= len(n.Content) {
			return nil, fmt.Errorf("bad index %q", key)
		}
		return n.Content[i], nil
	case yaml.AliasNode:
		return child(n.Alias, key)
	}
	return nil, fmt.Errorf("no %q inside a scalar", key)
}

// toNode turns a JSON value into YAML nodes.
func toNode(v any) (*yaml.Node, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(j, &n); err != nil {
		return nil, err
	}
	out := n.Content[0]
	clearFlow(out)
	if out.Kind == yaml.ScalarNode && out.Tag == "!!str" && strings.Contains(out.Value, "\n") {
		out.Style = yaml.LiteralStyle
	}
	return out, nil
}

// clearFlow makes JSON-born maps and lists block style, as manifests are.
func clearFlow(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = 0
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		n.Style = 0
		if strings.Contains(n.Value, "\n") {
			n.Style = yaml.LiteralStyle
		}
	}
	for _, c := range n.Content {
		clearFlow(c)
	}
}

// keepStyle carries the replaced scalar's style and comments over.
func keepStyle(old, val *yaml.Node) {
	if old.Kind == yaml.ScalarNode && val.Kind == yaml.ScalarNode {
		if old.Style != 0 && (old.Style != yaml.LiteralStyle || strings.Contains(val.Value, "\n")) {
			val.Style = old.Style
		}
	}
	val.HeadComment, val.LineComment, val.FootComment = old.HeadComment, old.LineComment, old.FootComment
}
