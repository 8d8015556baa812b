package mutate

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/workload"
)

// nodeNameField is the fieldRef path of the node a pod runs on.
const nodeNameField = "spec.nodeName"

// Workload applies one workload fix (a fix of the registry whose target is
// policy.TargetWorkload: see Fixes) to obj (a Pod or workload: a kind of
// workload.Kinds that review decides on and that has pods) in place, on the
// agent container its facts name (workload.FromObject(obj); pass nil to
// compute them). It is idempotent: fixing a fixed object changes nothing.
func Workload(obj runtime.Object, facts *workload.Facts, req policy.FixRequest) error {
	if a, ok := obj.(*workload.Alloy); ok && a != nil {
		return alloyFix(a, req)
	}
	kind, name, spec, err := podSpec(obj)
	if err != nil {
		return err
	}
	fix, err := lookupFor(req, policy.TargetWorkload, kind+" "+name)
	if err != nil {
		return err
	}
	if facts == nil {
		if facts, err = workload.FromObject(obj, nil); err != nil {
			return notApplicablef("%s %s: %v", kind, name, err)
		}
	}
	if !facts.Agent || facts.Container == nil {
		return notApplicablef("%s %s is not a Grafana Agent (Flow) or Alloy workload: %s", kind, name, facts.Reason)
	}
	c, err := agentContainer(spec, facts.Container)
	if err != nil {
		return notApplicablef("%s %s: %v", kind, name, err)
	}
	p, err := fix.params(req)
	if err != nil {
		return err
	}
	return fix.workload(c, facts, p, fmt.Sprintf("%s %s container %s", kind, name, c.Name))
}

// alloyFix applies a workload fix to an Alloy object's values: the
// alloy-operator renders its workload from them, and would undo an edit of
// the workload itself.
func alloyFix(a *workload.Alloy, req policy.FixRequest) error {
	where := "Alloy " + objectName(a.Namespace, a.Name)
	fix, err := lookupFor(req, policy.TargetWorkload, where)
	if err != nil {
		return err
	}
	if fix.alloy == nil {
		return notApplicablef("fix %s has no Alloy value to change (%s)", fix.Name, where)
	}
	p, err := fix.params(req)
	if err != nil {
		return err
	}
	if err := fix.alloy(a, p); err != nil {
		return notApplicablef("%s: %v", where, err)
	}
	return nil
}

// podSpec returns the pod spec a fix edits: a Pod's own, or a workload's pod
// template's.
func podSpec(obj runtime.Object) (kind, name string, spec *corev1.PodSpec, err error) {
	if obj == nil || reflect.ValueOf(obj).IsNil() {
		return "", "", nil, notApplicablef("no object")
	}
	k := workload.KindOf(obj)
	if k == nil || !k.Reviewed || k.Pod == nil {
		return "", "", nil, notApplicablef("%T is not %s", obj, workload.Names(podKinds()))
	}
	m := obj.(metav1.Object)
	_, spec = k.Pod(obj)
	return k.Name, objectName(m.GetNamespace(), m.GetName()), spec, nil
}

// podKinds are the kinds a workload fix applies to: those review decides
// on that have pods.
func podKinds() []*workload.Kind {
	var out []*workload.Kind
	for _, k := range workload.Kinds {
		if k.Reviewed && k.Pod != nil {
			out = append(out, k)
		}
	}
	return out
}

// agentContainer finds the container the facts name, checking that they are
// the facts of this spec.
func agentContainer(spec *corev1.PodSpec, fc *workload.Container) (*corev1.Container, error) {
	list, what := spec.Containers, "containers"
	if fc.InitContainer {
		list, what = spec.InitContainers, "initContainers"
	}
	if fc.Index < 0 || fc.Index >= len(list) || list[fc.Index].Name != fc.Name {
		return nil, fmt.Errorf("agent container %s is not %s[%d]: the facts are not this object's", fc.Name, what, fc.Index)
	}
	return &list[fc.Index], nil
}

