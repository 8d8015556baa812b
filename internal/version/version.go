// Package version holds the version and commit stamped into modeguard's
// binaries at build time, so that the CLI (--version, SARIF driver.version)
// and the webhook (--version, its start-up log) report the same build.
//
// make build, make image and the release workflow set them with
//
//	-ldflags "-X github.com/modeguard/modeguard/internal/version.Version=v1.2.3
//	          -X github.com/modeguard/modeguard/internal/version.Commit=<sha>"
package version

import "runtime/debug"

// Version and Commit are set with -ldflags -X; empty when not stamped.
var (
	Version = ""
	Commit  = ""
)

// readBuildInfo is debug.ReadBuildInfo, replaced in tests.
var readBuildInfo = debug.ReadBuildInfo

// String is the stamped version; else the module version of a
// `go install …@version` build; else "dev".
func String() string {
	if Version != "" {
		return Version
	}
	if bi, ok := readBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// CommitString is the stamped commit; else the VCS revision Go recorded
// (builds with VCS stamping); else "unknown".
func CommitString() string {
	if Commit != "" {
		return Commit
	}
	if bi, ok := readBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				return s.Value
			}
		}
	}
	return "unknown"
}

// Long is "<version> (commit <commit>)", what --version prints.
func Long() string { return String() + " (commit " + CommitString() + ")" }
