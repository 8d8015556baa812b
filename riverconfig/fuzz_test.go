package riverconfig

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse, seeded from every testdata
// input and from the configs of limits_test.go: it must not panic, its
// facts must marshal, and every range must point inside the source at the
// text it claims.
func FuzzParse(f *testing.F) {
	for _, sc := range scenarios(f) {
		src, err := os.ReadFile(sc.input)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src, strings.HasSuffix(sc.input, ".alloy"))
	}
	// Configs past the limits, and syntax errors that take the parser
	// through its error recovery.
	for _, s := range append(hostileSmall(), limitSeeds...) {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, src []byte, alloy bool) {
		name := "config.river"
		if alloy {
			name = "config.alloy"
		}
		facts := Parse(name, src)
		if facts == nil {
			t.Fatal("Parse returned nil")
		}
		for _, e := range facts.Errors {
			if strings.HasPrefix(e.Message, internalErrorPrefix) {
				t.Fatalf("Parse recovered from a panic: %s", e.Message)
			}
		}
		if _, err := json.Marshal(facts); err != nil {
			t.Fatalf("marshal facts: %v", err)
		}
		checkInvariants(t, src, facts)
	})
}
