package policy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/modeguard/modeguard/internal/benchconfig"
	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

// goldenTexts are the River texts of riverconfig's golden scenarios, by
// file name.
func goldenTexts(t *testing.T) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob("../riverconfig/testdata/*/input.*")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no golden configs: %v", err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(filepath.Dir(p))+filepath.Ext(p)] = b
	}
	return out
}

// TestFileCacheValue: the input value built from the cache is the one
// ToValue builds, whether the files came from the cache (converted once,
// then reused) or not, for every golden config, several files in one
// config, no files and no config.
func TestFileCacheValue(t *testing.T) {
	t.Parallel()
	c := NewFileCache(0, 0)
	workloads := golden[workload.Facts](t, "../workload/testdata/*/facts.json")
	texts := goldenTexts(t)
	var all []*riverconfig.Facts
	var inputs []*Input
	i := 0
	for name, src := range texts {
		w := workloads[i%len(workloads)]
		i++
		f := c.Parse(name, src)
		all = append(all, f)
		inputs = append(inputs,
			&Input{Subject: Subject{Kind: "ConfigMap", Name: "cm"}, Mode: w.Mode, Workload: w, Config: &Config{Name: "cm", Files: []*riverconfig.Facts{f}}},
			&Input{Subject: Subject{Kind: "ConfigMap", Name: "cm"}, Config: &Config{Name: "cm", Files: []*riverconfig.Facts{riverconfig.Parse(name, src)}, Error: "x"}})
	}
	inputs = append(inputs,
		&Input{Config: &Config{Name: "all", Files: all}},
		&Input{Config: &Config{Name: "dup", Files: []*riverconfig.Facts{all[0], all[1], all[0]}}},
		&Input{Config: &Config{Name: "same name", Files: []*riverconfig.Facts{
			c.Parse("same.alloy", []byte(benchconfig.Typical)), c.Parse("same.alloy", []byte(benchconfig.LargeComponents(10)))}}},
		&Input{Config: &Config{Name: "none", Files: []*riverconfig.Facts{}}},
		&Input{Config: &Config{Name: "nil"}},
		&Input{})
	for round := range 2 {
		for i, in := range inputs {
			got, err := c.inputValue(in)
			if err != nil {
				t.Fatalf("input %d: %v", i, err)
			}
			want, err := ToValue(in)
			if err != nil {
				t.Fatalf("input %d: %v", i, err)
			}
			if got.Compare(want) != 0 {
				t.Fatalf("round %d, input %d: the cached value differs from ToValue's:\n got %v\nwant %v", round, i, got, want)
			}
		}
	}
}

func TestFileCacheBounds(t *testing.T) {
	t.Parallel()
	a, b, x := []byte(`a "x" { }`), []byte(`b "x" { }`), []byte(`x "x" { }`)

	c := NewFileCache(2, 1<<30)
	fa := c.Parse("f.alloy", a)
	if c.Parse("f.alloy", append([]byte(nil), a...)) != fa {
		t.Error("the same text under the same name: parsed again, want the cached facts")
	}
	if c.Parse("g.alloy", a) == fa {
		t.Error("the same text under another name: got the facts of the first name")
	}
	c.Parse("f.alloy", b)
	if got := c.Len(); got != 2 {
		t.Errorf("entries: got %d, want 2", got)
	}
	if c.Parse("f.alloy", a) == fa {
		t.Error("the least recently used text is still cached past the entry bound")
	}
	if hits, misses := c.Stats(); hits != 1 || misses != 4 {
		t.Errorf("stats: got %d hits, %d misses, want 1 and 4", hits, misses)
	}

	c = NewFileCache(100, 2*factsCost(len(a)))
	for _, src := range [][]byte{a, b, x} {
		c.Parse("f.alloy", src)
	}
	if got := c.Len(); got != 2 {
		t.Errorf("entries under a byte bound of two: got %d, want 2", got)
	}
	c.mu.Lock()
	if len(c.byFacts) != c.lru.Len() || c.bytes != 2*factsCost(len(a)) {
		t.Errorf("book-keeping: %d facts, %d entries, %d bytes; want 2, 2, %d", len(c.byFacts), c.lru.Len(), c.bytes, 2*factsCost(len(a)))
	}
	c.mu.Unlock()

	c = NewFileCache(100, factsCost(len(a))-1)
	if f := c.Parse("f.alloy", a); len(f.Components) != 1 || c.Len() != 0 {
		t.Errorf("a text over the byte bound: %d components, %d entries; want it parsed, not kept", len(f.Components), c.Len())
	}

	// Room for the facts and the value of one text: converting it keeps
	// the value and evicts the other text; with room for the facts only,
	// the value is built every time and the facts stay.
	long := strings.Repeat("// a comment\n", 20) // a value larger than facts
	la, lb := append([]byte(long), a...), append([]byte(long), b...)
	for _, room := range []struct {
		bytes     int64
		keepValue bool
	}{
		{factsCost(len(la)) + valueCost(len(la)) + factsCost(len(lb)) - 1, true},
		{factsCost(len(la)) + factsCost(len(lb)), false},
	} {
		c = NewFileCache(100, room.bytes)
		fb := c.Parse("f.alloy", lb)
		fa := c.Parse("f.alloy", la)
		v1, _, err := c.fileValue(fa)
		if err != nil {
			t.Fatal(err)
		}
		v2, _, _ := c.fileValue(fa)
		if kept := v1 == v2; kept != room.keepValue {
			t.Errorf("room for %d bytes: value kept %v, want %v", room.bytes, kept, room.keepValue)
		}
		if c.Parse("f.alloy", la) != fa {
			t.Errorf("room for %d bytes: the facts were evicted", room.bytes)
		}
		if _, ok := c.byFacts[fb]; ok == room.keepValue {
			t.Errorf("room for %d bytes: the other text cached %v, want %v", room.bytes, ok, !room.keepValue)
		}
		if len(c.byFacts) != c.lru.Len() || c.bytes > c.maxBytes {
			t.Errorf("room for %d bytes: %d facts, %d entries, %d bytes", room.bytes, len(c.byFacts), c.lru.Len(), c.bytes)
		}
	}

	var none *FileCache
	if f := none.Parse("f.alloy", a); len(f.Components) != 1 {
		t.Errorf("nil cache: got %d components, want 1", len(f.Components))
	}
}

