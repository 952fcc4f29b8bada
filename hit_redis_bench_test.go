package cachetagging_test

import (
	"bytes"
	"context"
	"html/template"
	"testing"
	"time"

	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/redisstore"
)

// BenchmarkHitRedis is BenchmarkHit on Redis: the fragment hit against a
// hand-rolled Redis GET of the pre-rendered HTML, and the page hit against
// the static handler, in one run.
func BenchmarkHitRedis(b *testing.B) {
	rdb := redisClient(b)
	ctx := context.Background()
	data := hitData()
	c := tmplcache.New(redisstore.New(rdb), tmplcache.WithNamespace("bench-hit"))
	h := newHitSetup(b, c, cachetagging.WithSecret([]byte("the secret of the benchmark")))
	var want bytes.Buffer
	_ = h.plain.Execute(&want, data)
	_ = rdb.Set(ctx, "bench-hit:handrolled", want.Bytes(), time.Hour).Err()
	byHand := template.Must(template.New("t").Funcs(template.FuncMap{"cached": func(key string) (template.HTML, error) {
		v, err := rdb.Get(ctx, "bench-hit:"+key).Result()
		return template.HTML(v), err
	}}).Parse(`{{ cached "handrolled" }}`))
	var buf bytes.Buffer
	hit := func() error { return h.r.ExecuteTemplate(ctx, &buf, h.cached, "t", data) }
	_ = hit()

	benchOutput(b, "case=hit", &buf, want.Bytes(), hit)
	benchOutput(b, "case=handrolled", &buf, want.Bytes(), func() error { return byHand.Execute(&buf, nil) })
	benchPageHit(b, h.r, h.page, data)
}

// BenchmarkMissRedis is BenchmarkMiss on Redis: a miss (render, then store
// in one round trip) against the plain render and the store write alone.
func BenchmarkMissRedis(b *testing.B) {
	benchMiss(b, tmplcache.New(redisstore.New(redisClient(b)), tmplcache.WithNamespace("bench-miss")))
}
