package cachetagging_test

// The examples of this file are the README's snippets, word for word
// (TestREADMESnippetsAreExamples checks it): each is compiled and run.

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"log"
	"net/http"
	"time"

	"github.com/Masterminds/sprig/v3"
	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/nocache"
	"github.com/cachetagging/cachetagging/tmplcache"
)

const pages = `
{{ define "home" }}
<h1>Latest posts</h1>
{{ cache_tagging "sidebar" "categories" (list "posts") (cache_timeout 3600) }}
  <nav>{{ range .Categories }}<a href="/c/{{ .ID }}">{{ .Name }}</a> {{ end }}</nav>
{{ end_cache_tagging }}
{{ range .Posts }}
  {{ cache_tagging (printf "post-item:%d" .ID) (printf "post:%d" .ID) }}
    <article>{{ .Title }} {{ cache_add_tags (printf "category:%d" .CategoryID) }}</article>
    {{ if .Draft }}{{ cache_tagging_prevent }}{{ end }}
  {{ end_cache_tagging }}
{{ end }}
{{ end }}
`

func Example_firstPage() {
	c := tmplcache.New(tmplcache.NewMemoryStore())
	r := cachetagging.New(c)

	funcs := sprig.HtmlFuncMap() // list, dict, upper...: the templates use list
	delete(funcs, "env")         // never let templates read the environment
	delete(funcs, "expandenv")
	t := template.Must(template.New("").Funcs(funcs).Funcs(r.FuncMap()).Parse(pages))
	if err := r.Prepare(t); err != nil { // after parsing, before executing
		log.Fatal(err) // misplaced or unbalanced blocks, with template and line
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, req *http.Request) {
		data := loadHome(req.Context()) // your data layer
		if err := r.ExecuteTemplate(req.Context(), w, t, "home", data); err != nil {
			log.Print(err)
		}
	})
	handler := cachetagging.Track(c)(mux) // first, around everything: exact invalidation

	show(handler, "/")
	show(handler, "/")
	fmt.Println(c.Stats().Hits, "fragments served from the cache")
	// Output:
	// 200 <h1>Latest posts</h1> <nav><a href="/c/1">Go</a> <a href="/c/2">Web</a> </nav> <article>Tags are versions </article> <article>Holes </article>
	// 200 <h1>Latest posts</h1> <nav><a href="/c/1">Go</a> <a href="/c/2">Web</a> </nav> <article>Tags are versions </article> <article>Holes </article>
	// 3 fragments served from the cache
}

func Example_invalidation() {
	ctx := context.Background()
	c := tmplcache.New(nil)
	oldPost, newPost := Post{ID: 1, CategoryID: 1}, Post{ID: 1, CategoryID: 2}

	err := c.InvalidateTags(ctx, "post:15", "category:3")

	reg := tmplcache.NewRegistry(c)
	tmplcache.Register(reg, func(p Post) []string {
		return []string{"posts", fmt.Sprint("post:", p.ID), fmt.Sprint("category:", p.CategoryID)}
	})
	err = reg.Changed(ctx, oldPost, newPost) // both: the post may have moved

	fmt.Println(err, c.Stats().Invalidations)
	// Output: <nil> 6
}

func Example_holes() {
	c := tmplcache.New(nil)
	r := cachetagging.New(c)

	r.Nocache("greeting", func(ctx context.Context, w io.Writer, call nocache.Call) error {
		name := userName(ctx) // from ctx: the request's, on a cached page or not
		_, err := io.WriteString(w, template.HTMLEscapeString("Hello, "+name))
		return err
	})

	t := template.Must(template.New("").Funcs(r.FuncMap()).Parse(postPage))
	if err := r.Prepare(t); err != nil { // handlers first: Prepare checks their names
		log.Fatal(err)
	}
	for _, user := range []string{"Ann", "Bob"} {
		ctx := withUser(context.Background(), user)
		var out printer
		_ = r.ExecuteTemplate(ctx, &out, t, "post", map[string]any{"Post": Post{ID: 1, Title: "Holes"}, "Comments": 3})
		out.print()
	}
	// Output:
	// <header>Hello, Ann</header> <article>Holes</article> 3 comments when cached; now 3
	// <header>Hello, Bob</header> <article>Holes</article> 3 comments when cached; now 3
}

const postPage = `
{{ define "post" }}
{{ cache_tagging "post" (printf "post:%d" .Post.ID) }}
  <header>{{ nocache "greeting" }}</header>
  <article>{{ .Post.Title }}</article>
  {{ phased "comments" .Comments }}
    {{ .comments }} comments when cached; now {{ .Live.Comments }}
  {{ end_phased }}
{{ end_cache_tagging }}
{{ end }}
`

func Example_cachePage() {
	c := tmplcache.New(nil)
	r := cachetagging.New(c)
	r.Nocache("greeting", func(ctx context.Context, w io.Writer, call nocache.Call) error {
		_, err := io.WriteString(w, template.HTMLEscapeString("Hello, "+userName(ctx)))
		return err
	})
	t := template.Must(template.New("").Funcs(r.FuncMap()).Parse(postPage))
	if err := r.Prepare(t); err != nil {
		log.Fatal(err)
	}
	homeHandler := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_ = r.ExecuteTemplate(req.Context(), w, t, "post", map[string]any{"Post": Post{ID: 1, Title: "Holes"}, "Comments": 3})
	})
	mux := http.NewServeMux()

	home := cachetagging.CachePage(r, time.Hour,
		cachetagging.PageTags(func(*http.Request) []string { return []string{"home"} }),
		cachetagging.TagHeaders(cachetagging.Fastly), // Surrogate-Key, for the CDN
	)(homeHandler)
	mux.Handle("GET /{$}", home)

	// On a cached page's hit no handler runs: its holes' live data (.Live)
	// comes from the request. Give them the same value on every request:
	withLive := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			live := liveFor(req) // e.g. the user and the counts shown live
			next.ServeHTTP(w, req.WithContext(cachetagging.WithLiveData(req.Context(), live)))
		})
	}
	handler := cachetagging.Track(c)(withLive(mux))

	handler = withUserFromCookie(handler)
	for _, user := range []string{"Ann", "Bob"} {
		showHeaders(handler, "/", user, "X-Cache", "Surrogate-Key")
	}
	// Output:
	// 200 X-Cache=MISS Surrogate-Key=home post:1 <header>Hello, Ann</header> <article>Holes</article> 3 comments when cached; now 4
	// 200 X-Cache=HIT Surrogate-Key=home post:1 <header>Hello, Bob</header> <article>Holes</article> 3 comments when cached; now 4
}

func Example_transactions() {
	c := tmplcache.New(nil)
	mux := http.NewServeMux()
	editHandler := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_ = c.InvalidateTags(req.Context(), "post:1") // locked until the handler returns
	})

	mux.Handle("POST /posts/{id}", cachetagging.TransactionMiddleware(c)(editHandler))

	show(mux, "POST /posts/1")
	fmt.Println(c.Stats().Invalidations, "invalidations: during the request, and again after it")
	// Output:
	// 200
	// 2 invalidations: during the request, and again after it
}
