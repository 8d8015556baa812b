package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	yaml "go.yaml.in/yaml/v3"
	"gomodules.xyz/jsonpatch/v2"
)

// errNoSplice says an operation cannot be carried out as a splice of the
// text; ApplyPatch then re-encodes the document instead.
var errNoSplice = errors.New("no splice for this operation")

// Edit is one splice of a document's text: the bytes [Start, End) of the
// text the operation was applied to are replaced by Text.
type Edit struct {
	Start, End int
	Text       []byte
}

// spliceOp carries out one JSON patch operation on raw by replacing the
// bytes of the node it changes: everything else of the document (comments,
// quoting, indentation of lists, block scalars, CRLF, "---" and "...")
// stays as written. A changed block scalar keeps its header and its
// indentation; only its changed lines are rewritten.
func spliceOp(raw []byte, op jsonpatch.Operation) (Edit, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return Edit{}, fmt.Errorf("reading YAML: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return Edit{}, fmt.Errorf("want one YAML document")
	}
	t := newText(raw)
	parts := splitPointer(op.Path)
	if len(parts) == 0 {
		return Edit{}, errNoSplice
	}
	parent := doc.Content[0]
	for _, p := range parts[:len(parts)-1] {
		next, err := child(parent, p)
		if err != nil {
			return Edit{}, err
		}
		parent = next
	}
	if parent.Kind == yaml.AliasNode || parent.Anchor != "" {
		return Edit{}, errNoSplice
	}
	last := parts[len(parts)-1]
	// Flow collections ({a: b}, [a, b]) on one line are re-written whole.
	if parent.Style&yaml.FlowStyle != 0 {
		return t.flow(parent, op, last)
	}
	switch parent.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(parent.Content); i += 2 {
			k, v := parent.Content[i], parent.Content[i+1]
			if k.Value != last {
				continue
			}
			if op.Operation == "remove" {
				return t.removePair(parent, i)
			}
			if v.Kind == yaml.ScalarNode && isScalar(op.Value) {
				return t.replaceScalar(k, v, op.Value)
			}
			return t.replacePair(parent, i, op.Value)
		}
		if op.Operation == "remove" || op.Operation == "replace" {
			return Edit{}, fmt.Errorf("no key %q", last)
		}
		return t.addPair(parent, last, op.Value)
	case yaml.SequenceNode:
		n := len(parent.Content)
		i := n
		if last != "-" {
			v, err := strconv.Atoi(last)
			if err != nil || v < 0 || v > n || (v == n && op.Operation != "add") {
				return Edit{}, fmt.Errorf("bad index %q", last)
			}
			i = v
		} else if op.Operation != "add" {
			return Edit{}, fmt.Errorf("bad index %q", last)
		}
		switch op.Operation {
		case "add":
			return t.addItem(parent, i, op.Value)
		case "remove":
			return t.removeItem(parent, i)
		}
		if it := parent.Content[i]; it.Kind == yaml.ScalarNode && isScalar(op.Value) {
			return t.replaceScalar(nil, it, op.Value)
		}
		return Edit{}, errNoSplice
	}
	return Edit{}, fmt.Errorf("cannot edit inside a scalar")
}

func isScalar(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return false
	}
	return true
}

// text is a document's bytes cut in lines.
type text struct {
	raw   []byte
	start []int // start[i] is the offset of line i+1
	eol   string
}

func newText(raw []byte) *text {
	t := &text{raw: raw, start: []int{0}, eol: "\n"}
	for i, c := range raw {
		if c == '\n' {
			t.start = append(t.start, i+1)
		}
	}
	if bytes.Contains(raw, []byte("\r\n")) {
		t.eol = "\r\n"
	}
	return t
}

func (t *text) lines() int { return len(t.start) }

// line is line n (1-based) without its line break.
func (t *text) line(n int) string {
	if n < 1 || n > len(t.start) {
		return ""
	}
	end := len(t.raw)
	if n < len(t.start) {
		end = t.start[n]
	}
	return strings.TrimRight(string(t.raw[t.start[n-1]:end]), "\r\n")
}

