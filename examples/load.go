package examples

import (
	"fmt"
	"io/fs"
	"path"

	"github.com/modeguard/modeguard/manifest"
)

// Names returns the name (directory) of every example, sorted.
func Names() []string {
	files, err := fs.Glob(FS, "*/manifest.yaml")
	if err != nil {
		panic(err) // only a malformed pattern fails
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = path.Dir(f)
	}
	return names
}

// Documents parses examples/<name>/manifest.yaml, as written (no default
// namespace); its documents name that file. An unknown name gives an error
// matching fs.ErrNotExist.
func Documents(name string) ([]manifest.Document, error) {
	file := path.Join(name, "manifest.yaml")
	data, err := fs.ReadFile(FS, file)
	if err != nil {
		return nil, fmt.Errorf("example %s: %w", name, err)
	}
	return manifest.Parse("examples/"+file, data)
}

// TB is what Load needs of a testing.TB (the package does not import
// testing: commands use it too).
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Load is Documents for a test: it fails the test on an error.
func Load(tb TB, name string) []manifest.Document {
	tb.Helper()
	docs, err := Documents(name)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	return docs
}
