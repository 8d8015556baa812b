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
