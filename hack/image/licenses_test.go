package main

import (
	"path/filepath"
	"testing"
)

// TestLicensesLabel: the image's org.opencontainers.image.licenses label
// states no more than the repository does. Without a license file at its
// root the default is SPDX's NOASSERTION; with one, it must name it.
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
	}
}
