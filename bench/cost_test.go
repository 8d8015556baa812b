package main

import (
	"strings"
	"testing"
)

func TestBiggestCost(t *testing.T) {
	const (
		mg     = "github.com/modeguard/modeguard/"
		handle = mg + "webhook/admit.(*Pipeline).Handle"
		eval   = mg + "policy.(*Engine).Evaluate"
		opa    = "github.com/open-policy-agent/opa/v1/topdown.(*eval).evalExpr"
		parse  = mg + "riverconfig.Parse"
	)
	ms := int64(1e6)
	p := &cpuProfile{samples: []stack{
		{v: 400 * ms, funcs: []string{opa, eval, handle}},
		// OPA's recursion cut the stack: no handler frame, still OPA's.
		{v: 300 * ms, funcs: []string{"runtime.mallocgc", opa, opa}},
		{v: 100 * ms, funcs: []string{parse, handle}},
		{v: 200 * ms, funcs: []string{"runtime.mallocgc", "runtime.gcBgMarkWorker"}},
	}}
	for _, s := range p.samples {
		p.total += s.v
	}
	parts, gc, got := biggestCost(p)
	// Handler: 800ms (all but the GC's 200ms); evaluation 700ms, parse
	// 100ms, allocation 300ms; GC 200 of 1000ms.
	for _, want := range []string{"policy evaluation", "88% of the handler", "OPA's query evaluation 88%", "allocation is 38%", "adds 20%"} {
		if !strings.Contains(got, want) {
			t.Errorf("biggestCost = %q; want it to contain %q", got, want)
		}
	}
	if len(parts) != len(handlerParts()) || gc != 20 || parts[3].Share != 12.5 {
		t.Errorf("parts %+v, gc %v", parts, gc)
	}
	if _, _, s := biggestCost(&cpuProfile{}); s != "" {
		t.Error("an empty profile: want no sentence")
	}
	top := p.top(2, true, nil)
	if lines := strings.Split(top, "\n"); len(lines) != 3 || !strings.HasSuffix(lines[1], opa) || !strings.Contains(lines[1], "0.70s") {
		t.Errorf("top by cum:\n%s", top)
	}
}

func TestParseBench(t *testing.T) {
	out := []byte(`pkg: github.com/modeguard/modeguard/mutate
BenchmarkPatch-2   	    2742	    300 ns/op	   76095 B/op	    1157 allocs/op
BenchmarkPatch-2   	    2742	    100 ns/op	   76095 B/op	    1157 allocs/op
BenchmarkPatch-2   	    2742	    200 ns/op	   76095 B/op	    1157 allocs/op
BenchmarkHandler/mutate/Pod-cache-hit-2   	10000	    122000 ns/op	   10535 B/op	     138 allocs/op
PASS
`)
	bs := parseBench(out)
	if len(bs) != 2 || bs[0].Name != "BenchmarkPatch" || bs[1].Name != "BenchmarkHandler/mutate/Pod-cache-hit" {
		t.Fatalf("parseBench: %+v", bs)
	}
	if m := bs[0].Median("ns/op"); m != 200 {
		t.Errorf("median ns/op = %v; want 200", m)
	}
	if m := bs[0].Median("allocs/op"); m != 1157 {
		t.Errorf("median allocs/op = %v; want 1157", m)
	}
}
