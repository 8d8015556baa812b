package benchconfig

import (
	"strings"
	"testing"

	"github.com/modeguard/modeguard/riverconfig"
)

func TestConfigsParse(t *testing.T) {
	for name, src := range map[string]string{"typical": Typical, "large": Large(3000)} {
		f := riverconfig.Parse("config.alloy", []byte(src))
		if len(f.Errors) > 0 {
			t.Fatalf("%s: %v", name, f.Errors)
		}
	}
	if n := strings.Count(Large(3000), "\n"); n < 3000 || n > 3200 {
		t.Fatalf("Large(3000) has %d lines", n)
	}
}

func TestLargeComponents(t *testing.T) {
	for _, n := range []int{10, 100, 500} {
		f := riverconfig.Parse("config.alloy", []byte(LargeComponents(n)))
		if len(f.Errors) > 0 || len(f.Unverifiable) > 0 {
			t.Fatalf("LargeComponents(%d): errors %v, unverifiable %v", n, f.Errors, f.Unverifiable)
		}
		if got := len(f.Components); got != n {
			t.Errorf("LargeComponents(%d) has %d components, want %d", n, got, n)
		}
	}
	if Large(3000) != LargeComponents(len(riverconfig.Parse("x.alloy", []byte(Large(3000))).Components)) {
		t.Error("Large and LargeComponents repeat different blocks")
	}
}
