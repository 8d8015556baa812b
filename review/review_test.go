package review_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/modeguard/modeguard/examples"
	"github.com/modeguard/modeguard/mutate"
	"github.com/modeguard/modeguard/policy"
	"github.com/modeguard/modeguard/review"
	"github.com/modeguard/modeguard/riverconfig"
	"github.com/modeguard/modeguard/workload"
)

// engine is the built-in rules with settings s, the Go forms cross-checked
// against their Rego on every evaluation.
func engine(t *testing.T, s *policy.Settings) *policy.Engine {
	t.Helper()
	e, err := policy.New(context.Background(), policy.Options{Settings: s, CrossCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// example returns the objects of examples/<name>, by kind.
func example(t *testing.T, name string) map[string]runtime.Object {
	t.Helper()
	out := map[string]runtime.Object{}
	for _, d := range examples.Load(t, name) {
		if d.Object != nil {
			out[d.Kind] = d.Object
		}
	}
	return out
}

func ids(fs []review.Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Rule.ID+":"+string(f.Action))
	}
	return out
}

// failingFixer fails every fix; noopFixer changes nothing. Both know mutate's
// fixes (Target).
type failingFixer struct{ mutate.Fixer }

func (failingFixer) ConfigMap(*corev1.ConfigMap, string, policy.FixRequest, func(string, []byte) *riverconfig.Facts) error {
	return errors.New("disk on fire")
}
func (failingFixer) Workload(runtime.Object, *workload.Facts, policy.FixRequest) error {
	return errors.New("disk on fire")
}

type noopFixer struct{ mutate.Fixer }

func (noopFixer) ConfigMap(*corev1.ConfigMap, string, policy.FixRequest, func(string, []byte) *riverconfig.Facts) error {
	return nil
}
func (noopFixer) Workload(runtime.Object, *workload.Facts, policy.FixRequest) error { return nil }

func TestReview(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	mg001 := example(t, "mg001-fires")
	mg002 := example(t, "mg002-fires")
	both := func(ex map[string]runtime.Object) *review.Set {
		return review.NewSet([]runtime.Object{ex["ConfigMap"], ex["DaemonSet"]})
	}
	annotated := mg001["ConfigMap"].(*corev1.ConfigMap).DeepCopy()
	annotated.Annotations[policy.AnnotationMode] = "daemonset"
	cases := []struct {
		name     string
		subject  runtime.Object
		lookup   review.Lookup
		fixer    review.Fixer
		settings *policy.Settings
		want     []string
		note     string
		skipped  string
		fixed    bool
		related  bool
		message  string
	}{
		{name: "DaemonSet with its ConfigMap: config fixed alongside", subject: mg001["DaemonSet"], lookup: both(mg001), want: []string{"MG001:fix"}, related: true},
		{name: "DaemonSet before its ConfigMap", subject: mg001["DaemonSet"], lookup: review.NewSet(nil), want: []string{}, note: "is not known yet"},
		{name: "ConfigMap read by the DaemonSet", subject: mg001["ConfigMap"], lookup: both(mg001), want: []string{"MG001:fix"}, fixed: true},
		{name: "ConfigMap alone: mode-free rules only", subject: mg001["ConfigMap"], lookup: review.NewSet(nil), want: []string{}, note: "mode-free rules only"},
		{name: "ConfigMap alone with a mode annotation", subject: annotated, lookup: review.NewSet(nil), want: []string{"MG001:fix"}, fixed: true, note: "mode daemonset"},
		{name: "both fixes on the DaemonSet's side", subject: mg002["DaemonSet"], lookup: both(mg002), want: []string{"MG002:fix", "MG002:fix"}, fixed: true, related: true},
		{name: "failing fix falls back to deny", subject: mg001["ConfigMap"], lookup: both(mg001), fixer: failingFixer{}, want: []string{"MG001:deny", "MG004:deny"}, message: "cannot apply: disk on fire"},
		{name: "fix that resolves nothing falls back to deny", subject: mg001["ConfigMap"], lookup: both(mg001), fixer: noopFixer{}, want: []string{"MG001:deny", "MG004:deny"}, message: "still fires"},
		{name: "dry-run settings: the fallback deny becomes warn", subject: mg001["ConfigMap"], lookup: both(mg001), fixer: failingFixer{}, settings: &policy.Settings{DryRun: true}, want: []string{"MG001:warn", "MG004:warn"}},
		{name: "settings turn the fix into a warning", subject: mg001["ConfigMap"], lookup: both(mg001), settings: &policy.Settings{Rules: map[string]policy.RuleSettings{"MG001": {Action: policy.ActionWarn}}}, want: []string{"MG004:deny", "MG001:warn"}},
		{name: "exempt namespace", subject: mg001["ConfigMap"], lookup: both(mg001), settings: &policy.Settings{ExemptNamespaces: []string{"mg001-fires"}}, want: []string{}, skipped: "exempt"},
		{name: "not an agent ConfigMap", subject: &corev1.ConfigMap{Data: map[string]string{"nginx.conf": "x"}}, lookup: review.NewSet(nil), want: []string{}, skipped: "not an agent ConfigMap"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			fixer := c.fixer
			if fixer == nil {
				fixer = mutate.Fixer{}
			}
			rv := &review.Reviewer{Engine: engine(t, c.settings), Fixer: fixer}
			res, err := rv.Review(ctx, c.subject, c.lookup, review.Options{Operation: "CREATE"})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(res.Findings); !slices.Equal(got, c.want) {
				t.Errorf("findings: got %v, want %v", got, c.want)
			}
			if c.note != "" && !strings.Contains(strings.Join(res.Notes, "|"), c.note) {
				t.Errorf("notes %q lack %q", res.Notes, c.note)
			}
			if !strings.Contains(res.Skipped, c.skipped) || (c.skipped == "" && res.Skipped != "") {
				t.Errorf("skipped %q, want %q", res.Skipped, c.skipped)
			}
			if (res.Fixed != nil) != c.fixed || (res.Related != nil) != c.related {
				t.Errorf("fixed %v related %v, want %v %v", res.Fixed != nil, res.Related != nil, c.fixed, c.related)
			}
			if c.message != "" && (len(res.Findings) == 0 || !strings.Contains(res.Findings[0].Message, c.message)) {
				t.Errorf("message lacks %q: %+v", c.message, res.Findings)
			}
		})
	}
}

