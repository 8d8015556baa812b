package admit_test

import (
	"context"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	kruntime "k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/internal/testutil"
	"github.com/modeguard/modeguard/manifest"
	"github.com/modeguard/modeguard/webhook/admit"
	"github.com/modeguard/modeguard/webhook/admittest"
)

// TestMutatingWarnsOfEveryFix: the mutating webhook's answer names every
// fix it patches in: a patch comes with at least one "[fixed]" warning, and
// a "[fixed]" warning with a patch. Held over every example, and over the
// CLI's reproduction of a fix once applied silently (one discovery feeding
// two collectors).
func TestMutatingWarnsOfEveryFix(t *testing.T) {
	t.Parallel()
	inputs := map[string][]kruntime.Object{}
	for _, name := range examples.Names() {
		inputs[name] = admittest.Example(t, name)
	}
	docs, err := manifest.ReadPaths([]string{testutil.Root(t) + "/cmd/modeguard/testdata/verdicts"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	manifest.DefaultNamespace(docs, "default")
	inputs["verdicts"] = manifest.Objects(docs)

	patched := 0
	for name, objs := range inputs {
		core, _ := admittest.Core(t, nil, objs)
		h := admit.NewMutating(core, admittest.Decoder(), -1)
		for _, o := range objs {
			m, err := meta.Accessor(o)
			if err != nil {
				t.Fatal(err)
			}
			kind := o.GetObjectKind().GroupVersionKind().Kind
			if kind == "Namespace" {
				continue
			}
			resp := h.Handle(context.Background(), admittest.Request(t, o, admissionv1.Create, false))
			fixed := 0
			for _, w := range resp.Warnings {
				if strings.HasSuffix(w, "[fixed]") {
					fixed++
				}
			}
			where := name + ": " + kind + " " + m.GetNamespace() + "/" + m.GetName()
			switch {
			case len(resp.Patches) > 0 && fixed == 0:
				t.Errorf("%s: patched (%d operations) without a [fixed] warning; warnings: %q", where, len(resp.Patches), resp.Warnings)
			case len(resp.Patches) == 0 && fixed > 0:
				t.Errorf("%s: %d [fixed] warnings but no patch: %q", where, fixed, resp.Warnings)
			}
			if len(resp.Patches) > 0 {
				patched++
			}
		}
	}
	if patched < 10 {
		t.Errorf("only %d objects patched: the inputs do not exercise the fixes", patched)
	}
}
