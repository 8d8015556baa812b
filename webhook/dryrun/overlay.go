package dryrun

import (
	"container/list"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/workload"
)

// Defaults of Options.
const (
	// DefaultTTL covers one `kubectl apply --dry-run=server` or `helm
	// install --dry-run=server` of a bundle: seconds, not minutes.
	DefaultTTL = 60 * time.Second
	// DefaultMaxEntries and DefaultMaxBytes bound the overlay: a few
	// hundred bundles at once, and at most 32 MiB of objects.
	DefaultMaxEntries = 2048
	DefaultMaxBytes   = 32 << 20
)

// Options bound an Overlay; zero fields take the defaults.
type Options struct {
	TTL        time.Duration
	MaxEntries int
	MaxBytes   int64
}

// Key names one remembered object.
type Key struct {
	User      string // see User
	Namespace string
	Kind      string // a workload.Kind's Name
	Name      string
}

// User is the overlay's user key of an admission request's user info: the
// name, and the UID when the authenticator set one (a user deleted and
// created again under the same name is another user).
func User(username, uid string) string {
	if uid == "" {
		return username
	}
	return username + "\x00" + uid
}

type entry struct {
	key     Key
	obj     workload.Object
	base    string // the resourceVersion the dry run updated; "" for a create
	size    int64
	expires time.Time
	elem    *list.Element
}

// Overlay remembers dry-run objects; see the package doc. It is safe for
// concurrent use.
type Overlay struct {
	// Peers, if set, are asked for what this replica's overlay lacks: the
	// pair of a dry-run object that reached another replica.
	Peers *Peers

	opts   Options
	agents workload.Recognizer
	now    func() time.Time

	mu      sync.Mutex
	entries map[Key]*entry
	order   *list.List // of *entry, oldest first
	bytes   int64
}

// New returns an empty overlay. agents recognizes agent workloads (the
// Reviewer's Agents): which ConfigMap a remembered workload reads.
func New(o Options, agents workload.Recognizer) *Overlay {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	return &Overlay{opts: o, agents: agents, now: time.Now, entries: map[Key]*entry{}, order: list.New()}
}

// Remembers reports whether objects of kind k are remembered: ConfigMaps,
// HorizontalPodAutoscalers and the workload.Workloads kinds.
func Remembers(k *workload.Kind) bool {
	return k != nil && (k.Workload || k == workload.KindConfigMap || k == workload.KindHPA)
}

