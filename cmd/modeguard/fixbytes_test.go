package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/pmezard/go-difflib/difflib"
	yaml "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/modeguard/modeguard/mutate"
)

// TestFixChangesOnlyTheEdits runs fix over every example and every case of
// the corpus (when MODEGUARD_CORPUS names it) and diffs each input with its
// output: bytes may change only inside the nodes the fix's patch
// operations touch (a replaced or removed node's lines, an added node's
// place in its parent), a changed block scalar only on the lines whose
// value changed, and the output must read as the patched object.
func TestFixChangesOnlyTheEdits(t *testing.T) {
	t.Parallel()
	inputs, _ := filepath.Glob("../../examples/*/manifest.yaml")
	if dir := os.Getenv("MODEGUARD_CORPUS"); dir != "" {
		cases, _ := filepath.Glob(filepath.Join(dir, "*", "cases", "*", "manifests.yaml"))
		inputs = append(inputs, cases...)
	} else {
		t.Log("MODEGUARD_CORPUS is not set: examples only")
	}
	pf := policyFlags{}
	rv, err := pf.reviewer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	edited := 0
	for _, path := range inputs {
		c, err := load(context.Background(), inputFlags{files: []string{path}, namespace: "default"}, rv, nil)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		fixed, err := fixedDocs(c)
		if err != nil {
			continue // a List item to fix: fix says so and writes nothing
		}
		texts, err := fixedFiles(c, fixed)
		if err != nil {
			t.Fatal(err)
		}
		out, ok := texts[path]
		if !ok {
			continue
		}
		in := c.input.Files[0].Data
		// Outside the fixed documents: the file as it was, in order.
		rest, prev := out, 0
		for i, d := range c.docs {
			if bytes.Equal(fixed[i], d.Raw) {
				continue
			}
			seg := in[prev:d.Start]
			k := bytes.Index(rest, seg)
			if k < 0 {
				t.Errorf("%s: bytes %d-%d, between the fixed documents, changed", path, prev, d.Start)
				break
			}
			rest, prev = rest[k+len(seg):], d.End
		}
		if !bytes.HasSuffix(out, in[prev:]) {
			t.Errorf("%s: bytes after the last fixed document changed", path)
		}
		for oi, di := range c.objDocs {
			f := c.result.Fixed(oi)
			d := c.docs[di]
			if f == nil || bytes.Equal(fixed[di], d.Raw) {
				continue
			}
			edited++
			where := fmt.Sprintf("%s:%d", path, d.Line)
			// Outside the document: the file as it was.
			ops, err := mutate.Patch(d.Object, f)
			if err != nil {
				t.Fatal(err)
			}
			checkOnlyEdits(t, where, d.Raw, fixed[di], ops)
		}
	}
	if edited == 0 {
		t.Fatal("no document was fixed: the test tests nothing")
	}
	t.Logf("%d inputs, %d fixed documents", len(inputs), edited)
}

// span is a range of a document's lines (1-based, inclusive).
type span struct{ lo, hi int }

func checkOnlyEdits(t *testing.T, where string, before, after []byte, ops any) {
	t.Helper()
	raw, _ := json.Marshal(ops)
	var list []struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatal(err)
	}
	// The output reads as the patched object.
	bj, err := sigsyaml.YAMLToJSON(before)
	if err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatch.DecodePatch(raw)
	if err != nil {
		t.Fatal(err)
	}
	want, err := p.Apply(bj)
	if err != nil {
		t.Fatalf("%s: applying the patch to the input: %v", where, err)
	}
	aj, err := sigsyaml.YAMLToJSON(after)
	if err != nil {
		t.Errorf("%s: the output is not YAML: %v\n%s", where, err, after)
		return
	}
	var w, g any
	_ = json.Unmarshal(want, &w)
	_ = json.Unmarshal(aj, &g)
	if !reflect.DeepEqual(w, g) {
		t.Errorf("%s: the output does not read as the patched object\n%s", where, after)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(before, &doc); err != nil {
		t.Fatal(err)
	}
	// Where each operation may change lines, and how many lines a changed
	// block scalar may change.
	var allowed []span
	budget := 0
	literal := false
	for _, op := range list {
		parts := strings.Split(strings.TrimPrefix(op.Path, "/"), "/")
		parent, key := nodeAt(doc.Content[0], parts[:len(parts)-1]), parts[len(parts)-1]
		if parent == nil {
			t.Fatalf("%s: no node at %s", where, op.Path)
		}
		keyNode, val := childNode(parent, key)
		switch {
		case op.Op == "add" && val == nil, op.Op == "add" && parent.Kind == yaml.SequenceNode:
			allowed = append(allowed, span{parent.Line, lastLine(parent) + 1})
		default:
			lo := val.Line
			if keyNode != nil {
				lo = keyNode.Line
			}
			allowed = append(allowed, span{lo, max(lastLine(val), quotedEnd(before, val))})
			if s, ok := op.Value.(string); ok && val.Style&yaml.LiteralStyle != 0 {
				literal = true
				budget += changedLines(val.Value, s) + 1 // +1: the header's chomping
			}
		}
	}
	changed := 0
	m := difflib.NewMatcher(difflib.SplitLines(string(before)), difflib.SplitLines(string(after)))
	for _, o := range m.GetOpCodes() {
		if o.Tag == 'e' {
			continue
		}
		lo, hi := o.I1+1, o.I2 // lines of before the hunk replaces
		if o.Tag == 'i' {
			lo, hi = o.I1, o.I1 // inserted after line I1
		}
		changed += max(o.I2-o.I1, o.J2-o.J1)
		in := false
		for _, a := range allowed {
			in = in || (lo >= a.lo-1 && hi <= a.hi)
		}
		if !in {
			t.Errorf("%s: lines %d-%d changed outside the edits %v:\n%s", where, lo, hi, allowed, diffText(before, after))
		}
	}
	if literal && changed > budget+2*len(list) {
		t.Errorf("%s: %d lines changed, the values changed on %d: block scalar lines rewritten that did not change:\n%s", where, changed, budget, diffText(before, after))
	}
}

