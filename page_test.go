package cachetagging_test

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/nocache"
	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/stretchr/testify/require"
)

// site is a tiny app: a page template with a fragment and a hole, a
// handler counting its runs, under CachePage.
type site struct {
	t       *testing.T
	c       *tmplcache.Cache
	r       *cachetagging.Renderer
	tmpl    *template.Template
	runs    atomic.Int32
	version atomic.Int32
	handler http.Handler
	tweak   func(w http.ResponseWriter, req *http.Request) // before rendering
}

const pageSrc = `<html><body><h1>v{{ .version }}</h1>
{{ cache_tagging "sidebar" "categories" }}<nav>categories@v{{ .version }}</nav>{{ end_cache_tagging }}
<p>{{ nocache "hello" }}</p>{{ if .prevent }}{{ cache_tagging_prevent }}{{ end }}
</body></html>`

func newSite(t *testing.T, opts ...cachetagging.PageOption) *site {
	t.Helper()
	s := &site{t: t, c: tmplcache.New(nil)}
	s.version.Store(1)
	s.r = cachetagging.New(s.c)
	s.r.Nocache("hello", func(ctx context.Context, w io.Writer, call nocache.Call) error {
		name := "stranger"
		switch live := call.Live.(type) {
		case *http.Request: // under CachePage
			if ck, err := live.Cookie("name"); err == nil {
				name = ck.Value
			}
		case map[string]any: // the template's data
			name, _ = live["name"].(string)
		}
		_, err := fmt.Fprintf(w, "Hello, %s", template.HTMLEscapeString(name))
		return err
	})
	s.tmpl = mustPrepared(t, s.r, pageSrc)
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.runs.Add(1)
		if s.tweak != nil {
			s.tweak(w, req)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		data := map[string]any{"version": s.version.Load(), "prevent": req.URL.Query().Has("prevent")}
		if err := s.r.ExecuteTemplate(req.Context(), w, s.tmpl, "t", data); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	opts = append([]cachetagging.PageOption{cachetagging.PageTags(func(*http.Request) []string { return []string{"page"} })}, opts...)
	s.handler = cachetagging.CachePage(s.r, time.Hour, opts...)(h)
	return s
}

func (s *site) do(method, target string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	s.handler.ServeHTTP(w, req)
	return w
}

func (s *site) get(target string, hdr ...string) *httptest.ResponseRecorder {
	s.t.Helper()
	w := s.do(http.MethodGet, target, hdr...)
	require.Equal(s.t, http.StatusOK, w.Code, w.Body.String())
	requireClean(s.t, w.Body.String())
	return w
}

func (s *site) invalidate(tags ...string) {
	s.t.Helper()
	require.NoError(s.t, s.c.InvalidateTags(bg, tags...))
}

// A hit's Age is how long ago its page was stored, by the cache's clock
// (the fake one of a synctest bubble here).
func TestPageHitAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSite(t)
		require.Equal(t, "MISS", s.get("/").Header().Get("X-Cache"))
		time.Sleep(7 * time.Second)
		hit := s.get("/")
		require.Equal(t, "HIT", hit.Header().Get("X-Cache"))
		require.Equal(t, "7", hit.Header().Get("Age"))
	})
}

// Django cache-tagging's test_decorator_cache_page.
func TestDjangoDecoratorCachePage(t *testing.T) {
	synctest.Test(t, testDjangoDecoratorCachePage)
}

func testDjangoDecoratorCachePage(t *testing.T) {
	s := newSite(t)
	r1 := s.get("/")
	s.version.Store(2)
	r2 := s.get("/")
	require.Equal(t, r1.Body.String(), r2.Body.String())
	require.EqualValues(t, 1, s.runs.Load(), "the handler ran once")
	require.Equal(t, "MISS", r1.Header().Get("X-Cache"))
	require.Equal(t, "HIT", r2.Header().Get("X-Cache"))
	require.Equal(t, "0", r2.Header().Get("Age"))
	for _, r := range []*httptest.ResponseRecorder{r1, r2} {
		for _, h := range []string{"Expires", "Last-Modified", "Cache-Control"} {
			require.Empty(t, r.Header().Get(h), "%s must not be invented for a tagged page", h)
		}
		require.Equal(t, "text/html; charset=utf-8", r.Header().Get("Content-Type"))
	}

	s.invalidate("page")
	r4 := s.get("/")
	require.NotEqual(t, r1.Body.String(), r4.Body.String())
	require.Contains(t, r4.Body.String(), "<h1>v2</h1>")
	require.EqualValues(t, 2, s.runs.Load())
}

