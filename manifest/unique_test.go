package manifest

import (
	"slices"
	"testing"
)

func TestDuplicates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		docs string
		want []string // Duplicate.String() of each
	}{
		{"distinct names", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n", nil},
		{"same name, other kind", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: a}\n", nil},
		{"same name, other namespace", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: xx}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: yy}\n", nil},
		{"same name, other API group", "apiVersion: example.com/v1\nkind: Thing\nmetadata: {name: a}\n---\napiVersion: other.example/v1\nkind: Thing\nmetadata: {name: a}\n", nil},
		{"unnamed documents", "apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: a-}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: a-}\n", nil},
		{"twice", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", []string{"ConfigMap default/a: f.yaml:1 and f.yaml:5"}},
		{"three times, one unnamespaced", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
			[]string{"ConfigMap default/a: f.yaml:1, f.yaml:5 and f.yaml:9"}},
		{"another version of the group", "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\nspec: {maxReplicas: 2, scaleTargetRef: {kind: Deployment, name: d}}\n---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\n",
			[]string{"HorizontalPodAutoscaler default/h: f.yaml:1 and f.yaml:6"}},
		{"kind in another case", "apiVersion: example.com/v1\nkind: Thing\nmetadata: {name: a, namespace: xx}\n---\napiVersion: example.com/v2\nkind: thing\nmetadata: {name: a, namespace: xx}\n", []string{"Thing xx/a: f.yaml:1 and f.yaml:5"}},
		{"in a List", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n", []string{"ConfigMap default/a: f.yaml:1 and f.yaml:5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			docs, err := Parse("f.yaml", []byte(tc.docs))
			if err != nil {
				t.Fatal(err)
			}
			DefaultNamespace(docs, "default")
			var got []string
			if e := Duplicates(docs); e != nil {
				for _, d := range e.Duplicates {
					got = append(got, d.String())
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
