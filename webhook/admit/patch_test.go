package admit_test

import (
	"encoding/json"
	"slices"
	"testing"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/admittest"
)

// samePatch fails unless PatchOf and jsonpatch.CreatePatch give the same
// operations from a to b (as a set: CreatePatch's order follows Go's map
// order), or both fail.
func samePatch(t *testing.T, what string, a, b []byte) {
	t.Helper()
	got, gotErr := admit.PatchOf(a, b)
	want, wantErr := jsonpatch.CreatePatch(a, b)
	if (gotErr != nil) != (wantErr != nil) {
		t.Fatalf("%s: PatchOf's error %v, CreatePatch's %v", what, gotErr, wantErr)
	}
	if wantErr != nil {
		return
	}
	if g, w := opSet(t, got), opSet(t, want); !slices.Equal(g, w) {
		t.Fatalf("%s: PatchOf gives\n%q\nCreatePatch\n%q", what, g, w)
	}
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

// TestPatchOf: the patch of every fix the examples get, and of edits at
// every kind of place (names to escape, members gone, types changed,
// lists, nested objects, the root), is CreatePatch's.
func TestPatchOf(t *testing.T) {
	ctx := t.Context()
	fixed := 0
	for _, name := range examples.Names() {
		objs := admittest.Example(t, name)
		core, _ := admittest.Core(t, nil, objs)
		for _, obj := range objs {
			req := admittest.Request(t, obj, admissionv1.Create, false)
			s, err := admit.Decode(admittest.Decoder(), req)
			if err != nil {
				continue // a kind modeguard does not review
			}
			if reason, _ := core.Guard(s); reason != "" {
				continue
			}
			res, err := core.Review(ctx, "mutate", s, core.Surround(ctx, s))
			if err != nil {
				t.Fatalf("%s: %s %s: %v", name, s.Kind, s.Name, err)
			}
			if res.Fixed == nil {
				continue
			}
			res.Fixed.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind(req.Kind))
			b, err := json.Marshal(res.Fixed)
			if err != nil {
				t.Fatal(err)
			}
			samePatch(t, name+": "+s.Kind+" "+s.Name, req.Object.Raw, b)
			fixed++
		}
	}
	if fixed < 10 {
		t.Fatalf("only %d fixed objects among the examples: the comparison proves little", fixed)
	}
	for _, tc := range patchCases {
		samePatch(t, tc[0], []byte(tc[1]), []byte(tc[2]))
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

// FuzzPatchOf: on any pair of documents, PatchOf gives CreatePatch's
// operations, or fails where it fails.
func FuzzPatchOf(f *testing.F) {
	for _, tc := range patchCases {
		f.Add(tc[1], tc[2])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		samePatch(t, "fuzzed", []byte(a), []byte(b))
	})
}
