package mutate

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/workload"
)

// nodeNameField is the fieldRef path of the node a pod runs on.
const nodeNameField = "spec.nodeName"

// Workload applies one object fix to obj (a Pod or workload: a kind of
// workload.Kinds that review decides on and that has pods) in place, on the
// agent container its facts name (workload.FromObject(obj); pass nil to
// compute them). It is idempotent: fixing a fixed object changes nothing.
//
//   - node-name-env {var}: the container's env entry var comes from fieldRef
//     spec.nodeName. Existing entries of that name (a literal or any other
//     source) are changed where they stand; otherwise one is appended.
//   - cluster-flags {joinAddresses}: --cluster.enabled=true and
//     --cluster.join-addresses=<joinAddresses> in the command or args field
//     the flags are written in, in the flag style they are written in.
//     Flags already present are changed in place (--cluster.enabled=false
//     becomes =true), never duplicated. A join address or discover-peers
//     flag already set is a peer source and stays as it is (the two are
//     mutually exclusive). A container setting neither command nor args is
//     ErrNotApplicable: writing args would replace the image's default
//     command.
func Workload(obj runtime.Object, facts *workload.Facts, fix policy.FixRequest) error {
	kind, name, spec, err := podSpec(obj)
	if err != nil {
		return err
	}
	switch fix.Name {
	case FixNodeNameEnv, FixClusterFlags:
	case FixNodeSelector, FixNodeNameExpression, FixClusteringBlock:
		return notApplicablef("fix %s changes a config, not %s %s", fix.Name, kind, name)
	default:
		return notApplicablef("unknown fix %q", fix.Name)
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
	where := fmt.Sprintf("%s %s container %s", kind, name, c.Name)
	switch fix.Name {
	case FixNodeNameEnv:
		v, err := stringParam(fix, "var")
		if err != nil {
			return err
		}
		if strings.Contains(v, "=") {
			return notApplicablef("fix %s: %q is not an env var name", fix.Name, v)
		}
		setNodeNameEnv(c, v)
		return nil
	default:
		addr, err := stringParam(fix, "joinAddresses")
		if err != nil {
			return err
		}
		return clusterFlags(c, facts.Container, addr, where)
	}
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

// argRef is one command-line argument: the list it is in and its index.
type argRef struct {
	list *[]string
	i    int
}

func (a argRef) get() string  { return (*a.list)[a.i] }
func (a argRef) set(s string) { (*a.list)[a.i] = s }

// clusterFlags makes the container run with --cluster.enabled=true and a peer
// source.
func clusterFlags(c *corev1.Container, fc *workload.Container, addr, where string) error {
	field := fc.ArgsField
	if field == "" {
		if len(c.Command) == 0 && len(c.Args) == 0 {
			return notApplicablef("%s sets neither command nor args (the image's default command runs): adding args would replace that command; add --cluster.enabled=true --cluster.join-addresses=%s by hand", where, addr)
		}
		field = "args"
	}
	target := &c.Args
	if field == "command" {
		target = &c.Command
	}

	// The arguments as pflag reads them: command after the binary, then args,
	// up to "--".
	var args []argRef
	for i := 1; i < len(c.Command); i++ {
		args = append(args, argRef{&c.Command, i})
	}
	for i := range c.Args {
		args = append(args, argRef{&c.Args, i})
	}
	enabled, peers := false, false
	var end *argRef // the "--" that ends the flags
	for k := 0; k < len(args); k++ {
		a := args[k]
		t := a.get()
		if t == "--" {
			end = &args[k]
			break
		}
		if !strings.HasPrefix(t, "--") {
			continue
		}
		name, val, hasValue := strings.Cut(t[2:], "=")
		switch name {
		case "cluster.enabled":
			enabled = true
			if on, err := strconv.ParseBool(val); hasValue && (err != nil || !on) {
				a.set("--cluster.enabled=true")
			}
		case "cluster.join-addresses", "cluster.discover-peers":
			if !hasValue && k+1 < len(args) && !strings.HasPrefix(args[k+1].get(), "-") {
				k++
				hasValue, val = true, args[k].get()
				a = args[k]
				if val == "" && name == "cluster.join-addresses" {
					a.set(addr)
					val = addr
				}
			} else if val == "" && name == "cluster.join-addresses" {
				a.set("--cluster.join-addresses=" + addr)
				hasValue, val = true, addr
			}
			if hasValue && val != "" {
				peers = true
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
	if len(add) == 0 {
		return nil
	}
	// Flags after "--" would be positional arguments: insert before it.
	at := len(*target)
	if end != nil {
		target, at = end.list, end.i
	}
	*target = append((*target)[:at:at], append(add, (*target)[at:]...)...)
	return nil
}
