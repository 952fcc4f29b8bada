package cachetagging_test

import (
	"bytes"
	"context"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/internal/testserver"
	"github.com/cachetagging/cachetagging/nocache"
	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/redisstore"
)

// BenchmarkHitRedis is BenchmarkHit on Redis: the fragment hit against a
// hand-rolled Redis GET of the pre-rendered HTML, and the page hit against
// the static handler, in one run.
func BenchmarkHitRedis(b *testing.B) {
	testserver.Require(b, "redis", testserver.RedisAddr())
	rdb := redis.NewClient(&redis.Options{Addr: testserver.RedisAddr()})
	defer rdb.Close()
	ctx := context.Background()
	data := hitData()
	c := tmplcache.New(redisstore.New(rdb), tmplcache.WithNamespace("bench-hit"))
	r := cachetagging.New(c, cachetagging.WithSecret([]byte("the secret of the benchmark")))
	r.Nocache("greeting", func(ctx context.Context, w io.Writer, call nocache.Call) error {
		_, err := io.WriteString(w, "Hello, Ann")
		return err
	})
	plain := template.Must(template.New("t").Funcs(sprigFuncs()).Parse(hitItems))
	cached := template.Must(template.New("t").Funcs(sprigFuncs()).Funcs(r.FuncMap()).Parse(hitBlock))
	page := template.Must(template.New("page").Funcs(sprigFuncs()).Funcs(r.FuncMap()).Parse(hitPage))
	for _, t := range []*template.Template{cached, page} {
		if err := r.Prepare(t); err != nil {
			b.Fatal(err)
		}
	}
	var want bytes.Buffer
	_ = plain.Execute(&want, data)
	_ = rdb.Set(ctx, "bench-hit:handrolled", want.Bytes(), time.Hour).Err()
	byHand := template.Must(template.New("t").Funcs(template.FuncMap{"cached": func(key string) (template.HTML, error) {
		v, err := rdb.Get(ctx, "bench-hit:"+key).Result()
		return template.HTML(v), err
	}}).Parse(`{{ cached "handrolled" }}`))
	var buf bytes.Buffer
	_ = r.ExecuteTemplate(ctx, &buf, cached, "t", data)

	b.Run("case=hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			if err := r.ExecuteTemplate(ctx, &buf, cached, "t", data); err != nil {
				b.Fatal(err)
			}
		}
		if buf.String() != want.String() {
			b.Fatal("the hit differs from the render")
		}
	})
	b.Run("case=handrolled", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			_ = byHand.Execute(&buf, nil)
		}
	})
	handler := cachetagging.CachePage(r, time.Hour)(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = r.ExecuteTemplate(req.Context(), w, page, "page", data)
	}))
	req := httptest.NewRequest(http.MethodGet, "/latest", nil)
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	static := rec.Body.Bytes()
	staticHandler := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(static)
	})
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"case=page-hit", handler}, {"case=static", staticHandler}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			w := &discardWriter{h: http.Header{}}
			for b.Loop() {
				clear(w.h)
				w.buf = w.buf[:0]
				tc.h.ServeHTTP(w, req)
			}
			if !bytes.Equal(w.buf, static) {
				b.Fatalf("%s: page differs", tc.name)
			}
		})
	}
}

// BenchmarkMissRedis is BenchmarkMiss on Redis: a miss (render, then store
// in one round trip) against the plain render and the store write alone.
func BenchmarkMissRedis(b *testing.B) {
	testserver.Require(b, "redis", testserver.RedisAddr())
	rdb := redis.NewClient(&redis.Options{Addr: testserver.RedisAddr()})
	defer rdb.Close()
	benchMiss(b, tmplcache.New(redisstore.New(rdb), tmplcache.WithNamespace("bench-miss")))
}
