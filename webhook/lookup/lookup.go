package lookup

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"sort"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/workload"
)

// Field indexes on agent workloads.
const (
	// IndexConfigMap holds the name of the ConfigMap an agent workload reads.
	IndexConfigMap = "modeguard.dev/configmap"
	// IndexAgent is "true" for agent workloads.
	IndexAgent = "modeguard.dev/agent"
)

// LastApplied is kubectl's copy of the applied object, dropped from the cache.
const LastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// ReadTimeout bounds one read: a cache read that waits for an informer to
// sync, or a live read from the API server. An admission request must be
// answered within the webhook's timeoutSeconds.
const ReadTimeout = time.Second

var _ review.Lookup = (*Cache)(nil)

// workloadKinds are the agent workload kinds, in the order Consumers lists
// them.
var workloadKinds = []func() (client.Object, client.ObjectList){
	func() (client.Object, client.ObjectList) { return &appsv1.DaemonSet{}, &appsv1.DaemonSetList{} },
	func() (client.Object, client.ObjectList) { return &appsv1.StatefulSet{}, &appsv1.StatefulSetList{} },
	func() (client.Object, client.ObjectList) { return &appsv1.Deployment{}, &appsv1.DeploymentList{} },
}

// CacheOptions returns the cache options of the webhook's manager: the
// transforms of the package doc, no informer started by accident, and
// broken watches reported to w (nil: not tracked).
func CacheOptions(w *Watches) cache.Options {
	return cache.Options{
		DefaultWatchErrorHandler:    w.WatchErrorHandler,
		ReaderFailOnMissingInformer: true,
		DefaultTransform:            stripMetadata,
		ByObject: map[client.Object]cache.ByObject{
			&corev1.ConfigMap{}:   {Transform: TransformConfigMap},
			&appsv1.DaemonSet{}:   {Transform: TransformWorkload},
			&appsv1.StatefulSet{}: {Transform: TransformWorkload},
			&appsv1.Deployment{}:  {Transform: TransformWorkload},
		},
	}
}

// Cache is a review.Lookup over the manager's informer cache.
type Cache struct {
	reader    client.Reader // the informer cache
	live      client.Reader // the API server, for what the cache misses
	log       logr.Logger
	informers []cache.Informer
	watches   *Watches
}

// Setup starts the informers the webhook needs on c (so that they sync with
// the manager's cache), adds the indexes, and returns the Lookup. live reads
// the API server directly (the manager's APIReader). w is the tracker
// given to CacheOptions (nil: watches are not tracked).
func Setup(ctx context.Context, c cache.Cache, live client.Reader, log logr.Logger, w *Watches) (*Cache, error) {
	lc := &Cache{reader: c, live: live, log: log, watches: w}
	for _, kind := range workloadKinds {
		obj, _ := kind()
		if err := c.IndexField(ctx, obj, IndexConfigMap, indexConfigMap); err != nil {
			return nil, fmt.Errorf("indexing %T by ConfigMap: %w", obj, err)
		}
		if err := c.IndexField(ctx, obj, IndexAgent, indexAgent); err != nil {
			return nil, fmt.Errorf("indexing agent %T: %w", obj, err)
		}
	}
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	for _, obj := range []client.Object{
		&appsv1.DaemonSet{}, &appsv1.StatefulSet{}, &appsv1.Deployment{},
		&corev1.ConfigMap{}, &autoscalingv2.HorizontalPodAutoscaler{}, ns,
	} {
		inf, err := c.GetInformer(ctx, obj, cache.BlockUntilSynced(false))
		if err != nil {
			return nil, fmt.Errorf("informer for %T: %w", obj, err)
		}
		lc.informers = append(lc.informers, inf)
		if k := kindOf(fmt.Sprintf("%T", obj)); w != nil && k != "" {
			if _, err := inf.AddEventHandler(w.eventHandler(k)); err != nil {
				return nil, fmt.Errorf("watching %T events: %w", obj, err)
			}
		}
	}
	return lc, nil
}

// Ready is a healthz.Checker: it fails until every informer has synced.
func (c *Cache) Ready(*http.Request) error {
	for _, inf := range c.informers {
		if !inf.HasSynced() {
			return errors.New("informer cache not synced yet")
		}
	}
	return nil
}

