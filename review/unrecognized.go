package review

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/workload"
)

// noteUnrecognized adds a note to each workload of a bundle that is not
// recognized as an agent but mounts a ConfigMap of the bundle holding River
// that parses: most likely an agent under an image modeguard does not know
// (a mirror, a rebuild), which is otherwise skipped without a word. The
// note names the ways to mark it. Workloads opted out with the label are
// left alone.
func (rv *Reviewer) noteUnrecognized(ctx context.Context, objs []runtime.Object, set *Set, results []*Result) {
	agents := rv.Agents()
	for i, o := range objs {
		r := results[i]
		if r == nil || !strings.HasPrefix(r.Skipped, "not an agent") {
			continue
		}
		spec := podSpecOf(o)
		if spec == nil {
			continue
		}
		f, err := agents.FromObject(o, nil)
		if err != nil || f.Agent || strings.HasPrefix(f.Reason, "label "+workload.LabelAgent+"=false") {
			continue
		}
		for _, v := range spec.Volumes {
			for _, src := range configMapSources(v) {
				cm, err := set.ConfigMap(ctx, r.Subject.Namespace, src.Name) // a Set never fails
				if err != nil || cm == nil {
					continue
				}
				key := rv.riverKey(cm, src.Items)
				if key == "" {
					continue
				}
				r.Notes = append(r.Notes, fmt.Sprintf("mounts ConfigMap %s/%s, whose key %s holds River, but is not recognized as an agent (%s), so it is not checked: "+
					"label it %s: \"true\"%s", cm.Namespace, cm.Name, key, f.Reason, workload.LabelAgent, imageHint(spec, v.Name)))
			}
		}
	}
}

// imageHint suggests an agentImages pattern for the image of the first
// container mounting the volume.
func imageHint(spec *corev1.PodSpec, volume string) string {
	containers := append(append([]corev1.Container{}, spec.Containers...), spec.InitContainers...)
	for _, c := range containers {
		for _, m := range c.VolumeMounts {
			if m.Name != volume || c.Image == "" {
				continue
			}
			repo := c.Image
			if at := strings.Index(repo, "@"); at >= 0 {
				repo = repo[:at]
			}
			if colon := strings.LastIndex(repo, ":"); colon > strings.LastIndex(repo, "/") {
				repo = repo[:colon]
			}
			pattern := repo + ":*"
			if workload.CheckImagePattern(pattern) != nil {
				break
			}
			return fmt.Sprintf(", or add its image to the settings' agentImages (%q)", pattern)
		}
	}
	return ", or add its image to the settings' agentImages"
}

// riverKey returns the first key of cm (of items, when the volume maps
// some; sorted) that holds River that parses and declares a component; ""
// when none does.
func (rv *Reviewer) riverKey(cm *corev1.ConfigMap, items []workload.KeyPath) string {
	var keys []string
	if len(items) > 0 {
		for _, it := range items {
			keys = append(keys, it.Key)
		}
	} else {
		for k := range cm.Data {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		data, ok := cm.Data[k]
		if !ok {
			continue
		}
		if f := rv.Engine.ParseConfig(k, []byte(data)); len(f.Errors) == 0 && len(f.Components) > 0 {
			return k
		}
	}
	return ""
}

// configMapSource is a ConfigMap a volume holds.
type configMapSource struct {
	Name  string
	Items []workload.KeyPath
}

// configMapSources lists the ConfigMaps a configMap or projected volume
// holds.
func configMapSources(v corev1.Volume) []configMapSource {
	items := func(ks []corev1.KeyToPath) []workload.KeyPath {
		var out []workload.KeyPath
		for _, k := range ks {
			out = append(out, workload.KeyPath{Key: k.Key, Path: k.Path})
		}
		return out
	}
	var out []configMapSource
	if c := v.ConfigMap; c != nil {
		out = append(out, configMapSource{c.Name, items(c.Items)})
	}
	if p := v.Projected; p != nil {
		for _, s := range p.Sources {
			if c := s.ConfigMap; c != nil {
				out = append(out, configMapSource{c.Name, items(c.Items)})
			}
		}
	}
	return out
}

// podSpecOf is the pod spec of an object of a kind with pods (its pod
// template's, a Pod's own); nil for other objects.
func podSpecOf(o runtime.Object) *corev1.PodSpec {
	k := workload.KindOf(o)
	if k == nil || k.Pod == nil {
		return nil
	}
	_, spec := k.Pod(o)
	return spec
}
