package policy

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/modeguard/modeguard/internal/benchconfig"
	"github.com/modeguard/modeguard/riverconfig"
)

// TestMemo: where OPA evaluates (here the built-ins, RegoOnly), an input
// evaluated again is answered from the memo with the same violations; an
// input that differs anywhere (the subject, the workload, a config's text,
// its name) is evaluated; a policy reload (another version) misses.
func TestMemo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, err := New(ctx, Options{RegoOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	in := benchInput(t, benchconfig.Typical)
	in.Config.Files = []*riverconfig.Facts{e.ParseConfig("config.alloy", []byte(benchconfig.Typical))}
	first, err := e.Evaluate(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) == 0 {
		t.Fatal("got no violations on the typical config, want some")
	}
	again, err := e.Evaluate(ctx, benchInputParsed(t, e, benchconfig.Typical))
	if err != nil {
		t.Fatal(err)
	}
	if hits, misses := e.Memo().Stats(); hits != 1 || misses != 1 {
		t.Errorf("got %d hits, %d misses, want 1 and 1", hits, misses)
	}
	if !reflect.DeepEqual(first, again) {
		t.Errorf("the memo's violations differ:\ngot  %+v\nwant %+v", again, first)
	}
	// The memo's violations are the caller's to reorder.
	again[0], again[len(again)-1] = again[len(again)-1], again[0]

	for name, change := range map[string]func(*Input){
		"subject":  func(in *Input) { in.Subject.Name = "other" },
		"mode":     func(in *Input) { in.Mode = "statefulset" },
		"workload": func(in *Input) { w := *in.Workload; w.HostNetwork = !w.HostNetwork; in.Workload = &w },
		"text": func(in *Input) {
			in.Config.Files = []*riverconfig.Facts{e.ParseConfig("config.alloy", []byte(benchconfig.Typical+"\n// x\n"))}
		},
		"file name": func(in *Input) {
			in.Config.Files = []*riverconfig.Facts{e.ParseConfig("other.alloy", []byte(benchconfig.Typical))}
		},
		"uncached facts": func(in *Input) {
			in.Config.Files = []*riverconfig.Facts{riverconfig.Parse("config.alloy", []byte(benchconfig.Typical+"\n// y\n"))}
		},
		"no config": func(in *Input) { in.Config = nil },
	} {
		in := benchInputParsed(t, e, benchconfig.Typical)
		change(in)
		_, before := e.Memo().Stats()
		if _, err := e.Evaluate(ctx, in); err != nil {
			t.Fatal(err)
		}
		if _, after := e.Memo().Stats(); after != before+1 {
			t.Errorf("%s changed: got a memo hit, want an evaluation", name)
		}
	}
	vs, err := e.Evaluate(ctx, benchInputParsed(t, e, benchconfig.Typical))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, vs) {
		t.Errorf("after a caller reordered its copy: got %+v, want %+v", vs, first)
	}
}

// TestMemoBypassedInGo: the built-ins in Go decide without the memo.
func TestMemoBypassedInGo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEngine(t, "", nil)
	for range 2 {
		if _, err := e.Evaluate(ctx, benchInputParsed(t, e, benchconfig.Typical)); err != nil {
			t.Fatal(err)
		}
	}
	if hits, misses := e.Memo().Stats(); hits != 0 || misses != 0 || e.Memo().Len() != 0 {
		t.Errorf("got %d hits, %d misses, %d entries, want none", hits, misses, e.Memo().Len())
	}
}

func benchInputParsed(t *testing.T, e *Engine, config string) *Input {
	in := benchInput(t, config)
	in.Config.Files = []*riverconfig.Facts{e.ParseConfig("config.alloy", []byte(config))}
	return in
}

// TestMemoBounds: the memo holds at most its entries, and drops the least
// recently used beyond its bytes.
func TestMemoBounds(t *testing.T) {
	t.Parallel()
	m := NewMemo(2, 0)
	for i := range 3 {
		m.put(memoKey{byte(i)}, []Violation{{Message: "m"}})
	}
	if got := m.Len(); got != 2 {
		t.Errorf("entries: got %d, want 2", got)
	}
	if _, ok := m.get(memoKey{0}); ok {
		t.Error("the oldest entry is still held, want it evicted")
	}
	m = NewMemo(100, 1000)
	for i := range 10 {
		m.put(memoKey{byte(i)}, []Violation{{Message: "m"}}) // 384 bytes each
	}
	if got := m.Len(); got != 2 {
		t.Errorf("bytes: got %d entries, want 2 (1000 bytes of 384 each)", got)
	}
	m.put(memoKey{99}, []Violation{{Message: string(make([]byte, 2000))}})
	if _, ok := m.get(memoKey{99}); ok {
		t.Error("an entry larger than the whole memo is held, want it dropped")
	}
}

// TestMemoNondeterministic: a policy calling a nondeterministic builtin is
// evaluated every time, and Nondeterministic names the builtin.
func TestMemoNondeterministic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		body string
		want []string
	}{
		{`violations contains {"msg": sprintf("%d", [time.now_ns()]), "target": "workload"} if input.mode == "daemonset"`, []string{"time.now_ns"}},
		{`violations contains {"msg": "r", "target": "workload"} if {
	x := rand.intn("k", 10)
	x >= 0
}`, []string{"rand.intn"}},
		{`violations contains {"msg": "d", "target": "workload"} if input.mode == "daemonset"`, []string{}},
	} {
		dir := t.TempDir()
		write(t, dir, "x.rego", "# METADATA\n# title: t\n# custom:\n#   id: X1\n#   action: warn\n#   appliesTo: [DaemonSet]\npackage modeguard.rules.x\n\n"+tc.body+"\n")
		e := newEngine(t, dir, nil)
		if got := e.Nondeterministic(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: Nondeterministic() got %v, want %v", tc.body, got, tc.want)
		}
		for range 2 {
			if _, err := e.Evaluate(ctx, benchInputParsed(t, e, benchconfig.Typical)); err != nil {
				t.Fatal(err)
			}
		}
		hits, _ := e.Memo().Stats()
		want := int64(1) // the second evaluation
		if len(tc.want) > 0 {
			want = 0
		}
		if hits != want {
			t.Errorf("%s: got %d memo hits, want %d", tc.body, hits, want)
		}
	}
}
