package workload

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/modeguard/modeguard/internal/testutil"
)

// TestGolden reads each testdata/<scenario>/input.yaml (one workload or Pod,
// plus any HPAs and unrelated objects) and compares its facts with
// facts.json (-update rewrites them).
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "input.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no testdata/*/input.yaml")
	}
	for _, in := range dirs {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := factsOfBundle(t, data)
			if err != nil {
				t.Fatal(err)
			}
			testutil.Golden(t, filepath.Join(dir, "facts.json"), got)
		})
	}
}

// factsOfBundle decodes every document of a manifest, hands its HPAs to
// FromObject and returns the indented facts of its one workload.
func factsOfBundle(t *testing.T, data []byte) ([]byte, error) {
	t.Helper()
	objs := decodeAll(t, data)
	var hpas []autoscalingv2.HorizontalPodAutoscaler
	for _, o := range objs {
		if h, ok := AsHPA(o); ok {
			hpas = append(hpas, *h)
		}
	}
	var facts *Facts
	for _, o := range objs {
		f, err := FromObject(o, hpas)
		if errors.Is(err, ErrNotWorkload) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if facts != nil {
			t.Fatalf("two workloads in one scenario: %s and %s", facts.Name, f.Name)
		}
		facts = f
	}
	if facts == nil {
		t.Fatal("no workload in scenario")
	}
	out, err := json.MarshalIndent(facts, "", "  ")
	return append(out, '\n'), err
}

// decodeAll decodes every non-empty document of a multi-document manifest.
func decodeAll(t *testing.T, data []byte) []runtime.Object {
	t.Helper()
	var objs []runtime.Object
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatal(err)
		}
		o, err := Decode(doc)
		if errors.Is(err, ErrEmptyDocument) {
			continue
		}
		if err != nil {
			t.Fatalf("decoding %q: %v", doc, err)
		}
		objs = append(objs, o)
	}
}
