package cachetagging_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/nocache"
	"github.com/cachetagging/cachetagging/tmplcache"
)

// A shared cache must not reuse a response to a request with
// Authorization (RFC 9111 §3.5): Alice's account page is never served to
// anyone else, nor is anyone's page served to Alice.
func TestAuthorizedRequestsNeverShareAPage(t *testing.T) {
	s := newSite(t)
	s.tweak = func(w http.ResponseWriter, req *http.Request) {
		if user, _, ok := req.BasicAuth(); ok {
			w.Header().Set("X-User", user)
		}
	}
	alice := s.do(http.MethodGet, "/account", "Authorization", "Basic YWxpY2U6c2VjcmV0") // alice:secret
	require.Equal(t, "alice", alice.Header().Get("X-User"))
	require.Equal(t, "BYPASS", alice.Header().Get("X-Cache"))
	anon := s.get("/account")
	require.Empty(t, anon.Header().Get("X-User"), "the anonymous request got Alice's page")
	require.Equal(t, "MISS", anon.Header().Get("X-Cache"))
	require.Equal(t, "HIT", s.get("/account").Header().Get("X-Cache"))
	again := s.do(http.MethodGet, "/account", "Authorization", "Basic YWxpY2U6c2VjcmV0")
	require.Equal(t, "alice", again.Header().Get("X-User"), "Alice is never served the anonymous page")
	require.EqualValues(t, 3, s.runs.Load())
}

func TestExpiresAndPragmaKeepAPageOut(t *testing.T) {
	for _, tc := range []struct{ name, header, value string }{
		{"an Expires in the past", "Expires", "Thu, 01 Jan 1970 00:00:00 GMT"},
		{"an invalid Expires", "Expires", "0"},
		{"Pragma: no-cache", "Pragma", "no-cache"},
	} {
		t.Run(tc.name+" is not stored", func(t *testing.T) {
			s := newSite(t)
			s.tweak = func(w http.ResponseWriter, _ *http.Request) { w.Header().Set(tc.header, tc.value) }
			s.get("/")
			require.Equal(t, "BYPASS", s.get("/").Header().Get("X-Cache"))
			require.EqualValues(t, 2, s.runs.Load())
		})
	}
	t.Run("an Expires in the future is stored", func(t *testing.T) {
		s := newSite(t)
		s.tweak = func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Expires", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
		}
		s.get("/")
		require.Equal(t, "HIT", s.get("/").Header().Get("X-Cache"))
	})
}

func TestPageKeyHeadersSeparatePages(t *testing.T) {
	s := newSite(t, cachetagging.PageKeyHeaders("X-Forwarded-Host"))
	s.tweak = func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("X-Host", req.Header.Get("X-Forwarded-Host"))
	}
	a := s.get("/", "X-Forwarded-Host", "a.example")
	b := s.get("/", "X-Forwarded-Host", "b.example")
	require.Equal(t, "a.example", a.Header().Get("X-Host"))
	require.Equal(t, "b.example", b.Header().Get("X-Host"), "another forwarded host is another page")
	require.Equal(t, "HIT", s.get("/", "X-Forwarded-Host", "a.example").Header().Get("X-Cache"))
	require.EqualValues(t, 2, s.runs.Load())
}

// No size of legitimate input turns a marker into text: 7,000 added tags
// (over 64 KiB) still tag the fragment, and invalidating one invalidates
// it.
func TestThousandsOfAddedTagsStillTagTheFragment(t *testing.T) {
	h := parse(t, `{{ cache_tagging "k" }}<p>{{ .n }}</p>{{ cache_add_tags .tags }}{{ end_cache_tagging }}`+
		`{{ cache_add_tags .tags }}`)
	tags := make([]string, 7000)
	for i := range tags {
		tags[i] = fmt.Sprintf("category:%06d", i)
	}
	ctx, scope := h.c.Track(bg)
	out, err := h.exec(ctx, "t", map[string]any{"n": 1, "tags": tags})
	require.NoError(t, err)
	require.Equal(t, "<p>1</p>", out, "no marker byte reaches the page")
	require.Len(t, scope.Tags(), 7000, "tags added outside any block reach the request's scope too")
	require.Equal(t, "<p>1</p>", h.render("t", map[string]any{"n": 2, "tags": tags}), "a hit")
	require.NoError(t, h.c.InvalidateTags(bg, "category:006999"))
	require.Equal(t, "<p>3</p>", h.render("t", map[string]any{"n": 3, "tags": tags}), "invalidating the last tag invalidates it")
}

