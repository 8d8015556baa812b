package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/workload"
)

// The CLI reads a cluster through client-go's dynamic client and decodes
// what it lists with workload.Decode, as check decodes files: the
// controller-runtime client would link the Prometheus client, which the
// CLI must not (internal/archtest), and client-go's discovery package
// alone would double the CLI's dependencies for one GET.

// lastApplied is the annotation kubectl apply keeps the applied manifest
// in: a copy of the object that no file under check carries.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// listPage bounds one list call, so that a large cluster is read in pages.
const listPage = 500

// restConfig loads the client configuration as kubectl does: --kubeconfig,
// else $KUBECONFIG, else ~/.kube/config, else the in-cluster service
// account; --context picks a context of the file.
func restConfig(kubeconfig, kubecontext string) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kubecontext})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("loading the kubeconfig: %w", err)
	}
	name := kubecontext
	if raw, err := cc.RawConfig(); err == nil && name == "" {
		name = raw.CurrentContext
	}
	if name == "" {
		name = "in-cluster"
	}
	cfg.UserAgent = "modeguard-audit/" + versionString()
	return cfg, name, nil
}

// servedFunc tells whether the API server serves a resource of a group
// and version (the discovery document of the group version lists it).
type servedFunc func(ctx context.Context, gvr schema.GroupVersionResource) (bool, error)

// servedBy asks the API server's discovery endpoint of the group version,
// /apis/GROUP/VERSION, as client-go's discovery client does
// (ServerResourcesForGroupVersion); a group version it does not serve is
// a 404.
func servedBy(cfg *rest.Config) (servedFunc, error) {
	c := rest.CopyConfig(cfg)
	// The body is read raw: an empty scheme's codecs satisfy the client.
	c.NegotiatedSerializer = serializer.NewCodecFactory(runtime.NewScheme()).WithoutConversion()
	rc, err := rest.UnversionedRESTClientFor(c)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, gvr schema.GroupVersionResource) (bool, error) {
		raw, err := rc.Get().AbsPath("/apis", gvr.Group, gvr.Version).Do(ctx).Raw()
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		var list metav1.APIResourceList
		if err := json.Unmarshal(raw, &list); err != nil {
			return false, fmt.Errorf("reading the discovery document of %s: %w", gvr.GroupVersion(), err)
		}
		return slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == gvr.Resource }), nil
	}, nil
}

// clusterReader lists the objects an audit reviews.
type clusterReader struct {
	dyn    dynamic.Interface
	served servedFunc
	// progress gets a line per kind listed (io.Discard for none).
	progress io.Writer
}

// auditScope selects what an audit reads.
type auditScope struct {
	// namespaces are the namespaces to read; none: all of them.
	namespaces []string
	// selector is a label selector the agent workloads (and the ConfigMaps
	// listed for themselves) must match; "" selects everything.
	selector string
}

// callError is an API call that failed: which call, and why.
type callError struct {
	call string // "list deployments.apps in namespace team-a"
	err  error
}

// Error is the call and the API server's answer, which says what was
// forbidden to whom: "list statefulsets.apps in all namespaces:
// statefulsets.apps is forbidden: User "auditor" cannot list ...".
func (e *callError) Error() string { return e.call + ": " + e.err.Error() }

func (e *callError) Unwrap() error { return e.err }

func gvr(k *workload.Kind) schema.GroupVersionResource {
	return k.GVK.GroupVersion().WithResource(k.Resource)
}

// resourceName is a kind's resource as kubectl names it: "deployments.apps",
// "configmaps".
func resourceName(k *workload.Kind) string {
	if k.GVK.Group == "" {
		return k.Resource
	}
	return k.Resource + "." + k.GVK.Group
}

func where(ns string) string {
	if ns == "" {
		return "in all namespaces"
	}
	return "in namespace " + ns
}