// lineStart and lineEnd are the offsets of line n's first byte and of the
// byte after its line break.
func (t *text) lineStart(n int) int { return t.start[n-1] }

func (t *text) lineEnd(n int) int {
	if n < len(t.start) {
		return t.start[n]
	}
	return len(t.raw)
}

// offset is the byte offset of a node position (1-based line, column in
// runes as yaml.v3 counts).
func (t *text) offset(line, col int) int {
	l := t.line(line)
	off := t.lineStart(line)
	n := 1
	for i := range l {
		if n == col {
			return off + i
		}
		n++
	}
	return off + len(l)
}

func indent(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

// endLine is the last line of node n's text, given that the lines of its
// block scalars are those indented more than above (the indentation of the
// key or dash that holds it).
func (t *text) endLine(n *yaml.Node, above int) int {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			end := n.Line
			for l := n.Line + 1; l <= t.lines(); l++ {
				s := t.line(l)
				if strings.TrimSpace(s) == "" {
					continue
				}
				if indent(s) <= above {
					break
				}
				end = l
			}
			return end
		}
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 || strings.Contains(n.Value, "\n") {
			// A quoted scalar may run over lines: up to its closing quote.
			_, endOff := t.scalarSpan(n)
			for l := n.Line; l <= t.lines(); l++ {
				if t.lineEnd(l) >= endOff {
					return l
				}
			}
		}
		return n.Line
	case yaml.MappingNode:
		if len(n.Content) == 0 {
			return n.Line
		}
		k := n.Content[len(n.Content)-2]
		return max(k.Line, t.endLine(n.Content[len(n.Content)-1], k.Column-1))
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return n.Line
		}
		it := n.Content[len(n.Content)-1]
		return t.endLine(it, t.dashColumn(it)-1)
	}
	return n.Line
}

// dashColumn is the column of the "-" before a block sequence item.
func (t *text) dashColumn(it *yaml.Node) int {
	l := []rune(t.line(it.Line))
	for c := min(it.Column-2, len(l)-1); c >= 0; c-- {
		if l[c] == '-' {
			return c + 1
		}
	}
	return max(it.Column-2, 1)
}

// scalarSpan is the byte range of a flow scalar's token (quotes included).
func (t *text) scalarSpan(n *yaml.Node) (int, int) {
	start := t.offset(n.Line, n.Column)
	r := t.raw
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		for i := start + 1; i < len(r); i++ {
			switch r[i] {
			case '\\':
				i++
			case '"':
				return start, i + 1
			}
		}
	case n.Style&yaml.SingleQuotedStyle != 0:
		for i := start + 1; i < len(r); i++ {
			if r[i] == '\'' {
				if i+1 < len(r) && r[i+1] == '\'' {
					i++
					continue
				}
				return start, i + 1
			}
		}
	default:
		end := t.lineEnd(n.Line)
		for i := start; i < end; i++ {
			if r[i] == '\r' || r[i] == '\n' || (r[i] == '#' && i > start && (r[i-1] == ' ' || r[i-1] == '\t')) {
				end = i
				break
			}
		}
		return start, start + len(strings.TrimRight(string(r[start:end]), " \t"))
	}
	return start, t.lineEnd(n.Line)
}

func (t *text) renderNode(n *yaml.Node, pad int) (string, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(indentOf(t.raw))
	if err := enc.Encode(n); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	for i := 1; i < len(lines); i++ {
		if lines[i] != "" {
			lines[i] = strings.Repeat(" ", pad) + lines[i]
		}
	}
	return strings.Join(lines, t.eol), nil
}

