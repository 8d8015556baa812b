package policy

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/modeguard/modeguard/internal/benchconfig"
	"github.com/modeguard/modeguard/riverconfig"
)

// configTexts are the configs of riverconfig's golden cases and the
// benchmarks' typical one.
func configTexts(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{"typical.alloy": benchconfig.Typical}
	paths, err := filepath.Glob("../riverconfig/testdata/*/input.*")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no riverconfig testdata: %v", err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(filepath.Dir(p))+filepath.Ext(p)] = string(b)
	}
	return out
}

// TestEqualOfAgreesWithDeepEqual: on every pair of components, collectors
// and node-name uses of the golden configs (a few of them equal: one text
// parsed twice), equalOf says what reflect.DeepEqual says.
func TestEqualOfAgreesWithDeepEqual(t *testing.T) {
	var comps []riverconfig.Component
	var cols []riverconfig.Collector
	var nns []riverconfig.NodeNameUse
	for name, text := range configTexts(t) {
		for range 2 { // distinct pointers, equal values
			f := riverconfig.Parse(name, []byte(text))
			comps, cols, nns = append(comps, f.Components...), append(cols, f.Collectors...), append(nns, f.NodeNames...)
		}
	}
	agree := func(name string, n int, at func(i int) reflect.Value) {
		equal := 0
		for i := range n {
			for j := range n {
				a, b := at(i), at(j)
				if got, want := equalOf(a.Type())(a, b), reflect.DeepEqual(a.Interface(), b.Interface()); got != want {
					t.Fatalf("%s %d and %d: equalOf %v, DeepEqual %v", name, i, j, got, want)
				} else if got && i != j {
					equal++
				}
			}
		}
		if equal == 0 {
			t.Errorf("%s: no two distinct elements equal: the test compares nothing that matters", name)
		}
	}
	agree("components", len(comps), func(i int) reflect.Value { return reflect.ValueOf(comps[i]) })
	agree("collectors", len(cols), func(i int) reflect.Value { return reflect.ValueOf(cols[i]) })
	agree("nodeNames", len(nns), func(i int) reflect.Value { return reflect.ValueOf(nns[i]) })
}

