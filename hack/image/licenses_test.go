package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLicensesLabel: the image's org.opencontainers.image.licenses label
// states no more than the repository does. Without a license file at its
// root the default is SPDX's NOASSERTION; with one, it must name it (the
// Apache License 2.0 is the one the repository has).
func TestLicensesLabel(t *testing.T) {
	var files []string
	for _, pattern := range []string{"LICENSE*", "LICENCE*", "COPYING*"} {
		m, err := filepath.Glob(filepath.Join("..", "..", pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	switch {
	case len(files) == 0 && defaultLicenses != "NOASSERTION":
		t.Errorf("-licenses default: got %q, want NOASSERTION: the repository has no license file", defaultLicenses)
	case len(files) > 0 && defaultLicenses == "NOASSERTION":
		t.Errorf("-licenses default: got NOASSERTION, want the SPDX expression of %v", files)
	case defaultLicenses == "Apache-2.0":
		b, err := os.ReadFile(filepath.Join("..", "..", "LICENSE"))
		if err != nil {
			t.Fatalf("-licenses default Apache-2.0 without a LICENSE file: %v", err)
		}
		if text := strings.Join(strings.Fields(string(b)), " "); !strings.HasPrefix(text, "Apache License Version 2.0, January 2004") {
			t.Errorf("-licenses default Apache-2.0, but LICENSE begins %.60q", text)
		}
	}
}