// An entry over the tag limit is not stored (and says so), rather than
// stored corrupt.
func TestAFragmentOverTheTagLimitIsNotStored(t *testing.T) {
	h := parse(t, `{{ cache_tagging "k" }}<p>{{ .n }}</p>{{ cache_add_tags .tags }}{{ end_cache_tagging }}`)
	tags := make([]string, tmplcache.MaxTags+10)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%d", i)
	}
	require.Equal(t, "<p>1</p>", h.render("t", map[string]any{"n": 1, "tags": tags}))
	require.Equal(t, "<p>2</p>", h.render("t", map[string]any{"n": 2, "tags": tags}), "not served from the cache")
	require.Zero(t, h.c.Stats().Stores)
}

func TestAHoleOverTheSizeLimitIsAnError(t *testing.T) {
	h := parse(t, `{{ cache_tagging "k" }}{{ nocache "h" .big }}{{ end_cache_tagging }}`,
		handler{"h", func(context.Context, io.Writer, nocache.Call) error { return nil }})
	out, err := h.exec(bg, "t", map[string]any{"big": strings.Repeat("x", 300<<10)})
	require.ErrorIs(t, err, nocache.ErrTooLarge)
	require.NotContains(t, out, "\x00")
	require.Zero(t, h.c.Stats().Stores)
}

// Secrets rotate: entries signed with a previous key keep hitting, and
// what is built anew is signed with the new one.
func TestSecretRotation(t *testing.T) {
	store := sharedMemory{tmplcache.NewMemoryStore()}
	src := `{{ cache_tagging "k" }}[{{ nocache "who" }}]{{ end_cache_tagging }}`
	mk := func(opts ...cachetagging.Option) *harness {
		c := tmplcache.New(store)
		r := cachetagging.New(c, opts...)
		r.Nocache("who", func(ctx context.Context, w io.Writer, call nocache.Call) error {
			_, err := io.WriteString(w, "you")
			return err
		})
		return &harness{t: t, c: c, r: r, tmpl: mustPrepared(t, r, src)}
	}
	oldKey, newKey := []byte("the old secret, long enough"), []byte("the new secret, long enough")
	before := mk(cachetagging.WithSecret(oldKey))
	require.Equal(t, "[you]", before.render("t", nil))
	after := mk(cachetagging.WithSecret(newKey), cachetagging.WithPreviousSecrets(oldKey))
	require.Equal(t, "[you]", after.render("t", nil))
	require.EqualValues(t, 1, after.c.Stats().Hits, "the entry signed with the old key still hits")
	require.Zero(t, after.c.Stats().Unusable)
	retired := mk(cachetagging.WithSecret(newKey))
	require.Equal(t, "[you]", retired.render("t", nil), "with the old key retired, the entry is rebuilt")
	require.EqualValues(t, 1, retired.c.Stats().Unusable)
}

// After a deploy that changes a phased section (or drops a handler), an
// old entry naming it is a miss and is rebuilt: on a fragment hit and on a
// page hit alike, never an error or a cut connection.
func TestADeployThatDropsASectionRebuildsOldEntries(t *testing.T) {
	store := tmplcache.NewMemoryStore()
	site := func(section string) (*tmplcache.Cache, http.Handler) {
		c := tmplcache.New(store)
		r := cachetagging.New(c, cachetagging.WithoutDigests(), cachetagging.WithSecret([]byte("one secret for both deploys")))
		tmpl := mustPrepared(t, r, `{{ cache_tagging "k" "t" }}<p>{{ phased }}`+section+`{{ end_phased }}</p>{{ end_cache_tagging }}`)
		return c, cachetagging.CachePage(r, time.Hour)(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if err := r.ExecuteTemplate(req.Context(), w, tmpl, "t", nil); err != nil {
				http.Error(w, err.Error(), 500)
			}
		}))
	}
	get := func(h http.Handler) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		return w
	}
	_, v1 := site("old section")
	require.Equal(t, "<p>old section</p>", get(v1).Body.String())
	require.Equal(t, "HIT", get(v1).Header().Get("X-Cache"))

	c2, v2 := site("new section")
	w := get(v2)
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "<p>new section</p>", w.Body.String())
	require.NotEqual(t, "HIT", w.Header().Get("X-Cache"))
	require.NotZero(t, c2.Stats().Unusable)
	require.Equal(t, "HIT", get(v2).Header().Get("X-Cache"), "rebuilt and stored")
}

