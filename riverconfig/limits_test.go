package riverconfig

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grafana/river/diag"
	riverparser "github.com/grafana/river/parser"
)

// riverErrors are the River parser's diagnostics for src, as Parse reports
// them.
func riverErrors(t testing.TB, filename string, src []byte) []Diagnostic {
	t.Helper()
	_, err := riverparser.ParseFile(filename, src)
	if err == nil {
		return nil
	}
	var diags diag.Diagnostics
	if !errors.As(err, &diags) {
		t.Fatalf("parser error %v is no diag.Diagnostics", err)
	}
	out := []Diagnostic{}
	for _, d := range diags {
		out = append(out, Diagnostic{File: filename, Line: d.StartPos.Line, Column: d.StartPos.Column, Message: d.Message})
	}
	return out
}

// checkMatchesParser holds checkLimits to the parser on src: the same
// errors (the first MaxErrors and their count), unless src is too deep for
// the parser to be called.
func checkMatchesParser(t testing.TB, src []byte) {
	t.Helper()
	l := checkLimits("config.alloy", src)
	if l.tooDeep != nil {
		return
	}
	want := riverErrors(t, "config.alloy", src)
	got := l.errors
	if len(want) > MaxErrors {
		want = want[:MaxErrors]
	}
	if !slices.Equal(got, want) {
		t.Fatalf("checkLimits errors differ from the parser's for %q:\ngot  %v\nwant %v", src, got, want)
	}
	if all := riverErrors(t, "config.alloy", src); l.nErrors != len(all) {
		t.Fatalf("checkLimits counted %d errors, the parser has %d, for %q", l.nErrors, len(all), src)
	}
}

// limitSeeds are inputs that take checkLimits through the parser's error
// recovery paths.
var limitSeeds = []string{
	"",
	"a = 1",
	"a {\n}",
	"a { b = 1 }",
	"a \"x\" {\n  b = [1, 2, {c = 3}]\n}\n",
	"a = [1, 2)",
	"a = [ ) [ ) [ )",
	"a{=}x\na{=}x\na{=}x\n",
	"a { = }\na { = }\n",
	"a.b = 1",
	"a \"x\" = 1",
	"a 'x' {}",
	"a \"1x\" {}",
	"a \"\" {}",
	"a.\"x\" {}",
	"a. {}",
	"a 1\nb 2\n",
	"1\n2\n",
	"a = b c\n",
	"a = b \"x\" { c = 1 }\n",
	"a = b { c = 1 }\n",
	"a = b { c = 1 \n",
	"a = b \"x\" 1\n",
	"a = {]\n",
	"a = {1 = 2}\n",
	"a = {b = 1 c = 2}\n",
	"a = f(1 2)\n",
	"a = x[1\n",
	"a = x.1\n",
	"a = !-!-1 ^ 2 ^ -3 + 4 * 5 || 6 && 7 == 8\n",
	"a = \"unterminated\n",
	"a = `raw\nstring`\n",
	"a = 1 // comment\nb = 2 /* block\ncomment */ c = 3\n",
	"a = |\nb = &\n",
	"a = \x00\n",
	"a = \xff\n",
	"a = 1\n\ufeffb = 2\n",
	"a = #\n",
	"declare \"d\" {\n  argument \"x\" {}\n  c \"y\" {}\n}\nd \"i\" {}\n",
	"foreach \"f\" {\n  collection = [1]\n  var = \"v\"\n  template {\n    c \"x\" {}\n  }\n  template {\n    c \"y\" {}\n  }\n}\n",
	"import.file \"m\" {\n  filename = \"x\"\n}\nm.c \"x\" {}\n",
	"}\n}\n",
	"a = ]]]]\n",
	"a = ((((1)\n",
	"a { b { c { d = [[[1]]] } } }",
}

// TestLimitsMatchParser checks that checkLimits, which walks tokens as the
// River parser does, reports the parser's errors, on every testdata input
// and on inputs made to exercise the parser's error recovery.
func TestLimitsMatchParser(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios(t) {
		src, err := os.ReadFile(sc.input)
		if err != nil {
			t.Fatal(err)
		}
		checkMatchesParser(t, src)
	}
	for _, s := range limitSeeds {
		checkMatchesParser(t, []byte(s))
	}
	for _, s := range hostileSmall() {
		checkMatchesParser(t, []byte(s))
	}
}

// FuzzLimits holds checkLimits to the River parser on arbitrary input: the
// same errors, and no panic.
func FuzzLimits(f *testing.F) {
	for _, sc := range scenarios(f) {
		src, err := os.ReadFile(sc.input)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	for _, s := range limitSeeds {
		f.Add([]byte(s))
	}
	for _, s := range hostileSmall() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		checkMatchesParser(t, src)
	})
}

