package admit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
)

// patchOf is the JSON patch from the object as submitted (raw) to the
// fixed one: jsonpatch.CreatePatch's operations, as
// admission.PatchResponseFromRaw computes them, without decoding what the
// fix left alone. CreatePatch decodes both documents whole into trees of
// maps and interfaces, a fifth of a fixed request's allocations; a fix
// edits a few fields. So, level by level of nested objects, members whose
// JSON is byte-identical on both sides are dropped unread, members that are
// objects on both sides are compared one level down, and CreatePatch
// computes the rest of each level (members that differ, appear or go, and
// are not two objects), its paths prefixed with the level's. The
// operations are CreatePatch's on the whole documents (the same set;
// CreatePatch's own order follows Go's map order, so none is promised):
// members are independent, and CreatePatch finds none between identical
// members. TestPatchOf and FuzzPatchOf hold it to CreatePatch.
func patchOf(raw, fixed []byte) ([]jsonpatch.JsonPatchOperation, error) {
	if bytes.Equal(raw, fixed) {
		return []jsonpatch.JsonPatchOperation{}, nil
	}
	ops, err := diffMembers(raw, fixed, "", nil)
	if err != nil {
		return nil, err
	}
	if ops == nil {
		ops = []jsonpatch.JsonPatchOperation{}
	}
	return ops, nil
}

// diffMembers appends the operations from document a to b, both at path
// prefix ("" for the root), to ops.
func diffMembers(a, b []byte, prefix string, ops []jsonpatch.JsonPatchOperation) ([]jsonpatch.JsonPatchOperation, error) {
	var am, bm map[string]json.RawMessage
	if !isObject(a) || !isObject(b) || json.Unmarshal(a, &am) != nil || json.Unmarshal(b, &bm) != nil {
		return createPatch(a, b, prefix, ops)
	}
	var restA, restB map[string]json.RawMessage
	put := func(m *map[string]json.RawMessage, k string, v json.RawMessage) {
		if *m == nil {
			*m = map[string]json.RawMessage{}
		}
		(*m)[k] = v
	}
	for k, bv := range bm {
		av, ok := am[k]
		switch {
		case ok && bytes.Equal(av, bv):
		case ok && isObject(av) && isObject(bv):
			var err error
			if ops, err = diffMembers(av, bv, prefix+"/"+pointerEscaper.Replace(k), ops); err != nil {
				return nil, err
			}
		default:
			put(&restB, k, bv)
			if ok {
				put(&restA, k, av)
			}
		}
	}
	for k, av := range am {
		if _, ok := bm[k]; !ok {
			put(&restA, k, av)
		}
	}
	if restA == nil && restB == nil {
		return ops, nil
	}
	ra, err := json.Marshal(orEmpty(restA))
	if err != nil {
		return nil, err
	}
	rb, err := json.Marshal(orEmpty(restB))
	if err != nil {
		return nil, err
	}
	return createPatch(ra, rb, prefix, ops)
}

// createPatch appends CreatePatch's operations from a to b, their paths
// prefixed, to ops.
func createPatch(a, b []byte, prefix string, ops []jsonpatch.JsonPatchOperation) ([]jsonpatch.JsonPatchOperation, error) {
	p, err := jsonpatch.CreatePatch(a, b)
	if err != nil {
		return nil, fmt.Errorf("at %q: %w", prefix, err)
	}
	for i := range p {
		p[i].Path = prefix + p[i].Path
	}
	return append(ops, p...), nil
}

// isObject tells whether a JSON value is an object (its first byte past
// white space).
func isObject(v []byte) bool {
	v = bytes.TrimLeft(v, " \t\r\n")
	return len(v) > 0 && v[0] == '{'
}

func orEmpty(m map[string]json.RawMessage) map[string]json.RawMessage {
	if m == nil {
		return map[string]json.RawMessage{}
	}
	return m
}

// pointerEscaper escapes a member name in a JSON pointer (RFC 6901), as
// CreatePatch does.
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")