// memoryPage is h under CachePage for an hour, on a cache of its own.
func memoryPage(h http.HandlerFunc) (*tmplcache.Cache, http.Handler) {
	c := tmplcache.New(nil)
	return c, cachetagging.CachePage(cachetagging.New(c), time.Hour)(h)
}

// With CDN tag headers on, the live response keeps its Set-Cookie (a login
// redirect keeps its session).
func TestTagHeadersKeepTheLiveResponsesCookie(t *testing.T) {
	s := newSite(t, cachetagging.TagHeaders(cachetagging.Fastly))
	s.tweak = func(w http.ResponseWriter, _ *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "abc"})
	}
	w := s.get("/")
	require.Equal(t, "session=abc", w.Header().Get("Set-Cookie"))
	require.Equal(t, "BYPASS", w.Header().Get("X-Cache"))
}

// A hijacked connection (a websocket) is never stored, nor served.
func TestHijackedResponsesAreNotStored(t *testing.T) {
	var runs atomic.Int32
	c, h := memoryPage(func(w http.ResponseWriter, req *http.Request) {
		runs.Add(1)
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhello")
		_ = buf.Flush()
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	for range 2 {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		require.NoError(t, err)
		_, err = io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
		_ = conn.Close()
	}
	require.EqualValues(t, 2, runs.Load(), "the second handshake was not a cached empty 200")
	require.Zero(t, c.Stats().Stores)
}

// A handler that flushes, then fails, leaves nothing stored.
func TestAFlushedThenFailedResponseIsNotStored(t *testing.T) {
	c, h := memoryPage(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.WriteString(w, "partial")
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	for range 2 {
		resp, err := http.Get(srv.URL)
		if err == nil {
			_, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
	}
	require.Zero(t, c.Stats().Stores)
}

// An informational response (103 Early Hints) goes out at once and the
// final response is cached as usual.
func TestEarlyHintsPassThrough(t *testing.T) {
	_, h := memoryPage(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		_, _ = io.WriteString(w, "page")
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	var hints atomic.Int32
	for _, want := range []string{"MISS", "HIT"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		resp, err := srv.Client().Do(req.WithContext(httptraceHints(&hints)))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, "page", string(body))
		require.Equal(t, want, resp.Header.Get("X-Cache"))
	}
	require.EqualValues(t, 1, hints.Load(), "the miss sent its early hints")
}

// A block nested in a block of its own key does not wait for itself.
func TestABlockNestedInItsOwnKeyDoesNotWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := parse(t, `{{ cache_tagging "k" }}<o>{{ cache_tagging "k" }}<i>{{ .n }}</i>{{ end_cache_tagging }}</o>{{ end_cache_tagging }}`)
		start := time.Now()
		require.Equal(t, "<o><i>1</i></o>", h.render("t", map[string]any{"n": 1}))
		require.Less(t, time.Since(start), tmplcache.DefaultFlightWait, "the inner block waited for its own flight")
	})
}

// A client that stops reading a page does not hold the page's build: a
// second request is served meanwhile.
func TestASlowClientDoesNotHoldThePage(t *testing.T) {
	var runs atomic.Int32
	_, h := memoryPage(func(w http.ResponseWriter, req *http.Request) {
		runs.Add(1)
		_, _ = io.WriteString(w, strings.Repeat("page ", 1000))
	})
	stuck := &blockingWriter{h: http.Header{}, release: make(chan struct{}), writing: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(stuck, httptest.NewRequest(http.MethodGet, "/", nil))
	}()
	<-stuck.writing // the first client is being written to, and reads nothing
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, "HIT", w.Header().Get("X-Cache"), "the page was stored before the slow client was written to")
	close(stuck.release)
	<-done
	require.EqualValues(t, 1, runs.Load())
}

type blockingWriter struct {
	h       http.Header
	release chan struct{}
	writing chan struct{}
	once    atomic.Bool
}

func (b *blockingWriter) Header() http.Header { return b.h }
func (b *blockingWriter) WriteHeader(int)     {}
func (b *blockingWriter) Write(p []byte) (int, error) {
	if b.once.CompareAndSwap(false, true) {
		close(b.writing)
	}
	<-b.release
	return len(p), nil
}

