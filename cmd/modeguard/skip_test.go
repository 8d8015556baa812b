package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSkipAnnotation: modeguard.dev/skip is honoured on the object the
// finding is about, and for a config finding also on the workload whose
// mode decides it; it is not honoured on an object the finding is not
// about.
func TestSkipAnnotation(t *testing.T) {
	t.Parallel()
	settings := filepath.Join(t.TempDir(), "settings.yaml")
	if err := os.WriteFile(settings, []byte("allowSkip: ['*']\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		example, rule, on string
		skipped           bool
	}{
		{"mg004-fires", "MG004", "ConfigMap", true}, // the finding is about the ConfigMap
		{"mg004-fires", "MG004", "DaemonSet", true}, // its mode decides the config finding
		{"mg004-fires", "MG004", "", false},
		{"mg010-fires", "MG010", "DaemonSet", true},  // the finding is about the DaemonSet
		{"mg010-fires", "MG010", "ConfigMap", false}, // not about the ConfigMap
	}
	for _, c := range cases {
		data, err := os.ReadFile("../../examples/" + c.example + "/manifest.yaml")
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		if c.on != "" {
			anchor := "kind: " + c.on + "\nmetadata:\n  name: alloy\n  namespace: " + c.example + "\n  annotations:\n"
			if !strings.Contains(text, anchor) {
				t.Fatalf("%s: no %q", c.example, anchor)
			}
			text = strings.Replace(text, anchor, anchor+"    modeguard.dev/skip: \""+c.rule+"\"\n", 1)
		}
		r := modeguard(t, text, "check", "-f", "-", "-o", "json", "--settings", settings)
		fired := false
		for _, f := range decodeJSON(t, r.stdout).Findings {
			fired = fired || f.Rule == c.rule
		}
		if fired == c.skipped {
			t.Errorf("%s, skip %s on the %s: got fired=%v, want %v", c.example, c.rule, c.on, fired, !c.skipped)
		}
	}
}