// replaceScalar replaces a scalar by a scalar: a block scalar keeps its
// header and indentation and only its changed lines are rewritten; a flow
// scalar keeps its quoting where the value allows it.
func (t *text) replaceScalar(key, v *yaml.Node, val any) (Edit, error) {
	nv, err := toNode(val)
	if err != nil {
		return Edit{}, err
	}
	if v.Tag == "!!null" && v.Value == "" {
		return Edit{}, errNoSplice // "key:" with nothing after it
	}
	above := 0
	if key != nil {
		above = key.Column - 1
	} else {
		above = t.dashColumn(v) - 1
	}
	if v.Style&yaml.LiteralStyle != 0 && nv.Tag == "!!str" {
		return t.replaceLiteral(v, above, nv.Value)
	}
	if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 || strings.Contains(nv.Value, "\n") || strings.Contains(v.Value, "\n") {
		// A folded block, or a value turning multi-line: the whole value.
		end := t.endLine(v, above)
		out, err := t.renderNode(nv, above)
		if err != nil {
			return Edit{}, err
		}
		start, _ := t.scalarSpan(v)
		if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			start = t.offset(v.Line, v.Column)
		}
		return Edit{Start: start, End: t.lineEnd(end) - len(t.lineBreak(end)), Text: []byte(out)}, nil
	}
	if nv.Tag == "!!str" && v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
		nv.Style = v.Style
	}
	out, err := t.renderNode(nv, 0)
	if err != nil {
		return Edit{}, err
	}
	start, end := t.scalarSpan(v)
	return Edit{Start: start, End: end, Text: []byte(out)}, nil
}

func (t *text) lineBreak(n int) string {
	l := string(t.raw[t.lineStart(n):t.lineEnd(n)])
	switch {
	case strings.HasSuffix(l, "\r\n"):
		return "\r\n"
	case strings.HasSuffix(l, "\n"):
		return "\n"
	}
	return ""
}

// replaceLiteral rewrites the changed lines of a literal block scalar.
func (t *text) replaceLiteral(v *yaml.Node, above int, val string) (Edit, error) {
	header := t.line(v.Line)
	hcol := t.offset(v.Line, v.Column) - t.lineStart(v.Line)
	h := header[hcol:]
	if !strings.HasPrefix(h, "|") {
		return Edit{}, errNoSplice
	}
	ind := strings.TrimLeft(h[1:], "+-")
	if ind != "" && ind[0] >= '1' && ind[0] <= '9' {
		return Edit{}, errNoSplice // an explicit indentation indicator
	}
	// The content lines and their indentation.
	first := v.Line + 1
	end := t.endLine(v, above)
	pad := -1
	for l := first; l <= end; l++ {
		if s := t.line(l); strings.TrimSpace(s) != "" {
			pad = indent(s)
			break
		}
	}
	if pad < 0 {
		return Edit{}, errNoSplice
	}
	chomp := func(s string) (body string, header string) {
		trimmed := strings.TrimRight(s, "\n")
		switch len(s) - len(trimmed) {
		case 0:
			return trimmed, "|-"
		case 1:
			return trimmed, "|"
		}
		return s, "|+"
	}
	oldBody, oldHeader := chomp(v.Value)
	newBody, newHeader := chomp(val)
	if oldHeader == "|+" || newHeader == "|+" {
		return Edit{}, errNoSplice
	}
	oldLines := strings.Split(oldBody, "\n")
	newLines := strings.Split(newBody, "\n")
	if end-first+1 != len(oldLines) {
		return Edit{}, errNoSplice
	}
	// Unchanged lines are copied as written (whitespace of blank lines
	// included); changed ones are written with the block's indentation.
	var out strings.Builder
	for _, o := range difflib.NewMatcher(oldLines, newLines).GetOpCodes() {
		if o.Tag == 'e' {
			for l := first + o.I1; l < first+o.I2; l++ {
				out.WriteString(t.line(l))
				out.WriteString(t.eol)
			}
			continue
		}
		for _, nl := range newLines[o.J1:o.J2] {
			if nl != "" {
				out.WriteString(strings.Repeat(" ", pad))
				out.WriteString(nl)
			}
			out.WriteString(t.eol)
		}
	}
	body := strings.TrimSuffix(out.String(), t.eol)
	e := Edit{Start: t.lineStart(first), End: t.lineEnd(end) - len(t.lineBreak(end)), Text: []byte(body)}
	if oldHeader != newHeader {
		// The chomping changes too: the edit starts at the header.
		hs := t.lineStart(v.Line) + hcol
		he := hs + 1 + len(h[1:]) - len(strings.TrimLeft(h[1:], "+-"))
		text := append([]byte(newHeader), t.raw[he:e.Start]...)
		e = Edit{Start: hs, End: e.End, Text: append(text, e.Text...)}
	}
	return e, nil
}

