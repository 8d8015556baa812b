package workload

import (
	"fmt"
	"path"
	"reflect"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// LabelAgent opts a workload in ("true") or out ("false") of modeguard,
// whatever its image. On a DaemonSet, StatefulSet, Deployment or ReplicaSet
// the workload's own label wins over its pod template's.
const LabelAgent = "modeguard.dev/agent"

// Reasons that do not depend on the object.
const (
	ReasonStatic      = "Grafana Agent static mode (no AGENT_MODE=flow, no -flow binary): not handled by modeguard"
	ReasonNoContainer = "no agent container"
)

// FromObject reads the facts of a Pod, DaemonSet, StatefulSet, Deployment or
// ReplicaSet (pointers to the k8s.io/api types; any other object is
// ErrNotWorkload). Workloads are read through their pod template.
//
// hpas are the HorizontalPodAutoscalers at hand (may be nil): one that targets
// the object, in its namespace, makes it replicated when it allows more than
// one replica. An HPA or object without a namespace (a manifest file) matches
// any namespace.
//
// FromObject recognizes agents by the built-in ways only; a Recognizer's
// FromObject also by the image patterns of the settings.
func FromObject(obj runtime.Object, hpas []autoscalingv2.HorizontalPodAutoscaler) (*Facts, error) {
	return Recognizer{}.FromObject(obj, hpas)
}

// FromObject is the package's FromObject, recognizing agents also by r's
// image patterns.
func (r Recognizer) FromObject(obj runtime.Object, hpas []autoscalingv2.HorizontalPodAutoscaler) (*Facts, error) {
	if obj == nil || reflect.ValueOf(obj).IsNil() {
		return nil, fmt.Errorf("nil object: %w", ErrNotWorkload)
	}
	k := KindOf(obj)
	if a, ok := obj.(*Alloy); ok {
		return r.alloyFacts(a, hpas)
	}
	if k == nil || k.Pod == nil || k.facts == nil {
		return nil, fmt.Errorf("%T: %w", obj, ErrNotWorkload)
	}
	f := &Facts{Kind: k.Name}
	meta := obj.(metav1.Object) // the object's own
	podMeta, spec := k.Pod(obj) // its pod template's, or the Pod's own
	if k.Replicas != nil {
		f.Replicas = replicas(k.Replicas(obj))
	}
	kf := k.facts(k, f, obj)
	f.Namespace, f.Name = meta.GetNamespace(), meta.GetName()
	f.Labels, f.Annotations = nonEmpty(meta.GetLabels()), nonEmpty(meta.GetAnnotations())

	f.HPA = findHPA(hpas, meta.GetNamespace(), kf.targets)
	f.Replicated = (f.Replicas != nil && *f.Replicas > 1) || (f.HPA != nil && f.HPA.MaxReplicas > 1)
	f.HostNetwork = spec.HostNetwork
	f.Volumes = volumes(spec.Volumes)

	optIn, optWhere := optLabel(meta.GetLabels(), podMeta.Labels)
	app, appWhere := appName(meta.GetLabels(), podMeta.Labels)
	p := r.pickContainer(spec, optIn == "true" || app != "")
	if p.c != nil {
		readContainer(f, p)
	}
	for _, c := range kf.claims {
		ct := ClaimTemplate{Name: c.Name}
		if p.c != nil {
			for _, m := range p.c.VolumeMounts {
				if m.Name == c.Name {
					ct.MountPath = m.MountPath
					break
				}
			}
		}
		f.ClaimTemplates = append(f.ClaimTemplates, ct)
	}
	decide(f, p, optIn, optWhere, app, appWhere)
	if p.c == nil && optIn == "" {
		f.Reason += unlabelledAgentHint(spec)
	}
	if f.Agent && p.c != nil {
		f.Config = resolveConfig(f, p.c, spec.Volumes)
	}
	return f, nil
}

// TargetsHPA reports whether hpa's scaleTargetRef names the kind and name
// (in the kind's group, or group-less; "extensions" too for an apps kind).
// It does not compare namespaces.
func TargetsHPA(hpa *autoscalingv2.HorizontalPodAutoscaler, kind *Kind, name string) bool {
	if hpa == nil || kind == nil {
		return false
	}
	ref := hpa.Spec.ScaleTargetRef
	if !kind.Is(ref.Kind) || ref.Name != name {
		return false
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return false
	}
	return gv.Group == "" || gv.Group == kind.GVK.Group || (kind.GVK.Group == appsv1.GroupName && gv.Group == "extensions")
}

// findHPA returns the first HPA in namespace ns that targets one of targets.
func findHPA(hpas []autoscalingv2.HorizontalPodAutoscaler, ns string, targets []target) *HPA {
	for i := range hpas {
		h := &hpas[i]
		if ns != "" && h.Namespace != "" && h.Namespace != ns {
			continue
		}
		for _, t := range targets {
			if TargetsHPA(h, t.kind, t.name) {
				lo := int32(1)
				if h.Spec.MinReplicas != nil {
					lo = *h.Spec.MinReplicas
				}
				return &HPA{Name: h.Name, MinReplicas: lo, MaxReplicas: h.Spec.MaxReplicas}
			}
		}
	}
	return nil
}

// replicas applies the API default: a nil spec.replicas is 1.
func replicas(r *int32) *int32 {
	n := int32(1)
	if r != nil {
		n = *r
	}
	return &n
}

// ownerOf returns the controller ownerReference, else the first one.
func ownerOf(refs []metav1.OwnerReference) *Owner {
	for _, r := range refs {
		if r.Controller != nil && *r.Controller {
			return &Owner{Kind: r.Kind, Name: r.Name, Controller: true}
		}
	}
	if len(refs) > 0 {
		return &Owner{Kind: refs[0].Kind, Name: refs[0].Name}
	}
	return nil
}

// ownerRefText names an ownerReference: "DaemonSet/alloy", with the group
// when it is not apps ("DaemonSet.apps.kruise.io/alloy").
func ownerRefText(refs []metav1.OwnerReference, o *Owner) string {
	for _, r := range refs {
		if r.Kind != o.Kind || r.Name != o.Name {
			continue
		}
		if gv, err := schema.ParseGroupVersion(r.APIVersion); err == nil && gv.Group != appsv1.GroupName && gv.Group != "" {
			return o.Kind + "." + gv.Group + "/" + o.Name
		}
		break
	}
	return o.Kind + "/" + o.Name
}

// podMode sets a Pod's mode from its controller and returns what an HPA
// scaling it would target.
func podMode(f *Facts, pod *corev1.Pod) []target {
	o := ownerOf(pod.OwnerReferences)
	f.Owner = o
	if o == nil {
		f.ModeSource = "none"
		return nil
	}
	ref := ownerRefText(pod.OwnerReferences, o)
	if !o.Controller {
		f.ModeSource = "none: ownerReference " + ref + " is not a controller"
		return nil
	}
	switch k := KindNamed(o.Kind); {
	case k == KindReplicaSet:
		self := target{KindReplicaSet, o.Name}
		hash := pod.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
		if hash == "" {
			f.ModeSource = "ownerReference " + ref + " without a pod-template-hash label: not known to belong to a Deployment"
			return []target{self}
		}
		f.Mode, f.ModeSource = ModeDeployment, "inferred: ReplicaSet owner with pod-template-hash label → Deployment"
		if d, ok := strings.CutSuffix(o.Name, "-"+hash); ok && d != "" {
			o.Deployment = d
			return []target{self, {KindDeployment, d}}
		}
		return []target{self}
	case k != nil && k.Workload && k.Mode != "":
		f.Mode, f.ModeSource = k.Mode, "ownerReference "+ref
		if k.Scalable {
			return []target{{k, o.Name}}
		}
	default:
		f.ModeSource = "ownerReference " + ref + ": not a DaemonSet, StatefulSet or ReplicaSet"
	}
	return nil
}

// replicaSetMode sets a ReplicaSet's mode from its controller and returns
// what an HPA scaling it would target.
func replicaSetMode(k *Kind, f *Facts, rs *appsv1.ReplicaSet) []target {
	o := ownerOf(rs.OwnerReferences)
	f.Owner = o
	targets := []target{{k, rs.Name}}
	if o != nil && o.Controller && KindDeployment.Is(o.Kind) {
		f.Mode, f.ModeSource = ModeDeployment, "ownerReference "+ownerRefText(rs.OwnerReferences, o)
		o.Deployment = o.Name
		return append(targets, target{KindDeployment, o.Name})
	}
	f.ModeSource = "none: a ReplicaSet not controlled by a Deployment"
	return targets
}

// optLabel returns the LabelAgent value ("true", "false" or "") and where it
// was read: the object's labels win over its pod template's.
func optLabel(own, template map[string]string) (value, where string) {
	if v, ok := own[LabelAgent]; ok && (v == "true" || v == "false") {
		return v, ""
	}
	if v, ok := template[LabelAgent]; ok && (v == "true" || v == "false") {
		return v, " on the pod template"
	}
	return "", ""
}

// picked is the chosen agent container.
type picked struct {
	c      *corev1.Container
	index  int
	init   bool
	repo   string // agent image repository, "" when the image is not an agent's
	flavor string // the image's flavor
	// pattern is the settings' image pattern the image matches ("" when
	// none); runFlavor the flavor its command line runs (runsAgent).
	pattern, runFlavor string
	cl                 commandLine
	// by is how the container was chosen: byImage, byPattern, byCommand,
	// byEnv, or byLabel (only with the opt-in or an agent chart's label).
	by string
}

// How pickContainer chose the agent container.
const (
	byImage   = "image"
	byPattern = "pattern"
	byCommand = "command"
	byEnv     = "env"
	byLabel   = "label"
)

// runs reports whether the container's command line has the run subcommand.
func (p picked) runs() bool { return p.cl.run != nil && p.cl.run.Subcommand == "run" }

// pickContainer chooses the agent container, native sidecars (init
// containers with restartPolicy Always) included: by image (preferring one
// that runs `run`, since sidecars may share an image), then by an image
// pattern of the settings (the same way), then by the agent it runs
// (runsAgent), then by the Alloy chart's env var; then, only when the
// workload carries the opt-in label or an agent chart's name label
// (labelled), the container that runs `run`, then one whose binary names an
// agent, then the only container.
func (r Recognizer) pickContainer(spec *corev1.PodSpec, labelled bool) picked {
	var all []picked
	add := func(c *corev1.Container, i int, init bool) {
		repo, flavor := agentImage(c.Image)
		p := picked{c: c, index: i, init: init, repo: repo, flavor: flavor, cl: parseCommandLine(c, repo)}
		if repo == "" {
			p.pattern = r.matchImage(c.Image)
		}
		p.runFlavor = runsAgent(c, p.cl)
		all = append(all, p)
	}
	for i := range spec.Containers {
		add(&spec.Containers[i], i, false)
	}
	for i := range spec.InitContainers {
		if c := &spec.InitContainers[i]; c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			add(c, i, true)
		}
	}
	type rule struct {
		by string
		ok func(p picked) bool
	}
	rules := []rule{
		{byImage, func(p picked) bool { return p.repo != "" && p.runs() }},
		{byImage, func(p picked) bool { return p.repo != "" }},
		{byPattern, func(p picked) bool { return p.pattern != "" && p.runs() }},
		{byPattern, func(p picked) bool { return p.pattern != "" }},
		{byCommand, func(p picked) bool { return p.runFlavor != "" }},
		{byEnv, func(p picked) bool { return hasEnv(p.c, EnvAlloyDeployMode) }},
	}
	if labelled {
		rules = append(rules,
			rule{byLabel, func(p picked) bool { return p.runs() }},
			rule{byLabel, func(p picked) bool { return p.cl.run != nil && binaryFlavor(p.cl.run.Binary) != "" }},
			rule{byLabel, func(p picked) bool { return !p.init && len(spec.Containers) == 1 }},
		)
	}
	for _, rl := range rules {
		for _, p := range all {
			if rl.ok(p) {
				p.by = rl.by
				return p
			}
		}
	}
	return picked{}
}