// read lists the objects of scope: the Namespaces (their labels decide
// actions), the agent workload kinds of workload.Kinds (a CRD kind only
// when the API server serves it), the ConfigMaps and the HPAs. A call that
// fails is returned among the errors (each a *callError) and the rest is
// still read. A call the API server did not answer (no connection, a
// cancelled ctx) ends the read with that error. agents recognizes the
// agent workloads whose ConfigMaps a selector pulls in.
func (c *clusterReader) read(ctx context.Context, scope auditScope, agents workload.Recognizer) ([]manifest.Document, []error, error) {
	var docs []manifest.Document
	var errs []error
	var fatal error
	fail := func(call string, err error) {
		e := &callError{call: call, err: err}
		var status apierrors.APIStatus
		if !errors.As(err, &status) {
			fatal = e // returned, and printed by the caller
			return
		}
		errs = append(errs, e)
		fmt.Fprintf(c.progress, "error: %v\n", e)
	}
	add := func(u *unstructured.Unstructured) bool {
		d, err := document(u)
		if err != nil {
			e := &callError{call: fmt.Sprintf("decoding %s %s/%s", u.GetKind(), u.GetNamespace(), u.GetName()), err: err}
			errs = append(errs, e)
			fmt.Fprintf(c.progress, "error: %v\n", e)
			return false
		}
		docs = append(docs, d)
		return true
	}
	namespaces := scope.namespaces
	if len(namespaces) == 0 {
		namespaces = []string{""}
		n, err := c.list(ctx, workload.KindNamespace, "", "", add)
		if err != nil {
			fail("list namespaces", err)
		} else {
			fmt.Fprintf(c.progress, "Namespace: %d\n", n)
		}
	} else {
		for _, ns := range namespaces {
			u, err := c.dyn.Resource(gvr(workload.KindNamespace)).Get(ctx, ns, metav1.GetOptions{})
			if err != nil {
				fail("get namespace "+ns, err)
				continue
			}
			add(u)
		}
	}
	if fatal != nil {
		return nil, nil, fatal
	}
	listed := map[[2]string]bool{} // ConfigMaps read: namespace, name
	var wanted [][2]string         // ConfigMaps the selected workloads read
	kinds := append(workload.Workloads(), workload.KindConfigMap, workload.KindHPA)
	for _, k := range kinds {
		if k.CRD {
			ok, err := c.served(ctx, gvr(k))
			if err != nil {
				if fail("discovery of "+k.GVK.GroupVersion().String(), err); fatal != nil {
					return nil, nil, fatal
				}
				continue
			}
			if !ok {
				fmt.Fprintf(c.progress, "%s: not served by this cluster, skipped\n", k.Name)
				continue
			}
		}
		sel := scope.selector
		if k == workload.KindHPA {
			sel = "" // an HPA relates to its target by name, whatever its labels
		}
		total := 0
		for _, ns := range namespaces {
			n, err := c.list(ctx, k, ns, sel, func(u *unstructured.Unstructured) bool {
				if !add(u) {
					return false
				}
				d := docs[len(docs)-1]
				switch {
				case k == workload.KindConfigMap:
					listed[[2]string{d.Namespace, d.Name}] = true
				case k.Workload && scope.selector != "":
					if f, err := agents.FromObject(d.Object, nil); err == nil && f.ReadsConfigMap() != "" {
						wanted = append(wanted, [2]string{d.Namespace, f.ReadsConfigMap()})
					}
				}
				return true
			})
			total += n
			if err != nil {
				fail(fmt.Sprintf("list %s %s", resourceName(k), where(ns)), err)
			}
			if fatal != nil {
				return nil, nil, fatal
			}
		}
		fmt.Fprintf(c.progress, "%s: %d\n", k.Name, total)
	}
	// With a selector, the ConfigMaps the selected workloads read are
	// reviewed with them whatever their own labels.
	got := 0
	for _, w := range wanted {
		if listed[w] {
			continue
		}
		listed[w] = true
		u, err := c.dyn.Resource(gvr(workload.KindConfigMap)).Namespace(w[0]).Get(ctx, w[1], metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue // absent, as a file set without it: the review notes it
		}
		if err != nil {
			if fail(fmt.Sprintf("get configmap %s/%s", w[0], w[1]), err); fatal != nil {
				return nil, nil, fatal
			}
			continue
		}
		if add(u) {
			got++
		}
	}
	if got > 0 {
		fmt.Fprintf(c.progress, "ConfigMap read by the selected workloads: %d\n", got)
	}
	return docs, errs, nil
}

// list lists the objects of kind k in namespace ns ("" for all, or a
// cluster-scoped kind) matching selector, a page at a time, handing each to
// add; it returns how many it read.
func (c *clusterReader) list(ctx context.Context, k *workload.Kind, ns, selector string, add func(*unstructured.Unstructured) bool) (int, error) {
	var ri dynamic.ResourceInterface = c.dyn.Resource(gvr(k))
	if k.Namespaced && ns != "" {
		ri = c.dyn.Resource(gvr(k)).Namespace(ns)
	}
	n := 0
	opts := metav1.ListOptions{LabelSelector: selector, Limit: listPage}
	for {
		l, err := ri.List(ctx, opts)
		if err != nil {
			return n, err
		}
		for i := range l.Items {
			if add(&l.Items[i]) {
				n++
			}
		}
		if opts.Continue = l.GetContinue(); opts.Continue == "" {
			return n, nil
		}
	}
}

// document makes a listed object a document as check would read it from
// a file: decoded by workload.Decode, without what only the API server
// writes into metadata (managedFields, kubectl's last-applied copy), and
// with no file: findings name the object.
func document(u *unstructured.Unstructured) (manifest.Document, error) {
	u = u.DeepCopy()
	u.SetManagedFields(nil)
	if a := u.GetAnnotations(); a != nil {
		delete(a, lastApplied)
		if len(a) == 0 {
			a = nil
		}
		u.SetAnnotations(a)
	}
	j, err := u.MarshalJSON()
	if err != nil {
		return manifest.Document{}, err
	}
	obj, err := workload.Decode(j)
	if err != nil {
		return manifest.Document{}, err
	}
	return manifest.Document{
		APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName(),
		Object: obj,
	}, nil
}
