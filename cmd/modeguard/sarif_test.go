package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSARIFStdinLocations: every result of a stdin run has a location:
// the template of Helm's "# Source:" comment, or --stdin-filename.
func TestSARIFStdinLocations(t *testing.T) {
	t.Parallel()
	plain := strings.ReplaceAll(helmStream, "# Source: ", "# was: ")
	cases := []struct {
		name, stdin string
		args        []string
		want        []string // uri:line of each result
	}{
		{"helm", helmStream, nil, []string{"alloy/templates/configmap.yaml:8", "alloy/templates/controllers/daemonset.yaml:1"}},
		{"stdin-filename", plain, []string{"--stdin-filename", "deploy/rendered all.yaml"}, []string{"deploy/rendered%20all.yaml:10", "deploy/rendered%20all.yaml:25"}},
	}
	for _, c := range cases {
		r := modeguard(t, c.stdin, append([]string{"check", "-", "-o", "sarif"}, c.args...)...)
		var log sarifLog
		if err := json.Unmarshal([]byte(r.stdout), &log); err != nil {
			t.Fatalf("%s: %v\n%s%s", c.name, err, r.stdout, r.stderr)
		}
		var got []string
		for _, res := range log.Runs[0].Results {
			if len(res.Locations) == 0 || res.Locations[0].Physical.Region == nil {
				t.Errorf("%s: result %s has no location", c.name, res.RuleID)
				continue
			}
			p := res.Locations[0].Physical
			got = append(got, p.Artifact.URI+":"+itoa(p.Region.StartLine))
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
