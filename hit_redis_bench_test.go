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
	rh := newRedisHit(b)
	benchOutput(b, "case=hit", &rh.buf, rh.want, rh.hit)
	benchOutput(b, "case=handrolled", &rh.buf, rh.want, rh.byHand)
	benchPageHit(b, rh.r, rh.page, rh.data)
}

// BenchmarkHitRedisRatio is BenchmarkHitRedis's fragment hit and
// hand-rolled GET interleaved (see BenchmarkHitRatio).
func BenchmarkHitRedisRatio(b *testing.B) {
	rh := newRedisHit(b)
	interleave(b, rh.buf.Bytes, []ratioCase{
		{"hit", func() error { rh.buf.Reset(); return rh.hit() }},
		{"handrolled", func() error { rh.buf.Reset(); return rh.byHand() }},
	}, 0, 1)
}

// redisHit is the fragment of BenchmarkHit stored on Redis, and the
// hand-rolled GET of its HTML.
type redisHit struct {
	hitSetup
	data        map[string]any
	buf         bytes.Buffer
	want        []byte
	hit, byHand func() error
}

func newRedisHit(b *testing.B) *redisHit {
	rdb := redisClient(b)
	ctx := context.Background()
	c := tmplcache.New(redisstore.New(rdb), tmplcache.WithNamespace("bench-hit"))
	rh := &redisHit{hitSetup: newHitSetup(b, c, cachetagging.WithSecret([]byte("the secret of the benchmark"))), data: hitData()}
	var want bytes.Buffer
	_ = rh.plain.Execute(&want, rh.data)
	rh.want = want.Bytes()
	_ = rdb.Set(ctx, "bench-hit:handrolled", rh.want, time.Hour).Err()
	byHand := template.Must(template.New("t").Funcs(template.FuncMap{"cached": func(key string) (template.HTML, error) {
		v, err := rdb.Get(ctx, "bench-hit:"+key).Result()
		return template.HTML(v), err
	}}).Parse(`{{ cached "handrolled" }}`))
	rh.hit = func() error { return rh.r.ExecuteTemplate(ctx, &rh.buf, rh.cached, "t", rh.data) }
	rh.byHand = func() error { return byHand.Execute(&rh.buf, nil) }
	_ = rh.hit()
	return rh
}

// BenchmarkMissRedis is BenchmarkMiss on Redis: a miss (render, then store
// in one round trip) against the plain render and the store write alone.
func BenchmarkMissRedis(b *testing.B) {
	benchMiss(b, tmplcache.New(redisstore.New(redisClient(b)), tmplcache.WithNamespace("bench-miss")))
}