// hostile returns configs nesting n levels deep in one way each.
func hostile(n int) map[string]string {
	r := strings.Repeat
	return map[string]string{
		"lists":       "a = " + r("[", n) + r("]", n),
		"parens":      "a = " + r("(", n) + "1" + r(")", n),
		"objects":     "a = " + r("{b=", n) + "1" + r("}", n),
		"blocks":      r("a {\n", n) + r("}\n", n),
		"calls":       "a = " + r("f(", n) + r(")", n),
		"indexes":     "a = " + r("x[", n) + "0" + r("]", n),
		"not":         "a = " + r("!", n) + "true",
		"minus":       "a = " + r("-", n) + "1",
		"pow":         "a = 1" + r("^1", n),
		"sum":         "a = 1" + r("+1", n),
		"access":      "a = b" + r(".c", n),
		"index-chain": "a = b" + r("[0]", n),
		"call-chain":  "a = b" + r("()", n),
		// Recovery from a statement that does not start with a name skips
		// the "}", so each line opens one more block.
		"recovery": r("a{=}x\n", n),
		// A ")" does not close a "[": the parser reads each "[" one level
		// deeper.
		"mismatched": "a = " + r("[ )", n),
	}
}

// hostileSmall are the hostile configs a little past MaxNesting, for the
// seed corpus.
func hostileSmall() []string {
	var out []string
	for _, s := range hostile(MaxNesting + 2) {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// TestParseTooDeep parses configs nesting a million levels, in every way
// the parser or the analysis would recurse: each returns promptly with one
// error naming where the limit was passed, and does not crash the process
// (a stack overflow cannot be recovered).
func TestParseTooDeep(t *testing.T) {
	t.Parallel()
	const n = 1_000_000
	for name, src := range hostile(n) {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			f := Parse("config.alloy", []byte(src))
			took := time.Since(start)
			t.Logf("%d bytes in %v", len(src), took)
			if took > 5*time.Second {
				t.Errorf("took %v, want well under 5s", took)
			}
			if len(f.Errors) != 1 || len(f.Components) != 0 || len(f.Collectors) != 0 || len(f.Unverifiable) != 0 {
				t.Fatalf("got %d errors %v, %d components, want only the nesting error", len(f.Errors), f.Errors, len(f.Components))
			}
			e := f.Errors[0]
			if !strings.Contains(e.Message, fmt.Sprint(MaxNesting)) || !strings.Contains(e.Message, "nests more than") {
				t.Errorf("got message %q, want one naming the limit %d", e.Message, MaxNesting)
			}
			if e.Line < 1 || e.Column < 1 {
				t.Errorf("got position %d:%d, want a line and column", e.Line, e.Column)
			}
		})
	}
}

// TestParseTooDeepPosition checks the error names the token that passed
// the limit.
func TestParseTooDeepPosition(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, src string
		line, col int
	}{
		{"list", "a = " + strings.Repeat("[", 1000), 1, 5 + MaxNesting},
		{"blocks", strings.Repeat("a {\n", 1000), MaxNesting + 1, 3},
		{"sum", "a = 1" + strings.Repeat(" + 1", 1000), 1, 4*(MaxNesting+1) + 3},
	} {
		f := Parse("config.river", []byte(c.src))
		if len(f.Errors) != 1 {
			t.Fatalf("%s: got errors %v, want one", c.name, f.Errors)
		}
		if e := f.Errors[0]; e.Line != c.line || e.Column != c.col || e.File != "config.river" {
			t.Errorf("%s: got %s:%d:%d, want config.river:%d:%d", c.name, e.File, e.Line, e.Column, c.line, c.col)
		}
	}
}

// TestParseAtMaxNesting: a config exactly at the limit, or one level below
// it, is parsed as usual.
func TestParseAtMaxNesting(t *testing.T) {
	t.Parallel()
	for _, depth := range []int{MaxNesting - 1, MaxNesting} {
		for name, src := range hostile(depth) {
			if name == "recovery" || name == "mismatched" {
				continue // syntax errors, whatever the depth
			}
			f := Parse("config.alloy", []byte(src))
			if len(f.Errors) != 0 {
				t.Errorf("%s at depth %d: got errors %v, want none", name, depth, f.Errors)
			}
		}
		blocks := strings.Repeat("a {\n", depth-1) + "prometheus.scrape \"x\" {\n}\n" + strings.Repeat("}\n", depth-1)
		if f := Parse("config.alloy", []byte(blocks)); len(f.Errors) != 0 || len(f.Components) != 1 {
			t.Errorf("component under %d blocks: got errors %v, %d components, want none and 1", depth-1, f.Errors, len(f.Components))
		}
	}
	// One more level is refused, whatever made it.
	for name, src := range hostile(MaxNesting + 1) {
		if f := Parse("config.alloy", []byte(src)); len(f.Errors) != 1 || !strings.Contains(f.Errors[0].Message, "nests more than") {
			t.Errorf("%s at depth %d: got errors %v, want the nesting error", name, MaxNesting+1, f.Errors)
		}
	}
}

