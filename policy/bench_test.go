package policy

import (
	"context"
	"github.com/modeguard/modeguard/internal/benchconfig"
	"testing"

	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

func benchInput(b *testing.B, config string) *Input {
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
// input conversion, evaluation of every rule, action resolution.
func BenchmarkDecision(b *testing.B) {
	for _, c := range []struct {
		name   string
		config string
	}{{"typical", benchconfig.Typical}, {"large3000", benchconfig.Large(3000)}} {
		b.Run(c.name, func(b *testing.B) {
			e, err := New(context.Background(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			in := benchInput(b, c.config)
			ctx := context.Background()
			b.ReportAllocs()
			var n int
			for b.Loop() {
				vs, err := e.Evaluate(ctx, in)
				if err != nil {
					b.Fatal(err)
				}
				n = len(e.Resolve(vs, Scope{}))
			}
			b.ReportMetric(float64(n), "decisions")
		})
	}
}