func nodeAt(n *yaml.Node, parts []string) *yaml.Node {
	for _, p := range parts {
		p = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
		_, n = childNode(n, p)
		if n == nil {
			return nil
		}
	}
	return n
}

func childNode(n *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	key = strings.ReplaceAll(strings.ReplaceAll(key, "~1", "/"), "~0", "~")
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i], n.Content[i+1]
			}
		}
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(key); err == nil && i < len(n.Content) {
			return nil, n.Content[i]
		}
	}
	return nil, nil
}

// lastLine is the last line a node's text may reach: its deepest
// descendant's, a block scalar's last content line.
func lastLine(n *yaml.Node) int {
	l := n.Line
	if n.Kind == yaml.ScalarNode && n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		l += strings.Count(n.Value, "\n") + 1
	}
	for _, c := range n.Content {
		l = max(l, lastLine(c))
	}
	return l
}

// quotedEnd is the line a quoted scalar's closing quote is on.
func quotedEnd(text []byte, n *yaml.Node) int {
	if n.Kind != yaml.ScalarNode || n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
		return 0
	}
	lines := strings.SplitAfter(string(text), "\n")
	off := 0
	for _, l := range lines[:n.Line-1] {
		off += len(l)
	}
	off += len(string([]rune(lines[n.Line-1])[:n.Column-1]))
	q := text[off]
	for i := off + 1; i < len(text); i++ {
		if q == '"' && text[i] == '\\' {
			i++
			continue
		}
		if text[i] == q {
			return n.Line + bytes.Count(text[off:i], []byte("\n"))
		}
	}
	return 0
}

func changedLines(a, b string) int {
	n := 0
	m := difflib.NewMatcher(strings.Split(a, "\n"), strings.Split(b, "\n"))
	for _, o := range m.GetOpCodes() {
		if o.Tag != 'e' {
			n += max(o.I2-o.I1, o.J2-o.J1)
		}
	}
	return n
}

func diffText(a, b []byte) string {
	s, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: difflib.SplitLines(string(a)), B: difflib.SplitLines(string(b)), Context: 1})
	return s
}

// TestFixKeepsTheText: what fix does not edit comes back byte for byte:
// a leading "---", comments, CRLF line breaks, "...", list indentation,
// and the block scalar with its indentation; -w writes the same bytes.
func TestFixKeepsTheText(t *testing.T) {
	t.Parallel()
	// A config edit and an item added to an indented list (env).
	data, err := os.ReadFile("../../examples/mg002-fires/manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// A "---" first, a header comment, "..." last.
	in := "---\n# header comment\n" + string(data) + "...\n"
	for _, eol := range []string{"\n", "\r\n"} {
		text := strings.ReplaceAll(in, "\n", eol)
		r := modeguard(t, text, "fix", "-")
		if r.code != exitOK {
			t.Fatalf("fix: exit %d: %s", r.code, r.stderr)
		}
		if r.stdout == text {
			t.Fatalf("fix changed nothing: the test tests nothing")
		}
		for _, want := range []string{"---" + eol + "# header comment" + eol, "..." + eol, "  config.alloy: |" + eol + "    discovery", "          env:" + eol + "            - name: "} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("eol %q: output lacks %q:\n%s", eol, want, r.stdout)
			}
		}
		if eol == "\r\n" && strings.Count(r.stdout, "\n") != strings.Count(r.stdout, "\r\n") {
			t.Errorf("CRLF input: the output mixes line breaks:\n%q", r.stdout)
		}
		m := difflib.NewMatcher(difflib.SplitLines(text), difflib.SplitLines(r.stdout))
		for _, o := range m.GetOpCodes() {
			if o.Tag == 'r' || o.Tag == 'd' {
				for _, l := range difflib.SplitLines(text)[o.I1:o.I2] {
					if !strings.Contains(l, "field") && !strings.Contains(l, "selectors") && !strings.Contains(l, "role") {
						t.Errorf("eol %q: a line outside the edits changed: %q", eol, l)
					}
				}
			}
		}
		// -w writes the same bytes, through a file of its own.
		dir := t.TempDir()
		file := filepath.Join(dir, "m.yaml")
		if err := os.WriteFile(file, []byte(text), 0o640); err != nil {
			t.Fatal(err)
		}
		if r := modeguard(t, "", "fix", "-w", file); r.code != exitOK {
			t.Fatalf("fix -w: exit %d: %s", r.code, r.stderr)
		}
		got, _ := os.ReadFile(file)
		if string(got) != r.stdout {
			t.Errorf("eol %q: fix -w wrote other bytes than fix:\n%s", eol, diffText([]byte(r.stdout), got))
		}
		if st, _ := os.Stat(file); st.Mode().Perm() != 0o640 {
			t.Errorf("fix -w: mode %v, want 0640", st.Mode().Perm())
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Errorf("fix -w left files behind: %v", ents)
		}
	}
}
