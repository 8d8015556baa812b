package reliability

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modeguard/modeguard/webhook/metrics"
	"github.com/modeguard/modeguard/webhook/metrics/metricstest"
)

// point is one sample of the webhook process.
type point struct {
	at         time.Time
	pid        int
	rss, hwm   uint64 // bytes: resident now, and the process's peak
	goroutines int    // -1 when /metrics did not answer
	// overlay is the dry-run overlay's size (entries, bytes) on /metrics,
	// read with goroutines; -1 when not read.
	overlayEntries, overlayBytes float64
}

// sampler samples the webhook's memory every interval and its goroutines
// (go_goroutines on /metrics) every other sample.
type sampler struct {
	pid        func() int
	metricsURL string

	mu     sync.Mutex
	points []point
}

func (s *sampler) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for i := 0; ; i++ {
		p := point{at: time.Now(), pid: s.pid(), goroutines: -1, overlayEntries: -1, overlayBytes: -1}
		if p.pid != 0 {
			p.rss, p.hwm = memory(p.pid)
			if i%2 == 0 {
				p.read(ctx, s.metricsURL)
			}
		}
		s.mu.Lock()
		s.points = append(s.points, p)
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// now takes a sample at once (the start or end of a scenario).
func (s *sampler) now(ctx context.Context) point {
	p := point{at: time.Now(), pid: s.pid(), goroutines: -1, overlayEntries: -1, overlayBytes: -1}
	if p.pid != 0 {
		p.rss, p.hwm = memory(p.pid)
		p.read(ctx, s.metricsURL)
	}
	s.mu.Lock()
	s.points = append(s.points, p)
	s.mu.Unlock()
	return p
}

// maxRSS is the largest resident set between from and to: sampled, or the
// process's peak (VmHWM) when it rose in between (a spike between samples).
func (s *sampler) maxRSS(from, to time.Time) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var max uint64
	var first *point
	for i := range s.points {
		p := &s.points[i]
		if p.at.Before(from) || p.at.After(to) || p.pid == 0 {
			continue
		}
		max = maxOf(max, p.rss)
		if first == nil || first.pid != p.pid {
			first = p
			continue
		}
		if p.hwm > first.hwm {
			max = maxOf(max, p.hwm)
		}
	}
	return max
}

func maxOf(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// series returns the samples between from and to with goroutine counts.
func (s *sampler) series(from, to time.Time) []point {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []point
	for _, p := range s.points {
		if !p.at.Before(from) && !p.at.After(to) && p.pid != 0 {
			out = append(out, p)
		}
	}
	return out
}

// memory reads VmRSS and VmHWM of pid.
func memory(pid int) (rss, hwm uint64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			continue
		}
		if k == "VmRSS" {
			rss = n << 10
		} else {
			hwm = n << 10
		}
	}
	return rss, hwm
}

// read reads goroutines and the dry-run overlay's size from /metrics.
func (p *point) read(ctx context.Context, url string) {
	fams := families(ctx, url)
	if _, ok := fams["go_goroutines"]; ok {
		p.goroutines = int(fams.Sum("go_goroutines", nil))
	}
	if _, ok := fams[metrics.DryRunOverlayEntries]; ok {
		p.overlayEntries = fams.Sum(metrics.DryRunOverlayEntries, nil)
		p.overlayBytes = fams.Sum(metrics.DryRunOverlayBytes, nil)
	}
}

// scrape reads one metric's sum from /metrics (-1 if unreadable).
func scrape(ctx context.Context, url, name string, labels map[string]string) float64 {
	fams := families(ctx, url)
	if fams == nil {
		return -1
	}
	return fams.Sum(name, labels)
}

// families reads /metrics (nil if unreadable).
func families(ctx context.Context, url string) metricstest.Families {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	fams, err := metricstest.Parse(resp.Body)
	if err != nil {
		return nil
	}
	return fams
}

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
