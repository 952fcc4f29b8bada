package cachetagging_test

import (
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"
)

func djangoData(now int) map[string]any {
	return map[string]any{
		"now":       now,
		"cachename": "cachename",
		"tag1":      "tests.firsttestmodel",
		"tag3":      "tag3",
		"empty_val": "",
		"tags":      []string{"tests.secondtestmodel.pk:2"},
	}
}

// Django cache-tagging's test_templatetag: tags from arguments, from a list and from
// cache_add_tags; each invalidation refreshes the fragment.
func TestDjangoTemplatetag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		g := newGolden(t, "django_templatetag")
		const name = "django_templatetag"

		r1, scope := h.renderTracked(name, djangoData(1))
		require.Equal(t, []string{"tag3", "tests.firsttestmodel", "tests.secondtestmodel", "tests.secondtestmodel.pk:2"},
			scope.Tags(), "the request sees every tag of the fragment")
		require.False(t, scope.Prevented())
		g.step("case 1: first render", r1)

		r2 := h.render(name, djangoData(2))
		require.Equal(t, r1, r2, "a hit")

		h.invalidate("tests.firsttestmodel")
		r3 := h.render(name, djangoData(3))
		require.NotEqual(t, r1, r3, "a tag from the arguments invalidates")
		g.step("after invalidating tests.firsttestmodel", r3)

		r4 := h.render(name, djangoData(4))
		require.Equal(t, r3, r4)

		h.invalidate("tests.secondtestmodel.pk:2")
		r5 := h.render(name, djangoData(5))
		require.NotEqual(t, r3, r5, "a tag from a list invalidates")
		g.step("after invalidating tests.secondtestmodel.pk:2", r5)

		r6 := h.render(name, djangoData(6))
		require.Equal(t, r5, r6)

		h.invalidate("tag3")
		r7 := h.render(name, djangoData(7))
		require.NotEqual(t, r5, r7, "a tag from cache_add_tags invalidates")
		g.step("after invalidating tag3", r7)
		g.check()
	})
}

// Django cache-tagging's test_templatetag_prevent.
func TestDjangoTemplatetagPrevent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		g := newGolden(t, "django_templatetag_prevent")
		const name = "django_templatetag_prevent"
		var prev string
		for now := 1; now <= 3; now++ {
			out, scope := h.renderTracked(name, djangoData(now))
			require.NotEqual(t, prev, out, "a prevented fragment is never served from the cache")
			require.Subset(t, scope.Tags(), []string{"tests.firsttestmodel", "tests.secondtestmodel.pk:2", "tag3", "tag4"})
			require.True(t, scope.Prevented(), "prevention reaches the request")
			g.step("render "+string(rune('0'+now)), out)
			prev = out
		}
		require.Zero(t, h.c.Stats().Stores)
		g.check()
	})
}

func nestedData(n int) map[string]any { return map[string]any{"n": n, "items": []int{1, 2}} }

func TestNestedFragments(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		g := newGolden(t, "nested")
		out := h.render("nested", nestedData(1))
		g.step("n=1: everything fresh", out)
		require.Equal(t, out, h.render("nested", nestedData(2)), "everything hits")

		{ // Invalidating an inner tag refreshes the outer fragment built with it fresh.
			h.invalidate("inner")
			out := h.render("nested", nestedData(3))
			require.Contains(t, out, "outer=3")
			require.Contains(t, out, "inner=3")
			require.Contains(t, out, "<i>1@1</i>", "items are hits inside the rebuilt outer")
			g.step("n=3 after invalidating inner", out)
		}
		{ // ... and the outer fragment built with it as a hit.
			h.invalidate("outer")
			out := h.render("nested", nestedData(4))
			require.Contains(t, out, "outer=4")
			require.Contains(t, out, "inner=3", "the inner fragment was a hit")
			require.Equal(t, out, h.render("nested", nestedData(5)), "the rebuilt outer is stored")
			g.step("n=4 after invalidating outer", out)

			h.invalidate("item:2")
			out = h.render("nested", nestedData(6))
			require.Contains(t, out, "outer=6", "an item hit inside the outer passed its tag up")
			require.Contains(t, out, "inner=3")
			require.Contains(t, out, "<i>1@1</i>")
			require.Contains(t, out, "<i>2@6</i>")
			g.step("n=6 after invalidating item:2", out)
		}
		g.check()
	})
}

type post struct {
	ID    int
	Title string
	Tags  []string
}

// The body of a block keeps its scope: $variables, dot and range variables
// render exactly as without caching.
func TestBlocksKeepTheEnclosingScope(t *testing.T) {
	h := newHarness(t)
	data := map[string]any{"site": "Go <blog>", "posts": []post{
		{1, "First & foremost", []string{"go", "html"}}, {2, "Second", nil}}}
	out := h.render("scope", data)

	// The same template with the block functions removed, on plain html/template.
	src := `{{ $site := .site -}}
<ul>
{{- range $i, $p := .posts }}
  <li>[{{ $i }}] {{ $site }}: {{ $p.Title }} / {{ .Title }} / {{ $.site }}{{ with $p.Tags }} tags={{ range . }}{{ . }},{{ end }}{{ end }}</li>
{{- end }}
</ul>`
	var plain strings.Builder
	require.NoError(t, mustPlain(src).Execute(&plain, data))
	require.Equal(t, plain.String(), out)
	require.Equal(t, out, h.render("scope", data), "and so does the hit")
	g := newGolden(t, "scope")
	g.step("posts with enclosing variables", out)
	g.check()
}

func TestPreventReachesAncestors(t *testing.T) {
	h := newHarness(t)
	out, scope := h.renderTracked("prevent", map[string]any{"n": 1, "private": true})
	require.True(t, scope.Prevented())
	out2 := h.render("prevent", map[string]any{"n": 2, "private": false})
	require.Contains(t, out2, "outer=2", "the outer fragment was not stored")
	require.Contains(t, out2, "inner=2", "the inner fragment was not stored")
	require.Contains(t, out2, "sibling=1", "a sibling is not prevented")
	g := newGolden(t, "prevent")
	g.step("private render", out)
	g.step("public render after it", out2)
	g.check()
}
