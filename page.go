package cachetagging

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// PageOption configures [CachePage].
type PageOption func(*pageConfig)

type pageConfig struct {
	tags    func(*http.Request) []string
	live    func(*http.Request) any
	key     func(*http.Request) string
	header  string
	cdns    []CDN
	maxBody int
}

// DefaultMaxPageSize is the largest page [CachePage] stores (see
// [MaxPageSize]).
const DefaultMaxPageSize = 4 << 20

// PageTags tags every cached page with fn(r), on top of the tags of every
// fragment rendered into it.
func PageTags(fn func(*http.Request) []string) PageOption {
	return func(c *pageConfig) { c.tags = fn }
}

// LiveData sets the live data the page's holes (nocache, phased) get, on
// every request, hit or miss (default: what [WithLiveData] put in the
// request's context, else the *http.Request itself).
func LiveData(fn func(*http.Request) any) PageOption {
	return func(c *pageConfig) { c.live = fn }
}

// PageKey sets what identifies a page (default: scheme, host, path and
// query, whatever the method, so a HEAD is served from a GET's entry). The
// request headers named by the response's Vary are added to it.
func PageKey(fn func(*http.Request) string) PageOption {
	return func(c *pageConfig) { c.key = fn }
}

// CacheHeader names the header telling HIT or MISS (default "X-Cache";
// empty: no header).
func CacheHeader(name string) PageOption {
	return func(c *pageConfig) { c.header = name }
}

// TagHeaders emits the page's tags for each CDN (see [Fastly],
// [Cloudflare]), so the CDN can be purged by tag too. The tags of a page
// are known only once it is rendered, so a miss is then buffered, not
// streamed.
func TagHeaders(cdns ...CDN) PageOption {
	return func(c *pageConfig) { c.cdns = append(c.cdns, cdns...) }
}

// MaxPageSize sets the largest body stored (default [DefaultMaxPageSize]);
// a larger page is served uncached.
func MaxPageSize(n int) PageOption {
	return func(c *pageConfig) { c.maxBody = n }
}

// DefaultPageKey is scheme, host, path and query.
func DefaultPageKey(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.EscapedPath() + "?" + r.URL.RawQuery
}

// CachePage caches whole GET and HEAD responses of next for ttl (or until
// a tag changes), the seed's @cache_page. A page is tagged with
// [PageTags] plus every tag of every fragment rendered into it with
// [Renderer.ExecuteTemplate] and the request's context; it is invalidated
// with them. It is stored as it leaves phase 1, holes in, so every hit
// runs the holes again for its own request with [LiveData].
//
// Only 200 responses are stored, and none that says Cache-Control
// no-store, private, no-cache or max-age=0, sets a cookie, varies on "*",
// or whose rendering called cache_tagging_prevent. The cache header says
// HIT, MISS, or BYPASS for a response its status or headers keep out. The request headers
// named by Vary are part of the key (learned from the first response, as
// Django does). Expires and Last-Modified are not invented: a tagged page
// lives until its tags change. Hits carry Age and the cache header
// ([CacheHeader]). Store failures serve the page uncached.
//
// Put compression and other response-rewriting middleware outside
// CachePage: inside, they would hide the page's holes from it (the page is
// then not stored).
func CachePage(r *Renderer, ttl time.Duration, opts ...PageOption) func(http.Handler) http.Handler {
	cfg := pageConfig{header: "X-Cache", key: DefaultPageKey, maxBody: DefaultMaxPageSize,
		tags: func(*http.Request) []string { return nil },
		live: func(req *http.Request) any {
			if v, ok := liveFrom(req.Context()); ok {
				return v
			}
			return req
		}}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	return func(next http.Handler) http.Handler {
		return &pageCache{r: r, ttl: ttl, cfg: cfg, next: next}
	}
}

type pageCache struct {
	r    *Renderer
	ttl  time.Duration
	cfg  pageConfig
	next http.Handler
}

const (
	pagePrefix = "page:"
	varyPrefix = "page-vary:"
)

func (p *pageCache) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if (req.Method != http.MethodGet && req.Method != http.MethodHead) || p.r.configErr() != nil {
		p.next.ServeHTTP(w, req)
		return
	}
	ctx := req.Context()
	c := p.r.c
	base := p.cfg.key(req)
	vary := p.learnedVary(ctx, base)
	key := pagePrefix + base + varyKey(req, vary)
	b, err := c.Begin(ctx, key, tmplcache.Tags(p.cfg.tags(req)...), tmplcache.TTL(p.ttl))
	if err != nil { // bad tags from PageTags: serve uncached, say why
		p.r.logger.Warn("cachetagging: CachePage: page not cached", "key", base, "err", err)
		p.next.ServeHTTP(w, req)
		return
	}
	if b.Hit() {
		if page, err := decodePage(b.Value()); err == nil {
			_ = b.End(ctx, nil)
			p.serve(w, req, page, b.Tags(), "HIT")
			return
		}
		b.Abort()
		p.next.ServeHTTP(w, req)
		return
	}
	p.miss(w, req, b, base, vary)
}

