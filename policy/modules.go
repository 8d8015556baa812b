package policy

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

//go:embed rules/*.rego
var builtinFS embed.FS

// RulesPackage is the package prefix every rule lives under.
const RulesPackage = "modeguard.rules"

// A source is one parsed Rego file.
type source struct {
	name    string // file name as shown to users (rules/x.rego, or the custom path)
	module  *ast.Module
	builtin bool
	test    bool
}

func parseOpts() ast.ParserOptions {
	return ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1}
}

// parseRego parses one file; the error names the file and line.
func parseRego(name string, data []byte) (*ast.Module, error) {
	m, err := ast.ParseModuleWithOpts(name, string(data), parseOpts())
	if err != nil {
		return nil, err
	}
	return m, nil
}

// builtinSources parses the embedded rules, and their tests when tests is
// true.
func builtinSources(tests bool) ([]source, error) {
	entries, err := fs.Glob(builtinFS, "rules/*.rego")
	if err != nil {
		return nil, err
	}
	var out []source
	for _, p := range entries {
		if !tests && strings.HasSuffix(p, "_test.rego") {
			continue
		}
		data, err := builtinFS.ReadFile(p)
		if err != nil {
			return nil, err
		}
		m, err := parseRego(p, data)
		if err != nil {
			return nil, fmt.Errorf("built-in policy: %w", err)
		}
		out = append(out, source{name: p, module: m, builtin: true, test: strings.HasSuffix(p, "_test.rego")})
	}
	return out, nil
}

// Files lists, sorted, the .rego files of a custom policy directory the
// engine reads (recursively). Directories whose names start with ".." are
// skipped: they are the timestamped copies a ConfigMap volume keeps beside
// its files; so are hidden files.
func Files(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && strings.HasPrefix(d.Name(), "..") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".rego") && !strings.HasPrefix(d.Name(), ".") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading policy directory %s: %w", dir, err)
	}
	sort.Strings(out)
	return out, nil
}

// customSources parses every file Files lists; the error names each file
// and line that does not parse.
func customSources(dir string) ([]source, error) {
	if dir == "" {
		return nil, nil
	}
	files, err := Files(dir)
	if err != nil {
		return nil, err
	}
	var out []source
	var errs []error
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading policy directory %s: %w", dir, err)
		}
		m, err := parseRego(p, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, source{name: p, module: m, test: strings.HasSuffix(p, "_test.rego")})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// merge combines built-in and custom sources: a custom module whose package
// is a built-in rule's replaces that built-in (and its tests).
func merge(builtin, custom []source) []source {
	replaced := map[string]bool{}
	for _, s := range custom {
		if !s.test {
			replaced[s.module.Package.Path.String()] = true
		}
	}
	var out []source
	for _, s := range builtin {
		if replaced[strings.TrimSuffix(s.module.Package.Path.String(), "_test")] {
			continue
		}
		out = append(out, s)
	}
	return append(out, custom...)
}
