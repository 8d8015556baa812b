package admit

import (
	lru "github.com/hashicorp/golang-lru/v2"
)

// DefaultCacheSize bounds a result cache when no size is given.
const DefaultCacheSize = 4096

// Cache is a bounded LRU of answers by Key. Values must not be modified
// once added: concurrent requests share them.
type Cache[V any] struct {
	lru *lru.Cache[string, V]
}

// NewCache returns a cache of at most size entries (DefaultCacheSize when
// size <= 0).
func NewCache[V any](size int) *Cache[V] {
	if size <= 0 {
		size = DefaultCacheSize
	}
	c, err := lru.New[string, V](size)
	if err != nil { // only for size <= 0
		panic(err)
	}
	return &Cache[V]{lru: c}
}

// Get returns the value for key; an empty key never hits.
func (c *Cache[V]) Get(key string) (V, bool) {
	if c == nil || key == "" {
		var zero V
		return zero, false
	}
	return c.lru.Get(key)
}

// Add stores v under key; an empty key is not stored.
func (c *Cache[V]) Add(key string, v V) {
	if c == nil || key == "" {
		return
	}
	c.lru.Add(key, v)
}

// Len is the number of entries.
func (c *Cache[V]) Len() int {
	if c == nil {
		return 0
	}
	return c.lru.Len()
}
