package main

import (
	"slices"
	"strings"
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

// TestFixOfTwoCollectorsReported: a DaemonSet whose role=pod discovery feeds
// two collectors gets one MG001 finding per collector, both asking for the
// same selector; the selector is injected and both are reported as fixes
// (before, the second request read as "fixed but still firing" and the
// settling pass dropped the finding that was applied: 0 findings, while fix
// changed the config).
func TestFixOfTwoCollectorsReported(t *testing.T) {
	t.Parallel()
	path := "testdata/verdicts/one-discovery-two-collectors.yaml"
	o := decodeJSON(t, modeguard(t, "", "check", "-o", "json", "-f", path).stdout)
	if got, want := findingsOf(o, "ConfigMap", "alloy"), []string{"MG001:fix"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	var collectors []string
	for _, f := range o.Findings {
		if !f.Applied {
			t.Errorf("%s %s: not applied", f.Rule, f.Component)
		}
		collectors = append(collectors, f.Message)
	}
	if len(collectors) != 2 {
		t.Errorf("got %d MG001 findings, want one per collector (2): %v", len(collectors), collectors)
	}
	fx := modeguard(t, "", "fix", "-f", path)
	if n := strings.Count(fx.stderr, "fixed: ConfigMap monitoring/alloy discovery.kubernetes.p: MG001"); n != 1 {
		t.Errorf("fix reports the one edit %d times, want once:\n%s", n, fx.stderr)
	}
	if !strings.Contains(fx.stdout, `field = "spec.nodeName=" + coalesce(sys.env("HOSTNAME"), constants.hostname)`) {
		t.Errorf("fix did not inject the selector:\n%s", fx.stdout)
	}
}

// TestPositionsAfterAFix: findings of a pass after a fix point into the
// submitted text: MG004 on prometheus.scrape "svc" (file line 23, config
// line 14) is not moved by the four lines MG001 inserts above it.
func TestPositionsAfterAFix(t *testing.T) {
	t.Parallel()
	path := "testdata/verdicts/fix-shifts-lines.yaml"
	for _, format := range []string{"json", "text", "sarif"} {
		r := modeguard(t, "", "check", "-o", format, "-f", path)
		switch format {
		case "json":
			for _, f := range decodeJSON(t, r.stdout).Findings {
				if f.Rule == "MG004" && (f.Line != 23 || f.ConfigLine != 14) {
					t.Errorf("json: MG004 at file line %d, config line %d; want 23, 14", f.Line, f.ConfigLine)
				}
			}
		case "text":
			if !strings.Contains(r.stdout, "fix-shifts-lines.yaml:23 (config.alloy:14:1) MG004") {
				t.Errorf("text: MG004 not at :23 (config.alloy:14:1):\n%s", r.stdout)
			}
		case "sarif":
			if !strings.Contains(r.stdout, `"startLine": 23`) {
				t.Errorf("sarif: no result at line 23:\n%s", r.stdout)
			}
		}
	}
}

// TestAlloyDaemonSetClusteringFixed: an Alloy object of the chart's default
// controller type (DaemonSet) that clusters a cluster-wide scrape without
// spec.alloy.clustering.enabled gets MG007's fix in its values (before, only
// Alloy StatefulSets were fixed and this was denied, although the chart
// renders the flags and the peers' Service for any controller type).
func TestAlloyDaemonSetClusteringFixed(t *testing.T) {
	t.Parallel()
	path := "testdata/verdicts/alloy-daemonset-clustering-off.yaml"
	o := decodeJSON(t, modeguard(t, "", "check", "-o", "json", "-f", path).stdout)
	if got, want := findingsOf(o, "Alloy", "metrics"), []string{"MG007:fix"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	fx := modeguard(t, "", "fix", "-f", path)
	if !strings.Contains(fx.stdout, "    clustering:\n      enabled: true\n") {
		t.Errorf("fix does not set spec.alloy.clustering.enabled:\n%s", fx.stdout)
	}
}