// ConfigMap implements review.Lookup. It reads the cache, and the API server
// when the cache does not have the ConfigMap or holds it without its data.
func (c *Cache) ConfigMap(namespace, name string) *corev1.ConfigMap {
	ctx, cancel := context.WithTimeout(context.Background(), ReadTimeout)
	defer cancel()
	key := types.NamespacedName{Namespace: namespace, Name: name}
	cm := &corev1.ConfigMap{}
	if c.watches.Behind("ConfigMap") {
		c.watches.staleRead("ConfigMap")
		if err := c.live.Get(ctx, key, cm); err == nil {
			return cm
		} else if apierrors.IsNotFound(err) {
			return nil
		} else {
			c.log.Error(err, "Reading ConfigMap from the API server (the cache may be behind)", "configMap", key)
		}
	}
	err := c.reader.Get(ctx, key, cm)
	switch {
	case err == nil && (len(cm.Data) > 0 || len(cm.BinaryData) > 0):
		return cm
	case err != nil && !apierrors.IsNotFound(err):
		c.log.Error(err, "Reading ConfigMap from the cache", "configMap", key)
	}
	cm = &corev1.ConfigMap{}
	if err := c.live.Get(ctx, key, cm); err != nil {
		if !apierrors.IsNotFound(err) {
			c.log.Error(err, "Reading ConfigMap from the API server", "configMap", key)
		}
		return nil
	}
	return cm
}

// Consumers implements review.Lookup: the agent workloads of the namespace
// that read the ConfigMap, DaemonSets first, then StatefulSets, then
// Deployments, each by name.
func (c *Cache) Consumers(namespace, configMap string) []runtime.Object {
	ctx, cancel := context.WithTimeout(context.Background(), ReadTimeout)
	defer cancel()
	var out []runtime.Object
	for _, kind := range workloadKinds {
		obj, list := kind()
		k := kindOf(fmt.Sprintf("%T", obj))
		if err := c.reader.List(ctx, list, client.InNamespace(namespace), client.MatchingFields{IndexConfigMap: configMap}); err != nil {
			// Not synced yet (a request right after start), or broken:
			// the API server answers instead of an empty list.
			live, lerr := c.liveConsumers(ctx, list, namespace, configMap)
			if lerr != nil {
				c.log.Error(errors.Join(err, lerr), "Listing agent workloads from the cache and from the API server", "namespace", namespace, "configMap", configMap)
				continue
			}
			c.log.Info("The cache could not answer: consumers read live", "kind", k, "namespace", namespace, "configMap", configMap, "error", err.Error())
			c.watches.staleRead(k)
			out = append(out, live...)
			continue
		}
		cached := items(list)
		if c.watches.Behind(k) {
			if live, err := c.liveConsumers(ctx, list, namespace, configMap); err == nil {
				c.watches.staleRead(k)
				if !sameObjects(cached, live) {
					c.log.Info("The cache was behind the API server: consumers read live", "kind", k, "namespace", namespace, "configMap", configMap)
				}
				cached = live
			} else {
				c.log.Error(err, "Listing agent workloads live (the cache may be behind)", "kind", k, "namespace", namespace)
			}
		}
		out = append(out, cached...)
	}
	return out
}

// liveConsumers lists like (a list of one workload kind) from the API
// server and keeps the agent workloads reading configMap.
func (c *Cache) liveConsumers(ctx context.Context, like client.ObjectList, namespace, configMap string) ([]runtime.Object, error) {
	list := like.DeepCopyObject().(client.ObjectList)
	if err := c.live.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	var out []runtime.Object
	for _, o := range items(list) {
		if ConfigMapOf(o) == configMap {
			out = append(out, o)
		}
	}
	return out, nil
}

// sameObjects compares two lists by name and resourceVersion.
func sameObjects(a, b []runtime.Object) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i].(client.Object), b[i].(client.Object)
		if x.GetName() != y.GetName() || x.GetResourceVersion() != y.GetResourceVersion() {
			return false
		}
	}
	return true
}