// TestFileCacheConcurrent evaluates texts shared through the cache from
// many goroutines (run with -race): every evaluation decides what an
// engine without the cache decides.
func TestFileCacheConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, err := New(ctx, Options{FileCacheEntries: 3})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := New(ctx, Options{FileCacheEntries: -1})
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{benchconfig.Typical, benchconfig.LargeComponents(40), benchconfig.LargeComponents(20), "a = ["}
	want := make([][]Violation, len(texts))
	w := benchInput(t, "").Workload
	input := func(f *riverconfig.Facts) *Input {
		return &Input{Subject: Subject{Kind: "ConfigMap", Name: "cm"}, Mode: "daemonset", Workload: w, Config: &Config{Name: "cm", Files: []*riverconfig.Facts{f}}}
	}
	for i, s := range texts {
		if want[i], err = plain.Evaluate(ctx, input(riverconfig.Parse("config.alloy", []byte(s)))); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				k := (g + i) % len(texts)
				got, err := e.Evaluate(ctx, input(e.ParseConfig("config.alloy", []byte(texts[k]))))
				if err != nil {
					errs <- err
					return
				}
				if !reflect.DeepEqual(got, want[k]) {
					errs <- fmt.Errorf("text %d: got %v, want %v", k, got, want[k])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestFileCacheDerived: inputs that differ only in what derive reads of the
// workload (each of derivedWorkloads) or in their files get the Rego value
// ToValue builds, through one cache, on the first conversion and when the
// derived value is taken from the cache; an input whose files did not come
// from the cache is converted every time.
func TestFileCacheDerived(t *testing.T) {
	t.Parallel()
	c := NewFileCache(0, 0)
	texts := goldenTexts(t)
	var inputs []*Input
	for name, src := range texts {
		for wname, w := range derivedWorkloads() {
			for _, f := range []*riverconfig.Facts{c.Parse(name, src), riverconfig.Parse(name, src)} {
				in := &Input{Subject: Subject{Kind: "ConfigMap", Name: wname}, Workload: w, Config: &Config{Name: "cm", Files: []*riverconfig.Facts{f}}}
				if w != nil {
					in.Mode = w.Mode
				}
				inputs = append(inputs, in)
			}
		}
	}
	for round := range 2 {
		for i, in := range inputs {
			got, err := c.inputValue(in)
			if err != nil {
				t.Fatalf("input %d: %v", i, err)
			}
			want, err := ToValue(in)
			if err != nil {
				t.Fatalf("input %d: %v", i, err)
			}
			if got.Compare(want) != 0 {
				t.Fatalf("round %d, input %d (%s): the cached value differs from ToValue's:\n got %v\nwant %v", round, i, in.Subject.Name, got, want)
			}
		}
	}
	c.mu.Lock()
	n := c.derived.Len()
	c.mu.Unlock()
	if want := min(len(texts)*len(derivedWorkloads()), restEntries); n == 0 || n > want {
		t.Errorf("got %d derived values held, want 1 to %d", n, want)
	}
}
