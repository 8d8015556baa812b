package policy

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/modeguard/modeguard/internal/testutil"
	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

// TestInputSchemaDoc fails when docs/input.schema.json is not what
// InputSchema generates; `make docs` rewrites it.
func TestInputSchemaDoc(t *testing.T) {
	t.Parallel()
	got, err := InputSchema()
	if err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, filepath.Join("..", "docs", "input.schema.json"), append(got, '\n'))
}

// TestInputsMatchSchema validates real inputs — every riverconfig and
// workload golden scenario, paired as the reviewer pairs them — against the
// schema.
func TestInputsMatchSchema(t *testing.T) {
	t.Parallel()
	raw, err := InputSchema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("input.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("input.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	configs := golden[riverconfig.Facts](t, "../riverconfig/testdata/*/facts.json")
	workloads := golden[workload.Facts](t, "../workload/testdata/*/facts.json")
	if len(configs) < 20 || len(workloads) < 20 {
		t.Fatalf("found %d config and %d workload scenarios", len(configs), len(workloads))
	}
	n := 0
	for i, w := range workloads {
		cfg := configs[i%len(configs)]
		for _, in := range []*Input{
			{Subject: Subject{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name, Operation: "CREATE"}, Mode: w.Mode, ModeSource: w.ModeSource, Workload: w,
				Config: &Config{Namespace: "ns", Name: "cm", Files: []*riverconfig.Facts{cfg}}, Relation: Relation{ConfigMap: &ObjectRef{Kind: "ConfigMap", Namespace: "ns", Name: "cm"}}},
			{Subject: Subject{Kind: "ConfigMap", Namespace: "ns", Name: "cm", Operation: "UPDATE", DryRun: true}, Mode: "",
				Config: &Config{Namespace: "ns", Name: "cm", Files: []*riverconfig.Facts{cfg}}, Relation: Relation{ModeAnnotation: "daemonset"}},
		} {
			in.APIVersion = InputAPIVersion
			b, _ := json.Marshal(in)
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(v); err != nil {
				t.Errorf("input for workload %s and config %s does not match the schema: %v", w.Name, cfg.File, err)
			}
			n++
		}
	}
	// And the schema can fail: a wrong type is caught.
	bad, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"apiVersion": "modeguard.dev/v1", "subject": {"kind": 3}}`))
	if err := sch.Validate(bad); err == nil {
		t.Fatal("a malformed input passed the schema")
	}
	t.Logf("%d inputs validated", n)
}

func golden[T any](t *testing.T, pattern string) []*T {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	var out []*T
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v := new(T)
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, v)
	}
	return out
}