// readContainer records the agent container, its command line, env and
// mounts.
func readContainer(f *Facts, p picked) {
	c := p.c
	f.Container = &Container{
		Name: c.Name, Index: p.index, Image: c.Image, InitContainer: p.init,
		ArgsField: p.cl.argsField, FlagStyle: p.cl.flagStyle,
		Flags: p.cl.flags, FlagsEnd: p.cl.flagsEnd,
	}
	f.Run = p.cl.run
	for _, e := range c.Env {
		if f.Env == nil {
			f.Env = map[string]EnvVar{}
		}
		f.Env[e.Name] = envVar(e)
	}
	for name, e := range f.Env {
		if e.Source == EnvFieldRef && e.FieldRef == "spec.nodeName" {
			f.NodeNameEnv = append(f.NodeNameEnv, name)
		}
	}
	slices.Sort(f.NodeNameEnv)
	if e, ok := f.Env["AGENT_MODE"]; ok && e.Source == EnvLiteral {
		f.AgentMode = e.Value
	}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			f.EnvFrom = append(f.EnvFrom, EnvFrom{Kind: "configMap", Name: ef.ConfigMapRef.Name, Prefix: ef.Prefix})
		case ef.SecretRef != nil:
			f.EnvFrom = append(f.EnvFrom, EnvFrom{Kind: "secret", Name: ef.SecretRef.Name, Prefix: ef.Prefix})
		}
	}
	if len(f.EnvFrom) > 0 {
		f.EnvFromNote = "a variable not in env may also be set through envFrom; env wins over envFrom, and only env can carry a fieldRef"
	}
	for _, m := range c.VolumeMounts {
		sub := m.SubPath
		if m.SubPathExpr != "" {
			sub = m.SubPathExpr
		}
		f.Mounts = append(f.Mounts, Mount{Name: m.Name, MountPath: m.MountPath, SubPath: sub, ReadOnly: m.ReadOnly})
	}
}

