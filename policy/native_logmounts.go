package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/modeguard/modeguard/workload"
)

func init() {
	registerNative("modeguard.rules.daemonset_log_mounts", daemonsetLogMounts)
}

// daemonsetLogMounts is MG009 (rules/daemonset-log-mounts.rego).
func daemonsetLogMounts(n *nativeInput) []Violation {
	// The index first, then lib.daemonset and lib.has_workload.
	if len(n.d.Index.PathCollectors) == 0 || !n.daemonset() || !n.hasWorkload() {
		return nil
	}
	mounts := logMountsHostMounts(n.w)
	var out []Violation
	for _, i := range n.d.Index.PathCollectors {
		f, col := n.collector(i)
		if col == nil {
			continue
		}
		for _, p := range col.Paths {
			if !strings.HasPrefix(p, "/") {
				continue
			}
			dir := logMountsStaticDir(p)
			// not covered(dir)
			if slices.ContainsFunc(mounts, func(m string) bool { return pathUnder(dir, m) }) {
				continue
			}
			out = append(out, n.at(f, col.Component, fmt.Sprintf("reads %s, but no hostPath volume is mounted at or above %s in the agent container: nothing is collected", p, dir)))
		}
	}
	return out
}

// logMountsHostMounts is host_mounts: the mount paths of the agent
// container's mounts of a hostPath volume.
func logMountsHostMounts(w *workload.Facts) []string {
	var out []string
	for _, m := range w.Mounts {
		if slices.ContainsFunc(w.Volumes, func(v workload.Volume) bool {
			return v.Name == m.Name && v.Type == workload.VolumeHostPath
		}) {
			out = append(out, m.MountPath)
		}
	}
	return out
}

// logMountsStaticDir is static_dir(p): the parts of p before the first
// one holding a glob character or a $ reference, else p itself.
func logMountsStaticDir(p string) string {
	parts := strings.Split(p, "/")
	for i, part := range parts {
		if strings.ContainsAny(part, "*?[$") {
			return strings.Join(parts[:i], "/")
		}
	}
	return p
}
