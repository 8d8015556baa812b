package workload

// This file is the one mapping from an Alloy object's spec (the values of
// the Alloy Helm chart) to the workload the alloy-operator renders from it,
// and back from a finding to the value to change. It follows the chart at
// grafana/alloy operations/helm/charts/alloy: values.yaml (the defaults),
// templates/_helpers.tpl (alloy.fullname, alloy.name), templates/_config.tpl
// (the ConfigMap's name and key), templates/containers/_agent.yaml (args,
// env, mounts), templates/controllers/*.yaml (the kind, replicas, claim
// templates), templates/hpa.yaml. The operator (grafana/alloy-operator
// operator/watches.yaml) renders that chart with the object's spec as values
// and the object's name as the release name, in the object's namespace.

import (
	"encoding/json"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// AlloyGroupVersion is the API group and version of Alloy objects.
var AlloyGroupVersion = schema.GroupVersion{Group: "collectors.grafana.com", Version: "v1alpha1"}

// Alloy is an Alloy custom resource: its spec holds the values of the Alloy
// Helm chart (schemaless, as the CRD leaves it).
type Alloy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              map[string]any `json:"spec,omitempty"`
	Status            map[string]any `json:"status,omitempty"`
}

// AlloyList is a list of Alloy objects.
type AlloyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Alloy `json:"items"`
}

// DeepCopy copies the object, its spec and status included.
func (a *Alloy) DeepCopy() *Alloy {
	if a == nil {
		return nil
	}
	out := &Alloy{TypeMeta: a.TypeMeta}
	a.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Spec, _ = copyValue(a.Spec).(map[string]any)
	out.Status, _ = copyValue(a.Status).(map[string]any)
	return out
}

// DeepCopyObject implements runtime.Object.
func (a *Alloy) DeepCopyObject() runtime.Object { return a.DeepCopy() }

// DeepCopyObject implements runtime.Object.
func (l *AlloyList) DeepCopyObject() runtime.Object {
	if l == nil {
		return nil
	}
	out := &AlloyList{TypeMeta: l.TypeMeta}
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	for i := range l.Items {
		out.Items = append(out.Items, *l.Items[i].DeepCopy())
	}
	return out
}

// copyValue copies a JSON-like value (maps, slices, scalars); it accepts
// Go ints too, which runtime.DeepCopyJSON does not.
func copyValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if t == nil {
			return map[string]any(nil)
		}
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = copyValue(x)
		}
		return out
	case []any:
		if t == nil {
			return []any(nil)
		}
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = copyValue(x)
		}
		return out
	}
	return v
}

// AddAlloyToScheme registers Alloy and AlloyList (for a client or an
// admission decoder).
func AddAlloyToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(AlloyGroupVersion, &Alloy{}, &AlloyList{})
	metav1.AddToGroupVersion(s, AlloyGroupVersion)
	return nil
}

// The chart's defaults (values.yaml) that decide facts.
const (
	alloyChartName     = "alloy"
	alloyDefaultType   = ModeDaemonSet
	alloyDefaultKey    = "config.alloy"
	alloyConfigDir     = "/etc/alloy"
	alloyContainerName = "alloy"
)

// alloyDefaults are the chart's values.yaml defaults that the rendering
// below reads (the rest of the chart's values do not change a fact).
var alloyDefaults = map[string]any{
	"alloy": map[string]any{
		"configMap":            map[string]any{"create": true, "content": ""},
		"clustering":           map[string]any{"enabled": false, "name": ""},
		"stabilityLevel":       "generally-available",
		"storagePath":          "/tmp/alloy",
		"listenAddr":           "0.0.0.0",
		"listenPort":           int64(12345),
		"uiPathPrefix":         "/",
		"enableReporting":      true,
		"mounts":               map[string]any{"varlog": false, "dockercontainers": false},
		"extraEnv":             []any{},
		"extraArgs":            []any{},
		"enableHttpServerPort": true,
	},
	// The chart's default image.registry is left out: the image is
	// recognized by its repository, whatever registry serves it.
	"image": map[string]any{"repository": "grafana/alloy"},
	"controller": map[string]any{
		"type":        alloyDefaultType,
		"replicas":    int64(1),
		"hostNetwork": false,
		"autoscaling": map[string]any{
			"enabled": false, "minReplicas": int64(1), "maxReplicas": int64(5),
			"horizontal": map[string]any{"enabled": false, "externalHPA": false, "minReplicas": int64(1), "maxReplicas": int64(5)},
		},
	},
}

