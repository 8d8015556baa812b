package mutate

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	jsonpatchv5 "github.com/evanphx/json-patch/v5"
	"gomodules.xyz/jsonpatch/v2"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/modeguard/modeguard/internal/testutil"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

// TestGolden runs every scenario under testdata: a config scenario holds
// input.river or input.alloy, fix.json (one FixRequest, or a list applied in
// order) and expected.<ext> (the fixed text) or expected.err (the error);
// an object scenario under testdata/objects holds input.yaml, fix.json and
// expected.yaml (the fixed object) with patch.json (the operations of the
// JSON patch from Patch, sorted by path), or expected.err.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/fix.json")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := filepath.Glob("testdata/objects/*/fix.json")
	if err != nil {
		t.Fatal(err)
	}
	dirs = append(dirs, objs...)
	if len(dirs) == 0 {
		t.Fatal("no scenarios")
	}
	for _, fixFile := range dirs {
		dir := filepath.Dir(fixFile)
		name, _ := filepath.Rel("testdata", dir)
		t.Run(filepath.ToSlash(name), func(t *testing.T) {
			t.Parallel()
			fixes := readFixes(t, fixFile)
			if _, err := os.Stat(filepath.Join(dir, "input.yaml")); err == nil {
				goldenObject(t, dir, fixes)
				return
			}
			goldenConfig(t, dir, fixes)
		})
	}
}

func readFixes(t *testing.T, path string) []policy.FixRequest {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var list []policy.FixRequest
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("[")) {
		err = json.Unmarshal(data, &list)
	} else {
		var one policy.FixRequest
		err = json.Unmarshal(data, &one)
		list = append(list, one)
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return list
}

func goldenConfig(t *testing.T, dir string, fixes []policy.FixRequest) {
	inputs, _ := filepath.Glob(filepath.Join(dir, "input.*"))
	if len(inputs) != 1 {
		t.Fatalf("want one input.river or input.alloy in %s, got %v", dir, inputs)
	}
	ext := filepath.Ext(inputs[0])
	file := "config" + ext
	src, err := os.ReadFile(inputs[0])
	if err != nil {
		t.Fatal(err)
	}
	if f := riverconfig.Parse(file, src); len(f.Errors) > 0 {
		t.Fatalf("input does not parse: %v", f.Errors)
	}

	got, err := applyConfig(file, src, fixes)
	expectedPath := filepath.Join(dir, "expected"+ext)
	errPath := filepath.Join(dir, "expected.err")
	if err != nil {
		if !errors.Is(err, ErrNotApplicable) {
			t.Errorf("error %v does not match ErrNotApplicable", err)
		}
		if !bytes.Equal(got, src) {
			t.Errorf("a failed fix changed the config:\n%s", got)
		}
		checkGolden(t, errPath, []byte(err.Error()+"\n"))
		return
	}
	checkGolden(t, expectedPath, got)
	if f := riverconfig.Parse(file, got); len(f.Errors) > 0 {
		t.Errorf("fixed config does not parse: %v", f.Errors)
	}
	again, err := applyConfig(file, got, fixes)
	if err != nil {
		t.Errorf("fixing the fixed config: %v", err)
	} else if !bytes.Equal(again, got) {
		t.Errorf("not idempotent: fixing the fixed config gives\n%s", again)
	}
}

// applyConfig applies fixes in order.
func applyConfig(file string, src []byte, fixes []policy.FixRequest) ([]byte, error) {
	out := src
	for _, fix := range fixes {
		next, err := Config(file, out, fix)
		if err != nil {
			return src, err
		}
		out = next
	}
	return out, nil
}

func goldenObject(t *testing.T, dir string, fixes []policy.FixRequest) {
	data, err := os.ReadFile(filepath.Join(dir, "input.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	orig, err := workload.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	obj := orig.DeepCopyObject()
	err = applyObject(obj, fixes)
	if err != nil {
		if !errors.Is(err, ErrNotApplicable) {
			t.Errorf("error %v does not match ErrNotApplicable", err)
		}
		checkGolden(t, filepath.Join(dir, "expected.err"), []byte(err.Error()+"\n"))
		return
	}
	out, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join(dir, "expected.yaml"), out)

	patch, err := Patch(orig, obj)
	if err != nil {
		t.Fatal(err)
	}
	// The order of operations on different fields follows Go map iteration
	// in the diff: the golden file lists them sorted by path, and
	// checkPatchApplies checks the patch as returned.
	slices.SortStableFunc(patch, func(a, b jsonpatch.JsonPatchOperation) int { return strings.Compare(a.Path, b.Path) })
	pj, err := json.MarshalIndent(patch, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join(dir, "patch.json"), append(pj, '\n'))
	checkPatchApplies(t, orig, obj)

	again := obj.DeepCopyObject()
	if err := applyObject(again, fixes); err != nil {
		t.Errorf("fixing the fixed object: %v", err)
	} else if p, _ := Patch(obj, again); len(p) != 0 {
		t.Errorf("not idempotent: fixing the fixed object patches %v", p)
	}
}

func applyObject(obj runtime.Object, fixes []policy.FixRequest) error {
	for _, fix := range fixes {
		if err := Workload(obj, nil, fix); err != nil {
			return err
		}
	}
	return nil
}

// checkPatchApplies applies the patch from Patch to the original's JSON and
// compares the result with the fixed object's JSON.
func checkPatchApplies(t *testing.T, orig, fixed runtime.Object) {
	t.Helper()
	ops, err := Patch(orig, fixed)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatchv5.DecodePatch(raw)
	if err != nil {
		t.Fatalf("decoding the patch %s: %v", raw, err)
	}
	before, err := json.Marshal(orig)
	if err != nil {
		t.Fatal(err)
	}
	patched, err := p.Apply(before)
	if err != nil {
		t.Fatalf("applying the patch %s: %v", raw, err)
	}
	want, err := json.Marshal(fixed)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonpatchv5.Equal(patched, want) {
		t.Errorf("patched original:\n%s\nwant the fixed object:\n%s", patched, want)
	}
}

// checkGolden compares got with the file at path, or rewrites it with
// -update (removing the other expectation of the scenario).
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if testutil.Update() {
		// A scenario expects either a result or an error: drop the other.
		dir := filepath.Dir(path)
		stale := []string{filepath.Join(dir, "expected.err")}
		if filepath.Ext(path) == ".err" {
			stale, _ = filepath.Glob(filepath.Join(dir, "expected.*"))
			stale = append(stale, filepath.Join(dir, "patch.json"))
		}
		for _, s := range stale {
			if s != path {
				_ = os.Remove(s)
			}
		}
	}
	testutil.Golden(t, path, got)
}
