package admit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"gomodules.xyz/jsonpatch/v2"
)

// createPatch returns the operations of jsonpatch.CreatePatch(a, b) (what
// controller-runtime's PatchResponseFromRaw sends), computed on the
// documents' text: a member or an element whose JSON text is the same on
// both sides is skipped unread, and only the values an operation carries
// and the scalars that differ are decoded. CreatePatch decodes both whole
// documents into maps first; a fixed workload differs from the submitted
// one in a few of its members, so most of that work was for nothing.
//
// a and b must be valid JSON: the request's object, which Decode read, and
// json.Marshal's output. Text that is not is an error where the walk meets
// it, never a patch.
//
// The operations are CreatePatch's, in another order where CreatePatch
// follows Go's map order (the members of an object: here b's order, then
// the removals in a's). An object's operations touch distinct members, so
// the order does not change what the patch does. FuzzCreatePatch holds it
// to CreatePatch.
func createPatch(a, b []byte) ([]jsonpatch.Operation, error) {
	if bytes.Equal(a, b) {
		return []jsonpatch.Operation{}, nil
	}
	av, bv := bytes.TrimSpace(a), bytes.TrimSpace(b)
	if len(av) == 0 || len(bv) == 0 {
		return nil, errJSON
	}
	return diffJSON(av, bv, "", nil)
}

var errJSON = errors.New("invalid JSON document")

// diffJSON appends the operations that turn a into b (each one value's
// text) at path, as CreatePatch's handleValues does.
func diffJSON(a, b []byte, path string, ops []jsonpatch.Operation) ([]jsonpatch.Operation, error) {
	ka, kb := kindOf(a), kindOf(b)
	switch {
	case ka == 'n' && kb == 'n':
		return ops, nil
	case ka != kb:
		return appendDecoded(ops, "replace", path, b)
	case bytes.Equal(a, b):
		return ops, nil // the same text: the same value
	}
	switch ka {
	case '{':
		// Most objects are short: their lists stay on the stack.
		var abuf, bbuf [12]member
		am, err := readMembers(a, abuf[:0])
		if err != nil {
			return nil, err
		}
		bm, err := readMembers(b, bbuf[:0])
		if err != nil {
			return nil, err
		}
		aIdx, bIdx := indexOf(am), indexOf(bm)
		for _, m := range bm {
			p := path + "/" + pointerEscape(m.key)
			av, ok := find(am, aIdx, m.key)
			if !ok {
				ops, err = appendDecoded(ops, "add", p, m.value)
			} else {
				ops, err = diffJSON(av, m.value, p, ops)
			}
			if err != nil {
				return nil, err
			}
		}
		for _, m := range am {
			if _, ok := find(bm, bIdx, m.key); !ok {
				ops = append(ops, jsonpatch.NewOperation("remove", path+"/"+pointerEscape(m.key), nil))
			}
		}
	case '[':
		var abuf, bbuf [8][]byte
		ae, err := elements(a, abuf[:0])
		if err != nil {
			return nil, err
		}
		be, err := elements(b, bbuf[:0])
		if err != nil {
			return nil, err
		}
		n := min(len(ae), len(be))
		for i := len(ae) - 1; i >= n; i-- {
			ops = append(ops, jsonpatch.NewOperation("remove", path+"/"+strconv.Itoa(i), nil))
		}
		for i := n; i < len(be); i++ {
			if ops, err = appendDecoded(ops, "add", path+"/"+strconv.Itoa(i), be[i]); err != nil {
				return nil, err
			}
		}
		for i := range n {
			if ops, err = diffJSON(ae[i], be[i], path+"/"+strconv.Itoa(i), ops); err != nil {
				return nil, err
			}
		}
	default:
		// Scalars of one kind in other words ("1" and "1.0", "A" and
		// "\u0041" are the same): compared as encoding/json decodes them.
		var av, bv any
		if err := json.Unmarshal(a, &av); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &bv); err != nil {
			return nil, err
		}
		if av != bv {
			return append(ops, jsonpatch.NewOperation("replace", path, bv)), nil
		}
	}
	return ops, nil
}

// kindOf is what encoding/json decodes the value to, by its first byte:
// CreatePatch replaces a value whose type changed. 'n' is null, 't' a
// boolean, '0' a number.
func kindOf(v []byte) byte {
	switch v[0] {
	case '{', '[', '"', 'n':
		return v[0]
	case 't', 'f':
		return 't'
	}
	return '0'
}

// appendDecoded appends the operation op at path carrying v, as
// encoding/json decodes it (as CreatePatch carries it).
func appendDecoded(ops []jsonpatch.Operation, op, path string, v []byte) ([]jsonpatch.Operation, error) {
	var val any
	if err := json.Unmarshal(v, &val); err != nil {
		return nil, err
	}
	return append(ops, jsonpatch.NewOperation(op, path, val)), nil
}

type member struct {
	key   string
	value []byte
}