// Remember stores a copy of obj, admitted by a dry run of user; size is its
// encoded size (the request's raw object). Objects of other kinds (see
// Remembers), and objects bigger than MaxBytes, are not stored (the latter
// also forget an earlier version).
func (o *Overlay) Remember(user string, obj runtime.Object, size int) {
	if o == nil {
		return
	}
	k := workload.KindOf(obj)
	if !Remembers(k) {
		return
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	key := Key{User: user, Namespace: m.GetNamespace(), Kind: k.Name, Name: m.GetName()}
	if int64(size) > o.opts.MaxBytes {
		o.Forget(key)
		return
	}
	c := obj.DeepCopyObject().(workload.Object)
	strip(c)
	// Without it, a result cache keys the object by its content, not by
	// the resourceVersion of the cluster's version it updates.
	c.SetResourceVersion("")
	e := &entry{key: key, obj: c, base: m.GetResourceVersion(), size: int64(size)}
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	e.expires = now.Add(o.opts.TTL)
	o.drop(o.entries[key])
	o.entries[key] = e
	e.elem = o.order.PushBack(e)
	o.bytes += e.size
	o.expire(now)
	for o.order.Len() > o.opts.MaxEntries || o.bytes > o.opts.MaxBytes {
		o.drop(o.order.Front().Value.(*entry))
	}
}

// Forget drops the object of key: a dry run denied it, so a real apply
// would not have stored it either.
func (o *Overlay) Forget(key Key) {
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.drop(o.entries[key])
}

// Len returns the number of entries and their bytes, expired ones dropped.
func (o *Overlay) Len() (entries int, bytes int64) {
	if o == nil {
		return 0, 0
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.expire(o.now())
	return o.order.Len(), o.bytes
}

// drop removes e (nil: nothing). Callers hold mu.
func (o *Overlay) drop(e *entry) {
	if e == nil {
		return
	}
	o.order.Remove(e.elem)
	delete(o.entries, e.key)
	o.bytes -= e.size
}

// expire drops the entries expired at now: the oldest, as every entry
// lives the same TTL. Callers hold mu.
func (o *Overlay) expire(now time.Time) {
	for f := o.order.Front(); f != nil; f = o.order.Front() {
		e := f.Value.(*entry)
		if now.Before(e.expires) {
			return
		}
		o.drop(e)
	}
}

// get returns the live entry of key, nil when there is none.
func (o *Overlay) get(key Key) *entry {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.expire(o.now())
	return o.entries[key]
}

// namespace returns the live entries of user in namespace of the kinds,
// by kind in the order given, then by name.
func (o *Overlay) namespace(user, namespace string, kinds ...*workload.Kind) []*entry {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.expire(o.now())
	var out []*entry
	for _, e := range o.entries {
		if e.key.User == user && e.key.Namespace == namespace && slices.ContainsFunc(kinds, func(k *workload.Kind) bool { return k.Name == e.key.Kind }) {
			out = append(out, e)
		}
	}
	rank := func(kind string) int {
		return slices.IndexFunc(kinds, func(k *workload.Kind) bool { return k.Name == kind })
	}
	slices.SortFunc(out, func(a, b *entry) int {
		if d := rank(a.key.Kind) - rank(b.key.Kind); d != 0 {
			return d
		}
		return strings.Compare(a.key.Name, b.key.Name)
	})
	return out
}

// current reports whether e still stands over the cluster's object (nil:
// absent): the cluster holds nothing newer than what the dry run saw.
func (e *entry) current(cluster metav1.Object) bool {
	if cluster == nil {
		return e.base == ""
	}
	return cluster.GetResourceVersion() == e.base
}

// Lookup returns base as user's dry run sees it: with the objects user's
// earlier dry-run requests admitted, where the cluster has nothing newer.
func (o *Overlay) Lookup(user string, base review.Lookup) review.Lookup {
	if o == nil {
		return base
	}
	return &view{o: o, user: user, base: base}
}

type view struct {
	o    *Overlay
	user string
	base review.Lookup

	asked map[string][]*entry // the peers' entries by namespace, asked once
}

// fromPeers returns the peers' entries of the user in namespace, asking
// them the first time (nil without peers).
func (v *view) fromPeers(ctx context.Context, namespace string) []*entry {
	if v.o.Peers == nil {
		return nil
	}
	if es, ok := v.asked[namespace]; ok {
		return es
	}
	es := decode(v.user, namespace, v.o.Peers.fetch(ctx, v.user, namespace))
	if v.asked == nil {
		v.asked = map[string][]*entry{}
	}
	v.asked[namespace] = es
	return es
}

// withPeers returns own with the peers' entries of kinds added where own
// has none of the same key.
func (v *view) withPeers(ctx context.Context, namespace string, own []*entry, kinds ...*workload.Kind) []*entry {
	out := slices.Clone(own)
	for _, e := range v.fromPeers(ctx, namespace) {
		if slices.ContainsFunc(kinds, func(k *workload.Kind) bool { return k.Name == e.key.Kind }) &&
			!slices.ContainsFunc(own, func(o *entry) bool { return o.key == e.key }) {
			out = append(out, e)
		}
	}
	return out
}

var _ review.Lookup = (*view)(nil)

// ConfigMap implements review.Lookup.
func (v *view) ConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	cm, err := v.base.ConfigMap(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	key := Key{User: v.user, Namespace: namespace, Kind: workload.KindConfigMap.Name, Name: name}
	e := v.o.get(key)
	if e == nil && cm == nil {
		// Not here: the dry run's earlier object may have reached a peer.
		for _, pe := range v.fromPeers(ctx, namespace) {
			if pe.key == key {
				e = pe
			}
		}
	}
	if e == nil {
		return cm, nil
	}
	var cluster metav1.Object
	if cm != nil {
		cluster = cm
	}
	if !e.current(cluster) {
		return cm, nil
	}
	return e.obj.(*corev1.ConfigMap).DeepCopy(), nil
}

// Consumers implements review.Lookup: the cluster's consumers, each
// replaced by its remembered version when the cluster has nothing newer
// (and dropped when that version reads another ConfigMap), and the
// remembered agent workloads that read configMap and the cluster does not
// list.
func (v *view) Consumers(ctx context.Context, namespace, configMap string) ([]runtime.Object, error) {
	cluster, err := v.base.Consumers(ctx, namespace, configMap)
	if err != nil {
		return nil, err
	}
	kinds := workload.Workloads()
	entries := v.o.namespace(v.user, namespace, kinds...)
	out := v.consumers(namespace, configMap, cluster, entries, kinds)
	if len(out) == 0 && v.o.Peers != nil {
		// None here: the dry run's earlier workload may have reached a peer.
		out = v.consumers(namespace, configMap, cluster, v.withPeers(ctx, namespace, entries, kinds...), kinds)
	}
	return out, nil
}

// consumers merges the cluster's consumers of configMap with entries.
func (v *view) consumers(namespace, configMap string, cluster []runtime.Object, entries []*entry, kinds []*workload.Kind) []runtime.Object {
	if len(entries) == 0 {
		return cluster
	}
	byKey := map[Key]*entry{}
	for _, e := range entries {
		byKey[e.key] = e
	}
	var out []runtime.Object
	for _, c := range cluster {
		k, m := workload.KindOf(c), c.(metav1.Object)
		if k == nil {
			out = append(out, c)
			continue
		}
		key := Key{User: v.user, Namespace: namespace, Kind: k.Name, Name: m.GetName()}
		e, ok := byKey[key]
		delete(byKey, key)
		if !ok || !e.current(m) {
			out = append(out, c)
			continue
		}
		if v.o.configMapOf(e.obj) == configMap {
			out = append(out, e.obj.DeepCopyObject())
		}
	}
	for _, e := range entries {
		if _, ok := byKey[e.key]; ok && v.o.configMapOf(e.obj) == configMap {
			out = append(out, e.obj.DeepCopyObject())
		}
	}
	// The cluster's order: by kind, then by name.
	rank := func(o runtime.Object) int { return slices.Index(kinds, workload.KindOf(o)) }
	slices.SortStableFunc(out, func(a, b runtime.Object) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a.(metav1.Object).GetName(), b.(metav1.Object).GetName())
	})
	return out
}

