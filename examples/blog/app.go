package main

import (
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/Masterminds/sprig/v3"

	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/tmplcache"
)

//go:embed templates/*.html
var templateFS embed.FS

// pageTTL bounds how long a page is cached. Tags, not time, end most
// pages: this is a safety net.
const pageTTL = 10 * time.Minute

// app is the blog: its data, its cache, and the templates rendering one
// into the other.
type app struct {
	blog   *Blog
	cache  *tmplcache.Cache
	r      *cachetagging.Renderer
	reg    *tmplcache.Registry
	tmpl   *template.Template
	stamps *stamps
	log    *slog.Logger
}

// newApp wires blog to cache: the renderer and its holes, the templates,
// the registry of tags. secret authenticates the holes stored in the
// cache; it is required when the cache's store is shared.
func newApp(cache *tmplcache.Cache, blog *Blog, secret []byte, log *slog.Logger) (*app, error) {
	a := &app{blog: blog, cache: cache, reg: newRegistry(cache), stamps: &stamps{}, log: log}
	var opts []cachetagging.Option
	if len(secret) > 0 {
		opts = append(opts, cachetagging.WithSecret(secret))
	}
	a.r = cachetagging.New(cache, opts...)
	a.r.Nocache("greeting", greeting)

	funcs := sprig.HtmlFuncMap()
	delete(funcs, "env") // templates must not read the environment
	delete(funcs, "expandenv")
	funcs["stamp"] = a.stamps.next
	t, err := template.New("blog").Funcs(funcs).Funcs(a.r.FuncMap()).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	// Prepare rewrites the cache_tagging and phased blocks (and reports
	// configuration errors, such as a shared store without a secret).
	if err := a.r.Prepare(t); err != nil {
		return nil, fmt.Errorf("preparing templates: %w", err)
	}
	a.tmpl = t
	return a, nil
}

// Handler returns the blog's routes.
func (a *app) Handler() http.Handler {
	tx := cachetagging.TransactionMiddleware(a.cache)
	mux := http.NewServeMux()
	// Pages everyone sees alike are cached whole. Each is tagged with the
	// tags of every fragment rendered into it, plus its own.
	mux.Handle("GET /{$}", a.pageCache(homeTags, a.home))
	mux.Handle("GET /posts/{id}", a.pageCache(postPageTags, a.post))
	mux.Handle("GET /categories/{id}", a.pageCache(categoryPageTags, a.category))
	// Forms are not cached; their POSTs change data, and invalidate inside
	// a cache transaction.
	mux.HandleFunc("GET /posts/new", a.newPostForm)
	mux.Handle("POST /posts/new", tx(http.HandlerFunc(a.createPost)))
	mux.HandleFunc("GET /posts/{id}/edit", a.editPostForm)
	mux.Handle("POST /posts/{id}/edit", tx(http.HandlerFunc(a.updatePost)))
	mux.Handle("POST /posts/{id}/comments", tx(http.HandlerFunc(a.addComment)))
	mux.HandleFunc("POST /name", a.setName)
	mux.HandleFunc("GET /stats", a.stats)
	return logRequests(a.log, a.withLive(mux))
}

// withLive gives every request the live data of its holes, so they see
// the same thing whether their page is cached whole or not.
func (a *app) withLive(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := cachetagging.WithLiveData(r.Context(), live{req: r, blog: a.blog})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (a *app) pageCache(tags func(*http.Request) []string, h http.HandlerFunc) http.Handler {
	return cachetagging.CachePage(a.r, pageTTL, cachetagging.PageTags(tags))(h)
}

// The page tags cover what a page shows outside its fragments (its
// <title>, for one).
func homeTags(*http.Request) []string { return []string{tagHome} }

func postPageTags(r *http.Request) []string {
	if id, ok := pathID(r); ok {
		return []string{postTag(id)}
	}
	return nil
}

func categoryPageTags(r *http.Request) []string {
	if id, ok := pathID(r); ok {
		return []string{categoryTag(id)}
	}
	return nil
}

// page is the data of every template.
type page struct {
	Title string // the <title>
	Path  string // where the name form comes back to
	// Blog is read by the templates inside their fragments, so a
	// fragment served from the cache reads no data at all.
	Blog     *Blog
	Post     Post
	Category Category
	Form     postForm
	Stats    statsView
}

// render executes a page template into w. It streams: CachePage takes the
// output as it comes, holes in, and a template error cannot change the
// status any more (a page that failed is not cached).
func (a *app) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.Path, p.Blog = r.URL.Path, a.blog
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := a.r.ExecuteTemplate(r.Context(), w, a.tmpl, name, p); err != nil {
		a.log.ErrorContext(r.Context(), "rendering failed", "template", name, "err", err)
	}
}
