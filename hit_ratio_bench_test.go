package cachetagging_test

import (
	"bytes"
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gocache "github.com/patrickmn/go-cache"

	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/tmplcache"
)

// The ratio benchmarks run the cases of BenchmarkHit interleaved: rounds
// of a few hundred of each, in turn, so that whatever else the machine
// does weighs on all of them alike. Each case's time is reported (name-ns)
// and the ratio the goals are stated in; ns/op is one of each.

// ratioCase is one interleaved case.
type ratioCase struct {
	name string
	run  func() error
}

// interleave runs cases in rounds and reports each case's time per run,
// and num/den, the ratio of two of them; it returns the times (ns per
// run). Unless output is nil, every case must write what the first does
// (output returns what the last run wrote).
func interleave(b *testing.B, output func() []byte, cases []ratioCase, num, den int) []float64 {
	b.Helper()
	var first []byte
	for i, c := range cases {
		if err := c.run(); err != nil {
			b.Fatal(err)
		}
		switch {
		case output == nil:
		case i == 0:
			first = bytes.Clone(output())
		case !bytes.Equal(output(), first):
			b.Fatalf("%s: output differs from %s", c.name, cases[0].name)
		}
	}
	const round = 256
	spent := make([]time.Duration, len(cases))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if n%round == 0 {
			for i, c := range cases {
				start := time.Now()
				for range round {
					if err := c.run(); err != nil {
						b.Fatal(err)
					}
				}
				spent[i] += time.Since(start)
			}
		}
		n++
	}
	runs := float64((n + round - 1) / round * round)
	per := make([]float64, len(cases))
	for i, c := range cases {
		per[i] = float64(spent[i]) / runs
		b.ReportMetric(per[i], c.name+"-ns")
	}
	b.ReportMetric(per[num]/per[den], cases[num].name+"/"+cases[den].name)
	return per
}

// BenchmarkHitRatio: a fragment hit, the hand-rolled go-cache hit, the
// floor (what html/template costs for the actions a hit executes), and a
// hit of the same block with a computed key.
func BenchmarkHitRatio(b *testing.B) {
	data := hitData()
	ctx := context.Background()
	h := newHitSetup(b, tmplcache.New(nil))
	byHand, floor := handRolledAndFloor(b, h, data)
	// The same block with its key computed ({{ cache_tagging .key ... }}),
	// as a block per post has it.
	computed := template.Must(template.New("t").Funcs(sprigFuncs()).Funcs(h.r.FuncMap()).
		Parse(strings.Replace(hitBlock, `"latest"`, `.key`, 1)))
	if err := h.r.Prepare(computed); err != nil {
		b.Fatal(err)
	}
	keyed := map[string]any{"Posts": data["Posts"], "key": "latest-computed"}
	var buf bytes.Buffer
	if err := h.r.ExecuteTemplate(ctx, &buf, computed, "t", keyed); err != nil { // its miss
		b.Fatal(err)
	}
	interleave(b, buf.Bytes, []ratioCase{
		{"hit", func() error { buf.Reset(); return h.r.ExecuteTemplate(ctx, &buf, h.cached, "t", data) }},
		{"handrolled", func() error { buf.Reset(); return byHand.Execute(&buf, nil) }},
		{"floor", func() error { buf.Reset(); return floor.Execute(&buf, nil) }},
		{"hit-computed-key", func() error { buf.Reset(); return h.r.ExecuteTemplate(ctx, &buf, computed, "t", keyed) }},
	}, 0, 1)
}

// BenchmarkPageHitRatio: a page hit under CachePage (one fragment, one
// nocache hole), the hand-rolled page cache, and the static handler; and,
// interleaved with them, two things a page hit cannot skip, each alone:
// the store read that checks the page's five tags (store-read) and
// running its one nocache hole (hole).
func BenchmarkPageHitRatio(b *testing.B) {
	ctx := context.Background()
	data := hitData()
	h := newHitSetup(b, tmplcache.New(nil))
	pc := newPageCases(b, h.r, h.page, data)
	w := &discardWriter{h: http.Header{}}
	serve := func(hd http.Handler) func() error {
		return func() error {
			clear(w.h)
			w.buf = w.buf[:0]
			hd.ServeHTTP(w, pc.req)
			return nil
		}
	}
	c := h.r.Cache()
	tags := tmplcache.Tags("posts", "category:1", "category:2", "authors", "comments")
	if err := c.Set(ctx, "read", pc.body, tags); err != nil {
		b.Fatal(err)
	}
	read := c.Spec("read", tags)
	var hit tmplcache.Build
	hole, err := h.r.Holes().Marker("greeting")
	if err != nil {
		b.Fatal(err)
	}
	var holeOut bytes.Buffer
	parts := func(run func() error) func() error {
		return func() error {
			if err := run(); err != nil {
				return err
			}
			return serve(pc.static)() // the output every case must match
		}
	}
	interleave(b, func() []byte { return w.buf }, []ratioCase{
		{"page-hit", serve(pc.cached)},
		{"page-handrolled", serve(pc.byHand)},
		{"static", serve(pc.static)},
		{"store-read+static", parts(func() error {
			if !read.PeekInto(ctx, &hit) {
				return errors.New("the read missed")
			}
			return hit.End(ctx, nil)
		})},
		{"hole+static", parts(func() error {
			holeOut.Reset()
			return h.r.Holes().Run(ctx, &holeOut, []byte(hole), nil)
		})},
	}, 0, 2)
}

// pageCases are the handlers BenchmarkHit's page cases compare.
type pageCases struct {
	req                    *http.Request
	body                   []byte // the page
	cached, byHand, static http.Handler
}

// newPageCases stores page's hit (its miss) and builds the handlers that
// serve the same bytes: CachePage, a page cache written by hand, and a
// static handler.
func newPageCases(b *testing.B, r *cachetagging.Renderer, page *template.Template, data any) pageCases {
	b.Helper()
	handler := cachetagging.CachePage(r, time.Hour)(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = r.ExecuteTemplate(req.Context(), w, page, "page", data)
	}))
	req := httptest.NewRequest(http.MethodGet, "/latest", nil)
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req) // the miss stores the page
	static := rec.Body.Bytes()
	staticHandler := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(static)
	})
	// What a Go developer writes without the library: responses kept in
	// go-cache by URL, headers and body, replayed as they were (the
	// greeting hole's output included: no tags, no holes, no checks).
	pages := gocache.New(time.Hour, 0)
	pages.Set(req.URL.String(), &savedPage{header: rec.Header().Clone(), body: static}, time.Hour)
	byHand := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		v, ok := pages.Get(req.URL.String())
		if !ok {
			http.Error(w, "not cached", http.StatusInternalServerError)
			return
		}
		p := v.(*savedPage)
		for k, vs := range p.header {
			w.Header()[k] = vs
		}
		_, _ = w.Write(p.body)
	})
	return pageCases{req: req, body: static, cached: handler, byHand: byHand, static: staticHandler}
}
