package lookup

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"reflect"
	"slices"
	"sort"
	"time"

	"github.com/go-logr/logr"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
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

// CacheOptions returns the cache options of the webhook's manager: the
// transforms of the package doc (agents recognizes the agent workloads that
// keep their pod template), no informer started by accident, and broken
// watches reported to w (nil: not tracked).
func CacheOptions(w *Watches, agents workload.Recognizer) cache.Options {
	transform := TransformWorkload(agents)
	by := map[client.Object]cache.ByObject{
		workload.KindConfigMap.New(): {Transform: TransformConfigMap},
	}
	for _, k := range staticWorkloads() {
		by[k.New()] = cache.ByObject{Transform: transform}
	}
	return cache.Options{
		DefaultWatchErrorHandler:    w.WatchErrorHandler,
		ReaderFailOnMissingInformer: true,
		DefaultTransform:            stripMetadata,
		ByObject:                    by,
	}
}

// informed are the kinds the webhook keeps informers of: the agent
// workloads and what the rules read around them.
func informed() []*workload.Kind {
	return append(staticWorkloads(), workload.KindConfigMap, workload.KindHPA, workload.KindNamespace)
}

// Cache is a review.Lookup over the manager's informer cache.
type Cache struct {
	reader    client.Reader // the informer cache
	live      client.Reader // the API server, for what the cache misses
	log       logr.Logger
	informers []cache.Informer
	watches   *Watches
	agents    workload.Recognizer
	// cache and crds: the informer cache, and the CRD kinds it watches
	// since their CustomResourceDefinition was found (WatchCRDs).
	cache cache.Cache
	crds  crdKinds
	// indexes are the stores of the informers of informed(), by kind
	// name, read without controller-runtime's reader (directIndex); none
	// for a kind whose informer is not client-go's (a test's fake).
	indexes map[string]*directIndex
}

// directIndex is one informer's store, read directly: controller-runtime's
// List makes a zero object of the kind by reflection to learn the list's
// item type, and fills a typed list by reflection, on every call; on the
// admission path Consumers alone was 9% of the webhook's allocations. A
// workload kind's store holds indexByConfigMap; every store the namespace
// index controller-runtime gives its informers. A read from a synced store
// cannot wait, so it takes no ReadTimeout either: only the reads that may
// wait (the reader before the sync, the API server) make that context.
type directIndex struct {
	informer toolscache.SharedIndexInformer
}

// indexByConfigMap indexes agent workloads by "<namespace>/<ConfigMap they
// read>" in their informers' stores.
const indexByConfigMap = "modeguard.dev/namespace-configmap"

// get is the object the store holds under key (namespace/name, or the
// name of a cluster-scoped object), once its informer has synced; ok is
// false before (the caller falls back to controller-runtime's reader).
func (d *directIndex) get(key string) (obj any, exists, ok bool) {
	if d == nil || !d.informer.HasSynced() {
		return nil, false, false
	}
	obj, exists, err := d.informer.GetIndexer().GetByKey(key)
	return obj, exists, err == nil
}

// byIndex is what the store holds under index name and key, once its
// informer has synced; ok is false before (controller-runtime's reader
// waits for the sync: the caller falls back to it).
func (d *directIndex) byIndex(name, key string) (objs []any, ok bool) {
	if d == nil || !d.informer.HasSynced() {
		return nil, false
	}
	objs, err := d.informer.GetIndexer().ByIndex(name, key)
	return objs, err == nil
}

