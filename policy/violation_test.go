package policy

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestDecodeViolation: whatever the fast decoder decides, it decides as
// json.Unmarshal of the violation's JSON form does; it decides what rules
// emit.
func TestDecodeViolation(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		doc  string
		fast bool // the fast path must decide it
	}{
		{`{"msg": "m", "component": "a.b", "file": "f.alloy", "line": 3, "column": 1, "target": "config", "package": "p"}`, true},
		{`{"msg": "m", "fix": {"name": "node-selector", "params": {"file": "f", "n": 2, "x": 1.5, "l": [1, "a", null, true], "o": {"k": -3e2}}}}`, true},
		{`{"msg": "m", "action": "audit", "fix": null, "line": null, "component": null}`, true},
		{`{"msg": "m", "fix": {"name": "x", "params": null}, "unknown": {"any": [1]}, "-": 1, "Rule": 2}`, true},
		{`{"msg": "m", "line": -0}`, true},
		{`{"MSG": "m"}`, false},
		{`{"msg": "m", "Line": 3}`, false},
		{`{"msg": "m", "fix": {"Name": "x"}}`, false},
		{`{"msg": "m", "line": 1.5}`, false},
		{`{"msg": "m", "line": 1e2}`, false},
		{`{"msg": "m", "line": 99999999999999999999}`, false},
		{`{"msg": "m", "line": "3"}`, false},
		{`{"msg": 3}`, false},
		{`{"msg": "m", "fix": "x"}`, false},
		{`{"msg": "m", "fix": {"params": [1]}}`, false},
		{`{"msg": "m", "action": true}`, false},
		{`{"msg": "m", "fix": {"name": "x", "params": {"s": {1, 2}}}}`, false},
		{`{"msg": "m", 1: 2}`, false},
		{`"m"`, false},
	} {
		term, err := ast.ParseTerm(c.doc)
		if err != nil {
			t.Fatal(err)
		}
		var got Violation
		ok := decodeViolation(term, &got)
		if ok != c.fast {
			t.Errorf("%s: fast path decided %v, want %v", c.doc, ok, c.fast)
		}
		if !ok {
			continue
		}
		raw, err := violationJSON(term)
		if err != nil {
			t.Fatal(err)
		}
		var want Violation
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Errorf("%s: fast path decoded what encoding/json refuses: %v", c.doc, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %#v\nwant %#v", c.doc, got, want)
		}
	}
}
