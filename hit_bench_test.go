package cachetagging_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	gocache "github.com/patrickmn/go-cache"

	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/nocache"
	"github.com/cachetagging/cachetagging/tmplcache"
)

// The fragment of BenchmarkHit: 50 items, sprig's upper and trunc, about
// 9 KB of HTML, tagged with five tags.
const (
	hitItems = `<ul class="latest">{{ range .Posts }}
  <li><a href="/posts/{{ .ID }}">{{ upper .Title }}</a> <span>{{ .Author }}</span>
    <p>{{ trunc 90 .Summary }}</p></li>{{ end }}
</ul>`
	hitBlock = `{{ cache_tagging "latest" "posts" "category:1" "category:2" "authors" "comments" }}` +
		hitItems + `{{ end_cache_tagging }}`
	hitPage = `<!doctype html><title>Latest</title><header>{{ nocache "greeting" }}</header>` + hitBlock
)

func hitData() map[string]any {
	posts := make([]benchPost, 50)
	for i := range posts {
		posts[i] = benchPost{ID: i, Title: fmt.Sprintf("post number %d", i), Author: "Ann",
			Summary: strings.Repeat("Lorem ipsum dolor sit amet, consectetur. ", 4)}
	}
	return map[string]any{"Posts": posts}
}

// handRolled is what a Go developer writes without this library: render
// the partial once into a buffer, keep it in go-cache as template.HTML,
// insert it with a function.
type handRolled struct {
	c       *gocache.Cache
	partial *template.Template
	data    any
}

func (h *handRolled) cached(key string) (template.HTML, error) {
	if v, ok := h.c.Get(key); ok {
		return v.(template.HTML), nil
	}
	var b bytes.Buffer
	if err := h.partial.Execute(&b, h.data); err != nil {
		return "", err
	}
	html := template.HTML(b.String())
	h.c.Set(key, html, time.Hour)
	return html, nil
}

// handRolledAndFloor returns, for h's fragment, the hand-rolled hit
// ({{ cached "latest" }} on go-cache) and the floor of a hit: what a hit
// executes of the actions Prepare rewrites a block into,
// {{if $hit := HIT}}{{$hit}}{{else}}...{{end}}, with a HIT that returns the
// fragment itself: what html/template costs, with no store, no markers,
// no stream.
func handRolledAndFloor(b *testing.B, h hitSetup, data any) (byHand, floor *template.Template) {
	b.Helper()
	hr := &handRolled{c: gocache.New(time.Hour, 0), partial: h.plain, data: data}
	byHand = template.Must(template.New("t").Funcs(template.FuncMap{"cached": hr.cached}).Parse(`{{ cached "latest" }}`))
	fixed, err := hr.cached("latest")
	if err != nil {
		b.Fatal(err)
	}
	floor = template.Must(template.New("t").Funcs(template.FuncMap{"hit": func() (*template.HTML, error) { return &fixed, nil }}).
		Parse(`{{if $hit := hit}}{{$hit}}{{else}}body{{end}}`))
	return byHand, floor
}

// hitSetup is what BenchmarkHit and BenchmarkHitRedis measure: r, with the
// greeting hole, and the fragment's templates: plain (no cache), cached (in
// its block) and page (the block and the hole), the last two prepared.
type hitSetup struct {
	r                   *cachetagging.Renderer
	plain, cached, page *template.Template
}

func newHitSetup(b *testing.B, c *tmplcache.Cache, opts ...cachetagging.Option) hitSetup {
	b.Helper()
	r := cachetagging.New(c, opts...)
	r.Nocache("greeting", func(ctx context.Context, w io.Writer, call nocache.Call) error {
		_, err := io.WriteString(w, "Hello, Ann")
		return err
	})
	h := hitSetup{
		r:      r,
		plain:  template.Must(template.New("t").Funcs(sprigFuncs()).Parse(hitItems)),
		cached: template.Must(template.New("t").Funcs(sprigFuncs()).Funcs(r.FuncMap()).Parse(hitBlock)),
		page:   template.Must(template.New("page").Funcs(sprigFuncs()).Funcs(r.FuncMap()).Parse(hitPage)),
	}
	for _, t := range []*template.Template{h.cached, h.page} {
		if err := r.Prepare(t); err != nil {
			b.Fatal(err)
		}
	}
	return h
}

// benchOutput runs name as a sub-benchmark of b: each iteration resets buf
// and writes into it with write; the last output must be want.
func benchOutput(b *testing.B, name string, buf *bytes.Buffer, want []byte, write func() error) {
	b.Run(name, func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			if err := write(); err != nil {
				b.Fatal(err)
			}
		}
		if !bytes.Equal(buf.Bytes(), want) {
			b.Fatalf("%s: output differs from the render:\n%.200q", name, buf.String())
		}
	})
}

// benchPageHit measures a hit of page under CachePage (its miss stores it
// first) against a page cache written by hand and a static handler
// writing the same bytes.
func benchPageHit(b *testing.B, r *cachetagging.Renderer, page *template.Template, data any) {
	pc := newPageCases(b, r, page, data)
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"case=page-hit", pc.cached}, {"case=page-handrolled", pc.byHand}, {"case=static", pc.static}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			w := &discardWriter{h: http.Header{}}
			for b.Loop() {
				clear(w.h)
				w.buf = w.buf[:0]
				c.h.ServeHTTP(w, pc.req)
			}
			if !bytes.Equal(w.buf, pc.body) {
				b.Fatalf("%s: page differs", c.name)
			}
		})
	}
}