// miss runs the handler under the page's build and stores what it wrote.
func (p *pageCache) miss(w http.ResponseWriter, req *http.Request, b *tmplcache.Build, base string, vary []string) {
	ended := false
	defer func() {
		if !ended {
			b.Abort() // the handler panicked
		}
	}()
	rec := p.newRecorder(w, req, len(p.cfg.cdns) > 0)
	p.next.ServeHTTP(rec, req.WithContext(b.Context(req.Context())))
	rec.finishHandler()

	got := responseVary(rec.header)
	if !slices.Equal(got, vary) && !slices.Contains(got, "*") {
		// This page's key was made without these headers: learn them, and
		// store the page next time, under the right key.
		_ = p.r.c.Set(tmplcache.Detach(req.Context()), varyPrefix+base,
			[]byte(strings.Join(got, "\n")), tmplcache.TTL(p.ttl))
	}
	var tags []string
	state := "MISS"
	page := rec.page()
	if req.Method == http.MethodGet && storable(rec, vary, got) {
		_ = b.End(req.Context(), encodePage(page))
		tags = b.Tags()
	} else {
		b.Abort()
		if !storableResponse(rec.status, rec.header) {
			state = "BYPASS"
		}
	}
	ended = true
	if rec.buffered {
		p.serve(w, req, page, tags, state)
		return
	}
	rec.close()
}

// storable reports whether a recorded GET response may be stored.
func storable(rec *recorder, vary, got []string) bool {
	return storableResponse(rec.status, rec.header) && !rec.overflow && slices.Equal(got, vary)
}

// storableResponse reports whether a response's status and headers allow
// storing it: known as soon as the handler writes its header.
func storableResponse(status int, h http.Header) bool {
	if status != http.StatusOK || len(h.Values("Set-Cookie")) > 0 || slices.Contains(responseVary(h), "*") {
		return false
	}
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			switch strings.ToLower(strings.TrimSpace(d)) {
			case "no-store", "private", "no-cache", "max-age=0", "s-maxage=0":
				return false
			}
		}
	}
	return true
}

func (p *pageCache) learnedVary(ctx context.Context, base string) []string {
	v, ok, _ := p.r.c.Get(tmplcache.Detach(ctx), varyPrefix+base)
	if !ok || len(v) == 0 {
		return nil
	}
	return strings.Split(string(v), "\n")
}

// responseVary returns the canonical, sorted header names of Vary.
func responseVary(h http.Header) []string {
	var names []string
	for _, v := range h.Values("Vary") {
		for _, n := range strings.Split(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, http.CanonicalHeaderKey(n))
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func varyKey(req *http.Request, vary []string) string {
	if len(vary) == 0 {
		return ""
	}
	var b strings.Builder
	for _, n := range vary {
		b.WriteString("\x00" + n + "=" + strings.Join(req.Header.Values(n), "\x01"))
	}
	return b.String()
}

// serve writes a stored (or buffered) page, running its holes for req.
func (p *pageCache) serve(w http.ResponseWriter, req *http.Request, page storedPage, tags []string, state string) {
	h := w.Header()
	for k, vs := range page.header {
		h[k] = slices.Clone(vs)
	}
	if p.cfg.header != "" {
		h.Set(p.cfg.header, state)
	}
	if state == "HIT" {
		age := max(0, int(time.Since(page.created)/time.Second))
		h.Set("Age", strconv.Itoa(age))
	}
	for _, cdn := range p.cfg.cdns {
		if v, cut := cdn.value(tags); v != "" {
			h.Set(cdn.Header, v)
			if cut {
				p.r.logger.Warn("cachetagging: CachePage: too many tags for the CDN header; some left out",
					"header", cdn.Header, "url", req.URL.String())
			}
		}
	}
	if !page.holes {
		h.Set("Content-Length", strconv.Itoa(len(page.body)))
	}
	w.WriteHeader(page.status)
	if req.Method == http.MethodHead {
		return
	}
	if !page.holes {
		_, _ = w.Write(page.body)
		return
	}
	live := p.cfg.live(req)
	if err := p.r.holes.Expand(tmplcache.Detach(req.Context()), w, page.body, live); err != nil {
		// The status is out: all we can do is log and cut the response.
		p.r.logger.Error("cachetagging: CachePage: a hole failed on a cached page", "url", req.URL.String(), "err", err)
		panic(http.ErrAbortHandler)
	}
}
