package main

import (
	"bufio"
	"bytes"
	"slices"
	"strconv"
	"strings"
)

// Bench is one benchmark's runs: its name (package-qualified, without the
// -GOMAXPROCS suffix) and every run's metrics by unit.
type Bench struct {
	Pkg, Name string
	Runs      []map[string]float64
}

// Median is the median of unit over the runs (0 when absent).
func (b *Bench) Median(unit string) float64 {
	var vs []float64
	for _, r := range b.Runs {
		if v, ok := r[unit]; ok {
			vs = append(vs, v)
		}
	}
	return median(vs)
}

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	vs = slices.Clone(vs)
	slices.Sort(vs)
	if n := len(vs); n%2 == 1 {
		return vs[n/2]
	} else {
		return (vs[n/2-1] + vs[n/2]) / 2
	}
}

// parseBench reads go test -bench output (the standard benchmark format).
func parseBench(out []byte) []*Bench {
	var (
		list  []*Bench
		byKey = map[string]*Bench{}
		pkg   string
	)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndex(name, "-"); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		run := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			run[f[i+1]] = v
		}
		key := pkg + " " + name
		b := byKey[key]
		if b == nil {
			b = &Bench{Pkg: pkg, Name: name}
			byKey[key] = b
			list = append(list, b)
		}
		b.Runs = append(b.Runs, run)
	}
	return list
}
