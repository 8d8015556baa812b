package main

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/google/pprof/profile"
)

// cpuProfile is a CPU profile (go test -cpuprofile) read with pprof's own
// profile package: each sample's value and the functions on its stack.
// Reading it here rather than through `go tool pprof` keeps make bench from
// building pprof, and lets a part of the work be found anywhere on a stack:
// Go records at most 64 frames per sample, so under OPA's deep recursion the
// outer frames (the handler's own) are cut off, and a -focus on the handler
// misses those samples.
type cpuProfile struct {
	total   int64 // nanoseconds
	samples []stack
}

type stack struct {
	v     int64
	funcs []string // innermost first, inlined calls included
}

func readCPUProfile(path string) (*cpuProfile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	vi := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			vi = i
		}
	}
	if vi < 0 {
		return nil, fmt.Errorf("%s: not a CPU profile (no cpu sample type)", path)
	}
	cp := &cpuProfile{}
	for _, s := range p.Sample {
		st := stack{v: s.Value[vi]}
		for _, loc := range s.Location {
			for _, l := range loc.Line {
				if l.Function != nil {
					st.funcs = append(st.funcs, l.Function.Name)
				}
			}
		}
		cp.total += st.v
		cp.samples = append(cp.samples, st)
	}
	return cp, nil
}

// where sums the samples whose stack has a function matching match and,
// when not nil, none matching unless.
func (p *cpuProfile) where(match, unless func(string) bool) int64 {
	var sum int64
	for _, s := range p.samples {
		if slicesAny(s.funcs, match) && (unless == nil || !slicesAny(s.funcs, unless)) {
			sum += s.v
		}
	}
	return sum
}

func slicesAny(fs []string, match func(string) bool) bool {
	for _, f := range fs {
		if match(f) {
			return true
		}
	}
	return false
}

// top is the profile's table of functions, as `go tool pprof -top` prints
// it: n rows by own (flat) time, or by cumulative time when byCum, of the
// functions matching show (all when nil).
func (p *cpuProfile) top(n int, byCum bool, show *regexp.Regexp) string {
	flat, cum := map[string]int64{}, map[string]int64{}
	for _, s := range p.samples {
		if len(s.funcs) == 0 {
			continue
		}
		flat[s.funcs[0]] += s.v
		seen := map[string]bool{}
		for _, f := range s.funcs {
			if !seen[f] {
				seen[f] = true
				cum[f] += s.v
			}
		}
	}
	names := make([]string, 0, len(cum))
	for f := range cum {
		if show == nil || show.MatchString(f) {
			names = append(names, f)
		}
	}
	key := flat
	if byCum {
		key = cum
	}
	sort.Slice(names, func(i, j int) bool {
		if key[names[i]] != key[names[j]] {
			return key[names[i]] > key[names[j]]
		}
		return names[i] < names[j]
	})
	if len(names) > n {
		names = names[:n]
	}
	pct := func(v int64) float64 { return 100 * float64(v) / float64(max(p.total, 1)) }
	var b strings.Builder
	fmt.Fprintf(&b, "%10s %6s %6s %10s %6s\n", "flat", "flat%", "sum%", "cum", "cum%")
	var sum int64
	for _, f := range names {
		sum += flat[f]
		fmt.Fprintf(&b, "%9.2fs %5.2f%% %5.2f%% %9.2fs %5.2f%%  %s\n",
			float64(flat[f])/1e9, pct(flat[f]), pct(sum), float64(cum[f])/1e9, pct(cum[f]), f)
	}
	return strings.TrimRight(b.String(), "\n")
}