func TestCachedPageHolesAreEachRequesters(t *testing.T) {
	s := newSite(t)
	ann := s.get("/", "Cookie", "name=Ann")
	bob := s.get("/", "Cookie", "name=Bob")
	anon := s.get("/")
	require.Contains(t, ann.Body.String(), "Hello, Ann")
	require.Contains(t, bob.Body.String(), "Hello, Bob")
	require.Contains(t, anon.Body.String(), "Hello, stranger")
	require.Equal(t, "HIT", bob.Header().Get("X-Cache"))
	require.EqualValues(t, 1, s.runs.Load())
	require.Equal(t, strconv.Itoa(bob.Body.Len()), bob.Header().Get("Content-Length"),
		"holes run before the page is sent: its length is known")
}

func TestAFragmentTagInvalidatesThePage(t *testing.T) {
	synctest.Test(t, testAFragmentTagInvalidatesThePage)
}

func testAFragmentTagInvalidatesThePage(t *testing.T) {
	s := newSite(t)
	s.get("/")
	s.version.Store(2)
	require.Contains(t, s.get("/").Body.String(), "<h1>v1</h1>")
	s.invalidate("categories") // only the sidebar fragment names it
	body := s.get("/").Body.String()
	require.Contains(t, body, "<h1>v2</h1>")
	require.Contains(t, body, "categories@v2")
}

func TestWhatIsNotStored(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tweak func(w http.ResponseWriter, req *http.Request)
		query string
	}{
		{"a page that calls cache_tagging_prevent", nil, "?prevent=1"},
		{"a no-store page", func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("Cache-Control", "no-store") }, ""},
		{"a private page", func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("Cache-Control", "public, private") }, ""},
		{"a max-age=0 page", func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("Cache-Control", "max-age=0") }, ""},
		{"a page setting a cookie", func(w http.ResponseWriter, _ *http.Request) { http.SetCookie(w, &http.Cookie{Name: "s", Value: "1"}) }, ""},
		{"a 404", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) }, ""},
		{"a page varying on everything", func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("Vary", "*") }, ""},
	} {
		t.Run(tc.name+" is not stored", func(t *testing.T) {
			s := newSite(t)
			s.tweak = tc.tweak
			s.do(http.MethodGet, "/"+tc.query)
			w := s.do(http.MethodGet, "/"+tc.query)
			want := "BYPASS" // the status or headers said so before the body
			if tc.query != "" {
				want = "MISS" // prevention is known only at the end
			}
			require.Equal(t, want, w.Header().Get("X-Cache"))
			require.EqualValues(t, 2, s.runs.Load())
		})
	}
}

func TestPostBypassesAndHeadIsServed(t *testing.T) {
	s := newSite(t)
	require.Equal(t, http.StatusOK, s.do(http.MethodPost, "/").Code)
	require.Empty(t, s.do(http.MethodPost, "/").Header().Get("X-Cache"))
	require.EqualValues(t, 2, s.runs.Load())

	head := s.do(http.MethodHead, "/")
	require.Equal(t, "MISS", head.Header().Get("X-Cache"), "a HEAD miss is not stored: it has no body")
	s.get("/")
	head = s.do(http.MethodHead, "/")
	require.Equal(t, "HIT", head.Header().Get("X-Cache"), "a HEAD is served from the GET's entry")
	require.Empty(t, head.Body.String())
	require.EqualValues(t, 4, s.runs.Load())
}

