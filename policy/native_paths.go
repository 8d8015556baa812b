package policy

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

// Helpers of lib.rego on paths, mounts and volumes, shared by the Go
// forms of the rules.

// pathUnder is lib.under(p, dir): path p lies at or under directory dir
// (either written with or without one trailing slash).
func pathUnder(p, dir string) bool {
	d := strings.TrimSuffix(dir, "/")
	return strings.TrimSuffix(p, "/") == d || strings.HasPrefix(p, d+"/")
}

// textfileOnly is lib.textfile_only(s): a prometheus.exporter.unix source
// running the textfile collector alone, whose directory and host path
// arguments are plain paths on no hostPath volume. A nil PathArgs is null
// in Rego, and `every` over null fails.
func (n *nativeInput) textfileOnly(s *riverconfig.Source) bool {
	u := s.Unix
	if !n.hasWorkload() || u == nil || len(u.Collectors) != 1 || u.Collectors[0] != "textfile" || u.PathArgs == nil {
		return false
	}
	if !plainPath(u.TextfileDirectory) || n.onHostPath(u.TextfileDirectory) {
		return false
	}
	for _, p := range u.PathArgs {
		if !plainPath(p) || n.onHostPath(p) {
			return false
		}
	}
	return true
}

// unsafePath is plain_path's regex: globs or a ".." element.
var unsafePath = regexp.MustCompile(`[*?\[]|/\.\.(/|$)`)

// plainPath is lib.plain_path: absolute, without globs or "..".
func plainPath(p string) bool {
	return strings.HasPrefix(p, "/") && !unsafePath.MatchString(p)
}

// mounts is object.get(lib.workload, "mounts", []).
func (n *nativeInput) mounts() []workload.Mount {
	if n.w == nil {
		return nil
	}
	return n.w.Mounts
}

// onHostPath is lib.on_host_path(p): the deepest mount at or above p is a
// hostPath volume, or a hostPath volume is mounted at or under p.
func (n *nativeInput) onHostPath(p string) bool {
	for _, m := range n.mounts() {
		if !n.hostPathVolume(m.Name) {
			continue
		}
		if pathUnder(p, m.MountPath) && !n.deeperMount(p, m) || pathUnder(m.MountPath, p) {
			return true
		}
	}
	return false
}

// deeperMount is lib.deeper_mount(p, m): another mount at or above p lies
// deeper than m (count of a string counts its code points).
func (n *nativeInput) deeperMount(p string, m workload.Mount) bool {
	depth := func(s string) int { return utf8.RuneCountInString(strings.TrimSuffix(s, "/")) }
	for _, o := range n.mounts() {
		if pathUnder(p, o.MountPath) && depth(o.MountPath) > depth(m.MountPath) {
			return true
		}
	}
	return false
}

// hostPathVolume is lib.host_path_volume(name).
func (n *nativeInput) hostPathVolume(name string) bool {
	if n.w == nil {
		return false
	}
	for _, v := range n.w.Volumes {
		if v.Name == name && v.Type == workload.VolumeHostPath {
			return true
		}
	}
	return false
}
