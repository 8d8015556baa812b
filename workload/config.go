package workload

import (
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// volumes lists the pod volumes.
func volumes(vs []corev1.Volume) []Volume {
	var out []Volume
	for _, v := range vs {
		fv := Volume{Name: v.Name, Type: volumeType(v)}
		switch {
		case v.ConfigMap != nil:
			fv.ConfigMap, fv.Items = v.ConfigMap.Name, keyPaths(v.ConfigMap.Items)
		case v.Secret != nil:
			fv.Secret, fv.Items = v.Secret.SecretName, keyPaths(v.Secret.Items)
		case v.HostPath != nil:
			fv.HostPath = v.HostPath.Path
		case v.PersistentVolumeClaim != nil:
			fv.ClaimName = v.PersistentVolumeClaim.ClaimName
		case v.EmptyDir != nil:
			fv.Medium = string(v.EmptyDir.Medium)
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				switch {
				case s.ConfigMap != nil:
					fv.Sources = append(fv.Sources, ProjectedSource{Kind: VolumeConfigMap, Name: s.ConfigMap.Name, Items: keyPaths(s.ConfigMap.Items)})
				case s.Secret != nil:
					fv.Sources = append(fv.Sources, ProjectedSource{Kind: VolumeSecret, Name: s.Secret.Name, Items: keyPaths(s.Secret.Items)})
				}
			}
		}
		out = append(out, fv)
	}
	return out
}

func volumeType(v corev1.Volume) string {
	switch {
	case v.ConfigMap != nil:
		return VolumeConfigMap
	case v.HostPath != nil:
		return VolumeHostPath
	case v.PersistentVolumeClaim != nil:
		return VolumePVC
	case v.EmptyDir != nil:
		return VolumeEmptyDir
	case v.Secret != nil:
		return VolumeSecret
	case v.Projected != nil:
		return VolumeProjected
	}
	return VolumeOther
}

func keyPaths(items []corev1.KeyToPath) []KeyPath {
	var out []KeyPath
	for _, it := range items {
		out = append(out, KeyPath{Key: it.Key, Path: it.Path})
	}
	return out
}

// resolveConfig follows the run path to the ConfigMap keys the agent reads:
// run path → the deepest volumeMount above it → its volume → items.
func resolveConfig(f *Facts, c *corev1.Container, vols []corev1.Volume) *Config {
	r := f.Run
	switch {
	case r == nil || r.Subcommand != "run":
		return &Config{Error: "no run subcommand in command or args"}
	case r.ConfigPath == "":
		return &Config{Error: "no run path in args"}
	}
	cfg := &Config{Path: r.ConfigPath}
	p := r.ConfigPath
	if !path.IsAbs(p) {
		if c.WorkingDir == "" {
			cfg.Error = fmt.Sprintf("config path %s is relative and the container sets no workingDir", p)
			return cfg
		}
		p = path.Join(c.WorkingDir, p)
	}
	p = path.Clean(p)

	var mount *corev1.VolumeMount
	for i := range c.VolumeMounts {
		m := &c.VolumeMounts[i]
		mp := path.Clean(m.MountPath)
		if !(p == mp || strings.HasPrefix(p, strings.TrimSuffix(mp, "/")+"/")) {
			continue
		}
		if mount == nil || len(mp) > len(path.Clean(mount.MountPath)) {
			mount = m
		}
	}
	if mount == nil {
		cfg.Error = fmt.Sprintf("config path %s is not under any volumeMount", r.ConfigPath)
		return cfg
	}
	cfg.Volume, cfg.MountPath = mount.Name, mount.MountPath
	if mount.SubPathExpr != "" {
		cfg.Error = fmt.Sprintf("volumeMount %s uses subPathExpr %s: the path in the volume is only known at run time", mount.Name, mount.SubPathExpr)
		return cfg
	}
	// rel is the config path inside the volume ("" for its root).
	rel := strings.TrimPrefix(strings.TrimPrefix(p, path.Clean(mount.MountPath)), "/")
	if mount.SubPath != "" {
		rel = strings.TrimPrefix(path.Join(mount.SubPath, rel), "/")
	}

	var vol *corev1.Volume
	for i := range vols {
		if vols[i].Name == mount.Name {
			vol = &vols[i]
			break
		}
	}
	ext := ".alloy"
	if f.Flavor == FlavorAgent {
		ext = ".river"
	}
	switch {
	case vol == nil:
		cfg.Error = fmt.Sprintf("volumeMount %s names no volume of the pod", mount.Name)
	case vol.ConfigMap != nil:
		cfg.ConfigMap = vol.ConfigMap.Name
		cfg.Keys, cfg.Directory, cfg.Error = keysFor(rel, vol.ConfigMap.Items, ext, r.ConfigPath, vol.Name)
	case vol.Projected != nil:
		resolveProjected(cfg, rel, vol, ext)
	default:
		switch t := volumeType(*vol); t {
		case VolumeOther:
			cfg.Error = fmt.Sprintf("volume %s is not a configMap", vol.Name)
		case VolumeEmptyDir:
			cfg.Error = fmt.Sprintf("volume %s is an emptyDir, not a configMap", vol.Name)
		default:
			cfg.Error = fmt.Sprintf("volume %s is a %s, not a configMap", vol.Name, t)
		}
	}
	return cfg
}

// keysFor maps a path inside a configMap volume (rel, "" for its root) to the
// keys read. With items, only the listed keys exist, at their paths; without,
// every key is a file at the volume's root.
func keysFor(rel string, items []corev1.KeyToPath, ext, configPath, volume string) (keys []string, directory bool, errText string) {
	if len(items) == 0 {
		switch {
		case rel == "":
			return nil, true, ""
		case strings.Contains(rel, "/"):
			return nil, false, fmt.Sprintf("config path %s: configMap volume %s has no subdirectory %s", configPath, volume, path.Dir(rel))
		}
		return []string{rel}, false, ""
	}
	dir := rel
	if dir == "" {
		dir = "."
	}
	for _, it := range items {
		ip := path.Clean(it.Path)
		if ip == rel {
			return []string{it.Key}, false, ""
		}
		if path.Dir(ip) == dir && strings.HasSuffix(ip, ext) {
			keys = append(keys, it.Key)
			directory = true
		}
	}
	if directory {
		return keys, true, ""
	}
	return nil, false, fmt.Sprintf("config path %s: no item of configMap volume %s maps to %s", configPath, volume, rel)
}

// resolveProjected resolves a config path inside a projected volume: the
// ConfigMap source that provides it, when only one can.
func resolveProjected(cfg *Config, rel string, vol *corev1.Volume, ext string) {
	var found []string
	var keys []string
	directory := false
	for _, s := range vol.Projected.Sources {
		if s.ConfigMap == nil {
			continue
		}
		k, d, errText := keysFor(rel, s.ConfigMap.Items, ext, cfg.Path, vol.Name)
		if errText != "" || (d && len(s.ConfigMap.Items) > 0 && len(k) == 0) {
			continue
		}
		found = append(found, s.ConfigMap.Name)
		keys, directory = k, d
	}
	switch len(found) {
	case 0:
		cfg.Error = fmt.Sprintf("config path %s: no ConfigMap of projected volume %s provides %s", cfg.Path, vol.Name, rel)
	case 1:
		cfg.ConfigMap, cfg.Keys, cfg.Directory = found[0], keys, directory
	default:
		cfg.Error = fmt.Sprintf("config path %s: ConfigMaps %s of projected volume %s may all provide it", cfg.Path, strings.Join(found, ", "), vol.Name)
	}
}
