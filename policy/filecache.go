package policy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

// Default bounds of an engine's FileCache. A cluster runs few agent
// configs, and a request needs the few texts of its fix loop: 32 texts
// serve both. With 256, a stream of new texts (make bench's GitOps step, a
// new ConfigMap in ten requests) kept up to the byte bound of texts never
// read again: the peak RSS under load was 11 MiB higher (about 103 against
// 92 MiB), at no measurable gain in throughput.
const (
	DefaultFileCacheEntries = 32
	DefaultFileCacheBytes   = 8 << 20
)

// recentNames bounds the file names whose last converted file a FileCache
// keeps for the next text under the name (convertFile).
const recentNames = 16

// restEntries bounds the inputs whose rest (subject, workload, relation) a
// FileCache keeps converted: about 10 KiB each.
const restEntries = 128

// What an entry holds, estimated from the length of its text (measured on
// benchconfig.Typical and Large(3000): facts 17-19 bytes per byte of text,
// their Rego value 73-79). Facts are kept first, the value once built if
// it fits: a file too large for its value to be kept still has its facts
// kept, which is what a pass applying one fix after another re-reads.
func factsCost(srcLen int) int64 { return 2048 + 24*int64(srcLen) }
func valueCost(srcLen int) int64 { return 80 * int64(srcLen) }

// FileCache holds config files parsed by riverconfig.Parse, and the Rego
// value of each, by file name and the sha256 of the text: a text seen again
// (the pass after a fix, the validating webhook reviewing what the mutating
// one fixed, a repeated request) is neither parsed nor converted again. It
// is an LRU bounded by entries and by an estimate of the bytes held, safe
// for concurrent use. The facts it returns are shared by every caller:
// nothing may modify them. It also keeps the Rego value of the rest of the
// last restEntries inputs (see restValue), and the last file converted
// under each of recentNames names, whose unchanged elements a new text
// under the name reuses (convertFile).
type FileCache struct {
	mu       sync.Mutex
	lru      *simplelru.LRU[fileKey, *fileEntry]
	byFacts  map[*riverconfig.Facts]*fileEntry
	bytes    int64
	maxBytes int64
	rest     *simplelru.LRU[fileKey, ast.Object]   // see restValue
	derived  *simplelru.LRU[fileKey, derivedEntry] // see derivedValue
	// derivedBytes is an estimate of what derived holds, bounded by
	// maxBytes/4 apart from bytes (guarded by mu).
	derivedBytes int64
	// recent is the last file converted under each name, whose unchanged
	// elements the next one under that name reuses (convertFile); its
	// values are bounded by maxBytes apart from bytes (guarded by mu).
	recent      *simplelru.LRU[string, *convertedFile]
	recentBytes int64

	hits, misses atomic.Int64
}

type fileKey [sha256.Size]byte

// fileEntry is one parsed text. Its Rego value is built on first use.
type fileEntry struct {
	key    fileKey
	facts  *riverconfig.Facts
	srcLen int
	cost   int64 // guarded by FileCache.mu

	mu        sync.Mutex // held while converting: one conversion per text
	converted bool
	value     *ast.Term // the facts as the rules read them
	index     *ast.Term // component id → position: this file's Config.Index
	err       error
}

// NewFileCache returns a cache of at most entries texts and about maxBytes
// bytes (DefaultFileCacheEntries and DefaultFileCacheBytes for values <= 0).
// A text whose entry alone would exceed maxBytes is parsed, not kept.
func NewFileCache(entries int, maxBytes int64) *FileCache {
	if entries <= 0 {
		entries = DefaultFileCacheEntries
	}
	if maxBytes <= 0 {
		maxBytes = DefaultFileCacheBytes
	}
	c := &FileCache{byFacts: map[*riverconfig.Facts]*fileEntry{}, maxBytes: maxBytes}
	c.lru, _ = simplelru.NewLRU(entries, func(_ fileKey, e *fileEntry) {
		// Called with c.mu held, from Add and RemoveOldest.
		delete(c.byFacts, e.facts)
		c.bytes -= e.cost
	})
	c.rest, _ = simplelru.NewLRU[fileKey, ast.Object](restEntries, nil)
	c.derived, _ = simplelru.NewLRU(restEntries, func(_ fileKey, e derivedEntry) {
		c.derivedBytes -= e.cost // called with c.mu held
	})
	c.recent, _ = simplelru.NewLRU(recentNames, func(_ string, cf *convertedFile) {
		c.recentBytes -= cf.cost // called with c.mu held
	})
	return c
}

