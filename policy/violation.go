package policy

import (
	"encoding/json"
	"strconv"
	"strings"
)

// violationKeys are the JSON names of Violation's fields.
var violationKeys = []string{"msg", "component", "file", "line", "column", "target", "fix", "action", "package"}

// decodeViolation fills v from a violation as the query returns it (the
// JSON form of a Rego object: strings, json.Number, bool, nil, []any,
// map[string]any) as json.Unmarshal of its encoding would, without encoding
// it. It reports false for anything it does not decide the way
// json.Unmarshal would (a key matching a field only case-insensitively, a
// value of another type, a number that is not an int): the caller then goes
// through encoding/json, which decides and says what is wrong.
func decodeViolation(m map[string]any, v *Violation) bool {
	for k, x := range m {
		var ok bool
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
			var s string
			ok = decodeString(x, &s)
			if ok && x != nil {
				v.Action = Action(s)
			}
		case "line":
			ok = decodeInt(x, &v.Line)
		case "column":
			ok = decodeInt(x, &v.Column)
		case "fix":
			ok = decodeFix(x, &v.Fix)
		default:
			ok = !foldsTo(k, violationKeys)
		}
		if !ok {
			return false
		}
	}
	return true
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

func decodeString(x any, into *string) bool {
	switch s := x.(type) {
	case nil: // null leaves the field as it is
		return true
	case string:
		*into = s
		return true
	}
	return false
}

func decodeInt(x any, into *int) bool {
	switch n := x.(type) {
	case nil:
		return true
	case json.Number:
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

func decodeFix(x any, into **FixRequest) bool {
	switch m := x.(type) {
	case nil:
		*into = nil
		return true
	case map[string]any:
		f := *into
		if f == nil {
			f = &FixRequest{}
		}
		for k, y := range m {
			switch k {
			case "name":
				if !decodeString(y, &f.Name) {
					return false
				}
			case "params":
				p, ok := y.(map[string]any)
				if y == nil {
					f.Params = nil
					continue
				}
				if !ok {
					return false
				}
				params := make(map[string]any, len(p))
				for pk, pv := range p {
					if params[pk], ok = plainJSON(pv); !ok {
						return false
					}
				}
				f.Params = params
			default:
				if foldsTo(k, fixKeys) {
					return false
				}
			}
		}
		*into = f
		return true
	}
	return false
}

// plainJSON is x as json.Unmarshal into an any would give it: numbers as
// float64.
func plainJSON(x any) (any, bool) {
	switch y := x.(type) {
	case nil, string, bool:
		return y, true
	case json.Number:
		f, err := strconv.ParseFloat(string(y), 64)
		return f, err == nil
	case []any:
		out := make([]any, len(y))
		for i, e := range y {
			var ok bool
			if out[i], ok = plainJSON(e); !ok {
				return nil, false
			}
		}
		return out, true
	case map[string]any:
		out := make(map[string]any, len(y))
		for k, e := range y {
			var ok bool
			if out[k], ok = plainJSON(e); !ok {
				return nil, false
			}
		}
		return out, true
	}
	return nil, false
}
