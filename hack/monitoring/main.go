// Command monitoring generates modeguard's Grafana dashboard (with the
// Grafana Foundation SDK) and its alerting rules (a PrometheusRule), and the
// list of metric names they read (with Prometheus's own PromQL parser):
//
//	deploy/monitoring/dashboard.json       import into Grafana
//	deploy/monitoring/prometheusrule.yaml  kubectl apply (Prometheus Operator)
//	deploy/monitoring/metrics.txt          every metric name the two use;
//	                                       test/e2e checks that a running
//	                                       webhook serves each
//
// and the chart's copies (deploy/helm/modeguard/files), which its
// monitoring values render. make monitoring runs it; TestGenerated
// (monitoring_test.go) fails when the checked-in files are stale.
//
// A module of its own: Prometheus's module is large (its parser package is
// not, see monitoring_test.go) and would move the modeguard module's
// dependencies.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	out := flag.String("out", "../../deploy/monitoring", "Directory of the generated files.")
	chart := flag.String("chart", "../../deploy/helm/modeguard/files", "The chart's files directory (copies of the dashboard and the rules).")
	flag.Parse()
	files, err := Files()
	if err != nil {
		fmt.Fprintf(os.Stderr, "monitoring: %v\n", err)
		os.Exit(1)
	}
	for _, dir := range []string{*out, *chart} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fmt.Fprintf(os.Stderr, "monitoring: %v\n", err)
			os.Exit(1)
		}
		for name, data := range files {
			if dir == *chart && name == "metrics.txt" {
				continue
			}
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				fmt.Fprintf(os.Stderr, "monitoring: %v\n", err)
				os.Exit(1)
			}
		}
	}
}

// Files are the generated files by name.
func Files() (map[string][]byte, error) {
	d, err := Dashboard()
	if err != nil {
		return nil, err
	}
	r, err := PrometheusRule()
	if err != nil {
		return nil, err
	}
	names, err := MetricNames()
	if err != nil {
		return nil, err
	}
	m := "# Metric names the dashboard and the alerts read (hack/monitoring, parsed with\n# Prometheus's PromQL parser); test/e2e checks that the webhook serves each.\n" + strings.Join(names, "\n") + "\n"
	return map[string][]byte{"dashboard.json": d, "prometheusrule.yaml": r, "metrics.txt": []byte(m)}, nil
}
