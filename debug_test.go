package cachetagging_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/nocache"
	"github.com/cachetagging/cachetagging/tmplcache"
)

type debugKey struct{}

func debugOn(ctx context.Context) bool { on, _ := ctx.Value(debugKey{}).(bool); return on }

// Debug annotations describe this request (a hit says HIT), reach the
// client only when turned on for it, and are never stored.
func TestDebugAnnotations(t *testing.T) {
	c := tmplcache.New(nil)
	r := cachetagging.New(c, cachetagging.WithDebug(debugOn))
	r.Nocache("who", func(ctx context.Context, w io.Writer, call nocache.Call) error {
		_, err := io.WriteString(w, "you")
		return err
	})
	tmpl := mustPrepared(t, r, `<main>{{ cache_tagging "outer" "a" }}<o>{{ cache_tagging "inner" "b" }}<i>{{ nocache "who" }}</i>`+
		`{{ end_cache_tagging }}</o>{{ end_cache_tagging }}</main>`)
	handler := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		require.NoError(t, r.ExecuteTemplate(req.Context(), w, tmpl, "t", nil))
	})
	page := cachetagging.CachePage(r, time.Hour, cachetagging.PageTags(func(*http.Request) []string { return []string{"p"} }))(handler)
	get := func(h http.Handler, debug bool) string {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if debug {
			req = req.WithContext(context.WithValue(req.Context(), debugKey{}, true))
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Body.String()
	}
	const plain = "<main><o><i>you</i></o></main>"

	t.Run("off, the output is the page alone", func(t *testing.T) {
		require.Equal(t, plain, get(handler, false), "a miss")
		require.Equal(t, plain, get(handler, false), "a hit")
	})
	t.Run("on, each fragment and hole is annotated with what this request did", func(t *testing.T) {
		out := get(handler, true) // both fragments hit now
		require.Regexp(t, `^<main><!--ct:fragment key="outer" tags="a b" state="HIT" age="\d+s" ttl="[0-9hms]+"--><o>`+
			`<i><!--ct:hole name="who"-->you<!--/ct:hole--></i></o><!--/ct:fragment--></main>$`, out,
			"the inner fragment is served inside the outer one: only the outer is read")
		require.NoError(t, c.InvalidateTags(bg, "b"))
		out = get(handler, true)
		require.Contains(t, out, `<!--ct:fragment key="outer" tags="a" state="MISS"-->`)
		require.Contains(t, out, `<!--ct:fragment key="inner" tags="b" state="MISS"-->`, "both depend on b: both rebuilt")
	})
	t.Run("annotations are never stored", func(t *testing.T) {
		for _, key := range []string{"fragment:outer", "fragment:inner"} {
			b, err := c.Begin(bg, key)
			require.NoError(t, err)
			if b.Hit() {
				require.NotContains(t, string(b.Value()), "<!--ct:", key)
			}
			require.NoError(t, b.End(bg, nil))
		}
		first := get(page, true) // a page miss, annotated
		require.Contains(t, first, `<!--ct:page key="`)
		require.Contains(t, first, `state="MISS"`)
		require.Equal(t, plain, get(page, false), "the stored page holds no annotation")
		hit := get(page, true)
		require.Regexp(t, `<!--ct:page key="[^"]*" tags="a b p" state="HIT" age="\d+s"-->$`, hit, "a hit says HIT")
		require.Contains(t, hit, `<!--ct:hole name="who"-->you<!--/ct:hole-->`, "holes are annotated on hits too")
		require.NotContains(t, hit, "<!--ct:fragment", "fragments inside a cached page are not read again")
	})
	t.Run("values cannot end the comment", func(t *testing.T) {
		r := cachetagging.New(tmplcache.New(nil), cachetagging.WithDebug(func(context.Context) bool { return true }))
		tmpl := mustPrepared(t, r, `{{ cache_tagging .key }}x{{ end_cache_tagging }}`)
		var b strings.Builder
		require.NoError(t, r.ExecuteTemplate(bg, &b, tmpl, "t", map[string]string{"key": `--><script>alert(1)</script>`}))
		require.NotContains(t, b.String(), "<script>")
		require.Len(t, regexp.MustCompile(`-->`).FindAllString(b.String(), -1), 2, "each comment ends where it should")
	})
}