func TestVaryCookieSeparatesUsers(t *testing.T) {
	s := newSite(t)
	s.tweak = func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Vary", "Cookie")
		s.version.Store(int32(len(req.Header.Get("Cookie"))))
	}
	first := s.get("/", "Cookie", "name=Ann") // learns Vary: Cookie
	require.Equal(t, "MISS", first.Header().Get("X-Cache"))
	ann := s.get("/", "Cookie", "name=Ann")
	require.Equal(t, "MISS", ann.Header().Get("X-Cache"), "stored now, under a key with the cookie")
	require.Equal(t, "HIT", s.get("/", "Cookie", "name=Ann").Header().Get("X-Cache"))
	bob := s.get("/", "Cookie", "name=Bobby")
	require.Equal(t, "MISS", bob.Header().Get("X-Cache"), "another cookie, another page")
	require.Contains(t, bob.Body.String(), "<h1>v10</h1>")
	require.Contains(t, s.get("/", "Cookie", "name=Ann").Body.String(), "<h1>v8</h1>")
}

func TestCDNTagHeaders(t *testing.T) {
	s := newSite(t, cachetagging.TagHeaders(cachetagging.Fastly, cachetagging.Cloudflare))
	miss := s.get("/")
	require.Equal(t, "categories page", miss.Header().Get("Surrogate-Key"), "the page's tags and its fragments'")
	require.Equal(t, "categories,page", miss.Header().Get("Cache-Tag"))
	hit := s.get("/")
	require.Equal(t, "HIT", hit.Header().Get("X-Cache"))
	require.Equal(t, "categories page", hit.Header().Get("Surrogate-Key"))
	require.Equal(t, miss.Body.String(), hit.Body.String())

	t.Run("unsafe and long tags are hashed, the same way for purging", func(t *testing.T) {
		long := strings.Repeat("x", 2000)
		for _, tag := range []string{"with space", "with,comma", "ünicode", long, "h-looks-hashed"} {
			k := cachetagging.Fastly.Key(tag)
			require.Regexp(t, `^h-[0-9a-f]{32}$`, k, tag)
			require.Equal(t, k, cachetagging.Fastly.Key(tag))
		}
		require.Equal(t, "post:15", cachetagging.Cloudflare.Key("post:15"))
	})
	t.Run("a header over the limit is cut at a key boundary", func(t *testing.T) {
		small := cachetagging.CDN{Header: "X-Tags", Separator: " ", MaxKeyLen: 64, MaxHeaderLen: 20}
		s := newSite(t, cachetagging.TagHeaders(small), cachetagging.PageTags(func(*http.Request) []string {
			return []string{"aaaaaaa", "bbbbbbb", "ccccccc"}
		}))
		got := s.get("/").Header().Get("X-Tags")
		require.Equal(t, "aaaaaaa bbbbbbb", got)
	})
}

func TestPageStoreFailureServesUncached(t *testing.T) {
	c := tmplcache.New(&brokenStore{}, tmplcache.WithTimeout(10*time.Millisecond))
	r := cachetagging.New(c, cachetagging.WithSecret([]byte("0123456789abcdef")))
	tmpl := mustPrepared(t, r, `<p>{{ cache_tagging "f" }}x{{ end_cache_tagging }}</p>`)
	h := cachetagging.CachePage(r, time.Minute)(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_ = r.ExecuteTemplate(req.Context(), w, tmpl, "t", nil)
	}))
	for range 2 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		require.Equal(t, http.StatusOK, w.Code)
		require.Equal(t, "<p>x</p>", w.Body.String())
	}
}

func TestAFailedRenderIsNotStored(t *testing.T) {
	s := newSite(t)
	var fail atomic.Bool
	fail.Store(true)
	s.tweak = func(w http.ResponseWriter, req *http.Request) {
		if fail.Load() {
			// Half the page, then the template breaks: it must not be kept.
			err := s.r.ExecuteTemplate(req.Context(), w, mustPrepared(t, s.r, `<p>part{{ .f.Value }}</p>`), "t",
				map[string]any{"f": failing{fail: true}})
			require.Error(t, err)
		}
	}
	s.do(http.MethodGet, "/")
	fail.Store(false)
	w := s.do(http.MethodGet, "/")
	require.Equal(t, "MISS", w.Header().Get("X-Cache"))
}

// gzipLike hides the ResponseWriter CachePage gave the handler, as a
// compressing middleware placed inside CachePage would.
type gzipLike struct{ http.ResponseWriter }