// A Pod of a DaemonSet gets only the rules that name Pod: MG002's env fix,
// not the config findings its DaemonSet already got.
func TestPodOwnedByDaemonSet(t *testing.T) {
	t.Parallel()
	ex := example(t, "mg002-fires")
	ds := ex["DaemonSet"].(*appsv1.DaemonSet)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Namespace: "mg002-fires", Name: "alloy-x7k2p", Labels: ds.Spec.Template.Labels,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: ds.Name, UID: "u", Controller: ptr(true)}},
	}, Spec: *ds.Spec.Template.Spec.DeepCopy()}
	rv := &review.Reviewer{Engine: engine(t, nil), Fixer: mutate.Fixer{}}
	res, err := rv.Review(context.Background(), pod, review.NewSet([]runtime.Object{ex["ConfigMap"], ds}), review.Options{Operation: "CREATE"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(res.Findings); !slices.Equal(got, []string{"MG002:fix", "MG002:fix"}) {
		t.Fatalf("got %v, want the two MG002 fixes (config expression, Pod env)", got)
	}
	fixed, ok := res.Fixed.(*corev1.Pod)
	if !ok {
		t.Fatalf("Pod not fixed: %T", res.Fixed)
	}
	env := fixed.Spec.Containers[0].Env
	if len(env) == 0 || env[len(env)-1].Name != "HOSTNAME" || env[len(env)-1].ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
		t.Fatalf("fixed Pod env: %+v", env)
	}
}

func ptr[T any](v T) *T { return &v }

// The chart's default config (discovery only, nothing collected) is right in
// every mode: no finding but audit.
func TestDefaultConfigAnyMode(t *testing.T) {
	t.Parallel()
	base := example(t, "mg013-passes")["ConfigMap"].(*corev1.ConfigMap)
	rv := &review.Reviewer{Engine: engine(t, nil), Fixer: mutate.Fixer{}}
	for _, mode := range []string{"daemonset", "statefulset", "deployment", ""} {
		cm := base.DeepCopy()
		cm.Annotations[policy.AnnotationMode] = mode
		res, err := rv.Review(context.Background(), cm, review.NewSet(nil), review.Options{Operation: "CREATE"})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range res.Findings {
			if f.Action != policy.ActionAudit {
				t.Errorf("mode %q: %s", mode, f.Decision.String())
			}
		}
		if res.Fixed != nil {
			t.Errorf("mode %q: the default config was changed", mode)
		}
	}
}

// TestFixTargets: the fixer's registry, not the rule, says what a fix
// edits; a rule naming the other object, or a fix the registry lacks, gets
// its fix refused (a deny saying why).
func TestFixTargets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const rules = `# METADATA
# title: t
# custom:
#   id: ACME1
#   action: fix
#   fix: node-name-env
#   appliesTo: [DaemonSet]
package modeguard.rules.acme_target

violations contains {"msg": "wrong target", "target": "config", "component": "x", "fix": {"name": "node-name-env", "params": {"var": "X"}}} if input.mode == "daemonset"
`
	const unknown = `# METADATA
# title: u
# custom:
#   id: ACME2
#   action: fix
#   fix: reboot
#   appliesTo: [DaemonSet]
package modeguard.rules.acme_unknown

violations contains {"msg": "unknown fix", "target": "workload", "fix": {"name": "reboot"}} if input.mode == "daemonset"
`
	for name, body := range map[string]string{"target.rego": rules, "unknown.rego": unknown} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	off := policy.RuleSettings{Action: policy.ActionOff}
	e, err := policy.New(context.Background(), policy.Options{PolicyDir: dir, Settings: &policy.Settings{Rules: map[string]policy.RuleSettings{"MG001": off, "MG004": off}}})
	if err != nil {
		t.Fatal(err)
	}
	ex := example(t, "mg001-fires")
	rv := &review.Reviewer{Engine: e, Fixer: mutate.Fixer{}}
	res, err := rv.Review(context.Background(), ex["DaemonSet"], review.NewSet([]runtime.Object{ex["ConfigMap"], ex["DaemonSet"]}), review.Options{Operation: "CREATE"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ACME1": "fix node-name-env cannot apply: fix node-name-env edits the workload, but the finding is about the config",
		"ACME2": `fix reboot cannot apply: unknown fix "reboot"`,
	}
	if got := ids(res.Findings); !slices.Equal(got, []string{"ACME1:deny", "ACME2:deny"}) {
		t.Fatalf("findings: got %v, want ACME1:deny ACME2:deny", got)
	}
	for _, f := range res.Findings {
		if !strings.Contains(f.Message, want[f.Rule.ID]) {
			t.Errorf("%s: got message %q, want it to say %q", f.Rule.ID, f.Message, want[f.Rule.ID])
		}
	}
}