// readMembers appends the members of object o to ms in order, a name
// that repeats holding its last value (as encoding/json decodes it) at its
// first place.
func readMembers(o []byte, ms []member) ([]member, error) {
	var idx map[string]int // once they are many
	i := skipSpace(o, 1)
	if i < len(o) && o[i] == '}' {
		return ms, nil
	}
	for {
		if i >= len(o) || o[i] != '"' {
			return nil, errJSON
		}
		end, err := skipString(o, i)
		if err != nil {
			return nil, err
		}
		key, err := keyOf(o[i:end])
		if err != nil {
			return nil, err
		}
		i = skipSpace(o, end)
		if i >= len(o) || o[i] != ':' {
			return nil, errJSON
		}
		i = skipSpace(o, i+1)
		if end, err = skipValue(o, i); err != nil {
			return nil, err
		}
		if j := at(ms, idx, key); j >= 0 {
			ms[j].value = o[i:end]
		} else {
			ms = append(ms, member{key, o[i:end]})
			if idx != nil {
				idx[key] = len(ms) - 1
			} else {
				idx = indexOf(ms)
			}
		}
		i = skipSpace(o, end)
		switch {
		case i < len(o) && o[i] == ',':
			i = skipSpace(o, i+1)
		case i < len(o) && o[i] == '}':
			return ms, nil
		default:
			return nil, errJSON
		}
	}
}

// indexOf indexes the names of ms once they are many (a ConfigMap's data),
// where a map beats a scan; nil below.
func indexOf(ms []member) map[string]int {
	if len(ms) <= 16 {
		return nil
	}
	idx := make(map[string]int, 2*len(ms))
	for i, m := range ms {
		idx[m.key] = i
	}
	return idx
}

// at is where key is in ms (idx: indexOf's), -1 where it is not.
func at(ms []member, idx map[string]int, key string) int {
	if idx != nil {
		if i, ok := idx[key]; ok {
			return i
		}
		return -1
	}
	for i := range ms {
		if ms[i].key == key {
			return i
		}
	}
	return -1
}

func find(ms []member, idx map[string]int, key string) ([]byte, bool) {
	if i := at(ms, idx, key); i >= 0 {
		return ms[i].value, true
	}
	return nil, false
}

// elements appends the elements of array l to out in order.
func elements(l []byte, out [][]byte) ([][]byte, error) {
	i := skipSpace(l, 1)
	if i < len(l) && l[i] == ']' {
		return out, nil
	}
	for {
		end, err := skipValue(l, i)
		if err != nil {
			return nil, err
		}
		out = append(out, l[i:end])
		i = skipSpace(l, end)
		switch {
		case i < len(l) && l[i] == ',':
			i = skipSpace(l, i+1)
		case i < len(l) && l[i] == ']':
			return out, nil
		default:
			return nil, errJSON
		}
	}
}

// keyOf is a member's name (its quoted text) as encoding/json decodes it:
// as it stands where it is plain ASCII, through encoding/json where it
// holds an escape or other bytes (it turns each byte of invalid UTF-8 into
// U+FFFD).
func keyOf(q []byte) (string, error) {
	for _, c := range q[1 : len(q)-1] {
		if c == '\\' || c >= utf8.RuneSelf {
			var s string
			err := json.Unmarshal(q, &s)
			return s, err
		}
	}
	return string(q[1 : len(q)-1]), nil
}

func skipSpace(s []byte, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// skipValue is the end of the value that starts at s[i].
func skipValue(s []byte, i int) (int, error) {
	if i >= len(s) {
		return 0, errJSON
	}
	switch c := s[i]; {
	case c == '"':
		return skipString(s, i)
	case c == '{' || c == '[':
		return skipNested(s, i)
	case c == 't':
		return skipLiteral(s, i, "true")
	case c == 'f':
		return skipLiteral(s, i, "false")
	case c == 'n':
		return skipLiteral(s, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		j := i + 1
		for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == 'e' || s[j] == 'E' || s[j] == '+' || s[j] == '-') {
			j++
		}
		return j, nil
	}
	return 0, fmt.Errorf("%w: unexpected %q", errJSON, s[i])
}

// skipString is the end of the string that starts at s[i] (a quote): the
// first quote after it that an odd run of backslashes does not escape.
func skipString(s []byte, i int) (int, error) {
	for j := i + 1; ; {
		q := bytes.IndexByte(s[j:], '"')
		if q < 0 {
			return 0, errJSON
		}
		j += q
		n := 0
		for k := j - 1; k > i && s[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return j + 1, nil
		}
		j++
	}
}

// skipNested is the end of the object or array that starts at s[i]: its
// brackets counted outside strings.
func skipNested(s []byte, i int) (int, error) {
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '"':
			end, err := skipString(s, j)
			if err != nil {
				return 0, err
			}
			j = end - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, errJSON
}

func skipLiteral(s []byte, i int, lit string) (int, error) {
	if !bytes.HasPrefix(s[i:], []byte(lit)) {
		return 0, errJSON
	}
	return i + len(lit), nil
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// pointerEscape escapes a member's name for a JSON pointer (RFC 6901).
func pointerEscape(key string) string {
	if !strings.ContainsAny(key, "~/") {
		return key
	}
	return pointerEscaper.Replace(key)
}
