package riverconfig

import (
	"github.com/modeguard/modeguard/internal/benchconfig"
	"strings"
	"testing"
)

func BenchmarkParseSmall(b *testing.B) {
	src := []byte(benchconfig.Typical)
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if f := Parse("config.alloy", src); len(f.Errors) > 0 {
			b.Fatal(f.Errors)
		}
	}
}

// BenchmarkParseLarge parses a benchconfig.Large config just below
// MaxComponents (2,000 lines, 290 components).
func BenchmarkParseLarge(b *testing.B) {
	src := []byte(benchconfig.Large(2000))
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	b.ReportMetric(float64(strings.Count(string(src), "\n")), "lines")
	for b.Loop() {
		if f := Parse("config.alloy", src); len(f.Errors) > 0 {
			b.Fatal(f.Errors)
		}
	}
}
