package main

import (
	"bytes"
	"fmt"
	"math"
	"time"
)

// plotSVG draws p50 and p99 latency against the fixed request rates, one
// line each per target, latency on a log scale.
func plotSVG(e *E2EResult) []byte {
	const (
		w, h                     = 720, 420
		left, right, top, bottom = 70, 170, 40, 50
	)
	var rates []int
	for _, s := range e.Steps {
		if s.Rate > 0 && !containsInt(rates, s.Rate) {
			rates = append(rates, s.Rate)
		}
	}
	type series struct {
		target, q, color, dash string
		get                    func(Step) time.Duration
	}
	all := []series{
		{"modeguard", "p99", "#c0392b", "", func(s Step) time.Duration { return s.P99 }},
		{"modeguard", "p50", "#c0392b", "6,4", func(s Step) time.Duration { return s.P50 }},
		{"null", "p99", "#2471a3", "", func(s Step) time.Duration { return s.P99 }},
		{"null", "p50", "#2471a3", "6,4", func(s Step) time.Duration { return s.P50 }},
	}
	if e.OPA {
		all = append(all,
			series{"opa", "p99", "#1e8449", "", func(s Step) time.Duration { return s.P99 }},
			series{"opa", "p50", "#1e8449", "6,4", func(s Step) time.Duration { return s.P50 }})
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range e.Steps {
		if s.Rate == 0 {
			continue
		}
		for _, v := range []time.Duration{s.P50, s.P99} {
			ms := float64(v) / 1e6
			if ms > 0 {
				lo, hi = math.Min(lo, ms), math.Max(hi, ms)
			}
		}
	}
	var b bytes.Buffer
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	p(`<text x="%d" y="22" font-size="14" font-weight="bold">Admission latency against request rate (HTTPS, loopback)</text>`+"\n", left)
	if len(rates) == 0 || math.IsInf(lo, 0) {
		p("</svg>\n")
		return b.Bytes()
	}
	// Decades covering the data.
	ylo, yhi := math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
	if ylo == yhi {
		yhi *= 10
	}
	xmax := float64(rates[len(rates)-1])
	for _, r := range rates {
		xmax = math.Max(xmax, float64(r))
	}
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	x := func(r float64) float64 { return left + pw*r/xmax }
	y := func(ms float64) float64 {
		return top + ph*(1-(math.Log10(ms)-math.Log10(ylo))/(math.Log10(yhi)-math.Log10(ylo)))
	}
	// Axes and grid.
	p(`<g stroke="#ccc">`)
	for d := ylo; d <= yhi*1.0001; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if v := d * m; v <= yhi*1.0001 {
				p(`<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f"/>`, left, left+pw, y(v), y(v))
			}
		}
	}
	p("</g>\n")
	for d := ylo; d <= yhi*1.0001; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if v := d * m; v <= yhi*1.0001 {
				p(`<text x="%d" y="%.1f" text-anchor="end">%g</text>`, left-6, y(v)+4, v)
			}
		}
	}
	for _, r := range rates {
		p(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#999"/>`, x(float64(r)), x(float64(r)), top+ph, top+ph+5)
		p(`<text x="%.1f" y="%.1f" text-anchor="middle">%d</text>`, x(float64(r)), top+ph+18, r)
	}
	p("\n")
	p(`<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="black"/>`, left, left+pw, top+ph, top+ph)
	p(`<line x1="%d" x2="%d" y1="%d" y2="%.1f" stroke="black"/>`+"\n", left, left, top, top+ph)
	p(`<text x="%.1f" y="%d" text-anchor="middle">requests/s (fixed rate)</text>`+"\n", left+pw/2, h-10)
	p(`<text transform="translate(18 %.1f) rotate(-90)" text-anchor="middle">latency, ms (log scale)</text>`+"\n", top+ph/2)
	// Lines, points and legend.
	for i, sr := range all {
		var pts bytes.Buffer
		for _, r := range rates {
			if s := e.step(sr.target, r); s != nil && sr.get(*s) > 0 {
				fmt.Fprintf(&pts, "%.1f,%.1f ", x(float64(r)), y(float64(sr.get(*s))/1e6))
			}
		}
		p(`<polyline fill="none" stroke="%s" stroke-width="2" stroke-dasharray="%s" points="%s"/>`+"\n", sr.color, sr.dash, bytes.TrimSpace(pts.Bytes()))
		for _, r := range rates {
			if s := e.step(sr.target, r); s != nil && sr.get(*s) > 0 {
				p(`<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, x(float64(r)), y(float64(sr.get(*s))/1e6), sr.color)
			}
		}
		ly := float64(top + 10 + 22*i)
		p(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="2" stroke-dasharray="%s"/>`, left+pw+15, left+pw+45, ly, ly, sr.color, sr.dash)
		p(`<text x="%.1f" y="%.1f">%s %s</text>`+"\n", left+pw+52, ly+4, sr.target, sr.q)
	}
	p("</svg>\n")
	return b.Bytes()
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
