package main

import (
	"strings"
	"testing"
)

func TestBiggestCost(t *testing.T) {
	focused := `      flat  flat%   sum%        cum   cum%
         0     0%     0%      1.60s 41.67%  github.com/modeguard/modeguard/webhook/admit.(*Pipeline).Handle
         0     0%     0%      1.20s 31.25%  github.com/modeguard/modeguard/policy.(*Engine).Evaluate
         0     0%     0%      1.00s 21.25%  github.com/open-policy-agent/opa/v1/rego.(*Rego).Eval
     0.05s  1.30%  1.30%      0.50s 13.02%  github.com/open-policy-agent/opa/v1/topdown.(*eval).evalExpr
     0.08s  2.08%  2.08%      0.56s 14.58%  runtime.mallocgc
`
	all := `         0     0%     0%      0.67s 17.45%  runtime.gcBgMarkWorker
`
	parts, gc, got := biggestCost(focused, all)
	for _, want := range []string{"policy evaluation", "75% of the handler", "allocation is 35%", "adds 17%"} {
		if !strings.Contains(got, want) {
			t.Errorf("biggestCost = %q; want it to contain %q", got, want)
		}
	}
	if len(parts) != len(handlerParts()) || gc != 17.45 {
		t.Errorf("parts %v, gc %v", parts, gc)
	}
	if _, _, s := biggestCost("", all); s != "" {
		t.Error("no handler in the profile: want no sentence")
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
