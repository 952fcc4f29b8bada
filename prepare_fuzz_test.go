package cachetagging_test

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"strings"
	"testing"

	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/nocache"
	"github.com/cachetagging/cachetagging/tmplcache"
)

// prepareTokens is the alphabet FuzzPrepare writes templates in: each
// input byte picks one. %d is the token's position, so constant keys are
// unique to their block.
var prepareTokens = []string{
	`{{ cache_tagging "k%d" "t" }}`,
	`{{ end_cache_tagging }}`,
	`{{ if .A }}`,
	`{{ else }}`,
	`{{ end }}`,
	`{{ range .L }}`,
	`{{ with .A }}`,
	`x`,
	`{{ . }}`,
	`{{ cache_add_tags "u" }}`,
	`{{ cache_tagging_prevent }}`,
	`{{ $v := %d }}`,
	`{{ $v }}`,
	`{{ cache_tagging (print "d%d-" .) "t" (cache_timeout 60) }}`,
	`<a href="{{ . }}">`,
	`{{ template "sub" . }}`,
	`{{ range $i, $e := .L }}`,
	`{{ $i }}{{ $e }}`,
	`<p title="`,
	`">`,
	`{{ $v = %d }}`,
	`{{ break }}`,
	`{{ continue }}`,
	`{{ nocache "h" }}`,
	`{{ nocache "h" . }}`,
	`{{ phased }}`,
	`{{ end_phased }}`,
	`{{ phased "p" . }}`,
}

// prepareSource is the template the input bytes spell.
func prepareSource(in []byte) string {
	var b strings.Builder
	for i, c := range in {
		tok := prepareTokens[int(c)%len(prepareTokens)]
		if strings.Contains(tok, "%d") {
			tok = fmt.Sprintf(tok, i)
		}
		b.WriteString(tok)
	}
	return b.String()
}

// FuzzPrepare: Prepare never panics, and what it refuses it refuses with
// an *Error; a template it accepts runs, and its hit writes what its miss
// wrote. Without {{range}} (where a constant key names one fragment for
// every item, by design) and phased sections (which see their stash, not
// the page's dot) caching is transparent: both write exactly what
// html/template writes when the block functions do nothing and a hole is
// its handler's output.
func FuzzPrepare(f *testing.F) {
	for _, seed := range [][]byte{
		{0, 7, 1},
		{0, 2, 8, 4, 1},
		{5, 13, 8, 1, 4},
		{0, 11, 1, 12},
		{0, 5, 0, 8, 1, 4, 1},
		{0, 9, 10, 1},
		{14, 0, 1},
		{16, 0, 17, 1, 4},
		{0, 15, 1},
		{18, 0, 1, 19},
		{0, 2, 1, 4},
		{11, 0, 20, 1, 12},
		{5, 13, 2, 21, 4, 8, 1, 4},
		{16, 0, 2, 22, 4, 17, 1, 4},
		{0, 23, 24, 1, 23},
		{0, 25, 8, 26, 1},
		{5, 27, 8, 26, 4},
	} {
		f.Add(seed)
	}
	noop := func(...any) template.HTML { return "" }
	hole := func(args ...any) string { return "H" + fmt.Sprint(args...) }
	plainFuncs := template.FuncMap{
		"cache_tagging": noop, "end_cache_tagging": noop, "cache_add_tags": noop,
		"cache_tagging_prevent": noop, "cache_timeout": noop, "phased": noop, "end_phased": noop,
		"nocache": func(name string, args ...any) template.HTML { return template.HTML(hole(args...)) },
	}
	const sub = `{{ define "sub" }}[{{ cache_tagging (print "sub-" .) }}s{{ . }}{{ end_cache_tagging }}]{{ end }}`
	data := map[string]any{"A": true, "L": []int{1, 2, 2}}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 64 {
			return
		}
		src := prepareSource(in) + sub
		plain, err := template.New("t").Funcs(plainFuncs).Parse(src)
		if err != nil {
			return // not a template
		}
		var want strings.Builder
		if err := plain.Execute(&want, data); err != nil {
			return // not one html/template runs either
		}

		// Odd lengths run on a store that plays a shared one: blocks are
		// rewritten without the in-process hit path there.
		var store tmplcache.Store = tmplcache.NewMemoryStore()
		if len(in)%2 == 1 {
			store = sharedStore{store}
		}
		r := cachetagging.New(tmplcache.New(store), cachetagging.WithoutDigests(),
			cachetagging.WithSecret([]byte("0123456789abcdef0123")))
		r.Nocache("h", func(ctx context.Context, w io.Writer, call nocache.Call) error {
			_, err := io.WriteString(w, hole(call.Args...))
			return err
		})
		tmpl, err := template.New("t").Funcs(r.FuncMap()).Parse(src)
		if err != nil {
			t.Fatalf("parses with no-op functions but not with the renderer's: %v\n%s", err, src)
		}
		if err := r.Prepare(tmpl); err != nil {
			var e *cachetagging.Error
			if !errors.As(err, &e) {
				t.Fatalf("Prepare refused with %T, not an *Error: %v\n%s", err, err, src)
			}
			return
		}
		if strings.Contains(src, "{{ range") || strings.Contains(src, "{{ phased") {
			var miss strings.Builder
			if err := r.ExecuteTemplate(bg, &miss, tmpl, "t", data); err != nil {
				t.Fatalf("miss: Prepare accepted what does not run: %v\n%s", err, src)
			}
			want = miss
		}
		for _, round := range []string{"miss", "hit"} {
			var got strings.Builder
			if err := r.ExecuteTemplate(bg, &got, tmpl, "t", data); err != nil {
				t.Fatalf("%s: Prepare accepted what does not run: %v\n%s", round, err, src)
			}
			if got.String() != want.String() {
				t.Fatalf("%s: got %q, want %q\n%s", round, got.String(), want.String(), src)
			}
		}
	})
}
