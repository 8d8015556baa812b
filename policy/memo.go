package policy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/open-policy-agent/opa/v1/ast"
)

// Default bounds of an engine's Memo.
const (
	DefaultMemoEntries = 4096
	DefaultMemoBytes   = 4 << 20
)

// Memo holds the violations of recent evaluations by the policy version
// and a hash of the whole Rego input: for a deterministic policy the same
// input gives the same violations, so an input evaluated again (the
// validating webhook reviewing what the mutating one just fixed, a GitOps
// controller re-applying an unchanged object, the last pass of a fix loop)
// costs a hash instead of an evaluation. It is an LRU bounded by entries
// and by an estimate of the bytes held, safe for concurrent use. The
// violations it returns are shared: callers copy before they modify.
type Memo struct {
	mu       sync.Mutex
	lru      *simplelru.LRU[memoKey, memoEntry]
	bytes    int64
	maxBytes int64

	hits, misses atomic.Int64
}

type memoKey [sha256.Size]byte

type memoEntry struct {
	vs   []Violation
	cost int64
}

// NewMemo returns a memo of at most entries inputs and about maxBytes
// bytes (DefaultMemoEntries and DefaultMemoBytes for values <= 0).
func NewMemo(entries int, maxBytes int64) *Memo {
	if entries <= 0 {
		entries = DefaultMemoEntries
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMemoBytes
	}
	m := &Memo{maxBytes: maxBytes}
	m.lru, _ = simplelru.NewLRU(entries, func(_ memoKey, e memoEntry) {
		m.bytes -= e.cost // called with m.mu held
	})
	return m
}

func (m *Memo) get(k memoKey) ([]Violation, bool) {
	m.mu.Lock()
	e, ok := m.lru.Get(k)
	m.mu.Unlock()
	if ok {
		m.hits.Add(1)
		return e.vs, true
	}
	m.misses.Add(1)
	return nil, false
}

func (m *Memo) put(k memoKey, vs []Violation) {
	cost := int64(128)
	for _, v := range vs {
		cost += 256 + int64(len(v.Message)+len(v.Component)+len(v.File))
	}
	if cost > m.maxBytes {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.lru.Peek(k); ok {
		m.bytes -= old.cost
	}
	m.lru.Add(k, memoEntry{vs: vs, cost: cost})
	m.bytes += cost
	for m.bytes > m.maxBytes && m.lru.Len() > 0 {
		m.lru.RemoveOldest()
	}
}

// Stats returns how many evaluations the memo answered and how many it did
// not (each then evaluated).
func (m *Memo) Stats() (hits, misses int64) {
	if m == nil {
		return 0, 0
	}
	return m.hits.Load(), m.misses.Load()
}

// Len is the number of inputs held.
func (m *Memo) Len() int {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len()
}

// memoKeyOf hashes the policy version and the whole Rego input in (as
// ToValue converts it): its JSON form without the config, the config's own
// fields, and each config file by the FileCache key of its text (its
// facts are riverconfig.Parse's of that name and text: the same key is
// the same facts), or by its JSON form when it did not come from the
// cache. ok is false when in cannot be encoded.
func (e *Engine) memoKeyOf(version string, in *Input) (k memoKey, ok bool) {
	h := sha256.New()
	var n [8]byte
	write := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	write([]byte(version))
	// JSON forms are streamed into the hash (a JSON value ends where it
	// ends: no length needed), not held.
	enc := json.NewEncoder(h)
	rest := *in
	rest.Config, rest.Derived = nil, nil // Derived follows from the rest and the config
	if err := enc.Encode(&rest); err != nil {
		return k, false
	}
	if cfg := in.Config; cfg != nil {
		c := *cfg
		c.Files, c.Index = nil, nil
		if err := enc.Encode(&c); err != nil {
			return k, false
		}
		if cfg.Files == nil {
			write([]byte("files:null"))
		}
		for _, f := range cfg.Files {
			if fk, cached := e.files.keyOf(f); cached {
				write([]byte("file"))
				write(fk[:])
				continue
			}
			write([]byte("facts"))
			if err := enc.Encode(f); err != nil {
				return k, false
			}
		}
	} else {
		write([]byte("config:null"))
	}
	h.Sum(k[:0])
	return k, true
}

// nondeterministic lists the builtins the compiled policy calls whose
// result may differ between two evaluations of one input (time.now_ns,
// rand.intn, uuid.rfc4122, ...), as OPA's builtin table marks them.
// Evaluations of such a policy are not memoized.
func nondeterministic(c *ast.Compiler) []string {
	seen := map[string]bool{}
	check := func(op ast.Ref) {
		name := op.String()
		if b, ok := ast.BuiltinMap[name]; ok && b.Nondeterministic {
			seen[name] = true
		}
	}
	for _, m := range c.Modules {
		ast.WalkExprs(m, func(x *ast.Expr) bool {
			if x.IsCall() {
				check(x.Operator())
			}
			return false
		})
		ast.WalkTerms(m, func(t *ast.Term) bool {
			if call, ok := t.Value.(ast.Call); ok && len(call) > 0 {
				if r, ok := call[0].Value.(ast.Ref); ok {
					check(r)
				}
			}
			return false
		})
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