func TestHolesHiddenFromCachePageKeepThePageUncached(t *testing.T) {
	s := newSite(t)
	c, r := s.c, s.r
	h := cachetagging.CachePage(r, time.Hour)(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.runs.Add(1)
		ck, _ := req.Cookie("name")
		data := map[string]any{"version": 1, "name": ck.Value}
		require.NoError(t, r.ExecuteTemplate(req.Context(), gzipLike{w}, s.tmpl, "t", data))
	}))
	for _, name := range []string{"Ann", "Bob"} {
		w := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/hidden", nil)
		req.AddCookie(&http.Cookie{Name: "name", Value: name})
		h.ServeHTTP(w, req)
		require.Contains(t, w.Body.String(), "Hello, "+name, "Bob must never get Ann's hole")
	}
	require.EqualValues(t, 2, s.runs.Load())
	require.NotZero(t, c.Stats().Prevented)
}

func TestTransactionMiddleware(t *testing.T) {
	c := tmplcache.New(nil)
	var inTx func(context.Context)
	h := cachetagging.TransactionMiddleware(c)(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		require.NoError(t, c.InvalidateTags(req.Context(), "post:1"))
		inTx(req.Context())
	}))
	inTx = func(ctx context.Context) {
		// Another request builds from data this one has not committed yet.
		_, err := c.Fetch(bg, "post-page", value("old"), tmplcache.Tags("post:1"))
		require.NoError(t, err)
		_, ok, _ := c.Get(bg, "post-page")
		require.False(t, ok, "the tag is locked while the request runs")
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/edit", nil))
	_, err := c.Fetch(bg, "post-page", value("new"), tmplcache.Tags("post:1"))
	require.NoError(t, err)
	v, ok, _ := c.Get(bg, "post-page")
	require.True(t, ok, "unlocked once the request ended")
	require.Equal(t, "new", string(v))
}

func value(s string) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) { return []byte(s), nil }
}

// With WithLiveData set around every route, holes get the same live data
// whether their page is cached whole or not.
func TestLiveDataFromTheContext(t *testing.T) {
	type visitor struct{ Name string }
	c := tmplcache.New(nil)
	r := cachetagging.New(c)
	var seen []any
	r.Nocache("who", func(ctx context.Context, w io.Writer, call nocache.Call) error {
		seen = append(seen, call.Live)
		_, err := io.WriteString(w, call.Live.(visitor).Name)
		return err
	})
	tmpl := mustPrepared(t, r, `{{ cache_tagging "k" }}<p>{{ nocache "who" }}</p>{{ end_cache_tagging }}`)
	handler := func(w http.ResponseWriter, req *http.Request) {
		require.NoError(t, r.ExecuteTemplate(req.Context(), w, tmpl, "t", "not the live data"))
	}
	withLive := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			v := visitor{Name: req.URL.Query().Get("u")}
			next.ServeHTTP(w, req.WithContext(cachetagging.WithLiveData(req.Context(), v)))
		})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/plain", handler)
	mux.Handle("/page", cachetagging.CachePage(r, time.Hour)(http.HandlerFunc(handler)))
	h := withLive(mux)
	for _, tc := range []struct{ path, user string }{{"/plain", "ann"}, {"/page", "bob"}, {"/page", "cyd"}} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tc.path+"?u="+tc.user, nil))
		require.Contains(t, w.Body.String(), "<p>"+tc.user+"</p>")
	}
	require.Len(t, seen, 3)
}

// Each URL is its own page, hit after hit, also past the number of page
// reads CachePage keeps prepared (they are kept by store key).
func TestEveryURLHitsItsOwnPage(t *testing.T) {
	r := cachetagging.New(tmplcache.New(nil))
	var runs atomic.Int32
	h := cachetagging.CachePage(r, time.Hour)(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		runs.Add(1)
		_, _ = io.WriteString(w, "page of "+req.URL.RequestURI())
	}))
	get := func(url string) (string, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
		return rec.Header().Get("X-Cache"), rec.Body.String()
	}
	const n = 5000 // more than CachePage keeps prepared
	for round, want := range []string{"MISS", "HIT"} {
		for i := range n {
			for _, url := range []string{fmt.Sprint("/p/", i), fmt.Sprint("/p/", i, "?q=1")} {
				state, body := get(url)
				require.Equal(t, want, state, "round %d: %s", round, url)
				require.Equal(t, "page of "+url, body)
			}
		}
	}
	require.EqualValues(t, 2*n, runs.Load(), "one render per URL")
}