// BenchmarkHit measures, in one run, what a fragment hit costs against
// what users would otherwise do: re-render it, keep it by hand in go-cache,
// or copy its bytes; what html/template alone costs for the actions a hit
// executes (case=floor) and what the store read alone costs (case=tag-check);
// and a whole page under CachePage (one fragment,
// one nocache hole) against a static handler.
func BenchmarkHit(b *testing.B) {
	data := hitData()
	ctx := context.Background()
	h := newHitSetup(b, tmplcache.New(nil))
	byHand, floor := handRolledAndFloor(b, h, data)

	var want bytes.Buffer
	if err := h.plain.Execute(&want, data); err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	hit := func() error { return h.r.ExecuteTemplate(ctx, &buf, h.cached, "t", data) }
	handrolled := func() error { return byHand.Execute(&buf, nil) }
	for _, warm := range []func() error{hit, handrolled} {
		buf.Reset()
		if err := warm(); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("fragment: %d bytes", want.Len())

	benchOutput(b, "case=render", &buf, want.Bytes(), func() error { return h.plain.Execute(&buf, data) })
	benchOutput(b, "case=hit", &buf, want.Bytes(), hit)
	benchOutput(b, "case=handrolled", &buf, want.Bytes(), handrolled)
	benchOutput(b, "case=floor", &buf, want.Bytes(), func() error { return floor.Execute(&buf, nil) })
	// The read every hit makes: the entry and its five tag records, every
	// version checked, as a prepared block reads them (no template).
	c := h.r.Cache()
	read := c.Spec("read", tmplcache.Tags("posts", "category:1", "category:2", "authors", "comments"))
	if err := c.Set(ctx, "read", want.Bytes(), tmplcache.Tags("posts", "category:1", "category:2", "authors", "comments")); err != nil {
		b.Fatal(err)
	}
	var rb tmplcache.Build
	benchOutput(b, "case=tag-check", &buf, want.Bytes(), func() error {
		if !read.PeekInto(ctx, &rb) {
			return errors.New("read: a miss")
		}
		buf.Write(rb.Value())
		return rb.End(ctx, nil)
	})
	src := want.Bytes()
	benchOutput(b, "case=copy", &buf, src, func() error {
		_, err := buf.Write(src)
		return err
	})
	benchPageHit(b, h.r, h.page, data)
}

// savedPage is a response kept by BenchmarkHit's hand-rolled page cache.
type savedPage struct {
	header http.Header
	body   []byte
}

// BenchmarkMiss: a miss renders the fragment and stores it; against the
// plain render and a store write of the same bytes, in one run.
func BenchmarkMiss(b *testing.B) { benchMiss(b, tmplcache.New(nil)) }

func benchMiss(b *testing.B, c *tmplcache.Cache) {
	data := hitData()
	ctx := context.Background()
	r := cachetagging.New(c, cachetagging.WithSecret([]byte("the secret of the benchmark")))
	plain := template.Must(template.New("t").Funcs(sprigFuncs()).Parse(hitItems))
	keyed := strings.Replace(hitBlock, `"latest"`, `.key`, 1)
	cached := template.Must(template.New("t").Funcs(sprigFuncs()).Funcs(r.FuncMap()).Parse(keyed))
	if err := r.Prepare(cached); err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	_ = plain.Execute(&buf, data)
	value := bytes.Clone(buf.Bytes())
	tags := tmplcache.Tags("posts", "category:1", "category:2", "authors", "comments")
	benchOutput(b, "case=render", &buf, value, func() error { return plain.Execute(&buf, data) })
	// Every key is new: across -count runs, and across processes sharing
	// a store (Redis keeps the keys of the last run).
	run, i := rand.Uint64(), 0
	miss := func() error {
		i++
		data["key"] = fmt.Sprint("latest-", run, "-", i) // always a miss
		buf.Reset()
		ctx, scope := c.Track(ctx)
		if err := r.ExecuteTemplate(ctx, &buf, cached, "t", data); err != nil {
			return err
		}
		return scope.End(ctx, nil)
	}
	b.Run("case=miss", func(b *testing.B) {
		b.ReportAllocs()
		misses, n := c.Stats().Misses, uint64(0)
		defer func() {
			if got := c.Stats().Misses - misses; got != n {
				b.Fatalf("%d misses in %d renders: the case measures something else", got, n)
			}
		}()
		for b.Loop() {
			n++
			if err := miss(); err != nil {
				b.Fatal(err)
			}
		}
	})
	write := func() error {
		i++
		return c.Set(ctx, fmt.Sprint("set-", i), value, tags)
	}
	b.Run("case=store-write", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = write()
		}
	})
	// The goal's ratio, from the three interleaved (see BenchmarkHitRatio):
	// a miss against the plain render plus the store write.
	b.Run("case=ratio", func(b *testing.B) {
		ns := interleave(b, nil, []ratioCase{
			{"miss", miss},
			{"render", func() error { buf.Reset(); return plain.Execute(&buf, data) }},
			{"store-write", write},
		}, 0, 1)
		b.ReportMetric(ns[0]/(ns[1]+ns[2]), "miss/(render+write)")
	})
}
