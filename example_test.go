package cachetagging_test

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/nocache"
	"github.com/cachetagging/cachetagging/tmplcache"
)

func Example() {
	ctx := context.Background()
	c := tmplcache.New(tmplcache.NewMemoryStore())
	r := cachetagging.New(c)

	t := template.Must(template.New("page").Funcs(r.FuncMap()).Parse(
		`{{ cache_tagging "sidebar" "categories" }}<nav>{{ range .Categories }}<a>{{ . }}</a>{{ end }}</nav>{{ end_cache_tagging }}`))
	if err := r.Prepare(t); err != nil {
		panic(err)
	}

	render := func(categories ...string) {
		_ = r.ExecuteTemplate(ctx, os.Stdout, t, "page", map[string]any{"Categories": categories})
		fmt.Println()
	}
	render("Go", "Web")
	render("Go", "Web", "Rust") // served from the cache
	_ = c.InvalidateTags(ctx, "categories")
	render("Go", "Web", "Rust")
	// Output:
	// <nav><a>Go</a><a>Web</a></nav>
	// <nav><a>Go</a><a>Web</a></nav>
	// <nav><a>Go</a><a>Web</a><a>Rust</a></nav>
}

// A nocache hole runs on every request, inside cached content.
func ExampleRenderer_Nocache() {
	r := cachetagging.New(tmplcache.New(nil))
	r.Nocache("greeting", func(ctx context.Context, w io.Writer, call nocache.Call) error {
		data, _ := call.Live.(map[string]string) // the template's data, here
		_, err := fmt.Fprintf(w, "Hello, %s", template.HTMLEscapeString(data["user"]))
		return err
	})
	t := template.Must(template.New("t").Funcs(r.FuncMap()).Parse(
		`{{ cache_tagging "header" }}<header>{{ .title }} · {{ nocache "greeting" }}</header>{{ end_cache_tagging }}`))
	_ = r.Prepare(t)
	for _, user := range []string{"Ann", "Bob"} {
		_ = r.ExecuteTemplate(context.Background(), os.Stdout, t, "t", map[string]string{"title": "Blog of " + user, "user": user})
		fmt.Println()
	}
	// Output:
	// <header>Blog of Ann · Hello, Ann</header>
	// <header>Blog of Ann · Hello, Bob</header>
}

// A phased section keeps its stash from build time and sees .Live.
func ExampleRenderer_Prepare_phased() {
	r := cachetagging.New(tmplcache.New(nil))
	t := template.Must(template.New("t").Funcs(r.FuncMap()).Parse(`{{ cache_tagging "post" "post:1" -}}
<h1>{{ .Title }}</h1>{{ phased "built" .Count }} {{ .built }} comments when cached, {{ .Live.Count }} now{{ end_phased }}
{{- end_cache_tagging }}`))
	if err := r.Prepare(t); err != nil {
		panic(err)
	}
	for _, n := range []int{3, 5} {
		_ = r.ExecuteTemplate(context.Background(), os.Stdout, t, "t", map[string]any{"Title": "Hello", "Count": n})
		fmt.Println()
	}
	// Output:
	// <h1>Hello</h1> 3 comments when cached, 3 now
	// <h1>Hello</h1> 3 comments when cached, 5 now
}

func ExampleCachePage() {
	c := tmplcache.New(nil)
	r := cachetagging.New(c)
	t := template.Must(template.New("t").Funcs(r.FuncMap()).Parse(
		`{{ cache_tagging "list" "posts" }}<ul><li>{{ .Title }}</li></ul>{{ end_cache_tagging }}`))
	_ = r.Prepare(t)
	title := "First post"
	h := cachetagging.CachePage(r, time.Hour, cachetagging.PageTags(func(*http.Request) []string { return []string{"home"} }))(
		http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			_ = r.ExecuteTemplate(req.Context(), w, t, "t", map[string]string{"Title": title})
		}))
	for range 2 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		fmt.Println(w.Header().Get("X-Cache"), w.Body.String())
	}
	title = "Edited"
	_ = c.InvalidateTags(context.Background(), "posts") // a fragment's tag invalidates the page
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	fmt.Println(w.Header().Get("X-Cache"), w.Body.String())
	// Output:
	// MISS <ul><li>First post</li></ul>
	// HIT <ul><li>First post</li></ul>
	// MISS <ul><li>Edited</li></ul>
}
