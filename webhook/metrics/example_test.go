package metrics_test

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modeguard/modeguard/webhook/metrics"
	"github.com/modeguard/modeguard/webhook/metrics/metricstest"
)

func Example() {
	reg := prometheus.NewRegistry() // the webhook uses controller-runtime's
	m, err := metrics.New(reg)
	if err != nil {
		panic(err)
	}
	m.Request("validate", "DaemonSet", "CREATE", metrics.ResultDenied, 3*time.Millisecond)
	m.Decision("MG004", "deny")
	m.Skipped(metrics.SkipNotAgent)

	f, _ := metricstest.Gather(reg)
	fmt.Println(f.Sum(metrics.RequestsTotal, map[string]string{"result": metrics.ResultDenied}))
	fmt.Println(f.Sum(metrics.DecisionsTotal, map[string]string{"rule": "MG004"}))
	fmt.Println(f.Sum(metrics.EvaluationsSkipped, nil))
	// Output:
	// 1
	// 1
	// 1
}