// setNodeNameEnv makes the env var v come from fieldRef spec.nodeName.
func setNodeNameEnv(c *corev1.Container, v string) {
	found := false
	for i := range c.Env {
		e := &c.Env[i]
		if e.Name != v {
			continue
		}
		found = true
		if !fromNodeName(e) {
			e.Value = ""
			e.ValueFrom = nodeNameSource()
		}
	}
	if !found {
		c.Env = append(c.Env, corev1.EnvVar{Name: v, ValueFrom: nodeNameSource()})
	}
}

func nodeNameSource() *corev1.EnvVarSource {
	return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: nodeNameField}}
}

// fromNodeName reports whether e is set from fieldRef spec.nodeName alone
// (apiVersion unset or v1, as the API server defaults it).
func fromNodeName(e *corev1.EnvVar) bool {
	s := e.ValueFrom
	return e.Value == "" && s != nil && s.FieldRef != nil && s.FieldRef.FieldPath == nodeNameField &&
		(s.FieldRef.APIVersion == "" || s.FieldRef.APIVersion == "v1") &&
		s.ResourceFieldRef == nil && s.ConfigMapKeyRef == nil && s.SecretKeyRef == nil && s.FileKeyRef == nil
}

// clusterFlags makes the container run with --cluster.enabled=true and a peer
// source. It edits and inserts at the places the facts give for the flags
// (workload.Container.Flags and FlagsEnd: the flags as the agent reads
// them), all checked before anything changes.
func clusterFlags(c *corev1.Container, fc *workload.Container, addr, where string) error {
	field := fc.ArgsField
	if field == "" {
		if len(c.Command) == 0 && len(c.Args) == 0 {
			return notApplicablef("%s sets neither command nor args (the image's default command runs): adding args would replace that command; add --cluster.enabled=true --cluster.join-addresses=%s by hand", where, addr)
		}
		field = workload.ArgsArgs
	}
	arg := func(a workload.Arg) (*string, error) {
		list := *argList(c, a.Field)
		if a.Index < 0 || a.Index >= len(list) {
			return nil, notApplicablef("%s: no %s[%d]: the facts are not this container's", where, a.Field, a.Index)
		}
		return &list[a.Index], nil
	}
	// Flags after "--" would be positional arguments: new ones go before it.
	target := argList(c, field)
	at := len(*target)
	if end := fc.FlagsEnd; end != nil {
		if _, err := arg(*end); err != nil {
			return err
		}
		target, at = argList(c, end.Field), end.Index
	}
	// Where each flag and its separate value are written.
	flags, values := make([]*string, len(fc.Flags)), make([]*string, len(fc.Flags))
	for i, f := range fc.Flags {
		var err error
		if flags[i], err = arg(f.At); err != nil {
			return err
		}
		if f.ValueAt != nil {
			if values[i], err = arg(*f.ValueAt); err != nil {
				return err
			}
		}
	}

	enabled, peers := false, false
	for i, f := range fc.Flags {
		switch f.Name {
		case "cluster.enabled":
			enabled = true
			if on, err := strconv.ParseBool(f.Value); f.Equals && (err != nil || !on) {
				*flags[i] = "--cluster.enabled=true"
			}
		case "cluster.join-addresses", "cluster.discover-peers":
			switch {
			case f.Value != "":
				peers = true
			case f.Name == "cluster.discover-peers":
			case values[i] != nil: // --cluster.join-addresses ""
				*values[i], peers = addr, true
			default: // --cluster.join-addresses= or a bare --cluster.join-addresses
				*flags[i], peers = "--cluster.join-addresses="+addr, true
			}
		}
	}

	var add []string
	if !enabled {
		add = append(add, "--cluster.enabled=true")
	}
	if !peers {
		if fc.FlagStyle == workload.FlagStyleSeparate {
			add = append(add, "--cluster.join-addresses", addr)
		} else {
			add = append(add, "--cluster.join-addresses="+addr)
		}
	}
	if len(add) > 0 {
		*target = slices.Insert(*target, at, add...)
	}
	return nil
}

// argList returns the container's field that holds its command-line
// arguments: command for workload.ArgsCommand, else args.
func argList(c *corev1.Container, field string) *[]string {
	if field == workload.ArgsCommand {
		return &c.Command
	}
	return &c.Args
}
