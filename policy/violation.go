package policy

import (
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// violationKeys are the JSON names of Violation's fields.
var violationKeys = []string{"msg", "component", "file", "line", "column", "target", "fix", "action", "package"}

// decodeViolation fills v from a violation as the query yields it (a Rego
// object) as json.Unmarshal of its JSON form would, without encoding it. It
// reports false for anything it does not decide the way json.Unmarshal
// would (a key matching a field only case-insensitively, a value of another
// type, a number that is not an int, a set): the caller then goes through
// encoding/json, which decides and says what is wrong.
func decodeViolation(t *ast.Term, v *Violation) bool {
	obj, ok := t.Value.(ast.Object)
	if !ok {
		return false
	}
	return !obj.Until(func(kt, x *ast.Term) bool {
		k, ok := kt.Value.(ast.String)
		if !ok {
			return true
		}
		switch k {
		case "msg":
			ok = decodeString(x, &v.Message)
		case "component":
			ok = decodeString(x, &v.Component)
		case "file":
			ok = decodeString(x, &v.File)
		case "target":
			ok = decodeString(x, &v.Target)
		case "package":
			ok = decodeString(x, &v.Package)
		case "action":
			s := string(v.Action)
			ok = decodeString(x, &s)
			v.Action = Action(s)
		case "line":
			ok = decodeInt(x, &v.Line)
		case "column":
			ok = decodeInt(x, &v.Column)
		case "fix":
			ok = decodeFix(x, &v.Fix)
		default:
			ok = !foldsTo(string(k), violationKeys)
		}
		return !ok // Until stops at true
	})
}

// foldsTo reports whether k matches one of keys the way encoding/json
// matches object keys to field names (case-insensitively).
func foldsTo(k string, keys []string) bool {
	for _, n := range keys {
		if strings.EqualFold(k, n) {
			return true
		}
	}
	return false
}

func decodeString(x *ast.Term, into *string) bool {
	switch s := x.Value.(type) {
	case ast.Null: // null leaves the field as it is
		return true
	case ast.String:
		*into = string(s)
		return true
	}
	return false
}

func decodeInt(x *ast.Term, into *int) bool {
	switch n := x.Value.(type) {
	case ast.Null:
		return true
	case ast.Number:
		i, err := strconv.Atoi(string(n))
		if err != nil || strings.HasPrefix(string(n), "+") {
			return false
		}
		*into = i
		return true
	}
	return false
}

var fixKeys = []string{"name", "params"}

func decodeFix(x *ast.Term, into **FixRequest) bool {
	switch m := x.Value.(type) {
	case ast.Null:
		*into = nil
		return true
	case ast.Object:
		f := *into
		if f == nil {
			f = &FixRequest{}
		}
		stopped := m.Until(func(kt, y *ast.Term) bool {
			k, ok := kt.Value.(ast.String)
			if !ok {
				return true
			}
			switch k {
			case "name":
				return !decodeString(y, &f.Name)
			case "params":
				if _, null := y.Value.(ast.Null); null {
					f.Params = nil
					return false
				}
				p, ok := y.Value.(ast.Object)
				if !ok {
					return true
				}
				params, ok := plainJSON(p)
				if !ok {
					return true
				}
				f.Params = params.(map[string]any)
				return false
			}
			return foldsTo(string(k), fixKeys)
		})
		if stopped {
			return false
		}
		*into = f
		return true
	}
	return false
}

// plainJSON is x as json.Unmarshal into an any would give it from x's JSON
// form: numbers as float64. Sets (arrays in JSON) are not decided here.
func plainJSON(x ast.Value) (any, bool) {
	switch y := x.(type) {
	case ast.Null:
		return nil, true
	case ast.String:
		return string(y), true
	case ast.Boolean:
		return bool(y), true
	case ast.Number:
		f, err := strconv.ParseFloat(string(y), 64)
		return f, err == nil
	case *ast.Array:
		out := make([]any, y.Len())
		for i := range out {
			var ok bool
			if out[i], ok = plainJSON(y.Elem(i).Value); !ok {
				return nil, false
			}
		}
		return out, true
	case ast.Object:
		out := make(map[string]any, y.Len())
		ok := !y.Until(func(kt, e *ast.Term) bool {
			k, isString := kt.Value.(ast.String)
			if !isString {
				return true
			}
			var ok bool
			out[string(k)], ok = plainJSON(e.Value)
			return !ok
		})
		return out, ok
	}
	return nil, false
}
