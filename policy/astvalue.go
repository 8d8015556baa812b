package policy

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
)

// toAST converts a Go value to the ast.Value its JSON encoding would decode
// to, without encoding it: struct fields by their json tags (omitempty and
// "-" honoured), pointers, maps with string keys, slices, strings, bools and
// numbers. Values of types that marshal themselves go through encoding/json.
// The policy input is converted on every admission, so this is on the hot
// path: each type gets an encoder once (as encoding/json does), object keys
// are terms shared by every object of a type, and booleans, small integers
// and empty strings are OPA's interned terms. TestToASTMatchesJSON checks it
// against the JSON round trip.
func toAST(v reflect.Value) (ast.Value, error) {
	t, err := termOf(v)
	if err != nil {
		return nil, err
	}
	return t.Value, nil
}

func termOf(v reflect.Value) (*ast.Term, error) {
	if !v.IsValid() {
		return ast.InternedNullTerm, nil
	}
	return encoderOf(v.Type())(v)
}

// encoder converts values of one type.
type encoder func(v reflect.Value) (*ast.Term, error)

var encoders sync.Map // reflect.Type → encoder

// encoderOf returns the encoder of t, building it on first use.
func encoderOf(t reflect.Type) encoder {
	return ofType(&encoders, t, newEncoder, func(built func() encoder) encoder {
		return func(v reflect.Value) (*ast.Term, error) { return built()(v) }
	})
}

// ofType returns the function of t in m, building it with build on first
// use. A type that contains itself gets, while its function is being
// built, the one waiting returns: it waits for the built one and calls it
// (encoding/json's typeEncoder does the same).
func ofType[F any](m *sync.Map, t reflect.Type, build func(reflect.Type) F, waiting func(built func() F) F) F {
	if f, ok := m.Load(t); ok {
		return f.(F)
	}
	var (
		wg sync.WaitGroup
		f  F
	)
	wg.Add(1)
	g, loaded := m.LoadOrStore(t, waiting(func() F { wg.Wait(); return f }))
	if loaded {
		return g.(F)
	}
	f = build(t)
	wg.Done()
	m.Store(t, f)
	return f
}

func jsonEncoder(v reflect.Value) (*ast.Term, error) {
	x, err := viaJSON(v.Interface())
	if err != nil {
		return nil, err
	}
	return ast.NewTerm(x), nil
}

func newEncoder(t reflect.Type) encoder {
	if t == jsonNumber {
		return func(v reflect.Value) (*ast.Term, error) {
			n := json.Number(v.String())
			if n == "" {
				n = "0" // as encoding/json writes it
			}
			if !validNumber(string(n)) {
				return nil, fmt.Errorf("invalid number literal %q", n)
			}
			return ast.NewTerm(ast.Number(n)), nil
		}
	}
	if t.Implements(jsonMarshaler) {
		if t.Kind() != reflect.Pointer {
			return jsonEncoder
		}
		return func(v reflect.Value) (*ast.Term, error) {
			if v.IsNil() {
				return ast.InternedNullTerm, nil
			}
			return jsonEncoder(v)
		}
	}
	switch t.Kind() {
	case reflect.Interface:
		return func(v reflect.Value) (*ast.Term, error) {
			if v.IsNil() {
				return ast.InternedNullTerm, nil
			}
			e := v.Elem()
			return encoderOf(e.Type())(e)
		}
	case reflect.Pointer:
		elem := encoderOf(t.Elem())
		return func(v reflect.Value) (*ast.Term, error) {
			if v.IsNil() {
				return ast.InternedNullTerm, nil
			}
			return elem(v.Elem())
		}
	case reflect.Struct:
		return structEncoder(t)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return func(v reflect.Value) (*ast.Term, error) {
				if v.IsNil() {
					return ast.InternedNullTerm, nil
				}
				return jsonEncoder(v)
			}
		}
		elem := encoderOf(t.Elem())
		return func(v reflect.Value) (*ast.Term, error) {
			if v.IsNil() {
				return ast.InternedNullTerm, nil
			}
			items := make([][2]*ast.Term, 0, v.Len())
			it := v.MapRange()
			for it.Next() {
				x, err := elem(it.Value())
				if err != nil {
					return nil, err
				}
				items = append(items, [2]*ast.Term{stringTerm(it.Key().String()), x})
			}
			return ast.NewTerm(ast.NewObject(items...)), nil
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return func(v reflect.Value) (*ast.Term, error) {
				if v.IsNil() {
					return ast.InternedNullTerm, nil
				}
				return jsonEncoder(v) // []byte is base64 in JSON
			}
		}
		elems := arrayEncoder(t)
		return func(v reflect.Value) (*ast.Term, error) {
			if v.IsNil() {
				return ast.InternedNullTerm, nil
			}
			return elems(v)
		}
	case reflect.Array:
		return arrayEncoder(t)
	case reflect.String:
		return func(v reflect.Value) (*ast.Term, error) { return stringTerm(v.String()), nil }
	case reflect.Bool:
		return func(v reflect.Value) (*ast.Term, error) { return ast.InternedTerm(v.Bool()), nil }
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(v reflect.Value) (*ast.Term, error) { return intTerm(v.Int()), nil }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return func(v reflect.Value) (*ast.Term, error) {
			if u := v.Uint(); u <= math.MaxInt64 {
				return intTerm(int64(u)), nil
			}
			return ast.NewTerm(ast.Number(strconv.FormatUint(v.Uint(), 10))), nil
		}
	case reflect.Float32, reflect.Float64:
		return func(v reflect.Value) (*ast.Term, error) {
			f := v.Float()
			if math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, fmt.Errorf("unsupported number %v", f)
			}
			return ast.NewTerm(ast.Number(strconv.FormatFloat(f, 'g', -1, 64))), nil
		}
	}
	return jsonEncoder
}