// Setup starts the informers the webhook needs on c (so that they sync with
// the manager's cache), adds the indexes, and returns the Lookup. live reads
// the API server directly (the manager's APIReader). w is the tracker
// given to CacheOptions (nil: watches are not tracked), agents the
// Recognizer given to it.
func Setup(ctx context.Context, c cache.Cache, live client.Reader, log logr.Logger, w *Watches, agents workload.Recognizer) (*Cache, error) {
	lc := &Cache{reader: c, live: live, log: log, watches: w, agents: agents, cache: c}
	for _, k := range staticWorkloads() {
		if err := c.IndexField(ctx, k.New(), IndexConfigMap, lc.indexConfigMap); err != nil {
			return nil, fmt.Errorf("indexing %ss by ConfigMap: %w", k.Name, err)
		}
		if err := c.IndexField(ctx, k.New(), IndexAgent, lc.indexAgent); err != nil {
			return nil, fmt.Errorf("indexing agent %ss: %w", k.Name, err)
		}
	}
	lc.indexes = map[string]*directIndex{}
	for _, k := range informed() {
		inf, err := c.GetInformer(ctx, k.Informer(), cache.BlockUntilSynced(false))
		if err != nil {
			return nil, fmt.Errorf("informer for %ss: %w", k.Name, err)
		}
		lc.informers = append(lc.informers, inf)
		if sii, ok := inf.(toolscache.SharedIndexInformer); ok {
			if slices.Contains(staticWorkloads(), k) {
				if err := sii.AddIndexers(toolscache.Indexers{indexByConfigMap: lc.namespaceConfigMap}); err != nil {
					return nil, fmt.Errorf("indexing %ss by ConfigMap: %w", k.Name, err)
				}
			}
			lc.indexes[k.Name] = &directIndex{informer: sii}
		}
		if w != nil && slices.Contains(trackedKinds, k.Name) {
			if _, err := inf.AddEventHandler(w.eventHandler(k.Name)); err != nil {
				return nil, fmt.Errorf("watching %s events: %w", k.Name, err)
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
// when the cache does not have the ConfigMap, holds it without its data, or
// cannot answer. Each read that may wait is bounded by ReadTimeout within
// ctx. What the cache answers is the cache's object (not copied: nothing
// may modify it, as review.Lookup says).
func (c *Cache) ConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	kind := workload.KindConfigMap.Name
	if !c.watches.Behind(kind) {
		if obj, exists, ok := c.indexes[kind].get(key.String()); ok && exists {
			if cm, isCM := obj.(*corev1.ConfigMap); isCM && (len(cm.Data) > 0 || len(cm.BinaryData) > 0) {
				return cm, nil
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, ReadTimeout)
	defer cancel()
	if c.watches.Behind(kind) {
		c.watches.staleRead(kind)
		cm := &corev1.ConfigMap{}
		err := c.live.Get(ctx, key, cm)
		switch {
		case err == nil:
			return cm, nil
		case apierrors.IsNotFound(err):
			return nil, nil
		}
		c.log.Error(err, "Reading ConfigMap from the API server (the cache may be behind): reading the cache instead", "configMap", key)
	}
	cm := &corev1.ConfigMap{}
	err := c.reader.Get(ctx, key, cm, client.UnsafeDisableDeepCopy) // read only (review.Lookup)
	switch {
	case err == nil && (len(cm.Data) > 0 || len(cm.BinaryData) > 0):
		return cm, nil
	case err != nil && !apierrors.IsNotFound(err):
		c.log.Error(err, "Reading ConfigMap from the cache: reading the API server instead", "configMap", key)
	}
	cm = &corev1.ConfigMap{}
	if err := c.live.Get(ctx, key, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading ConfigMap %s from the API server: %w", key, err)
	}
	return cm, nil
}

// Consumers implements review.Lookup: the agent workloads of the namespace
// that read the ConfigMap, by kind in the order of workload.Workloads
// (DaemonSets, StatefulSets, Deployments), each by name. A kind the cache
// cannot list is listed live; one neither can list is an error. What the
// cache answers is the cache's own objects, not copies (as review.Lookup
// says, nothing may modify them: review fixes copies).
func (c *Cache) Consumers(ctx context.Context, namespace, configMap string) ([]runtime.Object, error) {
	var out []runtime.Object
	bounded := false
	for _, k := range c.workloads() {
		if objs, ok := c.indexes[k.Name].byIndex(indexByConfigMap, namespace+"/"+configMap); ok && !c.watches.Behind(k.Name) {
			out = append(out, byName(objs)...)
			continue
		}
		if !bounded {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, ReadTimeout)
			defer cancel()
			bounded = true
		}
		list := k.NewList()
		if err := c.reader.List(ctx, list, client.InNamespace(namespace), client.MatchingFields{IndexConfigMap: configMap}, client.UnsafeDisableDeepCopy); err != nil {
			// Not synced yet (a request right after start), or broken:
			// the API server answers instead of an empty list.
			live, lerr := c.liveConsumers(ctx, list, namespace, configMap)
			if lerr != nil {
				return nil, fmt.Errorf("listing %ss from the cache and from the API server: %w", k.Name, errors.Join(err, lerr))
			}
			c.log.Info("The cache could not answer: consumers read live", "kind", k.Name, "namespace", namespace, "configMap", configMap, "error", err.Error())
			c.watches.staleRead(k.Name)
			out = append(out, live...)
			continue
		}
		cached, err := items(list)
		if err != nil {
			return nil, err
		}
		if c.watches.Behind(k.Name) {
			if live, err := c.liveConsumers(ctx, list, namespace, configMap); err == nil {
				c.watches.staleRead(k.Name)
				if !sameObjects(cached, live) {
					c.log.Info("The cache was behind the API server: consumers read live", "kind", k.Name, "namespace", namespace, "configMap", configMap)
				}
				cached = live
			} else {
				c.log.Error(err, "Listing agent workloads live (the cache may be behind): the cache answers", "kind", k.Name, "namespace", namespace)
			}
		}
		out = append(out, cached...)
	}
	return out, nil
}

// liveConsumers lists like (a list of one workload kind) from the API
// server and keeps the agent workloads reading configMap.
func (c *Cache) liveConsumers(ctx context.Context, like client.ObjectList, namespace, configMap string) ([]runtime.Object, error) {
	list := like.DeepCopyObject().(client.ObjectList)
	if err := c.live.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return nil, err
	}
	all, err := items(list)
	if err != nil {
		return nil, err
	}
	var out []runtime.Object
	for _, o := range all {
		if ConfigMapOf(o, c.agents) == configMap {
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
	for _, k := range c.workloads() {
		list := k.NewList()
		if err := c.reader.List(ctx, list, client.MatchingFields{IndexAgent: "true"}); err != nil {
			return nil, fmt.Errorf("listing agent %ss: %w", k.Name, err)
		}
		all, err := items(list)
		if err != nil {
			return nil, err
		}
		for _, o := range all {
			if cm := ConfigMapOf(o, c.agents); cm != "" {
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

// HPAs implements review.Lookup. A cache that may be behind, or cannot
// answer, is replaced by the API server; when neither answers it is an
// error. The cache's answer shares its maps and slices with the cache's
// own objects: nothing may modify them.
func (c *Cache) HPAs(ctx context.Context, namespace string) ([]autoscalingv2.HorizontalPodAutoscaler, error) {
	kind := workload.KindHPA.Name
	if !c.watches.Behind(kind) {
		if objs, ok := c.indexes[kind].byIndex(toolscache.NamespaceIndex, namespace); ok {
			return hpaValues(objs), nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, ReadTimeout)
	defer cancel()
	list := &autoscalingv2.HorizontalPodAutoscalerList{}
	if c.watches.Behind(kind) {
		c.watches.staleRead(kind)
		err := c.live.List(ctx, list, client.InNamespace(namespace))
		if err == nil {
			return list.Items, nil
		}
		c.log.Error(err, "Listing HorizontalPodAutoscalers from the API server (the cache may be behind): the cache answers", "namespace", namespace)
	}
	if objs, ok := c.indexes[kind].byIndex(toolscache.NamespaceIndex, namespace); ok {
		return hpaValues(objs), nil // the API server failed; the cache answers
	}
	err := c.reader.List(ctx, list, client.InNamespace(namespace), client.UnsafeDisableDeepCopy)
	if err == nil {
		return list.Items, nil
	}
	lerr := c.live.List(ctx, list, client.InNamespace(namespace))
	if lerr != nil {
		return nil, fmt.Errorf("listing HorizontalPodAutoscalers from the cache and from the API server: %w", errors.Join(err, lerr))
	}
	c.log.Info("The cache could not answer: HorizontalPodAutoscalers read live", "namespace", namespace, "error", err.Error())
	c.watches.staleRead(kind)
	return list.Items, nil
}

// NamespaceLabels implements review.Lookup. A namespace the cache does not
// hold yet (created a moment ago), or that the cache cannot read, is read
// live.
func (c *Cache) NamespaceLabels(ctx context.Context, namespace string) (map[string]string, error) {
	if namespace == "" {
		return nil, nil
	}
	if obj, exists, ok := c.indexes[workload.KindNamespace.Name].get(namespace); ok && exists {
		if m, isMeta := obj.(metav1.Object); isMeta {
			return m.GetLabels(), nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, ReadTimeout)
	defer cancel()
	ns := workload.KindNamespace.Informer()
	key := types.NamespacedName{Name: namespace}
	err := c.reader.Get(ctx, key, ns, client.UnsafeDisableDeepCopy) // the labels are read only (review.Lookup)
	if err != nil {
		if !apierrors.IsNotFound(err) {
			c.log.Error(err, "Reading namespace from the cache: reading the API server instead", "namespace", namespace)
		}
		err = c.live.Get(ctx, key, ns)
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading namespace %s: %w", namespace, err)
	}
	return ns.GetLabels(), nil
}

// ConfigMapOf returns the name of the ConfigMap an agent workload (as agents
// recognizes them) reads, "" for anything else.
func ConfigMapOf(obj runtime.Object, agents workload.Recognizer) string {
	f, err := agents.FromObject(obj, nil)
	if err != nil {
		return ""
	}
	return f.ReadsConfigMap()
}

func (c *Cache) indexConfigMap(o client.Object) []string {
	if cm := ConfigMapOf(o, c.agents); cm != "" {
		return []string{cm}
	}
	return nil
}

// namespaceConfigMap is the toolscache.IndexFunc of indexByConfigMap:
// indexConfigMap's value, prefixed with the object's namespace.
func (c *Cache) namespaceConfigMap(obj any) ([]string, error) {
	o, ok := obj.(client.Object)
	if !ok {
		return nil, nil
	}
	keys := c.indexConfigMap(o)
	for i, cm := range keys {
		keys[i] = o.GetNamespace() + "/" + cm
	}
	return keys, nil
}

// hpaValues are a store's HPAs, by name.
func hpaValues(objs []any) []autoscalingv2.HorizontalPodAutoscaler {
	out := make([]autoscalingv2.HorizontalPodAutoscaler, 0, len(objs))
	for _, o := range byName(objs) {
		if h, ok := o.(*autoscalingv2.HorizontalPodAutoscaler); ok {
			out = append(out, *h)
		}
	}
	return out
}

// byName are the store's objects, by name (as items sorts a list's).
func byName(objs []any) []runtime.Object {
	out := make([]runtime.Object, 0, len(objs))
	for _, o := range objs {
		if ro, ok := o.(runtime.Object); ok {
			out = append(out, ro)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].(client.Object).GetName() < out[j].(client.Object).GetName()
	})
	return out
}

func (c *Cache) indexAgent(o client.Object) []string {
	if f, err := c.agents.FromObject(o, nil); err == nil && f.Agent {
		return []string{"true"}
	}
	return nil
}

// items returns the objects of a list, by name.
func items(list client.ObjectList) ([]runtime.Object, error) {
	out, err := meta.ExtractList(list)
	if err != nil {
		return nil, fmt.Errorf("reading a %T: %w", list, err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].(client.Object).GetName() < out[j].(client.Object).GetName()
	})
	return out, nil
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

// TransformWorkload returns the cache transform of the workload.Workloads
// kinds: metadata stripped, and the spec of anything but an agent workload
// (as agents recognizes them) dropped.
func TransformWorkload(agents workload.Recognizer) toolscache.TransformFunc {
	return func(in any) (any, error) { return transformWorkload(in, agents) }
}

func transformWorkload(in any, agents workload.Recognizer) (any, error) {
	obj, ok := in.(client.Object)
	if !ok {
		return in, nil
	}
	strip(obj)
	if f, err := agents.FromObject(obj, nil); err == nil && f.Agent {
		return obj, nil
	}
	if k := workload.KindOf(obj); k != nil && k.Spec != nil {
		reflect.ValueOf(k.Spec(obj)).Elem().SetZero()
	}
	return obj, nil
}