// AlloyRender is what the Alloy chart renders from an Alloy object's
// values, as far as the facts need it.
type AlloyRender struct {
	// Fullname is the chart's alloy.fullname: the name of the workload,
	// the default ConfigMap and, with "-cluster", the clustering Service.
	Fullname string
	// Workload is the DaemonSet, StatefulSet or Deployment; nil when
	// controller.type names none of them (the chart renders nothing).
	Workload Object
	// HPA is the chart's HorizontalPodAutoscaler, nil when it renders none.
	HPA *autoscalingv2.HorizontalPodAutoscaler
	// ConfigMapName and ConfigKey are the ConfigMap the workload mounts at
	// /etc/alloy and the key it runs.
	ConfigMapName, ConfigKey string
	// SecretName is the Secret mounted at /etc/alloy instead of the
	// ConfigMap, when alloy.secret asks for one ("" otherwise).
	SecretName string
	// Inline is alloy.configMap.create: the chart renders that ConfigMap
	// from alloy.configMap.content (ConfigMap is it), and the config's
	// place is that value. Otherwise the ConfigMap is the user's.
	Inline    bool
	ConfigMap *corev1.ConfigMap
	// Notes say what the rendering could not know or does not support.
	Notes []string
}

// values reads a chart's values: nested maps, with the chart's defaults
// under them.
type values struct{ user, defaults map[string]any }

