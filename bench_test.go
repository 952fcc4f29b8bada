package cachetagging_test

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"io"
	"strings"
	"testing"

	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/nocache"
	"github.com/cachetagging/cachetagging/tmplcache"
)

// A realistic fragment: a list of 50 posts, about 10 KB of HTML.
const listBody = `<ul class="posts">{{ range .Posts }}
  <li class="post" id="post-{{ .ID }}"><a href="/posts/{{ .ID }}">{{ .Title }}</a>
    <span class="meta">by {{ .Author }} in {{ .Category }}, {{ .Comments }} comments</span>
    <p>{{ .Summary }}</p></li>{{ end }}
</ul>`

type benchPost struct {
	ID, Comments                     int
	Title, Author, Category, Summary string
}

func benchData() map[string]any {
	posts := make([]benchPost, 50)
	for i := range posts {
		posts[i] = benchPost{ID: i, Comments: i * 3, Title: fmt.Sprintf("Post number %d & friends", i),
			Author: "Ann <ann@example.com>", Category: "Go", Summary: strings.Repeat("Lorem ipsum dolor sit amet. ", 3)}
	}
	return map[string]any{"Posts": posts}
}

func benchTemplates(b *testing.B) (*cachetagging.Renderer, *template.Template, *template.Template) {
	r := cachetagging.New(tmplcache.New(nil))
	plain := template.Must(template.New("list").Parse(listBody))
	cached := template.Must(template.New("list").Funcs(r.FuncMap()).Parse(
		`{{ cache_tagging "posts" "posts" }}` + listBody + `{{ end_cache_tagging }}`))
	if err := r.Prepare(cached); err != nil {
		b.Fatal(err)
	}
	return r, plain, cached
}

// BenchmarkFragment compares, in one run, the uncached render, the cached
// hit, and a plain copy of the same bytes into a buffer.
func BenchmarkFragment(b *testing.B) {
	r, plain, cached := benchTemplates(b)
	data := benchData()
	var want bytes.Buffer
	if err := plain.Execute(&want, data); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var buf bytes.Buffer
	if err := r.ExecuteTemplate(ctx, &buf, cached, "list", data); err != nil {
		b.Fatal(err)
	}
	b.Logf("fragment: %d bytes", want.Len())

	b.Run("render=uncached", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(want.Len()))
		for b.Loop() {
			buf.Reset()
			_ = plain.Execute(&buf, data)
		}
	})
	b.Run("render=hit", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(want.Len()))
		for b.Loop() {
			buf.Reset()
			if err := r.ExecuteTemplate(ctx, &buf, cached, "list", data); err != nil {
				b.Fatal(err)
			}
		}
		if buf.String() != want.String() {
			b.Fatal("the hit differs from the render")
		}
	})
	// The floor html/template itself sets for a hit: the rewritten block's
	// shape (a condition and one output call writing a short marker) with
	// the cache taken out, then a copy of the fragment's bytes.
	floor := template.Must(template.New("floor").Funcs(template.FuncMap{
		"open": func(string, any, ...any) ([]int, error) { return nil, nil },
		"hit":  func([]int) template.HTML { return "\x00CTH-marker-of-28-bytes" },
	}).Parse(`{{ if $h := open "list:1" "posts" "posts" }}body{{ else }}{{ hit $h }}{{ end }}`))
	b.Run("render=engine-floor", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(want.Len()))
		for b.Loop() {
			buf.Reset()
			_ = floor.Execute(&buf, data)
			buf.Write(want.Bytes())
		}
	})
	b.Run("render=copy", func(b *testing.B) {
		src := want.Bytes()
		b.ReportAllocs()
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			buf.Reset()
			buf.Write(src)
		}
	})
}

// BenchmarkPassThrough compares 1 MB of marker-free output through the
// renderer's stream with a plain copy of it.
func BenchmarkPassThrough(b *testing.B) {
	r := cachetagging.New(tmplcache.New(nil))
	page := strings.Repeat("<p>plain output without any marker in it, just text.</p>\n", 1<<20/58)
	t := template.Must(template.New("p").Funcs(r.FuncMap()).Parse(`{{ .Page }}`))
	if err := r.Prepare(t); err != nil {
		b.Fatal(err)
	}
	data := map[string]any{"Page": template.HTML(page)}
	ctx := context.Background()
	b.Run("path=stream", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			if err := r.ExecuteTemplate(ctx, io.Discard, t, "p", data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("path=plain", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(page)))
		for b.Loop() {
			_ = t.Execute(io.Discard, data)
		}
	})
	// The phase-2 stage alone (what a CachePage hit runs over a stored
	// page) against copying the same bytes into the same buffer.
	src := []byte(page)
	dst := make([]byte, 0, len(src))
	b.Run("path=expand", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			buf := bytes.NewBuffer(dst[:0])
			if err := r.Holes().Expand(ctx, buf, src, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("path=copy", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			buf := bytes.NewBuffer(dst[:0])
			buf.Write(src)
		}
	})
}

// BenchmarkHoles: a cached page with three holes, hit path, against the
// same page with none.
func BenchmarkHoles(b *testing.B) {
	r := cachetagging.New(tmplcache.New(nil))
	r.Nocache("user", func(ctx context.Context, w io.Writer, call nocache.Call) error {
		_, err := io.WriteString(w, "Ann")
		return err
	})
	body := strings.Repeat("<p>cached paragraph of the page, about sixty bytes long.</p>\n", 160) // ~10 KB
	srcs := map[string]string{
		"holes=0": `{{ cache_tagging "page0" "p" }}` + body + `{{ end_cache_tagging }}`,
		"holes=3": `{{ cache_tagging "page3" "p" }}{{ nocache "user" }}` + body[:3000] + `{{ nocache "user" }}` +
			body[3000:7000] + `{{ nocache "user" }}` + body[7000:] + `{{ end_cache_tagging }}`,
	}
	for _, name := range []string{"holes=0", "holes=3"} {
		t := template.Must(template.New("t").Funcs(r.FuncMap()).Parse(srcs[name]))
		if err := r.Prepare(t); err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		_ = r.ExecuteTemplate(context.Background(), &buf, t, "t", nil)
		if want := strings.Count(name, "3") * 3; strings.Count(buf.String(), "Ann") != want {
			b.Fatalf("%s: %d holes ran", name, strings.Count(buf.String(), "Ann"))
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err := r.ExecuteTemplate(context.Background(), &buf, t, "t", nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type templateT = template.Template

// mustTemplate parses the list template, plain (r nil) or prepared.
func mustTemplate(b *testing.B, r *cachetagging.Renderer, body string) *template.Template {
	t := template.New("list")
	if r != nil {
		t = t.Funcs(r.FuncMap())
		body = `{{ cache_tagging "posts" "posts" }}` + body + `{{ end_cache_tagging }}`
	}
	t = template.Must(t.Parse(body))
	if r != nil {
		if err := r.Prepare(t); err != nil {
			b.Fatal(err)
		}
	}
	return t
}
