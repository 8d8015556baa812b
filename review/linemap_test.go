package review

import (
	"slices"
	"testing"
)

func TestLineMap(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		before, after string
		want          []int
	}{
		{"unchanged", "a\nb\n", "a\nb\n", []int{1, 2, 0}},
		{"inserted in the middle", "a {\n}\nc\n", "a {\n  x\n}\nc\n", []int{1, -1, 2, 3, 0}},
		{"inserted at the top", "b\nc\n", "x\nb\nc\n", []int{-1, 1, 2, 0}},
		{"rewritten line", "a\nf = h\nc\n", "a\nf = g(h)\nc\n", []int{1, 2, 3, 0}},
		{"rewritten and inserted", "a\nf = h\nc\nd\n", "a\nf = g(h)\nc\n  y\nd\n", []int{1, 2, 3, -3, 4, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := lineMap(tc.before, tc.after)
			// SplitLines ends with an empty last element: its entry is whatever the matcher gives it.
			got[len(got)-1] = 0
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