// pairStart is where a mapping pair's text starts: the start of the key's
// line when only spaces come before the key, else the key itself (the
// first key of a sequence item, after its "- ").
func (t *text) pairStart(k *yaml.Node) (int, bool) {
	l := t.line(k.Line)
	off := t.offset(k.Line, k.Column) - t.lineStart(k.Line)
	if strings.TrimSpace(l[:off]) == "" {
		return t.lineStart(k.Line), true
	}
	return t.offset(k.Line, k.Column), false
}

// removePair deletes a key and its value, lines and all.
func (t *text) removePair(m *yaml.Node, i int) (Edit, error) {
	k, v := m.Content[i], m.Content[i+1]
	start, own := t.pairStart(k)
	if !own {
		return Edit{}, errNoSplice
	}
	end := max(k.Line, t.endLine(v, k.Column-1))
	return Edit{Start: start, End: t.lineEnd(end)}, nil
}

// replacePair writes a key with a new value in place of the old pair.
func (t *text) replacePair(m *yaml.Node, i int, val any) (Edit, error) {
	k, v := m.Content[i], m.Content[i+1]
	out, err := t.pairText(k, val, k.Column-1)
	if err != nil {
		return Edit{}, err
	}
	start := t.offset(k.Line, k.Column)
	end := max(k.Line, t.endLine(v, k.Column-1))
	return Edit{Start: start, End: t.lineEnd(end) - len(t.lineBreak(end)), Text: []byte(out)}, nil
}

// pairText renders "key: value" with the key as the node k writes it.
func (t *text) pairText(k *yaml.Node, val any, pad int) (string, error) {
	vn, err := toNode(val)
	if err != nil {
		return "", err
	}
	key := *k
	key.HeadComment, key.LineComment, key.FootComment = "", "", ""
	m := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{&key, vn}}
	return t.renderNode(m, pad)
}

// addPair appends a key to a block mapping, after its last pair.
func (t *text) addPair(m *yaml.Node, key string, val any) (Edit, error) {
	if len(m.Content) == 0 {
		return Edit{}, errNoSplice
	}
	k0 := m.Content[0]
	pad := k0.Column - 1
	out, err := t.pairText(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, val, pad)
	if err != nil {
		return Edit{}, err
	}
	lk := m.Content[len(m.Content)-2]
	end := max(lk.Line, t.endLine(m.Content[len(m.Content)-1], lk.Column-1))
	at := t.lineEnd(end)
	s := strings.Repeat(" ", pad) + out + t.eol
	if t.lineBreak(end) == "" {
		s = t.eol + strings.Repeat(" ", pad) + out
	}
	return Edit{Start: at, End: at, Text: []byte(s)}, nil
}

// addItem inserts an item into a block sequence before item i (at the end
// when i is its length), with the sequence's dash indentation.
func (t *text) addItem(s *yaml.Node, i int, val any) (Edit, error) {
	if len(s.Content) == 0 {
		return Edit{}, errNoSplice
	}
	ref := s.Content[min(i, len(s.Content)-1)]
	dash := t.dashColumn(ref) - 1
	if strings.TrimSpace(t.line(ref.Line)[:dash]) != "" {
		return Edit{}, errNoSplice // "- - a": a sequence inside an item's line
	}
	gap := t.offset(ref.Line, ref.Column) - t.lineStart(ref.Line) - dash - 1
	n, err := toNode(val)
	if err != nil {
		return Edit{}, err
	}
	body, err := t.renderNode(n, dash+1+gap)
	if err != nil {
		return Edit{}, err
	}
	item := strings.Repeat(" ", dash) + "-" + strings.Repeat(" ", gap) + body
	if i < len(s.Content) {
		at := t.lineStart(ref.Line)
		return Edit{Start: at, End: at, Text: []byte(item + t.eol)}, nil
	}
	end := t.endLine(ref, dash)
	at := t.lineEnd(end)
	if t.lineBreak(end) == "" {
		return Edit{Start: at, End: at, Text: []byte(t.eol + item)}, nil
	}
	return Edit{Start: at, End: at, Text: []byte(item + t.eol)}, nil
}

