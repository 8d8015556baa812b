package testutil

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/pmezard/go-difflib/difflib"
)

// update is -update: rewrite golden files from the current code instead of
// comparing with them. Defined here, it exists in every test binary that
// imports the package, which is what `make update-golden` relies on.
var update = flag.Bool("update", false, "rewrite golden files from the current code (review the diff)")

// Update reports whether the tests run with -update.
func Update() bool { return *update }

// Golden compares got with the file at path; with -update it writes got to
// path instead.
func Golden(tb testing.TB, path string, got []byte) {
	tb.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	test, _, _ := strings.Cut(tb.Name(), "/")
	hint := "go test -run '^" + test + "$' -update rewrites it; review the diff"
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (%s)", err, hint)
	}
	if bytes.Equal(got, want) {
		return
	}
	diff, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(string(want)), B: difflib.SplitLines(string(got)),
		FromFile: path, ToFile: "got", Context: 3,
	})
	if err != nil || diff == "" {
		diff = fmt.Sprintf("got  %q\nwant %q", got, want)
	}
	tb.Errorf("%s differs from the current output (%s):\n%s", path, hint, diff)
}
