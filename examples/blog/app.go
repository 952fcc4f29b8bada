package main

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/Masterminds/sprig/v3"
	"gorm.io/gorm"

	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/gormtags"
)

//go:embed templates/*.html
var templateFS embed.FS

// pageTTL bounds how long a page is cached. Tags, not time, end most
// pages: this is a safety net.
const pageTTL = 10 * time.Minute

// app is the blog: its database, its cache, and the templates rendering
// one into the other.
type app struct {
	db      *gorm.DB
	cache   *tmplcache.Cache
	r       *cachetagging.Renderer
	tmpl    *template.Template
	metrics http.Handler
	log     *slog.Logger
}

// newApp wires db to cache: the tags of its rows, the GORM plugin that
// invalidates them on every write, the schema and seed data, the renderer
// and its holes, the templates. secret authenticates the holes stored in
// the cache; it is required when the cache's store is shared. db must be
// fresh from gorm.Open: the plugin hooks its connection pool, which
// sessions derived earlier would not share.
func newApp(ctx context.Context, cache *tmplcache.Cache, db *gorm.DB, secret []byte, log *slog.Logger) (*app, error) {
	a := &app{db: db, cache: cache, log: log}
	if err := db.Use(gormtags.Plugin(newRegistry(cache))); err != nil {
		return nil, fmt.Errorf("installing the cache plugin: %w", err)
	}
	if err := setUp(ctx, db); err != nil {
		return nil, fmt.Errorf("setting up the database: %w", err)
	}
	opts := []cachetagging.Option{cachetagging.WithDebug(overlayOn)}
	if len(secret) > 0 {
		opts = append(opts, cachetagging.WithSecret(secret))
	}
	a.r = cachetagging.New(cache, opts...)
	a.r.Nocache("greeting", greeting)
	a.r.Nocache("overlay-toggle", overlayToggle)

	funcs := sprig.HtmlFuncMap()
	delete(funcs, "env") // templates must not read the environment
	delete(funcs, "expandenv")
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
	if a.metrics, err = metricsHandler(cache); err != nil {
		return nil, err
	}
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
	// Forms are not cached; their POSTs change data, in a database
	// transaction inside a cache transaction (see edits.go).
	mux.HandleFunc("GET /posts/new", a.newPostForm)
	mux.Handle("POST /posts/new", tx(http.HandlerFunc(a.submitNewPost)))
	mux.HandleFunc("GET /posts/{id}/edit", a.editPostForm)
	mux.Handle("POST /posts/{id}/edit", tx(http.HandlerFunc(a.submitPost)))
	mux.HandleFunc("GET /categories/{id}/edit", a.editCategoryForm)
	mux.Handle("POST /categories/{id}/edit", tx(http.HandlerFunc(a.submitCategory)))
	mux.Handle("POST /posts/{id}/comments", tx(http.HandlerFunc(a.submitComment)))
	mux.HandleFunc("POST /name", a.setName)
	mux.HandleFunc("POST /overlay", a.setOverlay)
	mux.Handle("GET /static/", staticFiles())
	mux.HandleFunc("GET /stats", a.stats)
	mux.Handle("GET /metrics", a.metrics)
	mux.Handle("GET /debug/vars", expvarHandler())
	mux.HandleFunc("/", a.notFound)
	// Track comes first: every request's tracking starts before it loads
	// any data, so the store's logical clock orders its fragments and the
	// invalidations exactly (see cachetagging.Track).
	return cachetagging.Track(a.cache)(logRequests(a.log, a.perRequest(mux)))
}

// perRequest gives every request what its holes and the overlay need, so
// they see the same thing whether their page is cached whole or not.
func (a *app) perRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := withOverlay(r.Context(), overlayWanted(r))
		ctx = cachetagging.WithLiveData(ctx, &live{req: r, reads: reads{a.db.WithContext(ctx)}})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (a *app) pageCache(tags func(*http.Request) []string, h http.HandlerFunc) http.Handler {
	return cachetagging.CachePage(a.r, pageTTL,
		cachetagging.PageTags(tags),
		cachetagging.PageKey(pageKey),
		cachetagging.TagHeaders(cachetagging.Fastly), // Surrogate-Key, for a CDN in front
	)(h)
}

// pageKey identifies a page by its path and query. The host is left out
// (unlike cachetagging.DefaultPageKey): the pages do not depend on it, and
// two demo servers on two ports are one site, sharing their pages.
func pageKey(r *http.Request) string { return r.URL.EscapedPath() + "?" + r.URL.RawQuery }

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
