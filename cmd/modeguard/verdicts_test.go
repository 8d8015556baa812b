package main

import (
	"slices"
	"testing"
)

// findingsOf returns "Rule:action" of every finding about the object.
func findingsOf(o jsonOut, kind, name string) []string {
	var got []string
	for _, f := range o.Findings {
		if f.Kind == kind && f.Name == name {
			got = append(got, f.Rule+":"+string(f.Action))
		}
	}
	return sortedSet(got)
}

// TestHPALowercaseKind: the Alloy chart's HPA names its target in lower case
// (scaleTargetRef.kind: deployment), which the API server resolves; the
// Deployment it scales is replicated, so its cluster-wide scrape gets
// MG006's clustering fix (it counted as one replica before).
func TestHPALowercaseKind(t *testing.T) {
	t.Parallel()
	r := modeguard(t, "", "check", "-o", "json", "-f", "testdata/verdicts/hpa-lowercase-kind.yaml")
	o := decodeJSON(t, r.stdout)
	if got := findingsOf(o, "ConfigMap", "alloy"); !slices.Contains(got, "MG006:fix") {
		t.Errorf("ConfigMap alloy: got %v, want MG006:fix among them", got)
	}
}
