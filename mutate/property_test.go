package mutate

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/riverconfig"
)

// seedConfig is one config of the fuzz seed corpus.
type seedConfig struct {
	name string
	ext  string // ".river" or ".alloy"
	src  []byte
}

// seedConfigs returns the inputs of riverconfig's and mutate's golden
// scenarios.
func seedConfigs(tb testing.TB) []seedConfig {
	tb.Helper()
	var out []seedConfig
	for _, pattern := range []string{"../riverconfig/testdata/*/input.*", "testdata/*/input.*"} {
		paths, err := filepath.Glob(pattern)
		if err != nil {
			tb.Fatal(err)
		}
		for _, p := range paths {
			ext := filepath.Ext(p)
			if ext != ".river" && ext != ".alloy" {
				continue
			}
			src, err := os.ReadFile(p)
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, seedConfig{name: filepath.ToSlash(p), ext: ext, src: src})
		}
	}
	if len(out) == 0 {
		tb.Fatal("no seed configs")
	}
	return out
}

// fixKinds are the fix names a config fix may be asked for, including ones
// that never fit a config.
var fixKinds = []string{FixNodeSelector, FixNodeNameExpression, FixClusteringBlock, FixNodeNameEnv, "no-such-fix"}

// vars are the env var names fix requests use, one of them needing escapes.
var vars = []string{"HOSTNAME", "K8S_NODE_NAME", "A\"B\\C\n"}

// fixFor builds a fix request for the file from a few selector values: the
// fix kind, the component (by index into the file's components, or one that
// does not exist), and a variant choosing role, envFunc, var and whether a
// parameter is missing.
func fixFor(facts *riverconfig.Facts, file string, kind, comp, variant uint8) policy.FixRequest {
	id := "discovery.kubernetes.missing"
	if n := len(facts.Components); n > 0 && int(comp) < n*4 {
		id = facts.Components[int(comp)%n].ID
	}
	role := "pod"
	if variant&1 != 0 {
		role = "node"
	}
	envFunc := "env"
	if variant&2 != 0 {
		envFunc = "sys.env"
	}
	params := map[string]any{
		"file":      file,
		"component": id,
		"role":      role,
		"envFunc":   envFunc,
		"var":       vars[int(variant>>2)%len(vars)],
	}
	if variant&0x80 != 0 {
		delete(params, []string{"component", "role", "envFunc", "var"}[int(variant>>5)%4])
	}
	return policy.FixRequest{Name: fixKinds[int(kind)%len(fixKinds)], Params: params}
}

// checkFix asserts the properties of one config fix: no panic; a failure
// matches ErrNotApplicable and returns the original; a success parses, is
// idempotent, and leaves every byte before the first edit and after the
// last one as it was.
func checkFix(t *testing.T, file string, src []byte, fix policy.FixRequest) {
	t.Helper()
	orig := bytes.Clone(src)
	out, err := Config(file, src, fix)
	if !bytes.Equal(src, orig) {
		t.Fatalf("%s %v: Config changed its input", file, fix)
	}
	if err != nil {
		if !errors.Is(err, ErrNotApplicable) {
			t.Fatalf("%s %v: error %q does not match ErrNotApplicable", file, fix, err)
		}
		if strings.Contains(err.Error(), "would not parse") {
			t.Fatalf("%s %v: the fix broke the config: %v\n%s", file, fix, err, src)
		}
		if !bytes.Equal(out, src) {
			t.Fatalf("%s %v: failed with %v but returned a changed config", file, fix, err)
		}
		return
	}
	if f := riverconfig.Parse(file, out); len(f.Errors) > 0 {
		t.Fatalf("%s %v: result does not parse: %v\n%s", file, fix, f.Errors, out)
	}
	_, edits, err := fixConfig(file, src, fix, nil)
	if err != nil {
		t.Fatalf("%s %v: fixConfig: %v", file, fix, err)
	}
	if len(edits) == 0 {
		if !bytes.Equal(out, src) {
			t.Fatalf("%s %v: no edits but a changed config", file, fix)
		}
	} else {
		first, last := edits[0].start, edits[len(edits)-1].end
		if !bytes.HasPrefix(out, src[:first]) {
			t.Fatalf("%s %v: bytes before the first edit (%d) changed:\n%s", file, fix, first, out)
		}
		if !bytes.HasSuffix(out[first:], src[last:]) {
			t.Fatalf("%s %v: bytes after the last edit (%d) changed:\n%s", file, fix, last, out)
		}
	}
	again, err := Config(file, out, fix)
	if err != nil {
		t.Fatalf("%s %v: fixing the fixed config: %v\n%s", file, fix, err, out)
	}
	if !bytes.Equal(again, out) {
		t.Fatalf("%s %v: not idempotent:\n--- once\n%s\n--- twice\n%s", file, fix, out, again)
	}
}

// TestConfigFixProperties runs every fix kind, role, envFunc and var over
// every component of every seed config.
func TestConfigFixProperties(t *testing.T) {
	t.Parallel()
	for _, s := range seedConfigs(t) {
		file := "config" + s.ext
		facts := riverconfig.Parse(file, s.src)
		t.Run(s.name, func(t *testing.T) {
			n := max(len(facts.Components), 1)
			for kind := range len(fixKinds) {
				for comp := range n + 1 {
					c := uint8(comp)
					if comp == n {
						c = 255 // a component that does not exist
					}
					for _, variant := range []uint8{0, 1, 2, 3, 4 | 2, 8 | 1, 0x80, 0x80 | 0x20, 0x80 | 0x40, 0x80 | 0x60} {
						checkFix(t, file, s.src, fixFor(facts, file, uint8(kind), c, variant))
					}
				}
			}
		})
	}
}

// FuzzConfigFix checks the same properties on fuzzed configs and fix
// requests, seeded with every seed config and a request of each kind.
func FuzzConfigFix(f *testing.F) {
	for _, s := range seedConfigs(f) {
		for kind := range 3 {
			f.Add(s.src, s.ext == ".alloy", uint8(kind), uint8(0), uint8(kind))
		}
	}
	f.Fuzz(func(t *testing.T, src []byte, alloy bool, kind, comp, variant uint8) {
		file := "config.river"
		if alloy {
			file = "config.alloy"
		}
		facts := riverconfig.Parse(file, src)
		checkFix(t, file, src, fixFor(facts, file, kind, comp, variant))
	})
}
