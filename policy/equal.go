package policy

import (
	"reflect"
	"sync"
)

// equalFunc reports whether two values of one type are equal.
type equalFunc func(a, b reflect.Value) bool

var equalFuncs sync.Map // reflect.Type → equalFunc

// equalOf returns the equality of values of t, built on first use: values
// it calls equal have the same JSON form, so toAST gives them the same
// Rego value. It compares every field, those JSON leaves out too, and
// tells nil from empty slices and maps (JSON's null from [] and {}); a
// kind it does not know (func, chan, complex) is never equal. Unlike
// reflect.DeepEqual it allocates nothing and follows no cycles: the facts
// it compares are trees.
func equalOf(t reflect.Type) equalFunc {
	return ofType(&equalFuncs, t, newEqual, func(built func() equalFunc) equalFunc {
		return func(a, b reflect.Value) bool { return built()(a, b) }
	})
}

func newEqual(t reflect.Type) equalFunc {
	switch t.Kind() {
	case reflect.String:
		return func(a, b reflect.Value) bool { return a.String() == b.String() }
	case reflect.Bool:
		return func(a, b reflect.Value) bool { return a.Bool() == b.Bool() }
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(a, b reflect.Value) bool { return a.Int() == b.Int() }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(a, b reflect.Value) bool { return a.Uint() == b.Uint() }
	case reflect.Float32, reflect.Float64:
		return func(a, b reflect.Value) bool { return a.Float() == b.Float() }
	case reflect.Pointer:
		elem := equalOf(t.Elem())
		return func(a, b reflect.Value) bool {
			if a.IsNil() || b.IsNil() {
				return a.IsNil() == b.IsNil()
			}
			return a.Pointer() == b.Pointer() || elem(a.Elem(), b.Elem())
		}
	case reflect.Interface:
		return func(a, b reflect.Value) bool {
			if a.IsNil() || b.IsNil() {
				return a.IsNil() == b.IsNil()
			}
			x, y := a.Elem(), b.Elem()
			return x.Type() == y.Type() && equalOf(x.Type())(x, y)
		}
	case reflect.Struct:
		n := t.NumField()
		fields := make([]equalFunc, n)
		for i := range n {
			fields[i] = equalOf(t.Field(i).Type)
		}
		return func(a, b reflect.Value) bool {
			for i, eq := range fields {
				if !eq(a.Field(i), b.Field(i)) {
					return false
				}
			}
			return true
		}
	case reflect.Slice:
		elems := elemsEqual(t)
		return func(a, b reflect.Value) bool {
			return a.IsNil() == b.IsNil() && a.Len() == b.Len() && elems(a, b)
		}
	case reflect.Array:
		return elemsEqual(t)
	case reflect.Map:
		elem := equalOf(t.Elem())
		return func(a, b reflect.Value) bool {
			if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
				return false
			}
			it := a.MapRange()
			for it.Next() {
				y := b.MapIndex(it.Key())
				if !y.IsValid() || !elem(it.Value(), y) {
					return false
				}
			}
			return true
		}
	}
	return func(reflect.Value, reflect.Value) bool { return false }
}

// elemsEqual compares the elements of two slices or arrays of type t, of
// one length, in order.
func elemsEqual(t reflect.Type) equalFunc {
	elem := equalOf(t.Elem())
	return func(a, b reflect.Value) bool {
		for i := range a.Len() {
			if !elem(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	}
}