// TestEqualOfNilAndEmpty: nil and empty slices and maps, which JSON writes
// as null and as [] or {}, are not equal; a kind equalOf does not know is
// never equal.
func TestEqualOfNilAndEmpty(t *testing.T) {
	type s struct {
		L []string
		M map[string]int
		P *int
		A any
		F func()
	}
	one := 1
	for _, c := range []struct {
		a, b s
		want bool
	}{
		{s{}, s{}, false}, // F: a func is never equal
	} {
		if got := equalOf(reflect.TypeFor[s]())(reflect.ValueOf(c.a), reflect.ValueOf(c.b)); got != c.want {
			t.Errorf("%+v and %+v: got %v", c.a, c.b, got)
		}
	}
	type t2 struct {
		L []string
		M map[string]int
		P *int
		A any
	}
	for _, c := range []struct {
		a, b t2
		want bool
	}{
		{t2{}, t2{}, true},
		{t2{L: []string{}}, t2{}, false},
		{t2{M: map[string]int{}}, t2{}, false},
		{t2{M: map[string]int{"a": 1}}, t2{M: map[string]int{"b": 1}}, false},
		{t2{M: map[string]int{"a": 1}}, t2{M: map[string]int{"a": 1}}, true},
		{t2{P: &one}, t2{}, false},
		{t2{P: &one}, t2{P: new(int)}, false},
		{t2{A: 1}, t2{A: int64(1)}, false},
		{t2{A: []any{"x"}}, t2{A: []any{"x"}}, true},
		{t2{A: map[string]any{"x": nil}}, t2{A: map[string]any{"x": false}}, false},
	} {
		if got := equalOf(reflect.TypeFor[t2]())(reflect.ValueOf(c.a), reflect.ValueOf(c.b)); got != c.want {
			t.Errorf("%+v and %+v: got %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// edit changes text at random: a line inserted, deleted, or changed, or a
// comment put at the top (every position after it moves).
func edit(r *rand.Rand, text string) string {
	lines := strings.SplitAfter(text, "\n")
	i := r.IntN(len(lines))
	switch r.IntN(5) {
	case 0:
		lines = append(lines[:i], append([]string{"  // added\n"}, lines[i:]...)...)
	case 1:
		lines = append(lines[:i], lines[i+1:]...)
	case 2:
		lines[i] = strings.Replace(lines[i], "pod", "node", 1)
	case 3:
		lines[i] = strings.Replace(lines[i], "=", "= 1 +", 1)
	default:
		return "// top\n" + text
	}
	return strings.Join(lines, "")
}

// TestConvertFileReuse: a file converted with the last file under its name
// at hand has the Rego value of one converted alone, over random edits of
// every golden config; and an edit near the end reuses the elements
// before it.
func TestConvertFileReuse(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for name, text := range configTexts(t) {
		for range 20 {
			a, b := text, edit(r, text)
			if r.IntN(2) == 0 {
				a, b = b, a
			}
			checkReuse(t, name, a, b)
		}
	}
	large := benchconfig.Large(600)
	at := strings.LastIndex(large, "discovery.kubernetes")
	edited := large[:at] + "// edited\n" + large[at:]
	if reused, elems := checkReuse(t, "large", large, edited); reused == 0 || reused == elems {
		t.Errorf("an edit near the end of %d elements reused %d: want most of them, not all", elems, reused)
	}

	// Lists long enough to be converted in parts at once (elemTerms),
	// in several parts whatever the machine.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	huge := benchconfig.Large(3000)
	if n := len(riverconfig.Parse("huge", []byte(huge)).Components); n < 3*parallelElems {
		t.Fatalf("%d components: too few for three parts", n)
	}
	at = strings.LastIndex(huge, "discovery.kubernetes")
	if reused, elems := checkReuse(t, "huge", huge, huge[:at]+"// edited\n"+huge[at:]); reused == 0 || reused == elems {
		t.Errorf("an edit near the end of %d elements reused %d: want most of them, not all", elems, reused)
	}
	checkReuse(t, "huge", huge, "// top\n"+huge)
	checkReuse(t, "huge", "// top\n"+huge, huge)
}

func checkReuse(t *testing.T, name, a, b string) (reused, elems int) {
	t.Helper()
	fa, fb := riverconfig.Parse(name, []byte(a)), riverconfig.Parse(name, []byte(b))
	prev, err := convertFile(fa, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := convertFile(fb, prev)
	if err != nil {
		t.Fatal(err)
	}
	want, err := toAST(reflect.ValueOf(fb))
	if err != nil {
		t.Fatal(err)
	}
	if got.value.Value.Compare(want) != 0 {
		t.Fatalf("%s: converted after\n%s\nit differs from its own conversion:\n%s", name, a, b)
	}
	alone, _ := convertFile(fb, nil)
	if got.index.Value.Compare(alone.index.Value) != 0 || alone.value.Value.Compare(want) != 0 {
		t.Fatalf("%s: index or value differ from a conversion alone", name)
	}
	return got.nReused, got.nElems
}

// FuzzConvertFileReuse: whatever two texts under one name, the second's
// value converted after the first is its value converted alone.
func FuzzConvertFileReuse(f *testing.F) {
	// Short seeds: the fuzzer minimizes each new input for up to a minute,
	// and a long one takes all of it.
	const two = "discovery.kubernetes \"a\" {\n  role = \"pod\"\n}\n" +
		"prometheus.scrape \"s\" {\n  targets = discovery.kubernetes.a.targets\n  forward_to = []\n}\n"
	f.Add(two, 10, "  namespaces { names = [\"x\"] }\n")
	f.Add(two, 48, "// x\n")
	f.Fuzz(func(t *testing.T, text string, at int, insert string) {
		if len(text) > 4096 || len(insert) > 256 {
			return
		}
		at = max(0, min(at, len(text)))
		fa := riverconfig.Parse("f.alloy", []byte(text))
		fb := riverconfig.Parse("f.alloy", []byte(text[:at]+insert+text[at:]))
		prev, err := convertFile(fa, nil)
		if err != nil {
			t.Skip(err)
		}
		got, err := convertFile(fb, prev)
		if err != nil {
			t.Skip(err)
		}
		want, err := toAST(reflect.ValueOf(fb))
		if err != nil {
			t.Fatal(err)
		}
		if got.value.Value.Compare(want) != 0 {
			t.Fatalf("value after reuse differs:\n%v\nwant\n%v", got.value, ast.NewTerm(want))
		}
	})
}
