package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestExpressionsParse parses every PromQL expression of the dashboard and
// the alerts with Prometheus's parser, and requires each to select
// modeguard's job, so that a typo or an expression reading another job's
// series fails here rather than in Grafana.
func TestExpressionsParse(t *testing.T) {
	exprs := Expressions()
	if len(exprs) < 15 {
		t.Fatalf("got %d expressions, want the dashboard's and the alerts'", len(exprs))
	}
	for where, e := range exprs {
		if !strings.Contains(e, job) {
			t.Errorf("%s: %q does not select %s", where, e, job)
		}
	}
	names, err := MetricNames()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"modeguard_admission_requests_total", "modeguard_admission_duration_seconds_bucket", "modeguard_decisions_total",
		"modeguard_fixes_applied_total", "modeguard_policy_reloads_total", "modeguard_policy_last_load_timestamp_seconds",
		"modeguard_cert_expiry_timestamp_seconds",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("metric names %q lack %s", names, want)
		}
	}
}

// TestParserRejects: the parser is the judge, so it must refuse bad PromQL.
func TestParserRejects(t *testing.T) {
	for _, bad := range []string{`rate(x[5m]`, `sum by (le) (x{job="a"}) >`, `histogram_quantile(0.99)`} {
		if _, err := parse(bad); err == nil {
			t.Errorf("%q parsed, want an error", bad)
		}
	}
}

// TestGenerated: the checked-in files are what make monitoring writes.
func TestGenerated(t *testing.T) {
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		for _, dir := range []string{"../../deploy/monitoring", "../../deploy/helm/modeguard/files"} {
			if dir != "../../deploy/monitoring" && name == "metrics.txt" {
				continue
			}
			got, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s/%s is stale (%v): run make monitoring", dir, name, err)
			}
		}
	}
}
