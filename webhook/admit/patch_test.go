package admit_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	evanphx "github.com/evanphx/json-patch/v5"
	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/admittest"
)

// samePatch fails unless createPatch gives jsonpatch.CreatePatch's
// operations from a to b (as a set: CreatePatch's order follows Go's map
// order) wherever CreatePatch gives any (where it fails, on text that is
// not JSON, createPatch must merely not panic), and unless createPatch's
// operations, applied in its order, do what CreatePatch's do.
func samePatch(t *testing.T, what string, a, b []byte) {
	t.Helper()
	got, gotErr := admit.CreatePatch(a, b)
	want, wantErr := jsonpatch.CreatePatch(a, b)
	if wantErr != nil {
		return
	}
	if gotErr != nil {
		t.Fatalf("%s: createPatch failed (%v) where CreatePatch gives %v", what, gotErr, want)
	}
	if g, w := opSet(t, got), opSet(t, want); !slices.Equal(g, w) {
		t.Fatalf("%s: createPatch gives\n%q\nCreatePatch\n%q", what, g, w)
	}
	applies(t, what, a, got, want)
}

// applies fails unless ops, applied to a in their order (evanphx's
// json-patch, as the API server applies them), give what CreatePatch's
// operations in theirs give: the order is createPatch's own.
func applies(t *testing.T, what string, a []byte, ops, theirs []jsonpatch.JsonPatchOperation) {
	t.Helper()
	if len(ops) == 0 || ops[0].Path == "" {
		return // the root replaced: json-patch replaces it with objects and lists only
	}
	got, gotErr := apply(t, a, ops)
	want, wantErr := apply(t, a, theirs)
	if (gotErr != nil) != (wantErr != nil) || !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: applied, createPatch's operations give %v (%v), CreatePatch's %v (%v)", what, got, gotErr, want, wantErr)
	}
}

func apply(t *testing.T, doc []byte, ops []jsonpatch.JsonPatchOperation) (any, error) {
	t.Helper()
	raw, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	patch, err := evanphx.DecodePatch(raw)
	if err != nil {
		return nil, err
	}
	out, err := patch.Apply(doc)
	if err != nil {
		return nil, err
	}
	var v any
	return v, json.Unmarshal(out, &v)
}

func opSet(t *testing.T, ops []jsonpatch.JsonPatchOperation) []string {
	t.Helper()
	out := make([]string, 0, len(ops))
	for _, op := range ops {
		b, err := json.Marshal(op)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	slices.Sort(out)
	return out
}

// TestCreatePatch: the patch of every fix the examples get, and of edits at
// every kind of place (names to escape, members gone, types changed,
// lists, nested objects, the root), is CreatePatch's.
func TestCreatePatch(t *testing.T) {
	docs := fixedDocs(t)
	if len(docs) < 10 {
		t.Fatalf("only %d fixed objects among the examples: the comparison proves little", len(docs))
	}
	for _, d := range docs {
		samePatch(t, d.name, d.submitted, d.fixed)
	}
	for _, tc := range patchCases {
		samePatch(t, tc[0], []byte(tc[1]), []byte(tc[2]))
	}
}

// fixedDoc is an example object as submitted, and as the mutating
// handler's review fixed it (JSON).
type fixedDoc struct {
	name             string
	submitted, fixed []byte
}

// fixedDocs are the example objects a review fixes.
func fixedDocs(tb testing.TB) []fixedDoc {
	ctx := tb.Context()
	var out []fixedDoc
	for _, name := range examples.Names() {
		objs := admittest.Example(tb, name)
		core, _ := admittest.Core(tb, nil, objs)
		for _, obj := range objs {
			req := admittest.Request(tb, obj, admissionv1.Create, false)
			s, err := admit.Decode(admittest.Decoder(), req)
			if err != nil {
				continue // a kind modeguard does not review
			}
			if reason, _ := core.Guard(s); reason != "" {
				continue
			}
			res, err := core.Review(ctx, "mutate", s, core.Surround(ctx, s))
			if err != nil {
				tb.Fatalf("%s: %s %s: %v", name, s.Kind, s.Name, err)
			}
			if res.Fixed == nil {
				continue
			}
			res.Fixed.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind(req.Kind))
			b, err := json.Marshal(res.Fixed)
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, fixedDoc{name + ": " + s.Kind + " " + s.Name, req.Object.Raw, b})
		}
	}
	return out
}

// BenchmarkCreatePatch: the patches of every fixed example object, by
// createPatch and by jsonpatch.CreatePatch (controller-runtime's
// PatchResponseFromRaw), in one run.
func BenchmarkCreatePatch(b *testing.B) {
	docs := fixedDocs(b)
	for _, bc := range []struct {
		name string
		f    func(a, b []byte) ([]jsonpatch.JsonPatchOperation, error)
	}{{"createPatch", admit.CreatePatch}, {"jsonpatch.CreatePatch", jsonpatch.CreatePatch}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, d := range docs {
					if _, err := bc.f(d.submitted, d.fixed); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// patchCases are edits at every kind of place: name, from, to.
var patchCases = [][3]string{
	{"identical", `{"a":1}`, `{"a":1}`},
	{"same, other spacing", `{"a": {"b": [1, 2]}}`, `{"a":{"b":[1,2]}}`},
	{"a member added", `{"a":1}`, `{"a":1,"b":{"c":2}}`},
	{"a member removed", `{"a":1,"b":{"c":2}}`, `{"a":1}`},
	{"a nested member changed", `{"spec":{"template":{"spec":{"x":1,"y":"keep"}}}}`, `{"spec":{"template":{"spec":{"x":2,"y":"keep"}}}}`},
	{"names to escape", `{"a/b":{"c~d":1},"e":0}`, `{"a/b":{"c~d":2},"e":0}`},
	{"an object becomes a string", `{"a":{"b":1}}`, `{"a":"b"}`},
	{"a string becomes an object", `{"a":"b"}`, `{"a":{"b":1}}`},
	{"null to an object", `{"a":null}`, `{"a":{}}`},
	{"a list grows", `{"l":[{"n":"a"}]}`, `{"l":[{"n":"a"},{"n":"b"}]}`},
	{"a list element changes", `{"l":[{"n":"a","v":1},{"n":"b"}]}`, `{"l":[{"n":"a","v":2},{"n":"b"}]}`},
	{"a list shrinks", `{"l":[1,2,3]}`, `{"l":[1]}`},
	{"numbers spelled differently", `{"n":1.0}`, `{"n":1}`},
	{"the root is a list", `[1,2]`, `[1,3]`},
	{"object to list at the root", `{"a":1}`, `[1]`},
	{"empty object", `{}`, `{"a":{"b":{}}}`},
	{"deep and wide", `{"m":{"k":"v"},"spec":{"a":{"b":{"c":[1,{"d":2}]}},"z":true},"status":{}}`, `{"m":{"k":"v"},"spec":{"a":{"b":{"c":[1,{"d":3}],"e":null}},"z":false},"status":{"s":1}}`},
	{"not JSON", `{"a":`, `{"a":1}`},
	{"not JSON after", `{"a":1}`, `{"a":}`},
}

// FuzzCreatePatch: on any pair of documents CreatePatch reads, createPatch
// gives its operations; on any other text it does not panic.
func FuzzCreatePatch(f *testing.F) {
	for _, tc := range patchCases {
		f.Add(tc[1], tc[2])
	}
	for _, d := range fixedDocs(f) {
		f.Add(string(d.submitted), string(d.fixed))
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		samePatch(t, "fuzzed", []byte(a), []byte(b))
	})
}