func (v values) lookup(m map[string]any, path []string) (any, bool) {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// get returns the user's value at path (dotted), else the default; nil
// user values fall back to the default, as Helm's coalescing does.
func (v values) get(path string) any {
	p := strings.Split(path, ".")
	if x, ok := v.lookup(v.user, p); ok && x != nil {
		return x
	}
	x, _ := v.lookup(v.defaults, p)
	return x
}

func (v values) str(path string) string {
	switch x := v.get(path).(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

// truthy is Go template truth: false, 0, "", nil and empty collections
// are false.
func (v values) truthy(path string) bool { return truthy(v.get(path)) }

func truthy(x any) bool {
	switch t := x.(type) {
	case nil:
		return false
	case bool:
		return t
	case string:
		return t != ""
	case float64:
		return t != 0
	case int64:
		return t != 0
	case int:
		return t != 0
	case map[string]any:
		return len(t) > 0
	case []any:
		return len(t) > 0
	}
	return true
}

func (v values) int32(path string) (int32, bool) {
	switch t := v.get(path).(type) {
	case float64:
		return int32(t), true
	case int64:
		return int32(t), true
	case int:
		return int32(t), true
	}
	return 0, false
}

// decode turns the value at path into out (a k8s.io/api type) through
// JSON, as Helm's toYaml writes it into the manifest.
func (v values) decode(path string, out any) error {
	x := v.get(path)
	if x == nil {
		return nil
	}
	b, err := json.Marshal(x)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("spec.%s: %w", path, err)
	}
	return nil
}

// mergeOverwrite is sprig's mustMergeOverwrite of two value maps: src's
// values win, maps merge deeply.
func mergeOverwrite(dst, src map[string]any) map[string]any {
	out := copyValue(dst).(map[string]any)
	if out == nil {
		out = map[string]any{}
	}
	for k, s := range src {
		if sm, ok := s.(map[string]any); ok {
			if dm, ok := out[k].(map[string]any); ok {
				out[k] = mergeOverwrite(dm, sm)
				continue
			}
		}
		out[k] = copyValue(s)
	}
	return out
}

// trunc63 is the chart's `trunc 63 | trimSuffix "-"`.
func trunc63(s string) string {
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.TrimSuffix(s, "-")
}

// RenderAlloy renders what the Alloy chart makes of a's values, as far as
// modeguard reads it.
func RenderAlloy(a *Alloy) *AlloyRender {
	spec := a.Spec
	if spec == nil {
		spec = map[string]any{}
	}
	// The chart reads alloy merged with the older key agent.
	if ag, ok := spec["agent"].(map[string]any); ok {
		spec = copyValue(spec).(map[string]any)
		al, _ := spec["alloy"].(map[string]any)
		spec["alloy"] = mergeOverwrite(al, ag)
	}
	v := values{user: spec, defaults: alloyDefaults}
	r := &AlloyRender{}
	note := func(format string, args ...any) { r.Notes = append(r.Notes, fmt.Sprintf(format, args...)) }

	release := a.Name
	name := alloyChartName
	if n := v.str("nameOverride"); n != "" {
		name = n
	}
	switch fo := v.str("fullnameOverride"); {
	case fo != "":
		r.Fullname = trunc63(fo)
	case strings.Contains(release, name):
		r.Fullname = trunc63(release)
	default:
		r.Fullname = trunc63(release + "-" + name)
	}
	if ns := v.str("namespaceOverride"); ns != "" && ns != a.Namespace {
		note("spec.namespaceOverride %q: the chart renders into another namespace; modeguard relates the object in its own", ns)
	}

	r.ConfigKey = alloyDefaultKey
	// Charts that know alloy.secret mount the config from a Secret when
	// secret.create or secret.name is set, before any ConfigMap
	// (_config.tpl, alloy.config-source.use-secret). modeguard reads no
	// Secret, and an older chart would ignore the value: noted, the config
	// not checked.
	if v.truthy("alloy.secret.create") || v.str("alloy.secret.name") != "" {
		r.SecretName = r.Fullname
		if n := v.str("alloy.secret.name"); n != "" {
			r.SecretName = n
		}
		if k := v.str("alloy.secret.key"); k != "" {
			r.ConfigKey = k
		}
		note("spec.alloy.secret: the chart runs the config from Secret %q (key %q), which modeguard does not read: the config is not checked", r.SecretName, r.ConfigKey)
	} else if k := v.str("alloy.configMap.key"); k != "" {
		r.ConfigKey = k
	}
	r.ConfigMapName = r.Fullname
	if n := v.str("alloy.configMap.name"); n != "" {
		r.ConfigMapName = n
	}
	r.Inline = r.SecretName == "" && v.truthy("alloy.configMap.create")
	if r.Inline {
		content := v.str("alloy.configMap.content")
		switch {
		case content == "":
			note("spec.alloy.configMap.content is empty: the chart renders its example config, which modeguard does not check")
		case strings.Contains(content, "{{"):
			note("spec.alloy.configMap.content holds a Helm template (the chart renders it with tpl): not checked")
		default:
			r.ConfigMap = &corev1.ConfigMap{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
				ObjectMeta: metav1.ObjectMeta{Name: r.ConfigMapName, Namespace: a.Namespace},
				Data:       map[string]string{r.ConfigKey: content},
			}
		}
	}

	pod, err := alloyPod(v, r, name, release, a.Labels)
	if err != nil {
		note("%v: the workload is not known", err)
		return r
	}
	meta := metav1.ObjectMeta{Name: r.Fullname, Namespace: a.Namespace, Labels: map[string]string{}}
	for k, val := range pod.Labels {
		meta.Labels[k] = val
	}
	autoscaled := v.truthy("controller.autoscaling.enabled") || v.truthy("controller.autoscaling.horizontal.enabled") || v.truthy("controller.autoscaling.horizontal.externalHPA")
	var replicas *int32
	if !autoscaled {
		n, ok := v.int32("controller.replicas")
		if !ok {
			n = 1
		}
		replicas = &n
	}
	typ := v.str("controller.type")
	switch typ {
	case ModeDaemonSet:
		r.Workload = &appsv1.DaemonSet{TypeMeta: typeMeta("DaemonSet"), ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Template: pod}}
	case ModeDeployment:
		r.Workload = &appsv1.Deployment{TypeMeta: typeMeta("Deployment"), ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: replicas, Template: pod}}
	case ModeStatefulSet:
		s := &appsv1.StatefulSet{TypeMeta: typeMeta("StatefulSet"), ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Replicas: replicas, ServiceName: r.Fullname, Template: pod}}
		if err := v.decode("controller.volumeClaimTemplates", &s.Spec.VolumeClaimTemplates); err != nil {
			note("%v", err)
		}
		r.Workload = s
	default:
		note("spec.controller.type %q is none of daemonset, deployment, statefulset: the chart renders no workload", typ)
		return r
	}
	if (typ == ModeDeployment || typ == ModeStatefulSet) && (v.truthy("controller.autoscaling.horizontal.enabled") || v.truthy("controller.autoscaling.enabled")) && !v.truthy("controller.autoscaling.horizontal.externalHPA") {
		base := "controller.autoscaling"
		if v.truthy("controller.autoscaling.horizontal.enabled") {
			base = "controller.autoscaling.horizontal"
		}
		lo, _ := v.int32(base + ".minReplicas")
		hi, _ := v.int32(base + ".maxReplicas")
		r.HPA = &autoscalingv2.HorizontalPodAutoscaler{
			TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
			ObjectMeta: metav1.ObjectMeta{Name: r.Fullname, Namespace: a.Namespace},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				// The chart writes the kind in lower case (Kind.Is accepts it).
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: typ, Name: r.Fullname},
				MinReplicas:    &lo, MaxReplicas: hi,
			},
		}
	}
	return r
}

