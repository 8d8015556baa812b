package main

import "testing"

// TestMedianRounds: the steps shown are all from the round whose
// modeguard/null ratio is the median, whatever each webhook's own median.
func TestMedianRounds(t *testing.T) {
	targets := []*target{{name: "modeguard"}, {name: "null"}, {name: "opa"}}
	// Round by round: modeguard 50, 30, 40; null 100, 60, 200; opa 1, 2, 3.
	// Ratios 0.5, 0.5, 0.2: the median is round 0's (50, 100, 1), though
	// modeguard's own median is 40 (round 2).
	tp := map[string][]float64{"modeguard": {50, 30, 40}, "null": {100, 60, 200}, "opa": {1, 2, 3}}
	calls := map[string]int{}
	steps, rounds := medianRounds(targets, 3, func(tg *target) Step {
		i := calls[tg.name]
		calls[tg.name]++
		return Step{Target: tg.name, Throughput: tp[tg.name][i]}
	})
	if len(steps) != 3 || steps[0].Throughput != 50 || steps[1].Throughput != 100 || steps[2].Throughput != 1 {
		t.Errorf("steps %+v, want round 0's (50, 100, 1)", steps)
	}
	if got := rounds["null"]; len(got) != 3 || got[2] != 200 {
		t.Errorf("rounds %v, want every round's throughput", rounds)
	}
}
