package riverconfig

import "testing"

// TestValueLead checks the leading string literal an attribute reports, and
// that its range holds exactly the literal token.
func TestValueLead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr string
		want string // the lead's source text; "" for none
		val  string
	}{
		{expr: `"spec.nodeName=a"`, want: `"spec.nodeName=a"`, val: "spec.nodeName=a"},
		{expr: "`raw,x=y`", want: "`raw,x=y`", val: "raw,x=y"},
		{expr: `("a\tb")`, want: `"a\tb"`, val: "a\tb"},
		{expr: `"spec.nodeName=" + sys.env("HOSTNAME")`, want: `"spec.nodeName="`, val: "spec.nodeName="},
		{expr: `("a" + "b") + c`, want: `"a"`, val: "a"},
		{expr: `format("spec.nodeName=%s", env("X"))`, want: `"spec.nodeName=%s"`, val: "spec.nodeName=%s"},
		{expr: `string.format(("f=%s"), "x")`, want: `"f=%s"`, val: "f=%s"},
		{expr: `format(x, "y")`},
		{expr: `env("X") + "a"`},
		{expr: `coalesce("a", "b")`},
		{expr: `["a"]`},
		{expr: `1 + 2`},
		{expr: `"a" == "b"`},
	} {
		src := "discovery.kubernetes \"x\" {\n  selectors {\n    field = " + tc.expr + "\n  }\n}\n"
		f := Parse("config.alloy", []byte(src))
		if len(f.Errors) > 0 || len(f.Components) != 1 || len(f.Components[0].Blocks) != 1 {
			t.Fatalf("%s: got errors %v, components %d, want one component with one block", tc.expr, f.Errors, len(f.Components))
		}
		v := f.Components[0].Blocks[0].Attributes["field"]
		switch l := v.Lead; {
		case tc.want == "" && l != nil:
			t.Errorf("%s: got lead %+v, want none", tc.expr, *l)
		case tc.want == "":
		case l == nil:
			t.Errorf("%s: got no lead, want %s", tc.expr, tc.want)
		default:
			if got := src[l.Range.Start.Offset:l.Range.End.Offset]; got != tc.want || l.Value != tc.val {
				t.Errorf("%s: got lead %q (value %q), want %q (value %q)", tc.expr, got, l.Value, tc.want, tc.val)
			}
		}
	}
}

// TestBlockBodyRange checks that a nested block's body range lies between
// its braces, whatever stands between the name and "{".
func TestBlockBodyRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, src, body string
	}{
		{name: "plain", src: "prometheus.scrape \"a\" {\n  clustering {\n    enabled = true\n  }\n}\n", body: "\n    enabled = true\n  "},
		{name: "one line", src: "prometheus.scrape \"a\" { clustering { enabled = false } }\n", body: " enabled = false "},
		{name: "empty", src: "prometheus.scrape \"a\" {\n  clustering {}\n}\n", body: ""},
		{name: "comment with a brace before it", src: "prometheus.scrape \"a\" {\n  clustering /* { */ {\n  }\n}\n", body: "\n  "},
		{name: "labelled, brace in a string", src: "loki.process \"a\" {\n  stage.match \"x\" {\n    selector = \"{a=\\\"b\\\"}\"\n  }\n}\n", body: "\n    selector = \"{a=\\\"b\\\"}\"\n  "},
	} {
		f := Parse("config.alloy", []byte(tc.src))
		if len(f.Errors) > 0 || len(f.Components) != 1 || len(f.Components[0].Blocks) != 1 {
			t.Fatalf("%s: got errors %v, want one component with one block", tc.name, f.Errors)
		}
		r := f.Components[0].Blocks[0].BodyRange
		if got := tc.src[r.Start.Offset:r.End.Offset]; got != tc.body || tc.src[r.Start.Offset-1] != '{' || tc.src[r.End.Offset] != '}' {
			t.Errorf("%s: got body %q at %+v, want %q between braces", tc.name, got, r, tc.body)
		}
	}
}