func TestPrepareRejectsHolesThatWouldLeaveText(t *testing.T) {
	for _, tc := range []struct{ name, src, msg string }{
		{"a phased section ending inside a script", `<p>{{ phased }}<script>{{ end_phased }}</p>`, "start and end in HTML text"},
		{"a phased section ending inside a tag", `<p>{{ phased }}<a href="{{ end_phased }}">`, "HTML text"},
		{"a hole used as the dot of a with", `{{ with nocache "h" }}<a title="{{ . }}">x</a>{{ end }}`, "stand alone"},
		{"a hole as an argument", `<p>{{ printf "%s" (nocache "h") }}</p>`, "stand alone"},
		{"added tags in a pipeline", `{{ cache_add_tags "t" | print }}`, "stand alone"},
		{"an unregistered handler", `<p>{{ nocache "nobody" }}</p>`, "not registered"},
	} {
		t.Run(tc.name+" is an error naming template and line", func(t *testing.T) {
			err := prepareErr(t, tc.src)
			var te *cachetagging.Error
			require.True(t, errors.As(err, &te), "%v", err)
			require.Equal(t, "page.html", te.Name)
			require.Equal(t, 1, te.Line)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

func TestANilHandlerIsNamedAsSuch(t *testing.T) {
	r := cachetagging.New(tmplcache.New(nil))
	r.Nocache("greeting", nil)
	err := r.Prepare(template.Must(template.New("t").Parse("x")))
	require.ErrorIs(t, err, nocache.ErrNilHandler)
	require.ErrorContains(t, err, `"greeting"`)
	require.NotContains(t, err.Error(), "bad handler name")
}

// A render that fails under CachePage is not sent half-written: the
// handler can answer with an error page, or CachePage sends a 500.
func TestAFailedRenderIsReplacedByAnErrorPage(t *testing.T) {
	for _, tc := range []struct {
		name     string
		onError  func(w http.ResponseWriter)
		wantBody string
	}{
		{"a handler that writes an error page", func(w http.ResponseWriter) { http.Error(w, "sorry", http.StatusServiceUnavailable) }, "sorry\n"},
		{"a handler that writes nothing", func(http.ResponseWriter) {}, "Internal Server Error\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tmplcache.New(nil)
			r := cachetagging.New(c)
			tmpl := mustPrepared(t, r, `<p>half {{ cache_tagging "f" }}{{ .f.Value }}{{ end_cache_tagging }}</p>`)
			h := cachetagging.CachePage(r, time.Hour)(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if err := r.ExecuteTemplate(req.Context(), w, tmpl, "t", map[string]any{"f": failing{fail: true}}); err != nil {
					tc.onError(w)
				}
			}))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
			require.NotEqual(t, http.StatusOK, w.Code)
			require.Equal(t, tc.wantBody, w.Body.String(), "no half page")
			require.NotEqual(t, "MISS", w.Header().Get("X-Cache"))
			require.Zero(t, c.Stats().Stores)
		})
	}
}

// A hole that panics for one request (here a type assertion on live data
// it did not get) costs that request a clean 500, not a cut page nor the
// page itself: the cached text stays for everyone else, miss or hit.
func TestAPanickingHoleFailsOnlyItsRequest(t *testing.T) {
	for _, first := range []string{"", "Ann"} {
		t.Run("first user "+fmt.Sprintf("%q", first), func(t *testing.T) {
			c := tmplcache.New(nil)
			r := cachetagging.New(c)
			r.Nocache("greet", func(_ context.Context, w io.Writer, call nocache.Call) error {
				_, err := io.WriteString(w, "Hello, "+call.Live.(string)) // panics without a user
				return err
			})
			tmpl := mustPrepared(t, r, `<p>{{ cache_tagging "p" }}text {{ nocache "greet" }}{{ end_cache_tagging }}</p>`)
			h := cachetagging.CachePage(r, time.Hour, cachetagging.LiveData(func(req *http.Request) any {
				if u := req.Header.Get("X-User"); u != "" {
					return u
				}
				return nil
			}))(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				_ = r.ExecuteTemplate(req.Context(), w, tmpl, "t", nil)
			}))
			get := func(user string) *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				if user != "" {
					req.Header.Set("X-User", user)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				return w
			}
			for i, user := range []string{first, "Ann", "", "Bob"} {
				w := get(user)
				if user == "" {
					require.Equal(t, http.StatusInternalServerError, w.Code, "request %d", i)
					require.Equal(t, "Internal Server Error\n", w.Body.String(), "no half page")
					continue
				}
				require.Equal(t, http.StatusOK, w.Code, "request %d", i)
				require.Equal(t, "<p>text Hello, "+user+"</p>", w.Body.String())
				if i > 0 {
					require.Equal(t, "HIT", w.Header().Get("X-Cache"), "request %d", i)
				}
			}
			require.EqualValues(t, 2, c.Stats().Stores, "one render: its fragment and its page, stored once")
		})
	}
}
