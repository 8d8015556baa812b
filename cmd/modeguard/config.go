package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// configName is the project file check and fix read, found upward from
// the working directory (as .kube-linter.yaml or conftest.toml are).
const configName = ".modeguard.yaml"

// projectConfig is .modeguard.yaml: defaults for flags a repository wants
// on every run. Paths in it are relative to the file's directory. A flag
// given on the command line wins over the file.
type projectConfig struct {
	// Settings is the settings file (--settings).
	Settings string `json:"settings,omitempty"`
	// Policy is the directory of custom rules (--policy).
	Policy string `json:"policy,omitempty"`
	// Ignore are globs of files a directory walk leaves out (--ignore).
	Ignore []string `json:"ignore,omitempty"`
	// Output are the outputs, FORMAT or FORMAT=FILE (-o).
	Output []string `json:"output,omitempty"`
	// FailOn is deny, warn, fix or never (--fail-on).
	FailOn string `json:"failOn,omitempty"`
	// Enable and Disable turn rules on and off (--enable, --disable).
	Enable  []string `json:"enable,omitempty"`
	Disable []string `json:"disable,omitempty"`

	// path is the file read ("" when none).
	path string
}

// strictYAML decodes YAML into v case-sensitively, an unknown key an
// error that names it (as the settings file is read).
func strictYAML(data []byte, v any) error {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(j, v, kjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// findConfig looks for .modeguard.yaml in dir and its parents.
func findConfig(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, configName)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", nil
		}
		dir = parent
	}
}

// loadConfig reads the project file: path (from --config), or the one
// found upward from the working directory; none is no error.
func loadConfig(path string) (*projectConfig, error) {
	if path == "" {
		p, err := findConfig(".")
		if err != nil {
			return nil, fmt.Errorf("looking for %s: %w", configName, err)
		}
		if p == "" {
			return &projectConfig{}, nil
		}
		path = p
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	c := &projectConfig{}
	if err := strictYAML(data, c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.path = path
	base := filepath.Dir(path)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	c.Settings, c.Policy = rel(c.Settings), rel(c.Policy)
	return c, nil
}

// apply fills the flags the command line did not set from the file.
func (c *projectConfig) apply(cmd *cobra.Command, in *inputFlags, pf *policyFlags, co *checkOptions) {
	set := func(name string) bool { return !cmd.Flags().Changed(name) }
	if c.Settings != "" && set("settings") {
		pf.settings = c.Settings
	}
	if c.Policy != "" && set("policy") {
		pf.policyDir = c.Policy
	}
	if len(c.Ignore) > 0 {
		in.ignore = append(append([]string(nil), c.Ignore...), in.ignore...)
	}
	if co == nil {
		return
	}
	if len(c.Output) > 0 && set("output") {
		co.outputs = c.Output
	}
	if c.FailOn != "" && set("fail-on") {
		co.failOn = c.FailOn
	}
	if set("enable") {
		pf.enable = c.Enable
	}
	if set("disable") {
		pf.disable = c.Disable
	}
}