func envVar(e corev1.EnvVar) EnvVar {
	s := e.ValueFrom
	switch {
	case s == nil:
		return EnvVar{Source: EnvLiteral, Value: e.Value}
	case s.FieldRef != nil:
		return EnvVar{Source: EnvFieldRef, FieldRef: s.FieldRef.FieldPath}
	case s.ResourceFieldRef != nil:
		return EnvVar{Source: EnvResourceFieldRef, Resource: s.ResourceFieldRef.Resource}
	case s.ConfigMapKeyRef != nil:
		return EnvVar{Source: EnvConfigMapKeyRef, Name: s.ConfigMapKeyRef.Name, Key: s.ConfigMapKeyRef.Key}
	case s.SecretKeyRef != nil:
		return EnvVar{Source: EnvSecretKeyRef, Name: s.SecretKeyRef.Name, Key: s.SecretKeyRef.Key}
	case s.FileKeyRef != nil:
		return EnvVar{Source: EnvFileKeyRef, Name: s.FileKeyRef.VolumeName, Key: s.FileKeyRef.Key}
	}
	return EnvVar{Source: EnvLiteral, Value: e.Value}
}

// decide sets Agent, Reason and Flavor. optIn is the LabelAgent value and
// app the agent chart's LabelAppName value ("" for none); the Where strings
// say where each was read.
func decide(f *Facts, p picked, optIn, optWhere, app, appWhere string) {
	f.Flavor = p.flavor
	if p.flavor == "" && p.cl.run != nil {
		f.Flavor = binaryFlavor(p.cl.run.Binary)
	}
	switch {
	case optIn == "false":
		f.Reason = "label " + LabelAgent + "=false" + optWhere
		return
	case p.c == nil && optIn == "true":
		f.Agent, f.Flavor = true, FlavorAlloy
		f.Reason = "label " + LabelAgent + "=true" + optWhere + ", but no container runs `run`, an agent binary or an agent image (flavor alloy by default)"
		f.Config = &Config{Error: "no agent container"}
		return
	case p.c == nil:
		f.Reason = ReasonNoContainer
		return
	}
	// The flavor of a container no image names: what it runs, the Alloy
	// chart's env var, the chart's name label; else Alloy (below). An
	// opted-in workload keeps the flavor of its binary or Alloy, as the
	// label's reason says.
	flavorFrom := ""
	switch {
	case f.Flavor != "":
		if p.repo == "" {
			flavorFrom = "binary " + p.cl.run.Binary
		}
	case optIn == "true":
	case hasEnv(p.c, EnvAlloyDeployMode):
		f.Flavor, flavorFrom = FlavorAlloy, "env "+EnvAlloyDeployMode
	case app != "":
		f.Flavor, flavorFrom = appNameFlavors[app], "label "+LabelAppName+"="+app
	}
	if f.Flavor == FlavorAgent && isStatic(f, p) {
		f.Reason = ReasonStatic
		return
	}
	f.Agent = true
	switch {
	case p.by == byImage:
		f.Reason = "image " + p.repo
		return
	case p.by == byPattern:
		f.Reason = "image " + p.c.Image + " matches " + p.pattern + " of the settings' agentImages"
	case optIn == "true" && strings.HasPrefix(flavorFrom, "binary "):
		f.Reason = "label " + LabelAgent + "=true" + optWhere + " (flavor from " + flavorFrom + ")"
		return
	case optIn == "true":
		f.Flavor = FlavorAlloy
		f.Reason = "label " + LabelAgent + "=true" + optWhere + " (flavor alloy by default: neither image nor binary names one)"
		return
	case p.by == byCommand:
		f.Reason = "container " + p.c.Name + " runs `" + path.Base(p.cl.run.Binary) + " run`"
		if path.Base(p.cl.run.Binary) == "grafana-agent" {
			f.Reason += " with AGENT_MODE=flow"
		}
		return
	case p.by == byEnv:
		f.Reason = "container " + p.c.Name + " has env " + EnvAlloyDeployMode + " (set by the Alloy chart)"
		return
	default: // byLabel through the chart's name label
		f.Reason = "label " + LabelAppName + "=" + app + appWhere
	}
	if flavorFrom == "" {
		f.Flavor = FlavorAlloy
		f.Reason += " (flavor alloy by default: nothing names one)"
		return
	}
	f.Reason += " (flavor " + f.Flavor + " from " + flavorFrom + ")"
}

