package policy

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// toAST converts a Go value to the ast.Value its JSON encoding would decode
// to, without encoding it: struct fields by their json tags (omitempty and
// "-" honoured), pointers, maps with string keys, slices, strings, bools and
// numbers. Values of types that marshal themselves go through encoding/json.
// The policy input is converted on every admission, so this is on the hot
// path; TestToASTMatchesJSON checks it against the JSON round trip.
func toAST(v reflect.Value) (ast.Value, error) {
	if !v.IsValid() {
		return ast.NullValue, nil
	}
	if v.Type().Implements(jsonMarshaler) && (v.Kind() != reflect.Pointer || !v.IsNil()) {
		return viaJSON(v.Interface())
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ast.NullValue, nil
		}
		return toAST(v.Elem())
	case reflect.Struct:
		fields := structFields(v.Type())
		terms := make([][2]*ast.Term, 0, len(fields))
		for _, f := range fields {
			fv := v.Field(f.index)
			if f.omitEmpty && isEmpty(fv) {
				continue
			}
			x, err := toAST(fv)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.name, err)
			}
			terms = append(terms, [2]*ast.Term{ast.StringTerm(f.name), ast.NewTerm(x)})
		}
		return ast.NewObject(terms...), nil
	case reflect.Map:
		if v.IsNil() {
			return ast.NullValue, nil
		}
		if v.Type().Key().Kind() != reflect.String {
			return viaJSON(v.Interface())
		}
		terms := make([][2]*ast.Term, 0, v.Len())
		it := v.MapRange()
		for it.Next() {
			x, err := toAST(it.Value())
			if err != nil {
				return nil, err
			}
			terms = append(terms, [2]*ast.Term{ast.StringTerm(it.Key().String()), ast.NewTerm(x)})
		}
		return ast.NewObject(terms...), nil
	case reflect.Slice:
		if v.IsNil() {
			return ast.NullValue, nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return viaJSON(v.Interface()) // []byte is base64 in JSON
		}
		fallthrough
	case reflect.Array:
		terms := make([]*ast.Term, v.Len())
		for i := range terms {
			x, err := toAST(v.Index(i))
			if err != nil {
				return nil, err
			}
			terms[i] = ast.NewTerm(x)
		}
		return ast.NewArray(terms...), nil
	case reflect.String:
		return ast.String(v.String()), nil
	case reflect.Bool:
		return ast.Boolean(v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return ast.Number(strconv.FormatInt(v.Int(), 10)), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return ast.Number(strconv.FormatUint(v.Uint(), 10)), nil
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("unsupported number %v", f)
		}
		return ast.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
	}
	return viaJSON(v.Interface())
}

var jsonMarshaler = reflect.TypeFor[json.Marshaler]()

func viaJSON(x any) (ast.Value, error) {
	b, err := json.Marshal(x)
	if err != nil {
		return nil, err
	}
	return ast.ValueFromReader(strings.NewReader(string(b)))
}

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}

type field struct {
	name      string
	index     int
	omitEmpty bool
}

var fieldCache sync.Map // reflect.Type → []field

// structFields lists the exported fields of t as encoding/json names them.
// Embedded structs are not flattened: the input types have none.
func structFields(t reflect.Type) []field {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]field)
	}
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" && opts == "" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		out = append(out, field{name: name, index: i, omitEmpty: strings.Contains(","+opts+",", ",omitempty,")})
	}
	fieldCache.Store(t, out)
	return out
}
