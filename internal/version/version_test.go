package version

import (
	"runtime/debug"
	"testing"
)

func TestString(t *testing.T) {
	for _, tc := range []struct {
		name, version, commit string
		bi                    *debug.BuildInfo
		want, wantCommit      string
	}{
		{name: "stamped", version: "v1.2.3", commit: "abc", bi: &debug.BuildInfo{Main: debug.Module{Version: "v9.9.9"}}, want: "v1.2.3", wantCommit: "abc"},
		{name: "go install", bi: &debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "def"}}}, want: "v0.4.0", wantCommit: "def"},
		{name: "devel", bi: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, want: "dev", wantCommit: "unknown"},
		{name: "no build info", want: "dev", wantCommit: "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func(v, c string, r func() (*debug.BuildInfo, bool)) { Version, Commit, readBuildInfo = v, c, r }(Version, Commit, readBuildInfo)
			Version, Commit = tc.version, tc.commit
			readBuildInfo = func() (*debug.BuildInfo, bool) { return tc.bi, tc.bi != nil }
			if got := String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
			if got := CommitString(); got != tc.wantCommit {
				t.Errorf("CommitString() = %q, want %q", got, tc.wantCommit)
			}
			if got, want := Long(), tc.want+" (commit "+tc.wantCommit+")"; got != want {
				t.Errorf("Long() = %q, want %q", got, want)
			}
		})
	}
}
