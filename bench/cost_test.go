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

func TestWebhookCost(t *testing.T) {
	const (
		mg      = "github.com/modeguard/modeguard/"
		handle  = mg + "webhook/admit.(*Handler).Handle"
		serve   = "sigs.k8s.io/controller-runtime/pkg/webhook/admission.(*Webhook).ServeHTTP"
		opa     = "github.com/open-policy-agent/opa/v1/topdown.(*eval).evalExpr"
		decode  = mg + "webhook/admit.Decode"
		unmarsh = "encoding/json.Unmarshal"
	)
	ms := int64(1e6)
	p := &cpuProfile{samples: []stack{
		{v: 300 * ms, funcs: []string{opa, handle, serve}},
		{v: 200 * ms, funcs: []string{opa, opa}}, // cut off under OPA
		{v: 100 * ms, funcs: []string{unmarsh, decode, handle, serve}},
		{v: 100 * ms, funcs: []string{unmarsh, serve}}, // the review, outside the handler
		{v: 100 * ms, funcs: []string{"crypto/tls.(*Conn).Read"}},
		{v: 200 * ms, funcs: []string{"runtime.mallocgc", "runtime.gcBgMarkWorker"}},
	}}
	for _, s := range p.samples {
		p.total += s.v
	}
	// Of 1000ms, in webhookCost's order: handler or OPA 600, OPA 500,
	// conversion and hashing 0, decode 100, ServeHTTP less the handler 100,
	// TLS 100, logs 0, metrics 0, client-go 0, GC 200, allocation 200.
	want := []float64{60, 50, 0, 10, 10, 10, 0, 0, 0, 20, 20}
	parts := webhookCost(p)
	if len(parts) != len(want) {
		t.Fatalf("%d parts; want %d", len(parts), len(want))
	}
	for i, c := range parts {
		if c.Share != want[i] {
			t.Errorf("%s: %v%%; want %v%%", c.Name, c.Share, want[i])
		}
	}
	if got := parts[9].summary(); got != "the garbage collector 20%" {
		t.Errorf("summary %q", got)
	}
}
