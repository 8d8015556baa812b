package metrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modeguard/modeguard/webhook/metrics"
	"github.com/modeguard/modeguard/webhook/metrics/metricstest"
)

// TestWatchMemo: the memo counters are read at each scrape; a second
// WatchMemo on the registry is not an error.
func TestWatchMemo(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	hits, misses := int64(0), int64(0)
	stats := func() (int64, int64) { return hits, misses }
	for range 2 {
		if err := metrics.WatchMemo(reg, stats); err != nil {
			t.Fatal(err)
		}
	}
	hits, misses = 7, 3
	f, err := metricstest.Gather(reg)
	if err != nil {
		t.Fatal(err)
	}
	for result, want := range map[string]float64{"hit": 7, "miss": 3} {
		if got := f.Sum(metrics.PolicyMemoTotal, map[string]string{"result": result}); got != want {
			t.Errorf("%s{result=%q}: got %v, want %v", metrics.PolicyMemoTotal, result, got, want)
		}
	}
}
