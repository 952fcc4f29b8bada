package cachetagging_test

import (
	"bytes"
	"context"
	"html/template"
	"testing"
	"time"

	gocache "github.com/patrickmn/go-cache"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// BenchmarkHitRatio measures a fragment hit against the hand-rolled
// go-cache hit of BenchmarkHit, interleaved: rounds of a few hundred of
// each, alternately, so that whatever else the machine does weighs on
// both alike. It reports the ratio (hit-per-handrolled) and both times;
// ns/op is a pair of one of each.
func BenchmarkHitRatio(b *testing.B) {
	data := hitData()
	ctx := context.Background()
	h := newHitSetup(b, tmplcache.New(nil))
	hr := &handRolled{c: gocache.New(time.Hour, 0), partial: h.plain, data: data}
	byHand := template.Must(template.New("t").Funcs(template.FuncMap{"cached": hr.cached}).Parse(`{{ cached "latest" }}`))
	var buf bytes.Buffer
	var fixed template.HTML
	var fl *template.Template
	cases := [3]func() error{
		func() error { return h.r.ExecuteTemplate(ctx, &buf, h.cached, "t", data) },
		func() error { return byHand.Execute(&buf, nil) },
		func() error { return fl.Execute(&buf, nil) },
	}
	var want [3][]byte
	if _, err := hr.cached("latest"); err != nil {
		b.Fatal(err)
	}
	fixed = hr.c.Items()["latest"].Object.(template.HTML)
	fl = template.Must(template.New("t").Funcs(template.FuncMap{"hit": func() (*template.HTML, error) { return &fixed, nil }}).
		Parse(`{{if $hit := hit}}{{$hit}}{{else}}body{{end}}`))
	for i, run := range cases {
		buf.Reset()
		if err := run(); err != nil {
			b.Fatal(err)
		}
		want[i] = bytes.Clone(buf.Bytes())
	}
	if !bytes.Equal(want[0], want[1]) {
		b.Fatal("the hit and the hand-rolled hit differ")
	}
	const round = 256
	var spent [3]time.Duration
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if n%round == 0 {
			for i, run := range cases {
				start := time.Now()
				for range round {
					buf.Reset()
					if err := run(); err != nil {
						b.Fatal(err)
					}
				}
				spent[i] += time.Since(start)
			}
		}
		n++
	}
	rounds := float64((n + round - 1) / round * round)
	b.ReportMetric(float64(spent[0])/rounds, "hit-ns")
	b.ReportMetric(float64(spent[1])/rounds, "handrolled-ns")
	b.ReportMetric(float64(spent[0])/float64(spent[1]), "hit/handrolled")
	b.ReportMetric(float64(spent[2])/rounds, "floor-ns")
}