// AgentConfigMaps lists the ConfigMaps read by agent workloads, in every
// namespace.
func (c *Cache) AgentConfigMaps(ctx context.Context) ([]types.NamespacedName, error) {
	seen := map[types.NamespacedName]bool{}
	for _, kind := range workloadKinds {
		_, list := kind()
		if err := c.reader.List(ctx, list, client.MatchingFields{IndexAgent: "true"}); err != nil {
			return nil, err
		}
		for _, o := range items(list) {
			if cm := ConfigMapOf(o); cm != "" {
				seen[types.NamespacedName{Namespace: o.(client.Object).GetNamespace(), Name: cm}] = true
			}
		}
	}
	out := make([]types.NamespacedName, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

// HPAs implements review.Lookup.
func (c *Cache) HPAs(namespace string) []autoscalingv2.HorizontalPodAutoscaler {
	ctx, cancel := context.WithTimeout(context.Background(), ReadTimeout)
	defer cancel()
	list := &autoscalingv2.HorizontalPodAutoscalerList{}
	if c.watches.Behind("HorizontalPodAutoscaler") {
		c.watches.staleRead("HorizontalPodAutoscaler")
		if err := c.live.List(ctx, list, client.InNamespace(namespace)); err == nil {
			return list.Items
		}
	}
	if err := c.reader.List(ctx, list, client.InNamespace(namespace)); err != nil {
		c.log.Error(err, "Listing HorizontalPodAutoscalers from the cache", "namespace", namespace)
		return nil
	}
	return list.Items
}

// NamespaceLabels implements review.Lookup. A namespace the cache does not
// hold yet (created a moment ago) is read live.
func (c *Cache) NamespaceLabels(namespace string) map[string]string {
	if namespace == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), ReadTimeout)
	defer cancel()
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	key := types.NamespacedName{Name: namespace}
	err := c.reader.Get(ctx, key, ns)
	if apierrors.IsNotFound(err) {
		err = c.live.Get(ctx, key, ns)
	}
	if err != nil {
		if !apierrors.IsNotFound(err) {
			c.log.Error(err, "Reading namespace", "namespace", namespace)
		}
		return nil
	}
	return ns.Labels
}

// ConfigMapOf returns the name of the ConfigMap an agent workload reads, ""
// for anything else.
func ConfigMapOf(obj runtime.Object) string {
	f, err := workload.FromObject(obj, nil)
	if err != nil || !f.Agent || f.Config == nil {
		return ""
	}
	return f.Config.ConfigMap
}

func indexConfigMap(o client.Object) []string {
	if cm := ConfigMapOf(o); cm != "" {
		return []string{cm}
	}
	return nil
}

func indexAgent(o client.Object) []string {
	if f, err := workload.FromObject(o, nil); err == nil && f.Agent {
		return []string{"true"}
	}
	return nil
}

func items(list client.ObjectList) []runtime.Object {
	var out []runtime.Object
	switch l := list.(type) {
	case *appsv1.DaemonSetList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *appsv1.StatefulSetList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *appsv1.DeploymentList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].(client.Object).GetName() < out[j].(client.Object).GetName()
	})
	return out
}

// stripMetadata is the cache transform of every other kind.
func stripMetadata(in any) (any, error) {
	if o, ok := in.(metav1.Object); ok {
		strip(o)
	}
	return in, nil
}

// strip drops managedFields and kubectl's last-applied copy.
func strip(o metav1.Object) {
	o.SetManagedFields(nil)
	if a := o.GetAnnotations(); a[LastApplied] != "" {
		delete(a, LastApplied)
		if len(a) == 0 {
			a = nil // the emptied map would keep its buckets
		}
		o.SetAnnotations(a)
	}
}

// TransformConfigMap is the cache transform of ConfigMaps: metadata
// stripped, data kept only when the ConfigMap looks like an agent config.
func TransformConfigMap(in any) (any, error) {
	cm, ok := in.(*corev1.ConfigMap)
	if !ok {
		return in, nil
	}
	strip(cm)
	if !looksLikeAgentConfig(cm) {
		cm.Data, cm.BinaryData = nil, nil
	}
	return cm, nil
}

// looksLikeAgentConfig mirrors what review treats as an agent ConfigMap when
// no workload is known to read it.
func looksLikeAgentConfig(cm *corev1.ConfigMap) bool {
	if cm.Annotations[policy.AnnotationMode] != "" || cm.Labels[workload.LabelAgent] == "true" {
		return true
	}
	for k := range cm.Data {
		if ext := path.Ext(k); ext == ".river" || ext == ".alloy" {
			return true
		}
	}
	return false
}

// TransformWorkload is the cache transform of DaemonSets, StatefulSets and
// Deployments: metadata stripped, and the spec of anything but an agent
// workload dropped.
func TransformWorkload(in any) (any, error) {
	obj, ok := in.(client.Object)
	if !ok {
		return in, nil
	}
	strip(obj)
	if f, err := workload.FromObject(obj, nil); err == nil && f.Agent {
		return obj, nil
	}
	switch o := obj.(type) {
	case *appsv1.DaemonSet:
		o.Spec = appsv1.DaemonSetSpec{}
	case *appsv1.StatefulSet:
		o.Spec = appsv1.StatefulSetSpec{}
	case *appsv1.Deployment:
		o.Spec = appsv1.DeploymentSpec{}
	}
	return obj, nil
}

var _ toolscache.TransformFunc = TransformWorkload
