package main

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/workload"
)

// corpusDir is the real-world corpus the CLI is checked against: rendered
// manifests of Grafana's charts and community repositories, each case with
// what a correct tool reports for it in its set's expect.tsv. It is
// third-party material and not part of this repository: MODEGUARD_CORPUS
// names it, and `make corpus` sets it when a directory shared/corpus sits
// beside the repository.
func corpusDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MODEGUARD_CORPUS")
	if dir == "" {
		t.Skip("MODEGUARD_CORPUS is not set (make corpus sets it)")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("corpus %s: %v", dir, err)
	}
	return dir
}

// corpusCase is one line of an expect.tsv: the case and what a correct
// tool reports for it.
type corpusCase struct {
	set, name, want, note string
}

func readExpectations(t *testing.T, dir string) []corpusCase {
	t.Helper()
	sets, err := filepath.Glob(filepath.Join(dir, "*", "expect.tsv"))
	if err != nil || len(sets) == 0 {
		t.Fatalf("no */expect.tsv under %s (%v)", dir, err)
	}
	var cases []corpusCase
	for _, path := range sets {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			cols := strings.SplitN(line, "\t", 3)
			if len(cols) < 2 {
				t.Fatalf("%s: malformed line %q", path, line)
			}
			c := corpusCase{set: filepath.Base(filepath.Dir(path)), name: cols[0], want: cols[1]}
			if len(cols) == 3 {
				c.note = cols[2]
			}
			cases = append(cases, c)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return cases
}

// TestCorpus: `modeguard check -o json` over every case of the corpus says
// what its expect.tsv says: clean (no deny, warn or fix; audit allowed),
// nodeny (no deny), none (no finding at all) or must:R1,R2 (these rules
// among the findings).
func TestCorpus(t *testing.T) {
	dir := corpusDir(t)
	cases := readExpectations(t, dir)
	agree := 0
	for _, c := range cases {
		t.Run(c.set+"/"+c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.set, "cases", c.name, "manifests.yaml")
			r := modeguard(t, "", "check", "-o", "json", "-f", path)
			if r.code != exitOK && r.code != exitFindings {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			o := decodeJSON(t, r.stdout)
			var rules, acted []string
			for _, f := range o.Findings {
				rules = append(rules, f.Rule)
				if a := string(f.Action); a == "deny" || a == "warn" || a == "fix" {
					acted = append(acted, f.Rule+":"+a)
				}
			}
			// A ConfigMap an Alloy object reads is judged with it, in its
			// real mode: never "no agent workload reads this ConfigMap".
			read := alloyConfigMaps(t, path)
			for _, n := range o.Notes {
				if n.Kind == "ConfigMap" && read[n.Namespace+"/"+n.Name] && strings.Contains(n.Note, "no agent workload") {
					t.Errorf("ConfigMap %s/%s, read by an Alloy object: got note %q, want it judged with the Alloy object", n.Namespace, n.Name, n.Note)
				}
			}
			rules, acted = sortedSet(rules), sortedSet(acted)
			if msg := corpusMismatch(c.want, rules, acted); msg != "" {
				t.Errorf("want %s (%s): %s", c.want, c.note, msg)
				return
			}
			agree++
		})
	}
	t.Logf("corpus: %d of %d cases as expect.tsv says", agree, len(cases))
}

// alloyConfigMaps is the set (namespace/name) of the ConfigMaps the Alloy
// objects of a manifest file read.
func alloyConfigMaps(t *testing.T, path string) map[string]bool {
	t.Helper()
	docs, err := manifest.ReadPaths([]string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	manifest.DefaultNamespace(docs, "default")
	out := map[string]bool{}
	for _, d := range docs {
		a, ok := d.Object.(*workload.Alloy)
		if !ok {
			continue
		}
		f, err := workload.FromObject(a, nil)
		if err != nil {
			t.Fatalf("%s: %v", d.Where(), err)
		}
		if n := f.ReadsConfigMap(); n != "" {
			out[a.Namespace+"/"+n] = true
		}
	}
	return out
}

func corpusMismatch(want string, rules, acted []string) string {
	switch {
	case want == "clean":
		if len(acted) > 0 {
			return "got " + strings.Join(acted, " ")
		}
	case want == "none":
		if len(rules) > 0 {
			return "got " + strings.Join(rules, " ")
		}
	case want == "nodeny":
		for _, a := range acted {
			if strings.HasSuffix(a, ":deny") {
				return "got " + strings.Join(acted, " ")
			}
		}
	case strings.HasPrefix(want, "must:"):
		for _, r := range strings.Split(strings.TrimPrefix(want, "must:"), ",") {
			if !slices.Contains(rules, r) {
				return "missing " + r + ", got " + strings.Join(rules, " ")
			}
		}
	default:
		return "unknown expectation " + want
	}
	return ""
}

func sortedSet(s []string) []string {
	sort.Strings(s)
	return slices.Compact(s)
}

func TestCorpusMismatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		want         string
		rules, acted []string
		wantMismatch bool
	}{
		{"clean", []string{"MG015"}, nil, false},
		{"clean", []string{"MG001"}, []string{"MG001:fix"}, true},
		{"none", nil, nil, false},
		{"none", []string{"MG015"}, nil, true},
		{"nodeny", []string{"MG006"}, []string{"MG006:fix"}, false},
		{"nodeny", []string{"MG004"}, []string{"MG004:deny"}, true},
		{"must:MG004,MG008", []string{"MG004", "MG008"}, nil, false},
		{"must:MG004,MG008", []string{"MG004"}, nil, true},
		{"maybe", nil, nil, true},
	} {
		if got := corpusMismatch(tc.want, tc.rules, tc.acted) != ""; got != tc.wantMismatch {
			t.Errorf("corpusMismatch(%q, %v, %v) mismatch = %v, want %v", tc.want, tc.rules, tc.acted, got, tc.wantMismatch)
		}
	}
}