// TestParseBracketsInStringsAndComments: brackets in strings and comments
// are no nesting.
func TestParseBracketsInStringsAndComments(t *testing.T) {
	t.Parallel()
	open := strings.Repeat("[({", 100_000)
	src := "// " + open + "\n" +
		"/* " + open + " */\n" +
		"prometheus.scrape \"x\" {\n" +
		"  targets = [{\"__address__\" = \"" + open + "\"}]\n" +
		"  job_name = `" + open + "`\n" +
		"  forward_to = []\n" +
		"}\n"
	f := Parse("config.alloy", []byte(src))
	if len(f.Errors) != 0 || len(f.Components) != 1 {
		t.Fatalf("got errors %v, %d components, want none and 1", f.Errors, len(f.Components))
	}
	if got := f.Components[0].Attributes["job_name"].Value; got != open {
		t.Errorf("job_name: got %d bytes, want the %d of the raw string", len(fmt.Sprint(got)), len(open))
	}
}

// components returns a config of n scrape components.
func components(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "prometheus.scrape \"s%d\" {\n  targets    = discovery.kubernetes.k%d.targets\n  forward_to = []\n}\n", i, i)
	}
	return b.String()
}

// TestParseTooManyComponents: past MaxComponents, Parse says how many
// there are (an unverifiable entry, not a syntax error) and analyses none,
// without building their facts.
func TestParseTooManyComponents(t *testing.T) {
	t.Parallel()
	src := []byte(components(100_000))
	start := time.Now()
	f := Parse("config.alloy", src)
	took := time.Since(start)
	t.Logf("%d bytes in %v", len(src), took)
	if took > 5*time.Second {
		t.Errorf("took %v, want well under 5s", took)
	}
	if len(f.Errors) != 0 || len(f.Unverifiable) != 1 || len(f.Components) != 0 || len(f.Collectors) != 0 {
		t.Fatalf("got errors %v, unverifiable %v, %d components; want no error, one unverifiable entry, no component", f.Errors, f.Unverifiable, len(f.Components))
	}
	u := f.Unverifiable[0]
	want := fmt.Sprintf("the file has 100000 components; modeguard analyses at most %d in one file, so nothing in it was checked", MaxComponents)
	if u.Kind != UnverifiableTooLarge || u.Reason != want {
		t.Errorf("got %s %q, want %s %q", u.Kind, u.Reason, UnverifiableTooLarge, want)
	}
	if u.Range.Start.Line != 4*MaxComponents+1 || u.Range.Start.Column != 1 {
		t.Errorf("got %d:%d, want %d:1 (the first component past the limit)", u.Range.Start.Line, u.Range.Start.Column, 4*MaxComponents+1)
	}
}

// TestParseAtMaxComponents: components in declare bodies and foreach
// templates count, those of other blocks do not, and a config at the limit
// is analysed.
func TestParseAtMaxComponents(t *testing.T) {
	t.Parallel()
	if f := Parse("config.alloy", []byte(components(MaxComponents))); len(f.Errors) != 0 || len(f.Components) != MaxComponents {
		t.Fatalf("at the limit: got errors %v, %d components, want none and %d", f.Errors, len(f.Components), MaxComponents)
	}
	nested := "declare \"d\" {\n" + components(MaxComponents/2) + "}\n" +
		"foreach \"f\" {\n  collection = []\n  var = \"v\"\n  template {\n" + components(MaxComponents/2) + "  }\n}\n" +
		"logging {\n}\nimport.file \"m\" {\n  filename = \"x\"\n}\n"
	l := checkLimits("config.alloy", []byte(nested))
	f := Parse("config.alloy", []byte(nested))
	if len(f.Errors) != 0 || len(f.Components) != l.components {
		t.Fatalf("got errors %v, %d components, checkLimits counted %d", f.Errors, len(f.Components), l.components)
	}
	if f := Parse("config.alloy", []byte(nested+components(1))); len(f.Unverifiable) != 1 || !strings.Contains(f.Unverifiable[0].Reason, fmt.Sprintf("has %d components", MaxComponents+1)) {
		t.Fatalf("one more: got unverifiable %v, want the too-large entry", f.Unverifiable)
	}
}

// TestParseTooManyErrors: a config with an error on every line reports the
// first MaxErrors and counts the rest, without the parser holding them all.
func TestParseTooManyErrors(t *testing.T) {
	t.Parallel()
	src := []byte(strings.Repeat("a 1\n", 1_000_000))
	start := time.Now()
	f := Parse("config.alloy", src)
	t.Logf("%d bytes in %v", len(src), time.Since(start))
	if len(f.Errors) != MaxErrors+1 {
		t.Fatalf("got %d errors, want %d", len(f.Errors), MaxErrors+1)
	}
	small := []byte(strings.Repeat("a 1\n", MaxErrors+1))
	want := riverErrors(t, "config.alloy", small)[:MaxErrors]
	if got := f.Errors[:MaxErrors]; !slices.Equal(got, want) {
		t.Errorf("got %v, want the parser's first errors %v", got, want)
	}
	last := f.Errors[MaxErrors]
	if wantMsg := fmt.Sprintf("%d more syntax errors (modeguard reports the first %d)", 1_000_000-MaxErrors, MaxErrors); last.Message != wantMsg {
		t.Errorf("got %q, want %q", last.Message, wantMsg)
	}
}
