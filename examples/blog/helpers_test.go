package main

import (
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// newTestHandler returns the blog's handler tree as main builds it, on a
// fresh in-memory cache and the seeded data.
func newTestHandler(t *testing.T) (http.Handler, *tmplcache.Cache) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), nil)) // shown when a test fails
	cache := tmplcache.New(tmplcache.NewMemoryStore(), tmplcache.WithLogger(log))
	a, err := newApp(cache, seededBlog(), nil, log)
	require.NoError(t, err)
	return a.Handler(), cache
}

// letSkewPass moves the fake clock of the synctest bubble past the
// clock-skew margin: fragments rendered less than tmplcache.DefaultSkew
// after their tags were invalidated are served but not stored. No real
// time passes.
func letSkewPass() { time.Sleep(tmplcache.DefaultSkew + time.Millisecond) }

const site = "http://blog.test"

// browser sends requests to the handler, keeping cookies like a browser.
type browser struct {
	t   *testing.T
	h   http.Handler
	jar *cookiejar.Jar
}

func newBrowser(t *testing.T, h http.Handler) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
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

var stampRE = regexp.MustCompile(`([\w:-]+) rendered #(\d+)`)

// stampsOf reads the render stamps of a page's fragments: key → renders.
func stampsOf(t *testing.T, w *httptest.ResponseRecorder) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, s := range stampRE.FindAllStringSubmatch(w.Body.String(), -1) {
		n, err := strconv.Atoi(s[2])
		require.NoError(t, err)
		m[s[1]] = n
	}
	require.NotEmpty(t, m, "the page shows no fragment stamps")
	return m
}

// requireRendered checks that each fragment of keys was rendered again
// between two versions of a page (its stamp moved).
func requireRendered(t *testing.T, before, after map[string]int, keys ...string) {
	t.Helper()
	for _, k := range keys {
		require.Contains(t, after, k)
		require.Greater(t, after[k], before[k], "%s should have been rendered again", k)
	}
}

// requireFromCache checks that each fragment of keys came from the cache
// (its stamp did not move).
func requireFromCache(t *testing.T, before, after map[string]int, keys ...string) {
	t.Helper()
	for _, k := range keys {
		require.Contains(t, after, k)
		require.Equal(t, before[k], after[k], "%s should have come from the cache", k)
	}
}

// item returns the list item of post id on a list page.
func item(t *testing.T, w *httptest.ResponseRecorder, id int) string {
	t.Helper()
	body := w.Body.String()
	start := strings.Index(body, `<a href="/posts/`+strconv.Itoa(id)+`"><strong>`)
	require.GreaterOrEqual(t, start, 0, "post %d is not listed", id)
	end := strings.Index(body[start:], "</li>")
	require.Greater(t, end, 0)
	return body[start : start+end]
}
