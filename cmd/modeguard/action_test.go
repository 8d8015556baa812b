package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestAction: action.yml is a composite action that installs modeguard,
// runs check with flags check has, and uploads the SARIF it writes.
func TestAction(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Inputs map[string]struct {
			Default string `json:"default"`
		} `json:"inputs"`
		Runs struct {
			Using string `json:"using"`
			Steps []struct {
				ID   string            `json:"id"`
				Uses string            `json:"uses"`
				Run  string            `json:"run"`
				With map[string]string `json:"with"`
			} `json:"steps"`
		} `json:"runs"`
	}
	if err := yaml.Unmarshal(data, &a); err != nil {
		t.Fatal(err)
	}
	if a.Runs.Using != "composite" {
		t.Fatalf("runs.using %q, want composite", a.Runs.Using)
	}
	if !slices.Contains(failOnValues, a.Inputs["fail-on"].Default) {
		t.Errorf("input fail-on defaults to %q, not a --fail-on value", a.Inputs["fail-on"].Default)
	}
	var install, check, upload bool
	check_ := newCheck()
	for _, s := range a.Runs.Steps {
		switch {
		case strings.Contains(s.Run, "go install \"github.com/modeguard/modeguard/cmd/modeguard@"):
			install = true
		case strings.Contains(s.Run, "modeguard check "):
			check = true
			// Every flag the step passes is one check has.
			for _, m := range regexp.MustCompile(`(?:^|\s|\()(--?[a-z][a-z-]*)`).FindAllStringSubmatch(s.Run, -1) {
				f := strings.TrimLeft(m[1], "-")
				if strings.HasPrefix(m[1], "--") && check_.Flags().Lookup(f) == nil && f != "mod" {
					t.Errorf("the check step passes %s, which check does not have", m[1])
				}
				if !strings.HasPrefix(m[1], "--") && len(f) == 1 && check_.Flags().ShorthandLookup(f) == nil {
					t.Errorf("the check step passes %s, which check does not have", m[1])
				}
			}
			if s.ID != "check" {
				t.Errorf("the check step's id is %q; its exit-code output is read as steps.check", s.ID)
			}
		case strings.HasPrefix(s.Uses, "github/codeql-action/upload-sarif@"):
			upload = s.With["sarif_file"] == "${{ inputs.sarif-file }}"
		}
	}
	if !install || !check || !upload {
		t.Errorf("install %v, check %v, upload of the SARIF %v: want all", install, check, upload)
	}
	// The outputs the check step builds are ones -o takes.
	if _, err := parseOutputs([]string{"sarif=" + a.Inputs["sarif-file"].Default, "github"}); err != nil {
		t.Error(err)
	}
}
