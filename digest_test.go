package cachetagging_test

import (
	"html/template"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/tmplcache"
)

// A release of the templates: blocks whose body changed, whose invoked
// template changed, whose phased section changed, and one unchanged.
func release(version string) string {
	changed := func(s string) string { return strings.ReplaceAll(s, "VERSION", version) }
	return changed(`{{ define "part" }}<em>part VERSION</em>{{ end }}`) +
		`{{ define "page" }}` +
		changed(`{{ cache_tagging "a" "t" }}<a>body VERSION</a>{{ end_cache_tagging }}`) +
		`{{ cache_tagging "b" "t" }}<b>{{ template "part" }}</b>{{ end_cache_tagging }}` +
		changed(`{{ cache_tagging "c" "t" }}<c>{{ phased }}section VERSION{{ end_phased }}</c>{{ end_cache_tagging }}`) +
		`{{ cache_tagging "d" "t" }}<d>unchanged</d>{{ end_cache_tagging }}` +
		`{{ end }}`
}

func deployedRenderer(t *testing.T, store tmplcache.Store, version string, opts ...cachetagging.Option) (*tmplcache.Cache, *cachetagging.Renderer, *template.Template) {
	c := tmplcache.New(store)
	r := cachetagging.New(c, append(opts, cachetagging.WithSecret([]byte("the secret of every release")))...)
	tmpl := template.Must(template.New("root").Funcs(r.FuncMap()).Parse(release(version)))
	require.NoError(t, r.Prepare(tmpl))
	return c, r, tmpl
}

func TestADeployNeverServesAnOldFragment(t *testing.T) {
	store := sharedMemory{tmplcache.NewMemoryStore()}
	render := func(c *tmplcache.Cache, r *cachetagging.Renderer, tmpl *template.Template) string {
		ctx, scope := c.Track(bg)
		defer func() { _ = scope.End(ctx, nil) }()
		var b strings.Builder
		require.NoError(t, r.ExecuteTemplate(ctx, &b, tmpl, "page", nil))
		return b.String()
	}
	c1, r1, t1 := deployedRenderer(t, store, "1")
	require.Equal(t, "<a>body 1</a><b><em>part 1</em></b><c>section 1</c><d>unchanged</d>", render(c1, r1, t1))
	require.EqualValues(t, 4, c1.Stats().Stores)

	c2, r2, t2 := deployedRenderer(t, store, "2")
	out := render(c2, r2, t2)
	require.Equal(t, "<a>body 2</a><b><em>part 2</em></b><c>section 2</c><d>unchanged</d>", out,
		"a changed body, invoked template or section is rebuilt")
	st := c2.Stats()
	require.EqualValues(t, 1, st.Hits, "the unchanged block keeps hitting across the deploy")
	require.EqualValues(t, 3, st.Stores)
	require.Zero(t, st.Unusable, "no old entry was even read: their keys changed")

	t.Run("without digests, an old fragment is served until invalidated", func(t *testing.T) {
		store := sharedMemory{tmplcache.NewMemoryStore()}
		c1, r1, t1 := deployedRenderer(t, store, "1", cachetagging.WithoutDigests())
		render(c1, r1, t1)
		c2, r2, t2 := deployedRenderer(t, store, "2", cachetagging.WithoutDigests())
		out := render(c2, r2, t2)
		require.Contains(t, out, "<a>body 1</a>", "what WithoutDigests trades away")
		require.Contains(t, out, "<c>section 2</c>", "the old section is gone: its entry is rebuilt, not an error")
		require.NotZero(t, c2.Stats().Unusable)
	})
}

// Pages carry the digest of every template: after a deploy, a page stored
// by the old release is a miss.
func TestADeployNeverServesAnOldPage(t *testing.T) {
	store := sharedMemory{tmplcache.NewMemoryStore()}
	site := func(version string) http.Handler {
		_, r, tmpl := deployedRenderer(t, store, version)
		return cachetagging.CachePage(r, time.Hour)(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			require.NoError(t, r.ExecuteTemplate(req.Context(), w, tmpl, "page", nil))
		}))
	}
	get := func(h http.Handler) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		return w
	}
	v1 := site("1")
	get(v1)
	require.Equal(t, "HIT", get(v1).Header().Get("X-Cache"))
	v2 := site("2")
	w := get(v2)
	require.Equal(t, "MISS", w.Header().Get("X-Cache"))
	require.Contains(t, w.Body.String(), "body 2")
	require.Equal(t, "HIT", get(v2).Header().Get("X-Cache"))
	require.Equal(t, "HIT", get(site("2")).Header().Get("X-Cache"), "the same release in another process hits")
}