// Parse is riverconfig.Parse(filename, src), from the cache when the same
// text was parsed under the same name. A nil cache parses every time.
func (c *FileCache) Parse(filename string, src []byte) *riverconfig.Facts {
	if c == nil {
		return riverconfig.Parse(filename, src)
	}
	k := fileKeyOf(filename, src)
	c.mu.Lock()
	e, ok := c.lru.Get(k)
	c.mu.Unlock()
	if ok {
		c.hits.Add(1)
		return e.facts
	}
	c.misses.Add(1)
	f := riverconfig.Parse(filename, src)
	cost := factsCost(len(src))
	if cost > c.maxBytes {
		return f
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.lru.Get(k); ok { // parsed meanwhile by another request
		return e.facts
	}
	e = &fileEntry{key: k, facts: f, srcLen: len(src), cost: cost}
	c.lru.Add(k, e)
	c.byFacts[f] = e
	c.bytes += cost
	c.trim()
	return f
}

// trim evicts the least recently used entries until the bytes held fit.
// The caller holds c.mu.
func (c *FileCache) trim() {
	for c.bytes > c.maxBytes && c.lru.Len() > 0 {
		c.lru.RemoveOldest()
	}
}

// Stats returns how many Parse calls found their text in the cache, and
// how many parsed it.
func (c *FileCache) Stats() (hits, misses int64) {
	if c == nil {
		return 0, 0
	}
	return c.hits.Load(), c.misses.Load()
}

// Len is the number of texts held.
func (c *FileCache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func fileKeyOf(filename string, src []byte) fileKey {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(filename)))
	h.Write(n[:])
	h.Write([]byte(filename))
	h.Write(src)
	var k fileKey
	h.Sum(k[:0])
	return k
}