// removeItem deletes an item of a block sequence, lines and all.
func (t *text) removeItem(s *yaml.Node, i int) (Edit, error) {
	it := s.Content[i]
	dash := t.dashColumn(it) - 1
	if strings.TrimSpace(t.line(it.Line)[:dash]) != "" {
		return Edit{}, errNoSplice
	}
	end := t.endLine(it, dash)
	return Edit{Start: t.lineStart(it.Line), End: t.lineEnd(end)}, nil
}

// flow re-writes a flow collection that sits on one line with the
// operation applied, in flow style.
func (t *text) flow(n *yaml.Node, op jsonpatch.Operation, last string) (Edit, error) {
	start := t.offset(n.Line, n.Column)
	open, close := byte('{'), byte('}')
	if n.Kind == yaml.SequenceNode {
		open, close = '[', ']'
	}
	if start >= len(t.raw) || t.raw[start] != open {
		return Edit{}, errNoSplice
	}
	depth, end := 0, -1
	lineEnd := t.lineEnd(n.Line)
	for i := start; i < lineEnd && end < 0; i++ {
		switch c := t.raw[i]; {
		case c == '"' || c == '\'':
			q := c
			for i++; i < lineEnd && t.raw[i] != q; i++ {
				if q == '"' && t.raw[i] == '\\' {
					i++
				}
			}
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
			if depth == 0 && c == close {
				end = i + 1
			}
		}
	}
	if end < 0 {
		return Edit{}, errNoSplice // runs over lines
	}
	c := deepCopy(n)
	if err := applyOp(wrapRoot(c), jsonpatch.Operation{Operation: op.Operation, Path: "/x/" + escape(last), Value: op.Value}); err != nil {
		return Edit{}, err
	}
	setFlow(c)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	if err := enc.Encode(c); err != nil {
		return Edit{}, err
	}
	_ = enc.Close()
	out := strings.TrimSuffix(b.String(), "\n")
	if strings.Contains(out, "\n") {
		return Edit{}, errNoSplice
	}
	return Edit{Start: start, End: end, Text: []byte(out)}, nil
}

func wrapRoot(n *yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!str", Value: "x"}, n}}
}

func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func deepCopy(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, k := range n.Content {
		c.Content[i] = deepCopy(k)
	}
	return &c
}

func setFlow(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = yaml.FlowStyle
	}
	if n.Kind == yaml.ScalarNode && n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		n.Style = yaml.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		setFlow(c)
	}
}

// minimize narrows an edit to the bytes it changes.
func (e Edit) minimize(raw []byte) Edit {
	old := raw[e.Start:e.End]
	p := 0
	for p < len(old) && p < len(e.Text) && old[p] == e.Text[p] {
		p++
	}
	q := 0
	for q < len(old)-p && q < len(e.Text)-p && old[len(old)-1-q] == e.Text[len(e.Text)-1-q] {
		q++
	}
	return Edit{Start: e.Start + p, End: e.End - q, Text: e.Text[p : len(e.Text)-q]}
}

func (e Edit) apply(raw []byte) []byte {
	out := make([]byte, 0, len(raw)-(e.End-e.Start)+len(e.Text))
	out = append(out, raw[:e.Start]...)
	out = append(out, e.Text...)
	return append(out, raw[e.End:]...)
}
