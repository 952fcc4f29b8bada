package cachetagging_test

import (
	"context"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/nocache"
	"github.com/cachetagging/cachetagging/tmplcache"
)

// The allocations of a hit are bounded, so that a change that adds some
// fails here, not in a benchmark nobody reads (see BenchmarkHit for the
// times, against a hand-rolled go-cache and a static handler). The
// hand-rolled go-cache hit makes 10, html/template's own share of it;
// a fragment hit makes as many.
const (
	maxFragmentHitAllocs = 10
	maxPageHitAllocs     = 2
)

func TestHitsAllocateLittle(t *testing.T) {
	data := hitData()
	r := cachetagging.New(tmplcache.New(nil))
	r.Nocache("greeting", func(ctx context.Context, w io.Writer, call nocache.Call) error {
		_, err := io.WriteString(w, "Hello, Ann")
		return err
	})
	cached := template.Must(template.New("t").Funcs(sprigFuncs()).Funcs(r.FuncMap()).Parse(hitBlock))
	page := template.Must(template.New("page").Funcs(sprigFuncs()).Funcs(r.FuncMap()).Parse(hitPage))
	require.NoError(t, r.Prepare(cached))
	require.NoError(t, r.Prepare(page))

	var out bytesWriter
	fragment := func() {
		out = out[:0]
		if err := r.ExecuteTemplate(bg, &out, cached, "t", data); err != nil {
			t.Fatal(err)
		}
	}
	fragment()
	stats := r.Cache().Stats()
	t.Run("a fragment hit with five tags", func(t *testing.T) {
		n := testing.AllocsPerRun(200, fragment)
		t.Logf("%.0f allocations", n)
		require.LessOrEqual(t, n, float64(maxFragmentHitAllocs+poolSlack))
		require.EqualValues(t, stats.Stores, r.Cache().Stats().Stores, "every run was a hit")
	})

	handler := cachetagging.CachePage(r, time.Hour)(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = r.ExecuteTemplate(req.Context(), w, page, "page", data)
	}))
	req := httptest.NewRequest(http.MethodGet, "/latest", nil)
	handler.ServeHTTP(httptest.NewRecorder(), req)
	w := &discardWriter{h: http.Header{}}
	t.Run("a page hit with a fragment and a hole", func(t *testing.T) {
		n := testing.AllocsPerRun(200, func() {
			clear(w.h)
			w.buf = w.buf[:0]
			handler.ServeHTTP(w, req)
		})
		t.Logf("%.0f allocations", n)
		require.Equal(t, "HIT", w.h.Get("X-Cache"))
		require.LessOrEqual(t, n, float64(maxPageHitAllocs+poolSlack))
	})
}
