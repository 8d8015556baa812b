package e2e

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modeguard/modeguard/examples"
)

// TestMetricNamesServed checks that the running webhook serves every metric
// the shipped dashboard and alerts read: deploy/monitoring/metrics.txt,
// which hack/monitoring extracts from their PromQL with Prometheus's parser
// (its TestGenerated keeps the file current). A renamed metric, or a panel
// over a metric the webhook does not export, fails here.
func TestMetricNamesServed(t *testing.T) {
	c := cluster(t)
	root, err := FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "deploy", "monitoring", "metrics.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for l := range strings.Lines(string(data)) {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			want = append(want, l)
		}
	}
	if len(want) < 5 {
		t.Fatalf("metrics.txt names %d metrics, want the dashboard's and the alerts'", len(want))
	}

	// Traffic that makes the labelled series exist: an admission with a fix
	// (requests, latency, decisions, fixes), and an agent the audit finds
	// something on (its findings gauge). The reload and skip counters and
	// the other gauges exist from the start.
	ctx := context.Background()
	docs := examples.Load(t, "mg001-fires")
	ns := "metric-names"
	for i := range docs {
		docs[i].Raw = []byte(strings.ReplaceAll(string(docs[i].Raw), "namespace: mg001-fires", "namespace: "+ns))
		docs[i].Raw = []byte(strings.ReplaceAll(string(docs[i].Raw), "name: mg001-fires\n", "name: "+ns+"\n"))
		if docs[i].Namespace == "mg001-fires" {
			docs[i].Namespace = ns
		}
		if docs[i].Kind == "Namespace" {
			docs[i].Name = ns
		}
	}
	if _, err := c.RunExample(ctx, reviewer(t), "mg001-fires", docs, false); err != nil {
		t.Fatal(err)
	}
	// An agent with an audit finding (MG011, admitted), which the audit
	// loop counts in modeguard_audit_findings.
	auditNS := "metric-names-audit"
	c.KubectlAllowFail(ctx, "", "create", "namespace", auditNS)
	for _, d := range examples.Load(t, "mg011-fires") {
		if d.Kind == "Namespace" {
			continue
		}
		raw := strings.ReplaceAll(string(d.Raw), "namespace: mg011-fires", "namespace: "+auditNS)
		if r := c.KubectlAllowFail(ctx, raw, "apply", "-f", "-"); r.Err != nil {
			t.Fatalf("kubectl apply %s %s: %v\n%s", d.Kind, d.Name, r.Err, r.Stderr)
		}
	}

	var missing []string
	for deadline := time.Now().Add(30 * time.Second); ; {
		served := scrapeNames(t, c.MetricsURL)
		missing = missing[:0]
		for _, n := range want {
			if !served[n] {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Errorf("the webhook's /metrics does not serve %q, which deploy/monitoring's dashboard or alerts read", missing)
	}
}

// scrapeNames returns the sample names /metrics serves (histograms as
// name_bucket, name_sum, name_count, as PromQL selects them).
func scrapeNames(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %s", url, resp.Status, body)
	}
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if i := strings.IndexAny(l, "{ "); i > 0 {
			names[l[:i]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}