// unlabelledAgentHint names a container that runs an agent binary's run
// subcommand from an image modeguard does not recognize and that runsAgent
// does not take for an agent (grafana-agent without AGENT_MODE=flow, a
// binary named agent), so that the reason says how to opt it in; "" when
// there is none.
func unlabelledAgentHint(spec *corev1.PodSpec) string {
	for i := range spec.Containers {
		c := &spec.Containers[i]
		cl := parseCommandLine(c, "")
		if cl.run != nil && cl.run.Subcommand == "run" && binaryFlavor(cl.run.Binary) != "" {
			return fmt.Sprintf(": container %s runs %s run from image %s, which is not an agent image; label %s=true, or add the image to the settings' agentImages, to check it",
				c.Name, cl.run.Binary, c.Image, LabelAgent)
		}
	}
	return ""
}

// isStatic reports whether a Grafana Agent container runs in static mode:
// no AGENT_MODE=flow, no grafana-agent-flow binary, no run subcommand.
func isStatic(f *Facts, p picked) bool {
	if p.repo == "grafana/agent-flow" || f.AgentMode == "flow" {
		return false
	}
	r := p.cl.run
	return r == nil || (path.Base(r.Binary) != "grafana-agent-flow" && r.Subcommand != "run")
}

func nonEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
