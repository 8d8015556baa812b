package policy

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"

	"github.com/modeguard/modeguard/internal/benchconfig"
	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

// viaRoundTrip is the reference conversion: JSON encode, decode, convert.
func viaRoundTrip(t testing.TB, x any) ast.Value {
	t.Helper()
	b, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := util.UnmarshalJSON(b, &doc); err != nil {
		t.Fatal(err)
	}
	v, err := ast.InterfaceToValue(doc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestToASTMatchesJSON: the direct conversion gives what the JSON round trip
// gives, for every golden scenario's facts and for edge cases.
func TestToASTMatchesJSON(t *testing.T) {
	t.Parallel()
	configs := golden[riverconfig.Facts](t, "../riverconfig/testdata/*/facts.json")
	workloads := golden[workload.Facts](t, "../workload/testdata/*/facts.json")
	var cases []any
	for i, w := range workloads {
		in := &Input{APIVersion: InputAPIVersion, Subject: Subject{Kind: w.Kind, Name: w.Name}, Mode: w.Mode, Workload: w,
			Config: &Config{Name: "cm", Files: []*riverconfig.Facts{configs[i%len(configs)]}}}
		in.Config.index()
		cases = append(cases, in)
	}
	// Facts straight from Parse hold literal values of River's own types.
	for _, c := range configs {
		cases = append(cases, riverconfig.Parse("x.alloy", []byte(`a "b" { x = [1, 2.5, "s", true, null, {k = 1e3}] }`)), c)
	}
	cases = append(cases, &Input{}, map[string]any{"n": int64(-3), "f": 0.1, "b": []byte("hi"), "u": uint8(7), "d": Duration{}, "jn": json.Number("-12.5e3"), "je": json.Number("")}, []string(nil))
	for i, c := range cases {
		got, err := toAST(reflect.ValueOf(c))
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if want := viaRoundTrip(t, c); got.Compare(want) != 0 {
			t.Fatalf("case %d (%T): direct conversion differs from the JSON round trip:\n got %v\nwant %v", i, c, got, want)
		}
	}
}

func BenchmarkToValue(b *testing.B) {
	in := benchInput(b, benchconfig.Typical)
	in.Config.index()
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := toAST(reflect.ValueOf(in)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json-roundtrip", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			viaRoundTrip(b, in)
		}
	})
}