func typeMeta(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: "apps/v1", Kind: kind}
}

// alloyPod renders the chart's pod template (controllers/_pod.yaml,
// containers/_agent.yaml): the alloy container, the volumes and what the
// facts read.
func alloyPod(v values, r *AlloyRender, name, release string, ownLabels map[string]string) (corev1.PodTemplateSpec, error) {
	var pod corev1.PodTemplateSpec
	pod.Labels = map[string]string{LabelAppName: trunc63(name), "app.kubernetes.io/instance": release}
	var podLabels, podAnnotations map[string]string
	if err := v.decode("controller.podLabels", &podLabels); err != nil {
		return pod, err
	}
	if err := v.decode("controller.podAnnotations", &podAnnotations); err != nil {
		return pod, err
	}
	for k, x := range podLabels {
		pod.Labels[k] = x
	}
	// The object's opt-in or opt-out label decides for what it renders.
	if x, ok := ownLabels[LabelAgent]; ok {
		pod.Labels[LabelAgent] = x
	}
	pod.Annotations = podAnnotations

	c := corev1.Container{Name: alloyContainerName}
	reg := v.str("global.image.registry")
	if reg == "" {
		reg = v.str("image.registry")
	}
	c.Image = reg + "/" + v.str("image.repository")
	if reg == "" {
		c.Image = v.str("image.repository")
	}
	if d := v.str("image.digest"); d != "" {
		if !strings.HasPrefix(d, "sha256:") {
			d = "sha256:" + d
		}
		c.Image += "@" + d
	} else if t := v.str("image.tag"); t != "" {
		c.Image += ":" + t
	}
	if err := v.decode("alloy.command", &c.Command); err != nil {
		return pod, err
	}
	c.Args = []string{
		"run",
		alloyConfigDir + "/" + r.ConfigKey,
		"--storage.path=" + v.str("alloy.storagePath"),
		"--server.http.listen-addr=" + v.str("alloy.listenAddr") + ":" + v.str("alloy.listenPort"),
		"--server.http.ui-path-prefix=" + v.str("alloy.uiPathPrefix"),
	}
	if !v.truthy("alloy.enableReporting") {
		c.Args = append(c.Args, "--disable-reporting")
	}
	if v.truthy("alloy.clustering.enabled") {
		c.Args = append(c.Args, "--cluster.enabled=true", "--cluster.join-addresses="+r.Fullname+"-cluster")
		if n := v.str("alloy.clustering.name"); n != "" {
			c.Args = append(c.Args, "--cluster.name="+n)
		}
	}
	if s := v.str("alloy.stabilityLevel"); s != "" {
		c.Args = append(c.Args, "--stability.level="+s)
	}
	var extraArgs []any
	if err := v.decode("alloy.extraArgs", &extraArgs); err != nil {
		return pod, err
	}
	for _, x := range extraArgs {
		c.Args = append(c.Args, fmt.Sprint(x))
	}
	nodeName := &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}
	c.Env = []corev1.EnvVar{
		{Name: EnvAlloyDeployMode, Value: "helm"},
		{Name: "HOSTNAME", ValueFrom: nodeName},
		{Name: "K8S_NODE_NAME", ValueFrom: nodeName.DeepCopy()},
	}
	var extraEnv []corev1.EnvVar
	if err := v.decode("alloy.extraEnv", &extraEnv); err != nil {
		return pod, err
	}
	c.Env = append(c.Env, extraEnv...)
	if err := v.decode("alloy.envFrom", &c.EnvFrom); err != nil {
		return pod, err
	}
	c.VolumeMounts = []corev1.VolumeMount{{Name: "config", MountPath: alloyConfigDir}}
	config := corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: r.ConfigMapName}}}
	if r.SecretName != "" {
		config = corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: r.SecretName}}
	}
	pod.Spec.Volumes = []corev1.Volume{{Name: "config", VolumeSource: config}}
	hostPath := func(name, p string) {
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: p, ReadOnly: true})
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: p}}})
	}
	if v.truthy("alloy.mounts.varlog") {
		hostPath("varlog", "/var/log")
	}
	if v.truthy("alloy.mounts.dockercontainers") {
		hostPath("dockercontainers", "/var/lib/docker/containers")
	}
	var extraMounts []corev1.VolumeMount
	if err := v.decode("alloy.mounts.extra", &extraMounts); err != nil {
		return pod, err
	}
	c.VolumeMounts = append(c.VolumeMounts, extraMounts...)
	var extraVolumes []corev1.Volume
	if err := v.decode("controller.volumes.extra", &extraVolumes); err != nil {
		return pod, err
	}
	pod.Spec.Volumes = append(pod.Spec.Volumes, extraVolumes...)
	pod.Spec.Containers = []corev1.Container{c}
	var extra []corev1.Container
	if err := v.decode("controller.extraContainers", &extra); err != nil {
		return pod, err
	}
	pod.Spec.Containers = append(pod.Spec.Containers, extra...)
	if err := v.decode("controller.initContainers", &pod.Spec.InitContainers); err != nil {
		return pod, err
	}
	pod.Spec.HostNetwork = v.truthy("controller.hostNetwork")
	return pod, nil
}

