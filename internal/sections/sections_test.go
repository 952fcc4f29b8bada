package sections_test

import (
	"testing"

	"github.com/cachetagging/cachetagging/internal/sections"
	"github.com/cachetagging/cachetagging/phased"
	"github.com/stretchr/testify/require"
)

func TestStash(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []any
		want map[string]any
		err  bool
	}{
		{"no arguments make an empty stash", nil, map[string]any{}, false},
		{"key value pairs", []any{"a", 1, "b", "x"}, map[string]any{"a": 1, "b": "x"}, false},
		{"a dict", []any{map[string]any{"a": 1}}, map[string]any{"a": 1}, false},
		{"a typed map", []any{map[string]int{"n": 2}}, map[string]any{"n": 2}, false},
		{"an odd number of arguments", []any{"a", 1, "b"}, nil, true},
		{"a key that is not a string", []any{1, 2}, nil, true},
		{"a lone non-map", []any{"a"}, nil, true},
		{"the reserved key Live", []any{"Live", 1}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sections.Stash(tc.args...)
			if tc.err {
				require.ErrorIs(t, err, phased.ErrBadStash)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestNamesAreStableAndDistinct(t *testing.T) {
	a := sections.Name("page.html", "{{ .count }}")
	require.Equal(t, a, sections.Name("page.html", "{{ .count }}"), "every process computes the same name")
	require.NotEqual(t, a, sections.Name("page.html", "{{ .other }}"))
	require.NotEqual(t, a, sections.Name("post.html", "{{ .count }}"))
}
