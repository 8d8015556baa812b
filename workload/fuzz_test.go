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
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// FuzzDecodeFacts feeds YAML through Decode, FromObject and json.Marshal:
// none may panic, and facts must always marshal. Seeds are every document
// of testdata/*/input.yaml.
func FuzzDecodeFacts(f *testing.F) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*", "input.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, in := range inputs {
		data, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f.Fatal(err)
			}
			f.Add(doc)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := Decode(data)
		if err != nil {
			return
		}
		var hpas []autoscalingv2.HorizontalPodAutoscaler
		if h, ok := AsHPA(obj); ok {
			hpas = append(hpas, *h)
		}
		facts, err := FromObject(obj, hpas)
		if err != nil {
			if !errors.Is(err, ErrNotWorkload) {
				t.Fatalf("FromObject: unexpected error %v", err)
			}
			return
		}
		if _, err := json.Marshal(facts); err != nil {
			t.Fatalf("marshaling facts: %v", err)
		}
	})
}
