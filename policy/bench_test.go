package policy

import (
	"context"
	"fmt"
	"testing"

	"github.com/open-policy-agent/opa/v1/profiler"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/modeguard/modeguard/internal/benchconfig"
	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

func benchInput(b testing.TB, config string) *Input {
	b.Helper()
	data := []byte(`apiVersion: apps/v1
kind: DaemonSet
metadata: {name: alloy, namespace: monitoring}
spec:
  selector: {matchLabels: {app: alloy}}
  template:
    metadata: {labels: {app: alloy}}
    spec:
      containers:
        - name: alloy
          image: grafana/alloy:v1.5.1
          args: [run, /etc/alloy/config.alloy, --storage.path=/tmp/alloy]
          env: [{name: HOSTNAME, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}]
          volumeMounts: [{name: config, mountPath: /etc/alloy}]
      volumes: [{name: config, configMap: {name: alloy}}]
`)
	obj, err := workload.Decode(data)
	if err != nil {
		b.Fatal(err)
	}
	w, err := workload.FromObject(obj, nil)
	if err != nil {
		b.Fatal(err)
	}
	return &Input{
		Subject: Subject{Kind: "ConfigMap", Namespace: "monitoring", Name: "alloy", Operation: "UPDATE"},
		Mode:    w.Mode, Workload: w,
		Config: &Config{Namespace: "monitoring", Name: "alloy", Files: []*riverconfig.Facts{riverconfig.Parse("config.alloy", []byte(config))}},
	}
}

// BenchmarkDecision is one full decision with the facts already built:
// evaluation of every rule (the built-ins in Go), the memo off, so that
// every one evaluates, except in typical-memo-hit (through OPA, the same
// input again: a hash and a lookup). The -rego ones evaluate the built-ins through OPA
// (RegoOnly, as with a custom modeguard.lib): input conversion and OPA's
// evaluation.
func BenchmarkDecision(b *testing.B) {
	for _, c := range []struct {
		name   string
		config string
		memo   bool
		rego   bool
	}{
		{"typical", benchconfig.Typical, false, false}, {"large3000", benchconfig.Large(3000), false, false},
		{"typical-memo-hit", benchconfig.Typical, true, true}, // the memo serves OPA's evaluations
		{"typical-rego", benchconfig.Typical, false, true}, {"large3000-rego", benchconfig.Large(3000), false, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			o := Options{MemoEntries: -1, RegoOnly: c.rego}
			if c.memo {
				o.MemoEntries = 0
			}
			e, err := New(context.Background(), o)
			if err != nil {
				b.Fatal(err)
			}
			in := benchInput(b, c.config)
			// Facts parsed outside the engine's cache, under more file
			// names than the cache keeps a last conversion of
			// (recentNames), taken in turn: every evaluation converts its
			// file whole, as a text no cache knows.
			files := make([]*riverconfig.Facts, recentNames+1)
			for i := range files {
				files[i] = riverconfig.Parse(fmt.Sprintf("config-%02d.alloy", i), []byte(c.config))
			}
			if c.memo { // facts from the engine's cache, as review parses them
				files = []*riverconfig.Facts{e.ParseConfig("config.alloy", []byte(c.config))}
			}
			in.Config.Files = files[:1]
			ctx := context.Background()
			exprs := regoExpressions(b, e, in)
			b.ReportAllocs()
			var n, i int
			for b.Loop() {
				in.Config.Files = files[i%len(files) : i%len(files)+1]
				i++
				vs, err := e.Evaluate(ctx, in)
				if err != nil {
					b.Fatal(err)
				}
				n = len(e.Resolve(vs, Scope{}))
			}
			b.ReportMetric(float64(n), "decisions")
			b.ReportMetric(float64(exprs), "rego-exprs")
		})
	}
}

// regoExpressions counts the Rego expressions one evaluation of in
// evaluates (OPA's profiler: each expression's evaluations summed), the
// measure of how deep the rules are.
func regoExpressions(b testing.TB, e *Engine, in *Input) int {
	v, err := ToValue(in)
	if err != nil {
		b.Fatal(err)
	}
	p := profiler.New()
	q, err := e.current().queryFor(v)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := q.Eval(context.Background(), rego.EvalParsedInput(v), rego.EvalQueryTracer(p)); err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, s := range p.ReportTopNResults(-1, []string{"num_eval"}) {
		n += s.NumEval
	}
	return n
}

// BenchmarkEvaluateComponents evaluates every rule on configs of 100 to
// 2,000 components (benchconfig.LargeComponents, in files of at most 500,
// riverconfig.MaxComponents), the input already converted: how rule
// evaluation grows with components. ns/component should stay flat.
func BenchmarkEvaluateComponents(b *testing.B) {
	const perFile = 500
	for _, n := range []int{100, 500, 1000, 2000} {
		b.Run(fmt.Sprintf("%d", n), func(b *testing.B) {
			e, err := New(context.Background(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			in := benchInput(b, benchconfig.Typical)
			in.Config.Files = nil
			for i := 0; i*perFile < n; i++ {
				f := riverconfig.Parse(fmt.Sprintf("config-%d.alloy", i), []byte(benchconfig.LargeComponents(min(perFile, n-i*perFile))))
				if len(f.Errors) > 0 || len(f.Unverifiable) > 0 {
					b.Fatalf("file %d: errors %v, unverifiable %v", i, f.Errors, f.Unverifiable)
				}
				in.Config.Files = append(in.Config.Files, f)
			}
			v, err := ToValue(in)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			var vs []Violation
			for b.Loop() {
				if vs, err = e.EvaluateValue(ctx, v); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/component")
			b.ReportMetric(float64(len(vs)), "violations")
		})
	}
}
