package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
)

// formats are the output formats of check.
var formats = []string{"text", "json", "sarif", "github", "junit"}

// outputTarget is one -o: a format, to stdout (file "") or to a file.
type outputTarget struct {
	format, file string
}

func parseOutputs(specs []string) ([]outputTarget, error) {
	var out []outputTarget
	toStdout := 0
	for _, s := range specs {
		f, file, _ := strings.Cut(s, "=")
		if !slices.Contains(formats, f) {
			return nil, usageErr("-o %q: want text, json, sarif, github or junit, optionally =FILE", s)
		}
		if strings.Contains(s, "=") && file == "" {
			return nil, usageErr("-o %q: no file after =", s)
		}
		if file == "" || file == "-" {
			file = ""
			toStdout++
		}
		out = append(out, outputTarget{f, file})
	}
	if toStdout > 1 {
		return nil, usageErr("-o: more than one format to stdout; write the others to files (-o sarif=modeguard.sarif)")
	}
	if len(out) == 0 {
		out = []outputTarget{{format: "text"}}
	}
	return out, nil
}

// completeOutputs completes -o with the formats, and FORMAT= with files.
func completeOutputs(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if strings.Contains(toComplete, "=") {
		return nil, cobra.ShellCompDirectiveDefault
	}
	desc := map[string]string{
		"text": "findings for people", "json": "the stable JSON report", "sarif": "SARIF 2.1.0 for code scanning",
		"github": "GitHub workflow annotations", "junit": "JUnit XML, a testcase per object and rule",
	}
	var out []string
	for _, f := range formats {
		out = append(out, f+"\t"+desc[f])
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// writeOutputs writes each output: to stdout, or to its file (written
// whole, then renamed into place).
func writeOutputs(stdout io.Writer, outs []outputTarget, c *checked, rules []*policy.Rule, co checkOptions) error {
	for _, o := range outs {
		var b bytes.Buffer
		w := io.Writer(&b)
		if o.file == "" {
			w = stdout
		}
		var err error
		switch o.format {
		case "text":
			writeText(w, c, o.file == "" && useColor(co.color, stdout), co.showAudit)
		case "json":
			err = writeJSON(w, c)
		case "sarif":
			err = writeSARIF(w, c, rules)
		case "github":
			writeGitHub(w, c, co.showAudit)
		case "junit":
			err = writeJUnit(w, c, rules, co.failOn)
		}
		if err != nil {
			return err
		}
		if o.file != "" {
			if err := writeAtomic(o.file, b.Bytes()); err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("writing %s: %w", o.file, err)}
			}
		}
	}
	return nil
}

// location is where finding i of c is: file, line and column (0 when
// unknown).
func location(c *checked, i int) (string, int, int) {
	j := toJSON(c, i)
	if j.File == "" || j.File == "-" {
		return "", 0, 0
	}
	col := 1
	if j.ConfigKey != "" && j.ConfigColumn > 0 {
		if l, cc := configPos(c.findingDoc(i), j.ConfigKey, j.ConfigLine, j.ConfigColumn); l == j.Line && cc > 0 {
			col = cc
		}
	}
	return j.File, j.Line, col
}

// writeGitHub writes GitHub Actions workflow commands: an error, warning
// or notice annotation per finding, on the file and line (audit findings
// only with showAudit).
func writeGitHub(w io.Writer, c *checked, showAudit bool) {
	for i, f := range c.result.Findings {
		cmd := "notice"
		switch f.Action {
		case policy.ActionDeny:
			cmd = "error"
		case policy.ActionWarn:
			cmd = "warning"
		case policy.ActionAudit:
			if !showAudit {
				continue
			}
		}
		var props []string
		if file, line, col := location(c, i); file != "" {
			props = append(props, "file="+ghProp(repoPath(file)))
			if line > 0 {
				props = append(props, fmt.Sprintf("line=%d", line), fmt.Sprintf("col=%d", col))
			}
		}
		props = append(props, "title="+ghProp(fmt.Sprintf("%s %s (%s)", f.Rule.ID, f.Rule.Slug, f.Action)))
		msg := objectName(f.Object)
		if f.Component != "" {
			msg += " " + f.Component
		}
		msg += ": " + f.Message + "\nfix: " + fixLine(f)
		fmt.Fprintf(w, "::%s %s::%s\n", cmd, strings.Join(props, ","), ghData(msg))
	}
	s := summarize(c)
	fmt.Fprintf(w, "::notice title=modeguard::%s\n", ghData(s.String()))
}

// ghData and ghProp escape a workflow command's message and property
// values (as @actions/core does).
func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghProp(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Line      int           `xml:"line,attr,omitempty"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// writeJUnit writes one testsuite per input file and in it one testcase
// per reviewed object and rule that applies to its kind (or that found
// something on it): it fails when a finding of that rule on that object
// fails the run under failOn; findings that do not are its system-out.
func writeJUnit(w io.Writer, c *checked, rules []*policy.Rule, failOn string) error {
	type key struct {
		obj  review.ObjectRef
		rule string
	}
	found := map[key][]int{}
	for i, f := range c.result.Findings {
		k := key{f.Object, f.Rule.ID}
		found[k] = append(found[k], i)
	}
	out := junitSuites{Name: "modeguard"}
	suiteOf := map[string]int{}
	for oi, r := range c.result.Results {
		if r == nil || r.Skipped != "" {
			continue
		}
		d := c.docs[c.objDocs[oi]]
		suiteName := d.File
		if suiteName == "" {
			suiteName = "namespace " + d.Namespace // an audit's object: no file
		}
		si, ok := suiteOf[suiteName]
		if !ok {
			si = len(out.Suites)
			suiteOf[suiteName] = si
			out.Suites = append(out.Suites, junitSuite{Name: suiteName})
		}
		suite := &out.Suites[si]
		for _, rule := range rules {
			hits := found[key{r.Subject, rule.ID}]
			if len(hits) == 0 && !slices.Contains(rule.AppliesTo, r.Subject.Kind) {
				continue
			}
			tc := junitCase{Name: rule.ID + " " + rule.Slug, Classname: objectName(r.Subject), File: d.File, Line: d.Line}
			var fails, others []string
			for _, i := range hits {
				f := c.result.Findings[i]
				line := fmt.Sprintf("%s %s: %s (fix: %s)", strings.ToUpper(string(f.Action)), f.Component, f.Message, fixLine(f))
				if failed(summaryOf(f.Action), failOn) {
					fails = append(fails, line)
				} else {
					others = append(others, line)
				}
			}
			if len(fails) > 0 {
				tc.Failure = &junitFailure{Message: fails[0], Type: rule.ID, Text: strings.Join(fails, "\n")}
				suite.Failures++
				out.Failures++
			}
			tc.SystemOut = strings.Join(others, "\n")
			suite.Cases = append(suite.Cases, tc)
			suite.Tests++
			out.Tests++
		}
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// summaryOf is the summary of one finding of action a.
func summaryOf(a policy.Action) summary {
	s := summary{Findings: 1}
	switch a {
	case policy.ActionDeny:
		s.Deny = 1
	case policy.ActionWarn:
		s.Warn = 1
	case policy.ActionFix:
		s.Fix = 1
	case policy.ActionAudit:
		s.Audit = 1
	}
	return s
}