// keyOf returns the key of the text whose facts f are, when f came from c
// and is still held.
func (c *FileCache) keyOf(f *riverconfig.Facts) (fileKey, bool) {
	if c == nil || f == nil {
		return fileKey{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.byFacts[f]; e != nil {
		return e.key, true
	}
	return fileKey{}, false
}

// fileValue returns the Rego value of f and of its component index: from
// the cache when f came from it, else converted now, reusing the values of
// the elements that did not change since the last text converted under
// f's name (convert).
func (c *FileCache) fileValue(f *riverconfig.Facts) (value, index *ast.Term, err error) {
	if c == nil {
		cf, err := convertFile(f, nil)
		if err != nil {
			return nil, nil, err
		}
		return cf.value, cf.index, nil
	}
	c.mu.Lock()
	e := c.byFacts[f]
	c.mu.Unlock()
	if e == nil {
		return c.convert(f, textLen(f))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.converted {
		return e.value, e.index, e.err
	}
	value, index, err = c.convert(f, e.srcLen)
	c.mu.Lock()
	defer c.mu.Unlock()
	if vc := valueCost(e.srcLen); c.byFacts[f] == e && e.cost+vc <= c.maxBytes {
		e.value, e.index, e.err, e.converted = value, index, err, true
		e.cost += vc
		c.bytes += vc
		c.lru.Get(e.key) // most recently used: trim keeps it
		c.trim()
	}
	return value, index, err
}

// convert converts f, reusing what it can of the last file converted
// under its name, and keeps the result as that file. srcLen sizes it (the
// length of its text, or an estimate).
func (c *FileCache) convert(f *riverconfig.Facts, srcLen int) (value, index *ast.Term, err error) {
	c.mu.Lock()
	prev, _ := c.recent.Get(f.File)
	c.mu.Unlock()
	cf, err := convertFile(f, prev)
	if err != nil {
		return nil, nil, err
	}
	cf.cost = valueCost(srcLen)
	c.mu.Lock()
	defer c.mu.Unlock()
	if cf.cost > c.maxBytes {
		return cf.value, cf.index, nil
	}
	if old, ok := c.recent.Peek(f.File); ok {
		c.recentBytes -= old.cost
	}
	c.recent.Add(f.File, cf)
	c.recentBytes += cf.cost
	for c.recentBytes > c.maxBytes && c.recent.Len() > 0 {
		c.recent.RemoveOldest()
	}
	return cf.value, cf.index, nil
}

// textLen estimates the length of the text f was parsed from: where its
// last component ends.
func textLen(f *riverconfig.Facts) int {
	n := 0
	for _, c := range f.Components {
		n = max(n, c.Range.End.Offset)
	}
	return n
}

// convertedFile is the Rego value of one file's facts, with the values of
// its components, collectors and node-name uses, which the next text
// converted under the same name takes where they did not change.
type convertedFile struct {
	facts        *riverconfig.Facts
	value, index *ast.Term
	elems        [3][]*ast.Term // components, collectors, nodeNames
	// nElems and nReused count the elements of the three lists, and
	// those taken from the previous file.
	nElems, nReused int
	cost            int64 // guarded by FileCache.mu
}

// convertFile converts f as toAST does, taking from prev (the facts of an
// earlier text under the same name, or nil) the value of each component,
// collector and node-name use equal to the one at the same place in prev:
// a fix edits one component and leaves the others, and whatever comes
// before the edit, where they were, so the pass that evaluates the fixed
// text converts little more than what the fix changed.
func convertFile(f *riverconfig.Facts, prev *convertedFile) (*convertedFile, error) {
	cf := &convertedFile{facts: f}
	bare := *f
	bare.Components, bare.Collectors, bare.NodeNames = nil, nil, nil
	v, err := toAST(reflect.ValueOf(&bare))
	if err != nil {
		return nil, fmt.Errorf("file %s: %w", f.File, err)
	}
	obj := v.(ast.Object)
	old := &convertedFile{facts: &riverconfig.Facts{}}
	if prev != nil {
		old = prev
	}
	var reused [3]int
	var errs [3]error
	cf.elems[0], reused[0], errs[0] = elemTerms(f.Components, old.facts.Components, old.elems[0])
	cf.elems[1], reused[1], errs[1] = elemTerms(f.Collectors, old.facts.Collectors, old.elems[1])
	cf.elems[2], reused[2], errs[2] = elemTerms(f.NodeNames, old.facts.NodeNames, old.elems[2])
	isNil := [3]bool{f.Components == nil, f.Collectors == nil, f.NodeNames == nil}
	for i, key := range [3]string{"components", "collectors", "nodeNames"} {
		if errs[i] != nil {
			return nil, fmt.Errorf("file %s: %s: %w", f.File, key, errs[i])
		}
		cf.nElems += len(cf.elems[i])
		cf.nReused += reused[i]
		if !isNil[i] { // a nil list stays null, as toAST writes it
			obj.Insert(ast.StringTerm(key), ast.ArrayTerm(cf.elems[i]...))
		}
	}
	seen := make(map[string]bool, len(f.Components))
	items := make([][2]*ast.Term, 0, len(f.Components))
	for i, comp := range f.Components {
		if !seen[comp.ID] {
			seen[comp.ID] = true
			items = append(items, [2]*ast.Term{ast.StringTerm(comp.ID), ast.InternedTerm(i)})
		}
	}
	cf.value, cf.index = ast.NewTerm(obj), ast.NewTerm(ast.NewObject(items...))
	return cf, nil
}

// elemTerms converts the elements of cur, taking the term of oldTerms for
// each element equal to the one at its index in old.
func elemTerms[T any](cur, old []T, oldTerms []*ast.Term) (terms []*ast.Term, reused int, err error) {
	if len(oldTerms) != len(old) {
		old = nil
	}
	eq, enc := equalOf(reflect.TypeFor[T]()), encoderOf(reflect.TypeFor[T]())
	terms = make([]*ast.Term, len(cur))
	convert := func(from, to int) (reused int, err error) {
		for i := from; i < to; i++ {
			x := reflect.ValueOf(&cur[i]).Elem()
			if i < len(old) && eq(x, reflect.ValueOf(&old[i]).Elem()) {
				terms[i] = oldTerms[i]
				reused++
				continue
			}
			if terms[i], err = enc(x); err != nil {
				return 0, fmt.Errorf("%d: %w", i, err)
			}
		}
		return reused, nil
	}
	// A long list is converted in parts at once, one per CPU: the
	// encoders and equalities are safe for concurrent use, and each part
	// writes its own elements.
	parts := min(runtime.GOMAXPROCS(0), len(cur)/parallelElems)
	if parts < 2 {
		reused, err = convert(0, len(cur))
		return terms, reused, err
	}
	var wg sync.WaitGroup
	counts, errs := make([]int, parts), make([]error, parts)
	for p := range parts {
		wg.Go(func() {
			counts[p], errs[p] = convert(p*len(cur)/parts, (p+1)*len(cur)/parts)
		})
	}
	wg.Wait()
	for _, err := range errs { // the first part's first, as in one pass
		if err != nil {
			return nil, 0, err
		}
	}
	for _, n := range counts {
		reused += n
	}
	return terms, reused, nil
}

// parallelElems is the length of list from which elemTerms converts it in
// parts at once: a part of 128 components is about 2.5 ms of work.
const parallelElems = 128

// inputValue is ToValue with the files of in.Config converted through c,
// and the rest of in (subject, mode, workload, relation) taken from c when
// an input with the same rest was converted recently. It leaves
// in.Config.Index alone: the index goes into the value only.
func (c *FileCache) inputValue(in *Input) (ast.Value, error) {
	if in.APIVersion == "" {
		in.APIVersion = InputAPIVersion
	}
	rest := *in
	rest.Config, rest.Derived = nil, nil
	v, err := c.restValue(&rest)
	if err != nil {
		return nil, fmt.Errorf("encoding policy input: %w", err)
	}
	cfg := ast.InternedNullTerm
	if in.Config != nil {
		if cfg, err = c.configValue(in.Config); err != nil {
			return nil, fmt.Errorf("encoding policy input: config: %w", err)
		}
	}
	derived, err := c.derivedValue(in)
	if err != nil {
		return nil, fmt.Errorf("encoding policy input: derived: %w", err)
	}
	configKey, derivedKey := ast.StringTerm("config"), ast.StringTerm("derived")
	items := make([][2]*ast.Term, 0, v.Len())
	v.Foreach(func(k, x *ast.Term) {
		switch {
		case k.Equal(configKey):
			x = cfg
		case k.Equal(derivedKey):
			x = derived
		}
		items = append(items, [2]*ast.Term{k, x})
	})
	return ast.NewObject(items...), nil
}

// restValue converts the rest of an input (its Config nil), or returns the
// value of a rest with the same JSON form: toAST gives what that form
// decodes to, so the same form is the same value. Encoding and hashing it
// costs a third of converting it, and the rest is the same for every pass
// of a review that fixes the config, and for every request about one
// ConfigMap and workload.
func (c *FileCache) restValue(rest *Input) (ast.Object, error) {
	var k fileKey
	err := hashJSON(&k, rest)
	if err != nil || c == nil {
		v, err := toAST(reflect.ValueOf(rest)) // says why, as ToValue would
		if err != nil {
			return nil, err
		}
		return v.(ast.Object), nil
	}
	c.mu.Lock()
	v, ok := c.rest.Get(k)
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	x, err := toAST(reflect.ValueOf(rest))
	if err != nil {
		return nil, err
	}
	v = x.(ast.Object)
	c.mu.Lock()
	c.rest.Add(k, v)
	c.mu.Unlock()
	return v, nil
}

// hashJSON sets *k to the sha256 of x's JSON form (and a newline),
// streamed into the hash rather than held: the rest of an input is
// encoded on every evaluation.
func hashJSON(k *fileKey, x any) error {
	h := sha256.New()
	if err := json.NewEncoder(h).Encode(x); err != nil {
		return err
	}
	h.Sum(k[:0])
	return nil
}

// configValue converts cfg as toAST would after cfg.index(), the files and
// their index through c.
func (c *FileCache) configValue(cfg *Config) (*ast.Term, error) {
	rest := *cfg
	rest.Files, rest.Index = nil, nil
	v, err := toAST(reflect.ValueOf(&rest))
	if err != nil {
		return nil, err
	}
	files := ast.NullTerm()
	index := make(map[string]*ast.Term, len(cfg.Files))
	if cfg.Files != nil {
		terms := make([]*ast.Term, len(cfg.Files))
		for i, f := range cfg.Files {
			if f == nil {
				terms[i] = ast.NullTerm()
				continue
			}
			fv, idx, err := c.fileValue(f)
			if err != nil {
				return nil, fmt.Errorf("files: %w", err)
			}
			terms[i], index[f.File] = fv, idx
		}
		files = ast.ArrayTerm(terms...)
	}
	items := make([][2]*ast.Term, 0, len(index))
	for name, idx := range index {
		items = append(items, [2]*ast.Term{ast.StringTerm(name), idx})
	}
	obj := v.(ast.Object)
	obj.Insert(ast.StringTerm("files"), files)
	obj.Insert(ast.StringTerm("index"), ast.NewTerm(ast.NewObject(items...)))
	return ast.NewTerm(obj), nil
}

// derivedEntry is the Rego value of one input's Derived facts.
type derivedEntry struct {
	value *ast.Term
	cost  int64
}

// derivedCost estimates what the value of the Derived facts of files of
// srcLen bytes of text holds: their JSON form is about 3 bytes per byte of
// text (benchconfig.Typical and Large(3000)), a file's facts about 9, and
// valueCost puts a value at 8 times its JSON form.
func derivedCost(srcLen int) int64 { return 2048 + 24*int64(srcLen) }

// derivedValue returns the Rego value of derive(in): from c when an input
// of the same derivedKey was converted recently, else converted now (and
// kept when every file of in came from c). derive reads only the fields
// of the workload derivedKey writes and the files, and the files of one
// key have the same facts, so the same key is the same value. The rest of
// an input (its subject above all) differs between the requests about one
// workload and config, which share this value: the fix loop's passes on
// an unchanged text, the workload and its ConfigMap reviewed one after the
// other, requests the memo is off for or has forgotten.
func (c *FileCache) derivedValue(in *Input) (*ast.Term, error) {
	k, srcLen, ok := c.derivedKey(in)
	if ok {
		c.mu.Lock()
		e, hit := c.derived.Get(k)
		c.mu.Unlock()
		if hit {
			return e.value, nil
		}
	}
	v, err := termOf(reflect.ValueOf(derive(in)))
	if err != nil || !ok {
		return v, err
	}
	cost := derivedCost(srcLen)
	budget := c.maxBytes / 4
	if cost > budget {
		return v, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, dup := c.derived.Peek(k); dup {
		c.derivedBytes -= old.cost
	}
	c.derived.Add(k, derivedEntry{value: v, cost: cost})
	c.derivedBytes += cost
	for c.derivedBytes > budget && c.derived.Len() > 0 {
		c.derived.RemoveOldest()
	}
	return v, nil
}

// derivedKey hashes what derive reads of in: the workload's node-name env
// vars, whether its flags are known and make the process clustered, its
// hostNetwork, whether it is an Alloy object, its claim volumes, and each
// config file by its key in c. ok is false when a
// file did not come from c (or c is nil): its facts have no key.
func (c *FileCache) derivedKey(in *Input) (k fileKey, srcLen int, ok bool) {
	if c == nil {
		return k, 0, false
	}
	h := sha256.New()
	var n [8]byte
	writeInt := func(x int) {
		binary.BigEndian.PutUint64(n[:], uint64(x))
		h.Write(n[:])
	}
	writeBool := func(b bool) {
		if b {
			writeInt(1)
		} else {
			writeInt(0)
		}
	}
	w := in.Workload
	writeBool(w == nil)
	if w != nil {
		writeInt(len(w.NodeNameEnv))
		for _, v := range w.NodeNameEnv {
			writeInt(len(v))
			h.Write([]byte(v))
		}
		writeBool(w.Run == nil)
		writeBool(processClustered(w))
		writeBool(w.HostNetwork)
		writeBool(w.Alloy != nil && w.Alloy.Fullname != "")
		for _, v := range w.Volumes { // Derived.ClaimVolumes
			if v.Type == workload.VolumePVC {
				b, _ := json.Marshal(v)
				writeInt(len(b))
				h.Write(b)
			}
		}
	}
	writeBool(in.Config == nil)
	if in.Config != nil {
		writeInt(len(in.Config.Files))
		c.mu.Lock()
		for _, f := range in.Config.Files {
			writeBool(f == nil)
			if f == nil {
				continue
			}
			e := c.byFacts[f]
			if e == nil {
				c.mu.Unlock()
				return k, 0, false
			}
			h.Write(e.key[:])
			srcLen += e.srcLen
		}
		c.mu.Unlock()
	}
	h.Sum(k[:0])
	return k, srcLen, true
}
