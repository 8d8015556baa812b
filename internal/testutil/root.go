package testutil

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot returns the nearest directory above the working directory that
// holds a go.mod: the repository root, since go test runs a test in its
// package's directory.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("no go.mod above " + wd)
		}
	}
}

// Root is RepoRoot for a test: it fails the test when there is no go.mod.
func Root(tb testing.TB) string {
	tb.Helper()
	root, err := RepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	return root
}
