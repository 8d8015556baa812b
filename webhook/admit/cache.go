package admit

import (
	"hash/maphash"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// DefaultCacheSize bounds a result cache when no size is given.
const DefaultCacheSize = 4096

// DefaultCacheBytes bounds what a handler's result cache holds, by
// answerCost: about a thousand answers that patch a workload and warn, or
// all DefaultCacheSize of the small ones a rollout's Pods get. Without it a
// stream of new workloads, none asked for twice, filled the cache with
// 4096 answers of about 2 KiB (8.6 MiB of heap, twice that resident at the
// default GOGC) that were never read again.
const DefaultCacheBytes = 2 << 20

// Cache is a bounded LRU of answers by Key, safe for concurrent use.
// Values must not be modified once added: concurrent requests share them.
type Cache[V any] struct {
	mu       sync.Mutex
	lru      *simplelru.LRU[string, V]
	cost     func(key string, v V) int64 // nil: entries alone bound it
	bytes    int64                       // the cost of what it holds
	maxBytes int64
}

// NewCache returns a cache of at most size entries (DefaultCacheSize when
// size <= 0).
func NewCache[V any](size int) *Cache[V] {
	return NewCacheBytes[V](size, 0, nil)
}

// NewCacheBytes returns a cache of at most size entries (DefaultCacheSize
// when size <= 0) whose entries cost at most maxBytes in all, by cost (no
// byte bound when cost is nil or maxBytes <= 0). An entry that alone costs
// more than maxBytes is not kept.
func NewCacheBytes[V any](size int, maxBytes int64, cost func(key string, v V) int64) *Cache[V] {
	if size <= 0 {
		size = DefaultCacheSize
	}
	c := &Cache[V]{maxBytes: maxBytes}
	if cost != nil && maxBytes > 0 {
		c.cost = cost
	}
	var err error
	c.lru, err = simplelru.NewLRU(size, func(k string, v V) {
		if c.cost != nil { // called with c.mu held
			c.bytes -= c.cost(k, v)
		}
	})
	if err != nil { // only for size <= 0
		panic(err)
	}
	return c
}

// Get returns the value for key; an empty key never hits.
func (c *Cache[V]) Get(key string) (V, bool) {
	if c == nil || key == "" {
		var zero V
		return zero, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Get(key)
}

// Add stores v under key, evicting the least recently used entries past
// the bounds; an empty key is not stored.
func (c *Cache[V]) Add(key string, v V) {
	if c == nil || key == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cost == nil {
		c.lru.Add(key, v)
		return
	}
	n := c.cost(key, v)
	c.lru.Remove(key) // an old value's cost leaves through the eviction callback
	if n > c.maxBytes {
		return
	}
	c.lru.Add(key, v)
	c.bytes += n
	for c.bytes > c.maxBytes && c.lru.Len() > 0 {
		c.lru.RemoveOldest()
	}
}

// Len is the number of entries.
func (c *Cache[V]) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Bytes is the cost of the entries held (0 without a byte bound).
func (c *Cache[V]) Bytes() int64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// Doorkeeper tells which keys were asked for before: a result cache keeps
// only the answers asked for a second time (TinyLFU's doorkeeper). A stream
// of objects that are never asked for again (a new workload or config each
// time) then costs the cache neither heap nor the work of keeping them,
// while a re-applied object, or a rollout's Pods, is answered from the
// cache from its third request on. It remembers fingerprints (8 bytes each)
// of the last size to 2*size keys in two generations; safe for concurrent
// use.
type Doorkeeper struct {
	mu        sync.Mutex
	seed      maphash.Seed
	cur, prev map[uint64]struct{}
	size      int
}

// NewDoorkeeper returns a Doorkeeper of size keys a generation
// (DefaultCacheSize when size <= 0).
func NewDoorkeeper(size int) *Doorkeeper {
	if size <= 0 {
		size = DefaultCacheSize
	}
	return &Doorkeeper{seed: maphash.MakeSeed(), cur: map[uint64]struct{}{}, size: size}
}

// Again records key and tells whether it was recorded before (in this
// generation or the one before). An empty key is never recorded. A nil
// Doorkeeper lets every key in.
func (d *Doorkeeper) Again(key string) bool {
	if d == nil {
		return key != ""
	}
	if key == "" {
		return false
	}
	h := maphash.String(d.seed, key)
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.cur[h]; ok {
		return true
	}
	if _, ok := d.prev[h]; ok {
		return true
	}
	if len(d.cur) >= d.size {
		d.prev, d.cur = d.cur, make(map[uint64]struct{}, d.size)
	}
	d.cur[h] = struct{}{}
	return false
}