// AlloyFacts are the facts of an Alloy object that the workload it renders
// does not carry: where its values put the config.
type AlloyFacts struct {
	// Fullname is the name the chart gives the workload.
	Fullname string `json:"fullname"`
	// WorkloadKind is the kind the chart renders ("" for none).
	WorkloadKind string `json:"workloadKind,omitempty"`
	// InlineConfig is alloy.configMap.create: the config is the value
	// spec.alloy.configMap.content (the chart renders the ConfigMap).
	InlineConfig bool `json:"inlineConfig"`
	// Notes say what the rendering could not know or does not support.
	Notes []string `json:"notes,omitempty"`
}

// alloyFacts reads the facts of an Alloy object through the workload its
// values render.
func (r Recognizer) alloyFacts(a *Alloy, hpas []autoscalingv2.HorizontalPodAutoscaler) (*Facts, error) {
	rd := RenderAlloy(a)
	af := &AlloyFacts{Fullname: rd.Fullname, InlineConfig: rd.Inline, Notes: rd.Notes}
	var f *Facts
	if rd.Workload == nil {
		f = &Facts{Agent: true, Flavor: FlavorAlloy, ModeSource: "none: " + strings.Join(rd.Notes, "; ")}
		f.Reason = "Alloy object (" + AlloyGroupVersion.Group + ")"
	} else {
		af.WorkloadKind = KindOf(rd.Workload).Name
		all := hpas
		if rd.HPA != nil {
			all = append(append([]autoscalingv2.HorizontalPodAutoscaler(nil), hpas...), *rd.HPA)
		}
		var err error
		if f, err = r.FromObject(rd.Workload, all); err != nil {
			return nil, err
		}
		if t, ok := (values{user: a.Spec}).lookup(a.Spec, []string{"controller", "type"}); ok && t != nil {
			f.ModeSource = "spec.controller.type"
		} else {
			f.ModeSource = "spec.controller.type unset: the Alloy chart's default " + alloyDefaultType
		}
		if f.Agent {
			f.Reason = "Alloy object (" + AlloyGroupVersion.Group + "): the alloy-operator renders the Alloy chart's " + af.WorkloadKind + " " + rd.Fullname + " from its spec (" + f.Reason + ")"
		}
	}
	f.Kind = KindAlloy.Name
	f.Namespace, f.Name = a.Namespace, a.Name
	f.Labels, f.Annotations = nonEmpty(a.Labels), nonEmpty(a.Annotations)
	f.Alloy = af
	return f, nil
}

// ReadsConfigMap is the ConfigMap the agent reads as a ConfigMap of the
// input or the cluster: Config.ConfigMap, but "" for an Alloy object whose
// config is its own value spec.alloy.configMap.content (the ConfigMap the
// operator renders from it is read by the workload the operator renders).
func (f *Facts) ReadsConfigMap() string {
	if f == nil || !f.Agent || f.Config == nil || (f.Alloy != nil && f.Alloy.InlineConfig) {
		return ""
	}
	return f.Config.ConfigMap
}

// AlloyConfigMap returns the ConfigMap the chart renders from an Alloy
// object's spec.alloy.configMap.content; nil when the config is not inline
// or cannot be read (RenderAlloy's notes say why).
func AlloyConfigMap(a *Alloy) *corev1.ConfigMap { return RenderAlloy(a).ConfigMap }