// HPAs implements review.Lookup: the cluster's, each replaced by its
// remembered version when the cluster has nothing newer, and the
// remembered ones the cluster does not hold.
func (v *view) HPAs(ctx context.Context, namespace string) ([]autoscalingv2.HorizontalPodAutoscaler, error) {
	cluster, err := v.base.HPAs(ctx, namespace)
	if err != nil {
		return nil, err
	}
	entries := v.o.namespace(v.user, namespace, workload.KindHPA)
	if len(entries) == 0 {
		return cluster, nil
	}
	byName := map[string]*entry{}
	for _, e := range entries {
		byName[e.key.Name] = e
	}
	out := make([]autoscalingv2.HorizontalPodAutoscaler, 0, len(cluster)+len(entries))
	for i := range cluster {
		h := &cluster[i]
		e, ok := byName[h.Name]
		delete(byName, h.Name)
		if ok && e.current(h) {
			out = append(out, *e.obj.(*autoscalingv2.HorizontalPodAutoscaler).DeepCopy())
			continue
		}
		out = append(out, *h)
	}
	for _, e := range entries {
		if _, ok := byName[e.key.Name]; ok && e.current(nil) {
			out = append(out, *e.obj.(*autoscalingv2.HorizontalPodAutoscaler).DeepCopy())
		}
	}
	return out, nil
}

// NamespaceLabels implements review.Lookup: the cluster's (a dry run
// cannot create objects in a namespace that does not exist).
func (v *view) NamespaceLabels(ctx context.Context, namespace string) (map[string]string, error) {
	return v.base.NamespaceLabels(ctx, namespace)
}

// configMapOf is the ConfigMap an agent workload reads, "" for anything
// else (as lookup.ConfigMapOf, which this package cannot import: lookup's
// tests reach admit, which imports this package).
func (o *Overlay) configMapOf(obj runtime.Object) string {
	f, err := o.agents.FromObject(obj, nil)
	if err != nil || !f.Agent || f.Config == nil {
		return ""
	}
	return f.Config.ConfigMap
}

// lastApplied is kubectl's copy of the applied object (lookup.LastApplied).
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// strip drops what no rule reads and that only costs memory: managedFields
// and kubectl's last-applied copy of the whole object. o is a copy.
func strip(o metav1.Object) {
	o.SetManagedFields(nil)
	if a := o.GetAnnotations(); a[lastApplied] != "" {
		delete(a, lastApplied)
		o.SetAnnotations(a)
	}
}
