package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/review"
)

// testFileSuffix names verify's test files: modeguard-test.yaml, or
// anything ending in .modeguard-test.yaml.
const testFileSuffix = "modeguard-test.yaml"

// verifyFile is a test file: cases, each naming manifests and the findings
// each object must and must not get.
type verifyFile struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Tests      []verifyCase `json:"tests"`
}

type verifyCase struct {
	Name      string   `json:"name"`
	Manifests []string `json:"manifests"`
	// Settings is a settings file, relative to the test file.
	Settings string `json:"settings,omitempty"`
	// Mode is --mode: the mode of ConfigMaps no workload reads.
	Mode   string         `json:"mode,omitempty"`
	Expect []verifyExpect `json:"expect"`
}

// verifyExpect is what one object must get.
type verifyExpect struct {
	// Object is Kind/namespace/name, or Kind/name in namespace default.
	Object string `json:"object"`
	// Findings are the findings it must get: RULE or RULE:action.
	Findings []string `json:"findings,omitempty"`
	// Absent are findings it must not get: RULE or RULE:action.
	Absent []string `json:"absent,omitempty"`
	// Exact: Findings is all it gets ("none" when empty).
	Exact bool `json:"exact,omitempty"`
}

func newVerify() *cobra.Command {
	var (
		pf      policyFlags
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "verify DIR",
		Short: "Run declarative fixture tests: manifests and the findings each object must (and must not) get",
		Long: `verify runs the fixture tests under DIR, as kyverno test and gator verify do
for their policies. Two forms:

A test file (modeguard-test.yaml, or NAME.modeguard-test.yaml) lists cases:

  apiVersion: modeguard.dev/v1
  kind: Test
  tests:
    - name: cluster-wide scrape in a DaemonSet is denied
      manifests: [manifest.yaml]          # relative to the test file
      settings: settings.yaml             # optional
      expect:
        - object: ConfigMap/monitoring/alloy   # Kind/namespace/name
          findings: [MG004:deny]          # must get (RULE or RULE:action)
          absent: [MG001]                 # must not get
        - object: DaemonSet/monitoring/alloy
          exact: true                     # findings lists all it gets: none

The short form: every other manifest file under DIR whose objects carry the
annotation modeguard.dev/expect ("MG003:warn,MG004:deny", or "none") is a
case of its own; each annotated object must get exactly the findings it
lists. Each case is checked as one set of objects, as check does.

Exit status: 0 when every case passes, 1 when one fails, 2 for bad tests.`,
		Example: `  modeguard verify examples/
  modeguard verify policies/tests --policy policies -v`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cases, err := findCases(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			if len(cases) == 0 {
				return usageErr("%s: no tests (no *%s, no manifests with %s annotations)", args[0], testFileSuffix, examples.AnnotationExpect)
			}
			w := cmd.OutOrStdout()
			failedCases := 0
			reviewers := map[string]*review.Reviewer{}
			for _, tc := range cases {
				rv := reviewers[tc.Settings]
				if rv == nil {
					p := pf
					p.settings = tc.Settings
					if rv, err = p.reviewer(cmd.Context()); err != nil {
						return err
					}
					reviewers[tc.Settings] = rv
				}
				problems, err := runCase(cmd, rv, tc)
				if err != nil {
					return err
				}
				if len(problems) > 0 {
					failedCases++
					fmt.Fprintf(w, "FAIL %s\n", tc.Name)
					for _, p := range problems {
						fmt.Fprintf(w, "  %s\n", p)
					}
				} else if verbose {
					fmt.Fprintf(w, "PASS %s\n", tc.Name)
				}
			}
			fmt.Fprintf(w, "%d passed, %d failed\n", len(cases)-failedCases, failedCases)
			if failedCases > 0 {
				return &exitError{code: exitFindings}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list passing cases too")
	cmd.Flags().StringVar(&pf.policyDir, "policy", "", "directory of custom .rego rules, loaded next to the built-ins")
	_ = cmd.MarkFlagDirname("policy")
	return cmd
}

// findCases reads the test files under dir and makes a case of every other
// manifest file with modeguard.dev/expect annotations.
func findCases(dir string) ([]verifyCase, error) {
	var testFiles, manifests []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		switch name := d.Name(); {
		case name == testFileSuffix || strings.HasSuffix(name, "."+testFileSuffix):
			testFiles = append(testFiles, p)
		case slices.Contains(manifest.Extensions, filepath.Ext(name)):
			manifests = append(manifests, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(testFiles)
	var cases []verifyCase
	named := map[string]bool{}
	for _, tf := range testFiles {
		data, err := os.ReadFile(tf)
		if err != nil {
			return nil, err
		}
		var f verifyFile
		if err := strictYAML(data, &f); err != nil {
			return nil, fmt.Errorf("%s: %w", tf, err)
		}
		if f.Kind != "Test" {
			return nil, fmt.Errorf("%s: kind %q, want Test", tf, f.Kind)
		}
		base := filepath.Dir(tf)
		for i, c := range f.Tests {
			if c.Name == "" {
				c.Name = fmt.Sprintf("%s #%d", tf, i+1)
			} else {
				c.Name = tf + ": " + c.Name
			}
			if len(c.Manifests) == 0 {
				return nil, fmt.Errorf("%s: %s names no manifests", tf, c.Name)
			}
			for k, m := range c.Manifests {
				c.Manifests[k] = filepath.Join(base, m)
				named[filepath.Clean(c.Manifests[k])] = true
			}
			if c.Settings != "" {
				c.Settings = filepath.Join(base, c.Settings)
			}
			cases = append(cases, c)
		}
	}
	// The short form.
	sort.Strings(manifests)
	for _, m := range manifests {
		if named[filepath.Clean(m)] {
			continue
		}
		in, err := manifest.Read([]string{m}, nil, manifest.ReadOptions{})
		if err != nil {
			return nil, err
		}
		c := verifyCase{Name: m, Manifests: []string{m}}
		for _, d := range in.Docs {
			if d.Object == nil {
				continue
			}
			acc, err := meta.Accessor(d.Object)
			if err != nil {
				continue
			}
			want, ok := acc.GetAnnotations()[examples.AnnotationExpect]
			if !ok {
				continue
			}
			e := verifyExpect{Object: objectPath(d), Exact: true}
			if strings.TrimSpace(want) != "none" {
				for _, f := range strings.Split(want, ",") {
					e.Findings = append(e.Findings, strings.TrimSpace(f))
				}
			}
			c.Expect = append(c.Expect, e)
		}
		if len(c.Expect) > 0 {
			cases = append(cases, c)
		}
	}
	return cases, nil
}

func objectPath(d manifest.Document) string {
	ns := d.Namespace
	if ns == "" && d.Kind != "Namespace" {
		ns = "default"
	}
	if ns == "" {
		return d.Kind + "/" + d.Name
	}
	return d.Kind + "/" + ns + "/" + d.Name
}

// runCase checks one case and returns what does not hold.
func runCase(cmd *cobra.Command, rv *review.Reviewer, tc verifyCase) ([]string, error) {
	c, err := load(cmd.Context(), inputFlags{files: tc.Manifests, namespace: "default", mode: tc.Mode}, rv, io.Reader(nil))
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) && ee.err != nil {
			return []string{"input: " + ee.err.Error()}, nil
		}
		return nil, err
	}
	got := map[string][]string{} // object → RULE:action, sorted, once each
	for _, f := range c.result.Findings {
		o := f.Object.Kind + "/" + f.Object.Namespace + "/" + f.Object.Name
		got[o] = append(got[o], f.Rule.ID+":"+string(f.Action))
	}
	for o := range got {
		sort.Strings(got[o])
		got[o] = slices.Compact(got[o])
	}
	var problems []string
	for _, e := range tc.Expect {
		obj := e.Object
		if parts := strings.Split(obj, "/"); len(parts) == 2 {
			obj = parts[0] + "/default/" + parts[1]
		} else if len(parts) != 3 {
			return nil, usageErr("%s: object %q: want Kind/namespace/name or Kind/name", tc.Name, e.Object)
		}
		has := got[obj]
		matches := func(want string) bool {
			for _, g := range has {
				if strings.EqualFold(g, want) || strings.EqualFold(strings.SplitN(g, ":", 2)[0], want) {
					return true
				}
			}
			return false
		}
		for _, want := range e.Findings {
			if !matches(want) {
				problems = append(problems, fmt.Sprintf("%s: want %s, got %s", e.Object, want, listOrNone(has)))
			}
		}
		for _, not := range e.Absent {
			if matches(not) {
				problems = append(problems, fmt.Sprintf("%s: want no %s, got %s", e.Object, not, listOrNone(has)))
			}
		}
		if e.Exact {
			for _, g := range has {
				listed := false
				for _, want := range e.Findings {
					listed = listed || strings.EqualFold(g, want) || strings.EqualFold(strings.SplitN(g, ":", 2)[0], want)
				}
				if !listed {
					problems = append(problems, fmt.Sprintf("%s: got %s, which the test does not list (want %s)", e.Object, g, listOrNone(e.Findings)))
				}
			}
		}
	}
	return problems, nil
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}
