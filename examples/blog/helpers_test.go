package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// testSite is the blog as main builds it, on a SQLite database of its own
// (seeded) and a fresh in-memory cache.
type testSite struct {
	h     http.Handler
	cache *tmplcache.Cache
	db    *gorm.DB
}

func newTestSite(t *testing.T) *testSite {
	t.Helper()
	return openTestSite(t, filepath.Join(t.TempDir(), "blog.db"))
}

// openTestSite opens the blog on the SQLite file at path, as a new process
// would.
func openTestSite(t *testing.T, path string) *testSite {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), nil)) // shown when a test fails
	db, _, err := openDB(path, log)
	require.NoError(t, err)
	t.Cleanup(func() { _ = closeDB(db) })
	cache := tmplcache.New(tmplcache.NewMemoryStore(), tmplcache.WithLogger(log))
	a, err := newApp(context.Background(), cache, db, nil, log)
	require.NoError(t, err)
	return &testSite{h: a.Handler(), cache: cache, db: db}
}

const site = "http://blog.test"

// browser sends requests to the handler, keeping cookies like a browser.
// It starts with the cache overlay on, so pages say what the cache did.
type browser struct {
	t   *testing.T
	h   http.Handler
	jar *cookiejar.Jar
}

func newBrowser(t *testing.T, h http.Handler) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	u, _ := url.Parse(site)
	jar.SetCookies(u, []*http.Cookie{{Name: overlayCookie, Value: "on"}})
	return &browser{t: t, h: h, jar: jar}
}

func (b *browser) do(req *http.Request) *httptest.ResponseRecorder {
	b.t.Helper()
	for _, c := range b.jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	w := httptest.NewRecorder()
	b.h.ServeHTTP(w, req)
	b.jar.SetCookies(req.URL, w.Result().Cookies())
	require.NotContains(b.t, w.Body.String(), "\x00", "a marker byte reached the client: %s %s", req.Method, req.URL)
	return w
}

// get fetches a page that must exist.
func (b *browser) get(path string) *httptest.ResponseRecorder {
	b.t.Helper()
	w := b.do(httptest.NewRequest(http.MethodGet, site+path, nil))
	require.Equal(b.t, http.StatusOK, w.Code, "GET %s: %s", path, w.Body)
	return w
}

// post submits a form that must succeed, and returns where it redirects.
func (b *browser) post(path string, form url.Values) string {
	b.t.Helper()
	w := b.submit(path, form)
	require.Equal(b.t, http.StatusSeeOther, w.Code, "POST %s: %s", path, w.Body)
	return w.Header().Get("Location")
}

func (b *browser) submit(path string, form url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, site+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func xCache(w *httptest.ResponseRecorder) string { return w.Header().Get("X-Cache") }

// annotated is what the overlay's annotations say of a page.
type annotated struct {
	page      string            // the page's state under CachePage (HIT, MISS…), or ""
	fragments map[string]string // fragment key → state, for the fragments this request opened
	holes     []string          // hole names, in order
	text      string            // the page without annotations
}

var (
	fragmentRE   = regexp.MustCompile(`<!--ct:fragment key="([^"]*)" tags="[^"]*" state="([A-Z]+)"`)
	holeRE       = regexp.MustCompile(`<!--ct:hole name="([^"]*)"-->`)
	pageRE       = regexp.MustCompile(`<!--ct:page key="[^"]*" tags="[^"]*" state="([A-Z]+)"`)
	annotationRE = regexp.MustCompile(`<!--/?ct:[^>]*-->`)
	charRefRE    = regexp.MustCompile(`&#(\d+);`)
)

// annotations reads the debug annotations of a page (see debug.go at the
// repository root for their format).
func annotations(t testing.TB, body string) annotated {
	t.Helper()
	a := annotated{fragments: map[string]string{}, text: annotationRE.ReplaceAllString(body, "")}
	for _, m := range fragmentRE.FindAllStringSubmatch(body, -1) {
		key := unescapeAttr(m[1])
		if prev, ok := a.fragments[key]; ok {
			require.Equal(t, prev, m[2], "fragment %s shows twice with two states", key)
		}
		a.fragments[key] = m[2]
	}
	for _, m := range holeRE.FindAllStringSubmatch(body, -1) {
		a.holes = append(a.holes, unescapeAttr(m[1]))
	}
	if m := pageRE.FindAllStringSubmatch(body, -1); len(m) > 0 {
		require.Len(t, m, 1, "one page annotation")
		a.page = m[0][1]
	}
	return a
}

func unescapeAttr(s string) string {
	return charRefRE.ReplaceAllStringFunc(s, func(ref string) string {
		n, _ := strconv.Atoi(ref[2 : len(ref)-1])
		return string(rune(n))
	})
}

// requireStates checks the state of each fragment in want, and that the
// fragments of absent were not opened by the request.
func requireStates(t testing.TB, a annotated, want map[string]string, absent ...string) {
	t.Helper()
	for key, state := range want {
		require.Contains(t, a.fragments, key, "fragment %s is not on the page", key)
		require.Equal(t, state, a.fragments[key], "fragment %s", key)
	}
	for _, key := range absent {
		require.NotContains(t, a.fragments, key)
	}
}

// states returns want with every key of keys in state.
func states(state string, keys ...string) map[string]string {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		m[k] = state
	}
	return m
}

// merge merges maps of states.
func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// item returns the list item of post id on a list page.
func item(t *testing.T, body string, id int) string {
	t.Helper()
	start := strings.Index(body, `<a href="/posts/`+strconv.Itoa(id)+`"><strong>`)
	require.GreaterOrEqual(t, start, 0, "post %d is not listed", id)
	end := strings.Index(body[start:], "</li>")
	require.Greater(t, end, 0)
	return body[start : start+end]
}
