package mutate

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/modeguard/modeguard/riverconfig"
)

// edit replaces src[start:end] with text.
type edit struct {
	start, end int
	text       string
}

// splice applies edits, sorted by start (insertions at one offset keep their
// order), to src. Overlapping edits are an error: two fixes of one request
// must never touch the same bytes.
func splice(src []byte, edits []edit) ([]byte, error) {
	slices.SortStableFunc(edits, func(a, b edit) int { return a.start - b.start })
	size := len(src)
	for i, e := range edits {
		if e.start < 0 || e.end < e.start || e.end > len(src) {
			return nil, fmt.Errorf("edit [%d,%d) outside the %d bytes of the file", e.start, e.end, len(src))
		}
		if i > 0 && e.start < edits[i-1].end {
			return nil, fmt.Errorf("edits [%d,%d) and [%d,%d) overlap", edits[i-1].start, edits[i-1].end, e.start, e.end)
		}
		size += len(e.text) - (e.end - e.start)
	}
	out := make([]byte, 0, size)
	last := 0
	for _, e := range edits {
		out = append(out, src[last:e.start]...)
		out = append(out, e.text...)
		last = e.end
	}
	return append(out, src[last:]...), nil
}

// editor collects the edits of one fix on one file.
type editor struct {
	src   []byte
	facts *riverconfig.Facts
	nl    string // the file's line ending
	unit  string // the file's indentation step, once known
	edits []edit
}

func newEditor(src []byte, facts *riverconfig.Facts) *editor {
	e := &editor{src: src, facts: facts, nl: "\n"}
	if i := bytes.IndexByte(src, '\n'); i > 0 && src[i-1] == '\r' {
		e.nl = "\r\n"
	}
	return e
}

func (e *editor) replace(start, end int, text string) {
	e.edits = append(e.edits, edit{start: start, end: end, text: text})
}

// lineStart returns the offset of the first byte of the line holding off.
func (e *editor) lineStart(off int) int {
	return bytes.LastIndexByte(e.src[:off], '\n') + 1
}

// lineIndent returns the spaces and tabs that start the line holding off.
func (e *editor) lineIndent(off int) string {
	s := e.lineStart(off)
	i := s
	for i < len(e.src) && (e.src[i] == ' ' || e.src[i] == '\t') {
		i++
	}
	return string(e.src[s:i])
}

// indentUnit is one indentation step of the file: what a top-level component
// indents its body by, else a tab when the first indented line starts with
// one, else two spaces.
func (e *editor) indentUnit() string {
	if e.unit != "" {
		return e.unit
	}
	e.unit = "  "
	for _, c := range e.facts.Components {
		if step := stepOf(c.Indent, e.lineIndent(c.Range.Start.Offset)); step != "" {
			e.unit = step
			return e.unit
		}
	}
	for _, line := range bytes.Split(e.src, []byte("\n")) {
		rest := bytes.TrimLeft(line, " \t")
		if len(rest) == len(line) || len(bytes.TrimSpace(rest)) == 0 {
			continue
		}
		if line[0] == '\t' {
			e.unit = "\t"
		}
		break
	}
	return e.unit
}

// stepOf returns what body indents by relative to header, or "".
func stepOf(body, header string) string {
	if len(body) > len(header) && strings.HasPrefix(body, header) {
		return body[len(header):]
	}
	return ""
}

// body is a block's braces and what riverconfig says of its indentation.
type body struct {
	header      int    // offset of the block's name
	open, close int    // offsets of "{" and "}"
	indent      string // riverconfig's Indent: "" when unknown
}

func componentBody(c *riverconfig.Component) body {
	return body{
		header: c.Range.Start.Offset,
		open:   c.BodyRange.Start.Offset - 1,
		close:  c.BodyRange.End.Offset,
		indent: c.Indent,
	}
}

func blockBody(b *riverconfig.Block) body {
	return body{
		header: b.Range.Start.Offset,
		open:   b.BodyRange.Start.Offset - 1,
		close:  b.BodyRange.End.Offset,
		indent: b.Indent,
	}
}

// line is one line of inserted text, depth steps deeper than the body.
type line struct {
	depth int
	text  string
}

// appendStmts inserts lines at the end of body b, before its "}", indented
// like the body's statements. A body written on the line of its "{" (a
// one-line block) is opened up so that the result is a well-formed multi-line
// block; a "}" after other text moves to a line of its own, indented like the
// block's header.
func (e *editor) appendStmts(b body, lines []line) {
	header := e.lineIndent(b.header)

	// First content of the body: a line comment on the "{" line does not
	// count, a statement or block comment there makes the body inline.
	i := b.open + 1
	for i < b.close && (e.src[i] == ' ' || e.src[i] == '\t') {
		i++
	}
	afterOpen := i
	if bytes.HasPrefix(e.src[i:b.close], []byte("//")) {
		for i < b.close && e.src[i] != '\n' {
			i++
		}
	}
	inline := i < b.close && e.src[i] != '\r' && e.src[i] != '\n'
	for i < b.close && (e.src[i] == ' ' || e.src[i] == '\t' || e.src[i] == '\r' || e.src[i] == '\n') {
		i++
	}
	empty := i >= b.close

	indent := b.indent
	if indent == "" {
		if inline || empty {
			indent = header + e.indentUnit()
		} else {
			indent = e.lineIndent(i)
		}
	}
	unit := stepOf(indent, header)
	if unit == "" {
		unit = e.indentUnit()
	}

	text := make([]string, len(lines))
	for k, l := range lines {
		text[k] = indent + strings.Repeat(unit, l.depth) + l.text
	}

	if inline {
		e.replace(b.open+1, afterOpen, e.nl+indent)
	}
	k := b.close
	for e.src[k-1] == ' ' || e.src[k-1] == '\t' {
		k--
	}
	if e.src[k-1] == '\n' {
		// "}" on a line of its own: the new lines go just above it.
		e.replace(k, k, strings.Join(text, e.nl)+e.nl)
		return
	}
	e.replace(k, b.close, e.nl+strings.Join(text, e.nl)+e.nl+header)
}
