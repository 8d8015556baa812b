package riverconfig

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/modeguard/modeguard/internal/testutil"
)

// scenario is one testdata directory: an input file and its facts.json.
type scenario struct {
	name, input string
}

// scenarios lists the testdata directories that hold an input.river or
// input.alloy.
func scenarios(tb testing.TB) []scenario {
	tb.Helper()
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		tb.Fatal(err)
	}
	var out []scenario
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		for _, in := range []string{"input.river", "input.alloy"} {
			path := filepath.Join("testdata", d.Name(), in)
			if _, err := os.Stat(path); err == nil {
				out = append(out, scenario{name: d.Name(), input: path})
			}
		}
	}
	if len(out) == 0 {
		tb.Fatal("no scenarios in testdata")
	}
	return out
}

func marshalFacts(tb testing.TB, f *Facts) []byte {
	tb.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		tb.Fatalf("marshal facts: %v", err)
	}
	return buf.Bytes()
}

// TestGolden parses every testdata/<scenario>/input.{river,alloy} and
// compares the facts with facts.json beside it (-update rewrites them).
func TestGolden(t *testing.T) {
	for _, sc := range scenarios(t) {
		t.Run(sc.name, func(t *testing.T) {
			src, err := os.ReadFile(sc.input)
			if err != nil {
				t.Fatal(err)
			}
			facts := Parse(filepath.Base(sc.input), src)
			checkInvariants(t, src, facts)
			got := marshalFacts(t, facts)
			testutil.Golden(t, filepath.Join(filepath.Dir(sc.input), "facts.json"), got)
		})
	}
}

// checkInvariants verifies that every range in the facts points at the
// text it claims, so that fixes can splice at those offsets.
func checkInvariants(tb testing.TB, src []byte, f *Facts) {
	tb.Helper()
	text := func(r Range) string {
		if r.Start.Offset < 0 || r.End.Offset > len(src) || r.Start.Offset > r.End.Offset {
			tb.Fatalf("range %+v out of bounds (len %d)", r, len(src))
		}
		return string(src[r.Start.Offset:r.End.Offset])
	}
	// A dotted name may be spelled with blanks or comments around its dots,
	// so only its first fragment is checked.
	startsWithName := func(text, name string) bool {
		first, _, _ := strings.Cut(name, ".")
		return strings.HasPrefix(text, first) && strings.HasSuffix(text, "}")
	}
	var checkValues func(where string, attrs map[string]Value, blocks []Block)
	checkValues = func(where string, attrs map[string]Value, blocks []Block) {
		for name, v := range attrs {
			if got := text(v.Range); got != v.Expr {
				tb.Errorf("%s.%s: range text %q, want expr %q", where, name, got, v.Expr)
			}
			if l := v.Lead; l != nil {
				lt := text(l.Range)
				if u, err := strconv.Unquote(lt); err != nil || u != l.Value {
					tb.Errorf("%s.%s lead: range text %q does not unquote to %q", where, name, lt, l.Value)
				}
				if l.Range.Start.Offset < v.Range.Start.Offset || l.Range.End.Offset > v.Range.End.Offset {
					tb.Errorf("%s.%s lead: range %+v outside the value's %+v", where, name, l.Range, v.Range)
				}
			}
			if n := v.NodeName; n != nil && n.Kind != NodeNameLiteral {
				if got := text(n.Range); got != n.Expr {
					tb.Errorf("%s.%s nodeName: range text %q, want %q", where, name, got, n.Expr)
				}
			}
		}
		for _, b := range blocks {
			if got := text(b.Range); !startsWithName(got, b.Name) {
				tb.Errorf("%s block %s: range text %q", where, b.Name, got)
			}
			if br := b.BodyRange; br.Start.Offset < b.Range.Start.Offset+1 || br.End.Offset >= b.Range.End.Offset ||
				src[br.Start.Offset-1] != '{' || src[br.End.Offset] != '}' {
				tb.Errorf("%s block %s: bodyRange %+v is not between braces of %+v", where, b.Name, br, b.Range)
			}
			checkValues(where+"."+b.Name, b.Attributes, b.Blocks)
		}
	}
	for _, c := range f.Components {
		got := text(c.Range)
		if !startsWithName(got, c.Name) {
			tb.Errorf("component %s: range text %q", c.ID, got)
		}
		if c.BodyRange.Start.Offset < 1 || src[c.BodyRange.Start.Offset-1] != '{' || src[c.BodyRange.End.Offset] != '}' {
			tb.Errorf("component %s: bodyRange %+v is not between braces", c.ID, c.BodyRange)
		}
		checkValues(c.ID, c.Attributes, c.Blocks)
		// An implicit node name has no expression: it points at its block.
		if n := c.NodeName; n != nil && !strings.HasPrefix(text(n.Range), "node_filter") {
			tb.Errorf("component %s nodeName: range text %q, want the node_filter block", c.ID, text(n.Range))
		}
	}
}
