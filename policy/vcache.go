package policy

import (
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// flatCache is the topdown.VirtualCache of one evaluation: the values of
// rules and of function calls, by reference (a function call's is the
// function and its arguments). OPA's own keeps a tree with a map per node,
// one node per term of a reference, so that every function call with new
// arguments costs several maps; this one keeps each frame in one map by a
// hash of the whole reference. It answers as OPA's does (TestFlatCache).
type flatCache struct {
	frames []map[uint64]*flatEntry
}

var _ topdown.VirtualCache = (*flatCache)(nil)

type flatEntry struct {
	ref       ast.Ref
	value     *ast.Term
	undefined bool
	next      *flatEntry // same hash
}

func newFlatCache() *flatCache {
	c := &flatCache{frames: make([]map[uint64]*flatEntry, 1, 4)}
	c.frames[0] = make(map[uint64]*flatEntry, 32)
	return c
}

func (c *flatCache) Push() { c.frames = append(c.frames, map[uint64]*flatEntry{}) }

func (c *flatCache) Pop() {
	c.frames[len(c.frames)-1] = nil
	c.frames = c.frames[:len(c.frames)-1]
}

func refHash(ref ast.Ref) uint64 {
	var h uint64 = 14695981039346656037
	for _, t := range ref {
		h = (h ^ uint64(t.Hash())) * 1099511628211
	}
	return h
}

func (c *flatCache) find(ref ast.Ref, h uint64) *flatEntry {
	for e := c.frames[len(c.frames)-1][h]; e != nil; e = e.next {
		if e.ref.Equal(ref) {
			return e
		}
	}
	return nil
}

// Get returns the value cached for ref, or nil and whether ref is known to
// be undefined.
func (c *flatCache) Get(ref ast.Ref) (*ast.Term, bool) {
	e := c.find(ref, refHash(ref))
	switch {
	case e == nil:
		return nil, false
	case e.undefined:
		return nil, true
	}
	return e.value, false
}

// Put caches value for ref; a nil value records that ref is undefined.
func (c *flatCache) Put(ref ast.Ref, value *ast.Term) {
	h := refHash(ref)
	e := c.find(ref, h)
	if e == nil {
		m := c.frames[len(c.frames)-1]
		// The evaluator reuses the slice of a function call's reference.
		e = &flatEntry{ref: append(ast.Ref(nil), ref...), next: m[h]}
		m[h] = e
	}
	if value != nil {
		e.value = value
	} else {
		e.undefined = true
	}
}

// Keys lists the references with a value in the current frame.
func (c *flatCache) Keys() []ast.Ref {
	var out []ast.Ref
	for _, e := range c.frames[len(c.frames)-1] {
		for ; e != nil; e = e.next {
			if e.value != nil {
				out = append(out, e.ref)
			}
		}
	}
	return out
}
