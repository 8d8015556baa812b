package admit

import (
	"fmt"
	"testing"
)

// TestCacheBytes: past its byte bound the cache evicts the least recently
// used entries; a key added again counts once; an entry over the whole
// bound is not kept.
func TestCacheBytes(t *testing.T) {
	c := NewCacheBytes(10, 100, func(_ string, v int) int64 { return int64(v) })
	c.Add("a", 40)
	c.Add("b", 40)
	c.Get("a") // b is now the least recently used
	c.Add("c", 40)
	if _, ok := c.Get("b"); ok || c.Len() != 2 || c.Bytes() != 80 {
		t.Errorf("after a, b, c of 40 within 100: b kept %v, %d entries, %d bytes; want b evicted, 2, 80", ok, c.Len(), c.Bytes())
	}
	c.Add("a", 10)
	if v, _ := c.Get("a"); v != 10 || c.Bytes() != 50 {
		t.Errorf("a added again as 10: got %d, %d bytes; want 10, 50", v, c.Bytes())
	}
	c.Add("big", 101)
	if _, ok := c.Get("big"); ok || c.Bytes() != 50 {
		t.Errorf("an entry over the bound: kept %v, %d bytes", ok, c.Bytes())
	}
	c.Add("a", 101) // replaced by one too big: the old value goes too
	if _, ok := c.Get("a"); ok || c.Bytes() != 40 || c.Len() != 1 {
		t.Errorf("a replaced by an entry over the bound: kept %v, %d bytes, %d entries; want gone, 40, 1", ok, c.Bytes(), c.Len())
	}
	// The entry bound still holds.
	for i := range 20 {
		c.Add(fmt.Sprint(i), 1)
	}
	if c.Len() != 10 || c.Bytes() != 10 {
		t.Errorf("20 entries of 1 in a cache of 10: %d entries, %d bytes", c.Len(), c.Bytes())
	}
}

func TestDoorkeeper(t *testing.T) {
	d := NewDoorkeeper(2)
	for range 2 { // never recorded either
		if d.Again("") {
			t.Error("an empty key was let in")
		}
	}
	if d.Again("a") {
		t.Error("a key asked for the first time was let in")
	}
	if !d.Again("a") {
		t.Error("a key asked for a second time was not let in")
	}
	// Two generations of two keys: a is remembered while b, c and d come
	// (a and b fill the first generation, c and d the second), and
	// forgotten once e starts a third.
	for _, k := range []string{"b", "c"} {
		if d.Again(k) {
			t.Errorf("%s let in on its first request", k)
		}
	}
	if !d.Again("a") || !d.Again("b") {
		t.Error("a key of the generation before was forgotten")
	}
	for _, k := range []string{"d", "e"} {
		d.Again(k)
	}
	if d.Again("a") {
		t.Error("a key two generations old was still let in")
	}
	var none *Doorkeeper
	if !none.Again("x") || none.Again("") {
		t.Error("a nil Doorkeeper must let every non-empty key in")
	}
}
