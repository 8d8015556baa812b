package policy

import (
	"math/rand/v2"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// TestFlatCache: random sequences of Push, Pop, Put and Get answer as
// OPA's own virtual cache does, references sharing prefixes and holding
// equal values in distinct terms included.
func TestFlatCache(t *testing.T) {
	t.Parallel()
	terms := func() []*ast.Term {
		return []*ast.Term{
			ast.RefTerm(ast.VarTerm("data"), ast.StringTerm("lib"), ast.StringTerm("at")),
			ast.StringTerm("a"), ast.StringTerm("b"), ast.IntNumberTerm(1),
			ast.ObjectTerm([2]*ast.Term{ast.StringTerm("k"), ast.StringTerm("v")}),
			ast.ArrayTerm(ast.StringTerm("x"), ast.BooleanTerm(true)),
		}
	}
	pools := [][]*ast.Term{terms(), terms()} // equal terms, distinct pointers
	rng := rand.New(rand.NewPCG(1, 2))
	ref := func() ast.Ref {
		r := make(ast.Ref, 1+rng.IntN(4))
		for i := range r {
			p := pools[rng.IntN(2)]
			r[i] = p[rng.IntN(len(p))]
		}
		return r
	}
	values := []*ast.Term{nil, ast.StringTerm("v1"), ast.IntNumberTerm(2)}
	for seq := range 200 {
		want, got := topdown.NewVirtualCache(), newFlatCache()
		depth := 0
		for op := range 300 {
			switch n := rng.IntN(10); {
			case n == 0:
				want.Push()
				got.Push()
				depth++
			case n == 1 && depth > 0:
				want.Pop()
				got.Pop()
				depth--
			case n < 5:
				r, v := ref(), values[rng.IntN(len(values))]
				want.Put(append(ast.Ref(nil), r...), v)
				got.Put(r, v)
				for i := range r { // the evaluator reuses the slice: Put copies it
					r[i] = ast.StringTerm("reused")
				}
			default:
				r := ref()
				wv, wu := want.Get(r)
				gv, gu := got.Get(r)
				if wu != gu || !wv.Equal(gv) {
					t.Fatalf("sequence %d, op %d: Get(%v) = %v, %v; OPA's cache says %v, %v", seq, op, r, gv, gu, wv, wu)
				}
			}
		}
		if w, g := len(want.Keys()), len(got.Keys()); w != g {
			t.Errorf("sequence %d: %d keys, OPA's cache has %d", seq, g, w)
		}
	}
}
