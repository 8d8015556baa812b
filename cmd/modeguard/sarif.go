package main

import (
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/modeguard/modeguard/policy"
)

// The subset of SARIF 2.1.0 that code-scanning UIs read.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	ShortDescription sarifText      `json:"shortDescription"`
	FullDescription  sarifText      `json:"fullDescription"`
	HelpURI          string         `json:"helpUri,omitempty"`
	Help             *sarifHelp     `json:"help,omitempty"`
	DefaultConfig    sarifRuleLevel `json:"defaultConfiguration"`
	Properties       map[string]any `json:"properties,omitempty"`
}

type sarifRuleLevel struct {
	Level string `json:"level"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifHelp struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
	Props     map[string]any  `json:"properties,omitempty"`
}

type sarifLocation struct {
	Physical *sarifPhysical `json:"physicalLocation,omitempty"`
	// Logical names an object that is no file's (an audit's): Kind/namespace/name.
	Logical []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifLogical struct {
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

type sarifPhysical struct {
	Artifact sarifArtifact `json:"artifactLocation"`
	Region   *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

// projectURL is where the rule docs are published; built-in rules link to
// their section of docs/rules.md there.
const projectURL = "https://github.com/modeguard/modeguard"

// ruleHelp is a rule's help: its docs section (built-in rules) and its
// description with how to see it explained.
func ruleHelp(r *policy.Rule) (string, *sarifHelp) {
	uri := ""
	if r.Builtin {
		uri = projectURL + "/blob/main/docs/rules.md#" + strings.ToLower(r.ID)
	}
	text := r.Description + "\n\nmodeguard explain " + r.ID + " shows it with an example before and after."
	md := "**" + r.Title + "** (`" + r.Slug + "`)\n\n" + r.Description + "\n\nRun `modeguard explain " + r.ID + "` for an example before and after."
	if uri != "" {
		md += " Rule docs: [" + r.ID + "](" + uri + ")."
	}
	return uri, &sarifHelp{Text: text, Markdown: md}
}

func sarifLevel(a policy.Action) string {
	switch a {
	case policy.ActionDeny:
		return "error"
	case policy.ActionWarn:
		return "warning"
	}
	return "note"
}

// sarifURI is a file as a SARIF artifact URI: relative (to the working
// directory, where CI runs from the repository root), slash-separated and
// percent-encoded (GitHub code scanning reads uri as a URI reference).
func sarifURI(file string) string {
	return (&url.URL{Path: repoPath(file)}).EscapedPath()
}

// repoPath is a file's path as CI annotations want it: relative to the
// root of the git repository the working directory is in (the directory
// holding .git), or to the working directory outside one; slash-separated.
// A name that is no file here (a Helm template named by "# Source:", a
// --stdin-filename) is kept as given.
func repoPath(file string) string {
	if abs, err := filepath.Abs(file); err == nil {
		if _, err := os.Stat(abs); err == nil {
			base, _ := os.Getwd()
			if root := gitRoot(base); root != "" {
				base = root
			}
			if rel, err := filepath.Rel(base, abs); err == nil && !strings.HasPrefix(rel, "..") {
				file = rel
			}
		}
	}
	return strings.TrimPrefix(filepath.ToSlash(filepath.Clean(file)), "./")
}

// gitRoot is the directory holding .git at or above dir ("" when none).
func gitRoot(dir string) string {
	for dir != "" {
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	return ""
}

func writeSARIF(w io.Writer, c *checked, rules []*policy.Rule) error {
	driver := sarifDriver{Name: "modeguard", Version: versionString(), InformationURI: projectURL, Rules: []sarifRule{}}
	index := map[string]int{}
	for i, r := range rules {
		index[r.ID] = i
		uri, help := ruleHelp(r)
		driver.Rules = append(driver.Rules, sarifRule{
			ID: r.ID, Name: r.Slug, HelpURI: uri, Help: help,
			ShortDescription: sarifText{Text: r.Title}, FullDescription: sarifText{Text: r.Description},
			DefaultConfig: sarifRuleLevel{Level: sarifLevel(r.Action)},
			Properties:    map[string]any{"defaultAction": r.Action, "appliesTo": r.AppliesTo},
		})
	}
	run := sarifRun{Tool: sarifTool{Driver: driver}, Results: []sarifResult{}}
	for i, f := range c.result.Findings {
		j := toJSON(c, i)
		res := sarifResult{
			RuleID: f.Rule.ID, RuleIndex: index[f.Rule.ID], Level: sarifLevel(f.Action),
			Message: sarifText{Text: objectName(f.Object) + " " + f.Component + ": " + f.Message},
			Props:   map[string]any{"action": f.Action},
		}
		if j.File != "" && j.File != "-" {
			loc := sarifLocation{Physical: &sarifPhysical{Artifact: sarifArtifact{URI: sarifURI(j.File)}}}
			if j.Line > 0 {
				loc.Physical.Region = &sarifRegion{StartLine: j.Line, StartColumn: 1}
				if j.ConfigKey != "" && j.ConfigColumn > 0 {
					if l, col := configPos(c.findingDoc(i), j.ConfigKey, j.ConfigLine, j.ConfigColumn); l == j.Line && col > 0 {
						loc.Physical.Region.StartColumn = col
					}
				}
			}
			res.Locations = []sarifLocation{loc}
		} else if d := c.findingDoc(i); d != nil && d.File == "" {
			name := objectPath(*d)
			if j.ConfigKey != "" {
				name += "/" + j.ConfigKey
				res.Props["configLine"], res.Props["configColumn"] = j.ConfigLine, j.ConfigColumn
			}
			res.Locations = []sarifLocation{{Logical: []sarifLogical{{FullyQualifiedName: name, Kind: "resource"}}}}
		}
		run.Results = append(run.Results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}})
}