// validNumber tells whether encoding/json writes n (a json.Number) as is.
func validNumber(n string) bool {
	return n != "" && (n[0] == '-' || n[0] >= '0' && n[0] <= '9') && n[len(n)-1] >= '0' && n[len(n)-1] <= '9' && json.Valid([]byte(n))
}

func stringTerm(s string) *ast.Term {
	if s == "" {
		return ast.InternedEmptyString
	}
	return ast.StringTerm(s)
}

// intTerm is n as a number term: OPA's interned term when it has one,
// else one of numTerms, else a new one.
func intTerm(n int64) *ast.Term {
	if n >= -1 && n < 512 {
		return ast.InternedTerm(int(n))
	}
	if n >= 0 && n < int64(len(numTerms)) {
		p := &numTerms[n]
		if t := p.Load(); t != nil {
			return t
		}
		t := ast.NewTerm(ast.Number(strconv.FormatInt(n, 10)))
		if p.CompareAndSwap(nil, t) {
			return t
		}
		return p.Load()
	}
	return ast.NewTerm(ast.Number(strconv.FormatInt(n, 10)))
}

// numTerms are the number terms of 512 to 4095 that have been made, shared
// from then on as OPA shares its own below 512: lines and columns of the
// config files, most of the numbers of a file's value, stay below 4096
// (at most about 200 KiB once all are made).
var numTerms [4096]atomic.Pointer[ast.Term]

func arrayEncoder(t reflect.Type) encoder {
	elem := encoderOf(t.Elem())
	return func(v reflect.Value) (*ast.Term, error) {
		n := v.Len()
		if n == 0 {
			return ast.InternedEmptyArray, nil
		}
		terms := make([]*ast.Term, n)
		for i := range terms {
			x, err := elem(v.Index(i))
			if err != nil {
				return nil, err
			}
			terms[i] = x
		}
		return ast.ArrayTerm(terms...), nil
	}
}

func structEncoder(t reflect.Type) encoder {
	fields := structFields(t)
	encs := make([]encoder, len(fields))
	for i, f := range fields {
		encs[i] = encoderOf(t.Field(f.index).Type)
	}
	return func(v reflect.Value) (*ast.Term, error) {
		// NewObject copies the items: small structs' stay on the stack.
		var buf [16][2]*ast.Term
		items := buf[:0]
		if len(fields) > len(buf) {
			items = make([][2]*ast.Term, 0, len(fields))
		}
		for i, f := range fields {
			fv := v.Field(f.index)
			if f.omitEmpty && isEmpty(fv) {
				continue
			}
			x, err := encs[i](fv)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.name, err)
			}
			items = append(items, [2]*ast.Term{f.key, x})
		}
		return ast.NewTerm(ast.NewObject(items...)), nil
	}
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	jsonNumber    = reflect.TypeFor[json.Number]()
)

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
	key       *ast.Term // the name, shared by every object of the type
	index     int
	omitEmpty bool
}

// structFields lists the exported fields of t as encoding/json names them.
// Embedded structs are not flattened: the input types have none.
func structFields(t reflect.Type) []field {
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
		out = append(out, field{name: name, key: ast.StringTerm(name), index: i, omitEmpty: strings.Contains(","+opts+",", ",omitempty,")})
	}
	return out
}