func TestOneBlockCanOptOutOfItsDigest(t *testing.T) {
	store := sharedMemory{tmplcache.NewMemoryStore()}
	src := func(v string) string {
		return `{{ cache_tagging "shared" (cache_digest false) }}<p>` + v + `</p>{{ end_cache_tagging }}` +
			`{{ cache_tagging "own" }}<p>` + v + `</p>{{ end_cache_tagging }}`
	}
	var outs []string
	for _, v := range []string{"1", "2"} {
		c := tmplcache.New(store)
		r := cachetagging.New(c, cachetagging.WithSecret([]byte("the secret of every release")))
		tmpl := mustPrepared(t, r, src(v))
		var b strings.Builder
		require.NoError(t, r.ExecuteTemplate(bg, &b, tmpl, "t", nil))
		outs = append(outs, b.String())
	}
	require.Equal(t, "<p>1</p><p>2</p>", outs[1], "the opted-out block keeps its key (shared with another program)")
}

// CachePage with grace: while one request renders a page anew, others get
// the previous one, marked STALE, and pages say stale-while-revalidate.
func TestPageGrace(t *testing.T) {
	c := tmplcache.New(nil)
	r := cachetagging.New(c)
	tmpl := mustPrepared(t, r, `<p>{{ cache_tagging "f" "t" }}v{{ .v }}{{ end_cache_tagging }}</p>`)
	version, gate, started := 1, make(chan struct{}), make(chan struct{})
	slow := false
	h := cachetagging.CachePage(r, time.Hour, cachetagging.PageGrace(30*time.Second))(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if slow {
			close(started)
			<-gate
		}
		w.Header().Set("Cache-Control", "max-age=10")
		require.NoError(t, r.ExecuteTemplate(req.Context(), w, tmpl, "t", map[string]int{"v": version}))
	}))
	get := func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		return w
	}
	first := get()
	require.Equal(t, "max-age=10, stale-while-revalidate=30", first.Header().Get("Cache-Control"))
	require.Equal(t, "HIT", get().Header().Get("X-Cache"))

	version, slow = 2, true
	require.NoError(t, c.InvalidateTags(bg, "t"))
	rebuilt := make(chan *httptest.ResponseRecorder)
	go func() { rebuilt <- get() }()
	<-started // one request renders the page anew
	stale := get()
	require.Equal(t, "STALE", stale.Header().Get("X-Cache"))
	require.Equal(t, "<p>v1</p>", stale.Body.String())
	close(gate)
	w := <-rebuilt
	require.Equal(t, "MISS", w.Header().Get("X-Cache"))
	require.Equal(t, "<p>v2</p>", w.Body.String())
	require.Equal(t, "HIT", get().Header().Get("X-Cache"))
}

// blocker is template data whose method blocks until released: a slow
// rebuild.
type blocker struct {
	started, release chan struct{}
	v                string
}

func (b *blocker) Value() string {
	close(b.started)
	<-b.release
	return b.v
}

// A block with cache_grace serves its previous content while one
// execution renders it anew.
func TestBlockGrace(t *testing.T) {
	h := parse(t, `{{ cache_tagging "latest" "posts" (cache_grace 30) }}<p>{{ .data.Value }}</p>{{ end_cache_tagging }}`)
	first := &blocker{started: make(chan struct{}), release: make(chan struct{}), v: "old"}
	close(first.release)
	require.Equal(t, "<p>old</p>", h.render("t", map[string]any{"data": first}))
	require.NoError(t, h.c.InvalidateTags(bg, "posts"))

	slow := &blocker{started: make(chan struct{}), release: make(chan struct{}), v: "new"}
	done := make(chan string)
	go func() { done <- h.render("t", map[string]any{"data": slow}) }()
	<-slow.started
	unused := &blocker{started: make(chan struct{}), release: make(chan struct{}), v: "unused"}
	require.Equal(t, "<p>old</p>", h.render("t", map[string]any{"data": unused}), "served within its grace")
	close(slow.release)
	require.Equal(t, "<p>new</p>", <-done)
	require.Equal(t, "<p>new</p>", h.render("t", map[string]any{"data": unused}))
	require.EqualValues(t, 1, h.c.Stats().GraceHits)
}