// Values of an Alloy object a finding asks to change.
const (
	AlloyValueContent    = "spec.alloy.configMap.content"
	AlloyValueClustering = "spec.alloy.clustering.enabled"
	AlloyValueExtraEnv   = "spec.alloy.extraEnv"
	AlloyValueType       = "spec.controller.type"
	AlloyValueVarlog     = "spec.alloy.mounts.varlog"
	AlloyValueVolumes    = "spec.controller.volumes.extra"
	AlloyValueClaims     = "spec.controller.volumeClaimTemplates"
)

// alloyRuleValues are the values of an Alloy object each rule's workload
// side lives in (docs/rules.md says what each rule is about); a rule not
// listed is about the config alone.
var alloyRuleValues = map[string]string{
	"MG002": AlloyValueExtraEnv,   // the node-name env var
	"MG004": AlloyValueClustering, // clustering (with the config's block), or a StatefulSet
	"MG005": AlloyValueClustering, // clustering on node-local data
	"MG007": AlloyValueClustering, // the cluster flags
	"MG008": AlloyValueType,       // node-bound collection needs a daemonset
	"MG009": AlloyValueVarlog,     // the hostPath log mounts
	"MG010": AlloyValueVolumes,    // a claim shared by every pod
	"MG011": AlloyValueClaims,     // the WAL's claim template
	"MG012": AlloyValueType,       // a Deployment's WAL
}

// AlloyValue names the value of an Alloy object to change for a finding
// of rule about target (policy's "config" or "workload"): the workload
// value the rule's workload side lives in, for a config finding the config
// content when it is inline, "" when the finding is about the user's
// ConfigMap alone.
func AlloyValue(rule, target string, inline bool) string {
	if target == "workload" {
		if v, ok := alloyRuleValues[rule]; ok {
			return v
		}
		return ""
	}
	if v, ok := alloyRuleValues[rule]; ok && rule != "MG002" {
		return v
	}
	if inline {
		return AlloyValueContent
	}
	return ""
}

// SetAlloyNodeNameEnv makes the env var name of an Alloy object come from
// fieldRef spec.nodeName, in spec.alloy.extraEnv: an entry of that name is
// replaced where it stands, else one is appended. HOSTNAME and
// K8S_NODE_NAME, which the chart always sets so, need nothing.
func SetAlloyNodeNameEnv(a *Alloy, name string) error {
	if name == "HOSTNAME" || name == "K8S_NODE_NAME" {
		return nil
	}
	entry := map[string]any{"name": name, "valueFrom": map[string]any{"fieldRef": map[string]any{"fieldPath": "spec.nodeName"}}}
	al := alloyMap(a, "alloy")
	list, ok := al["extraEnv"].([]any)
	if al["extraEnv"] != nil && !ok {
		return fmt.Errorf("spec.alloy.extraEnv is not a list")
	}
	for i, e := range list {
		if m, ok := e.(map[string]any); ok && m["name"] == name {
			list[i] = entry
			return nil
		}
	}
	al["extraEnv"] = append(list, entry)
	return nil
}

// SetAlloyClustering sets spec.alloy.clustering.enabled: true (the chart
// then runs the agent with --cluster.enabled=true and joins the headless
// Service <fullname>-cluster it renders).
func SetAlloyClustering(a *Alloy) {
	c := alloyMap(a, "alloy", "clustering")
	c["enabled"] = true
}

// SetAlloyContent sets spec.alloy.configMap.content.
func SetAlloyContent(a *Alloy, content string) {
	alloyMap(a, "alloy", "configMap")["content"] = content
}

// alloyMap returns the map at path under spec, making it (and spec) when
// missing.
func alloyMap(a *Alloy, path ...string) map[string]any {
	if a.Spec == nil {
		a.Spec = map[string]any{}
	}
	m := a.Spec
	for _, p := range path {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	return m
}

// AlloyOwner returns the Alloy object (namespace/name) that owns an object
// through an ownerReference, "" when none does: the alloy-operator owns
// what it renders and re-renders it when it drifts.
func AlloyOwner(obj metav1.Object) string {
	for _, r := range obj.GetOwnerReferences() {
		gv, err := schema.ParseGroupVersion(r.APIVersion)
		if err == nil && gv.Group == AlloyGroupVersion.Group && r.Kind == KindAlloy.Name {
			return obj.GetNamespace() + "/" + r.Name
		}
	}
	return ""
}
