package manifest

import (
	"strings"
	"testing"

	"gomodules.xyz/jsonpatch/v2"
)

// TestApplyPatchSplices: each operation changes the bytes of its node
// only; everything else comes back as written.
func TestApplyPatchSplices(t *testing.T) {
	t.Parallel()
	const doc = `# head
apiVersion: v1
kind: ConfigMap
metadata:
  name: alloy   # the name
  labels: {app: alloy, tier: "agent"}
data:
  config.alloy: |
    a {
      x = 1
    }

    b {}
  mode: 'daemonset'
list:
- one
-   two
- three
...
`
	cases := []struct {
		name string
		op   jsonpatch.Operation
		want string // doc with these replacements: old → new
		from string
	}{
		{"block line", jsonpatch.Operation{Operation: "replace", Path: "/data/config.alloy", Value: "a {\n  x = 2\n}\n\nb {}\n"}, "      x = 2\n", "      x = 1\n"},
		{"block add lines", jsonpatch.Operation{Operation: "replace", Path: "/data/config.alloy", Value: "a {\n  x = 1\n  y = 2\n}\n\nb {}\n"}, "      x = 1\n      y = 2\n", "      x = 1\n"},
		{"block chomp", jsonpatch.Operation{Operation: "replace", Path: "/data/config.alloy", Value: "a {\n  x = 1\n}\n\nb {}"}, "config.alloy: |-\n", "config.alloy: |\n"},
		{"quoted keeps quotes", jsonpatch.Operation{Operation: "replace", Path: "/data/mode", Value: "statefulset"}, "mode: 'statefulset'", "mode: 'daemonset'"},
		{"plain keeps comment", jsonpatch.Operation{Operation: "replace", Path: "/metadata/name", Value: "agent"}, "name: agent   # the name", "name: alloy   # the name"},
		{"flow map add", jsonpatch.Operation{Operation: "add", Path: "/metadata/labels/zone", Value: "a"}, "labels: {app: alloy, tier: \"agent\", zone: a}", "labels: {app: alloy, tier: \"agent\"}"},
		{"add key", jsonpatch.Operation{Operation: "add", Path: "/metadata/namespace", Value: "monitoring"}, "tier: \"agent\"}\n  namespace: monitoring\n", "tier: \"agent\"}\n"},
		{"add item at end", jsonpatch.Operation{Operation: "add", Path: "/list/-", Value: "four"}, "- three\n- four\n", "- three\n"},
		{"add item before", jsonpatch.Operation{Operation: "add", Path: "/list/2", Value: "two and a half"}, "-   two\n- two and a half\n- three\n", "-   two\n- three\n"},
		{"remove item", jsonpatch.Operation{Operation: "remove", Path: "/list/1"}, "- one\n- three\n", "- one\n-   two\n- three\n"},
		{"remove key", jsonpatch.Operation{Operation: "remove", Path: "/data/mode"}, "    b {}\nlist:", "    b {}\n  mode: 'daemonset'\nlist:"},
	}
	for _, c := range cases {
		for _, eol := range []string{"\n", "\r\n"} {
			in := strings.ReplaceAll(doc, "\n", eol)
			got, err := ApplyPatch([]byte(in), []jsonpatch.Operation{c.op})
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			if !strings.Contains(doc, c.from) {
				t.Fatalf("%s: the document has no %q", c.name, c.from)
			}
			want := strings.ReplaceAll(strings.Replace(doc, c.from, c.want, 1), "\n", eol)
			if string(got) != want {
				t.Errorf("%s (eol %q): got\n%s\nwant\n%s", c.name, eol, got, want)
			}
		}
	}
}
