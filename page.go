package cachetagging

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// PageOption configures [CachePage].
type PageOption func(*pageConfig)

type pageConfig struct {
	tags       func(*http.Request) []string
	live       func(*http.Request) any
	key        func(*http.Request) string
	keyHeaders []string
	header     string
	cdns       []CDN
	maxBody    int
	grace      time.Duration
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
// request's context, else the *http.Request itself). Holes that take what
// they need from their ctx (the request's context, on hits and misses
// alike) need neither.
func LiveData(fn func(*http.Request) any) PageOption {
	return func(c *pageConfig) { c.live = fn }
}

// PageKey sets what identifies a page (default [DefaultPageKey]). The
// headers named by [PageKeyHeaders] and by the response's Vary are added to
// it.
func PageKey(fn func(*http.Request) string) PageOption {
	return func(c *pageConfig) { c.key = fn }
}

// PageKeyHeaders adds request headers to every page's key: those a proxy
// in front sets and the page depends on, such as X-Forwarded-Host or
// X-Forwarded-Proto. Headers the response names in Vary are added anyway.
func PageKeyHeaders(names ...string) PageOption {
	return func(c *pageConfig) {
		for _, n := range names {
			c.keyHeaders = append(c.keyHeaders, http.CanonicalHeaderKey(n))
		}
	}
}

// CacheHeader names the header telling HIT, STALE, MISS or BYPASS
// (default "X-Cache"; empty: no header).
func CacheHeader(name string) PageOption {
	return func(c *pageConfig) { c.header = http.CanonicalHeaderKey(name) }
}

// TagHeaders emits the page's tags for each CDN (see [Fastly],
// [Cloudflare]), so the CDN can be purged by tag too.
func TagHeaders(cdns ...CDN) PageOption {
	return func(c *pageConfig) { c.cdns = append(c.cdns, cdns...) }
}

// MaxPageSize sets the largest body stored (default [DefaultMaxPageSize]);
// a larger page is streamed and served uncached.
func MaxPageSize(n int) PageOption {
	return func(c *pageConfig) { c.maxBody = n }
}

// PageGrace lets a page be served for up to d after it expired or one of
// its tags was invalidated, while one request of this process renders it
// anew (see [tmplcache.Grace] for the trade), and adds
// stale-while-revalidate to the Cache-Control of the pages it caches.
func PageGrace(d time.Duration) PageOption {
	return func(c *pageConfig) { c.grace = max(d, 0) }
}

// CachePage caches whole GET and HEAD responses of next for ttl (or until
// a tag changes): Django cache-tagging's @cache_page. A page is tagged with
// [PageTags] plus every tag of every fragment rendered into it with
// [Renderer.ExecuteTemplate] and the request's context, and invalidated
// with them. It is stored as it leaves phase 1, holes in, so every hit runs
// the holes again for its own request.
//
// The key is the scheme, host, path and query ([PageKey]), the headers of
// [PageKeyHeaders], the request headers the response names in Vary
// (learned from the first response, as Django does), and a digest of every
// template the renderer prepared, so a deploy that changes one is never
// served an old page.
//
// What is never stored: a response to a request with Authorization (such
// requests pass through, never served from the cache either, RFC 9111
// §3.5), a status other than 200, Set-Cookie, Vary: *, Cache-Control
// no-store, private, no-cache, max-age=0 or s-maxage=0, Pragma: no-cache,
// an Expires in the past, a response whose rendering called
// cache_tagging_prevent or failed, a hijacked response (websockets), and a
// body over [MaxPageSize]. The cache header ([CacheHeader]) says HIT,
// STALE (within [PageGrace]), MISS, or BYPASS for one not stored. Hits
// carry Age. Store failures serve the page uncached.
//
// A miss is buffered until the handler returns and its holes ran: a hole
// that fails makes a clean 500 (and nothing is stored), and a slow client
// never holds the page's build. An ExecuteTemplate that fails discards
// what the handler wrote so far, so the handler can write an error page
// instead (a handler that writes nothing then sends a 500). A handler that
// flushes streams from then on. Put compression and other response-rewriting middleware outside
// CachePage: inside, they would hide the page's holes from it (the page is
// then not stored).
func CachePage(r *Renderer, ttl time.Duration, opts ...PageOption) func(http.Handler) http.Handler {
	cfg := pageConfig{header: "X-Cache", maxBody: DefaultMaxPageSize,
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
		p := &pageCache{r: r, cfg: cfg, next: next}
		p.memo.on = !r.c.Shared()
		p.base = []tmplcache.SetOption{tmplcache.TTL(ttl), tmplcache.Check(p.usable)}
		if cfg.grace > 0 {
			p.base = append(p.base, tmplcache.Grace(cfg.grace))
		}
		return p
	}
}

type pageCache struct {
	r     *Renderer
	cfg   pageConfig
	base  []tmplcache.SetOption // TTL, Check, Grace: the same for every page
	next  http.Handler
	memo  pageMemo
	specs pageSpecs
}

const pagePrefix = "page:"

func (p *pageCache) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if (req.Method != http.MethodGet && req.Method != http.MethodHead) || p.r.configErr() != nil {
		p.next.ServeHTTP(w, req)
		return
	}
	if req.Header.Get("Authorization") != "" {
		p.bypass(w, req)
		return
	}
	kb := keyBufs.Get().(*[]byte)
	defer keyBufs.Put(kb)
	*kb = p.appendStoreKey((*kb)[:0], req)
	b := p.peek(req, *kb)
	defer releasePeeked(b)
	var key string // the store key as a string: for what peek did not serve
	if b == nil {
		key = string(*kb)
		var err error
		if b, err = p.begin(req, key); err != nil {
			p.r.logger.Warn("cachetagging: CachePage: page not cached", "url", req.URL.String(), "err", err)
			p.next.ServeHTTP(w, req)
			return
		}
	}
	var vary []string
	if b.Hit() {
		names, isTable := decodeVary(b.Value())
		if !isTable {
			p.serveHit(w, req, b)
			return
		}
		// The page varies on request headers: it lives under the key
		// extended with their values.
		_ = b.End(req.Context(), nil)
		if key == "" {
			key = string(*kb)
		}
		vary = names
		var err error
		if b, err = p.begin(req, key+headerKey(req, vary)); err != nil {
			p.next.ServeHTTP(w, req)
			return
		}
		if b.Hit() {
			if !isVary(b.Value()) {
				p.serveHit(w, req, b)
				return
			}
			b.Abort()
			p.next.ServeHTTP(w, req)
			return
		}
	}
	p.miss(w, req, b, key, vary)
}

// peekedBuilds are the builds of page hits served by peek, reused.
var peekedBuilds = sync.Pool{New: func() any { return new(tmplcache.Build) }}

// peek reads the page at store key key on a store in this process the way
// a fragment's fast path does ([tmplcache.Spec.PeekInto]), with the read
// prepared when the page was last read (see pageSpecs): a hit in a pooled
// build, or nil for Begin to decide (a miss, a page within its grace or
// near its expiry). On a shared store it declines at once: a miss would
// cost two round trips.
func (p *pageCache) peek(req *http.Request, key []byte) *tmplcache.Build {
	if !p.memo.on {
		return nil
	}
	spec := p.specs.get(key)
	if spec == nil {
		// A hit needs only the key and the check: the page's own tags are
		// in its entry, and Begin applies the options of a build.
		k := string(key)
		spec = p.r.c.Spec(k, p.base...)
		p.specs.put(k, spec)
	}
	b := peekedBuilds.Get().(*tmplcache.Build)
	if !spec.PeekInto(req.Context(), b) {
		peekedBuilds.Put(b)
		return nil
	}
	return b
}

// releasePeeked returns the build peek found, if any, once the page is
// sent: it ended (a hit always does), and nothing refers to it any more.
func releasePeeked(b *tmplcache.Build) {
	if b != nil {
		peekedBuilds.Put(b)
	}
}

// begin reads a page key. The page's build is the request's tracked scope
// from here on: its clock reading predates everything the handler loads.
func (p *pageCache) begin(req *http.Request, key string) (*tmplcache.Build, error) {
	return p.r.c.Begin(req.Context(), key, p.opts(req)...)
}

// opts are the options of req's page.
func (p *pageCache) opts(req *http.Request) []tmplcache.SetOption {
	if tags := p.cfg.tags(req); len(tags) > 0 {
		return append(slices.Clip(p.base), tmplcache.Tags(tags...))
	}
	return p.base
}

// bypass serves a request the cache must not answer.
func (p *pageCache) bypass(w http.ResponseWriter, req *http.Request) {
	if p.cfg.header != "" {
		w.Header().Set(p.cfg.header, "BYPASS")
	}
	p.next.ServeHTTP(w, req)
}

// serveHit serves a stored page, running its holes for req.
func (p *pageCache) serveHit(w http.ResponseWriter, req *http.Request, b *tmplcache.Build) {
	page, err := p.memo.decode(b.Value()) // Check read it already
	if err != nil {
		b.Abort()
		p.next.ServeHTTP(w, req)
		return
	}
	state := "HIT"
	if b.Stale() {
		state = "STALE"
	}
	var tags []string
	if len(p.cfg.cdns) > 0 || p.r.debugOn(req.Context()) {
		tags = b.Tags()
	}
	_ = b.End(req.Context(), nil)
	p.respond(w, req, http.StatusOK, page.fields, page.body, state, tags, b.Age())
}

// miss runs the handler under the page's build, stores what it wrote if
// it may, then sends it.
func (p *pageCache) miss(w http.ResponseWriter, req *http.Request, b *tmplcache.Build, key string, vary []string) {
	ctx := req.Context()
	ended := false
	defer func() {
		if !ended {
			b.Abort() // the handler panicked
		}
	}()
	rec := p.newRecorder(w, req)
	p.next.ServeHTTP(rec, req.WithContext(b.Context(ctx)))
	renderFailed := rec.failed && !rec.wroteHeader && !rec.streaming && !rec.hijacked
	rec.finishHandler()

	got := responseVary(rec.header)
	store, state := p.decide(req, rec)
	switch {
	case !store:
		b.Abort()
	case !slices.Equal(got, vary):
		// This page's key was made without these headers: learn them, and
		// store the page next time, under the right key.
		b.Abort()
		_ = p.r.c.Set(tmplcache.Detach(ctx), key, encodeVary(got), p.base[0])
	default:
		_ = b.End(ctx, encodePage(rec.page(p.cfg.header)))
	}
	ended = true
	if rec.streaming || rec.hijacked {
		return
	}
	if renderFailed {
		// A render failed and the handler wrote nothing after it.
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	var tags []string
	if store && (len(p.cfg.cdns) > 0 || p.r.debugOn(ctx)) {
		tags = b.Tags()
	}
	p.respond(w, req, rec.status, headerFields(rec.header), rec.view(), state, tags, 0)
}

// decide tells whether a recorded response may be stored, and what the
// cache header says of it: the one place that does. BYPASS is a response
// the page cache must keep out (by its status, its headers, or how it was
// written); a MISS was rendered to be stored (unless its rendering
// prevented it, or it is a HEAD).
func (p *pageCache) decide(req *http.Request, rec *recorder) (store bool, state string) {
	if rec.hijacked || rec.overflow || rec.failed || !storableResponse(rec.status, rec.header, time.Now()) {
		return false, "BYPASS"
	}
	return req.Method == http.MethodGet, "MISS"
}

// storableResponse reports whether a response's status and headers allow
// a shared cache to store it.
func storableResponse(status int, h http.Header, now time.Time) bool {
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
	for _, v := range h.Values("Pragma") {
		if strings.Contains(strings.ToLower(v), "no-cache") {
			return false
		}
	}
	if e := h.Get("Expires"); e != "" {
		if t, err := http.ParseTime(e); err != nil || !t.After(now) {
			return false // RFC 9111 §5.3: an invalid Expires is in the past
		}
	}
	return true
}

// respond writes a page (stored, or just rendered) for req: headers, then
// the body with its holes run. Every hole runs before the first byte is
// sent, so a hole that fails makes a clean 500 instead of a cut response;
// the page's text goes out as it is stored, uncopied.
func (p *pageCache) respond(w http.ResponseWriter, req *http.Request, status int, header []headerField, body doc,
	state string, tags []string, age time.Duration) {
	debug := p.r.debugOn(req.Context())
	out := holeOutputs.Get().(*holeOutput)
	defer out.release()
	if body.holes > 0 {
		if err := out.run(p.r, tmplcache.Detach(req.Context()), body, p.cfg.live(req), debug); err != nil {
			p.r.logger.Error("cachetagging: CachePage: a hole failed; the page is not served", "url", req.URL.String(), "err", err)
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
	}
	var note string
	if debug {
		note = pageAnnotation(string(p.appendRequestKey(nil, req, "")), state, tags, age)
	}
	h := w.Header()
	vals := copyHeader(h, header)
	p.setHeaders(h, &vals, req, state, tags, age)
	if bodyAllowed(status) {
		n := len(body.content) - out.markers + out.buf.Len() + len(note)
		vals.set(h, "Content-Length", strconv.Itoa(n))
	}
	w.WriteHeader(status)
	if req.Method == http.MethodHead || !bodyAllowed(status) {
		return
	}
	out.write(w, body)
	if note != "" {
		_, _ = io.WriteString(w, note)
	}
}

// copyHeader copies src into dst, all values in one allocation (each
// slice capped, so an append never reaches its neighbour), with room for
// the headers CachePage adds: it returns that room.
func copyHeader(dst http.Header, src []headerField) headerValues {
	n := 0
	for _, f := range src {
		n += len(f.values)
	}
	all := make([]string, 0, n+addedHeaders)
	for _, f := range src {
		start := len(all)
		all = append(all, f.values...)
		dst[f.name] = all[start:len(all):len(all)]
	}
	return headerValues(all[len(all):])
}

// headerFields lists h: how respond takes a header (a stored page keeps
// its own list, so a hit ranges over no map).
func headerFields(h http.Header) []headerField {
	fields := make([]headerField, 0, len(h))
	for k, vs := range h {
		fields = append(fields, headerField{k, vs})
	}
	return fields
}

// headerField is one header of a response: its canonical name and values.
type headerField struct {
	name   string
	values []string
}

// addedHeaders is how many headers a hit adds at most without CDN tag
// headers: the cache header, Age, Cache-Control, Content-Length.
const addedHeaders = 4

// headerValues hands out single-value header slices from one allocation.
type headerValues []string

// set sets h[key], key being canonical, to value alone.
func (v *headerValues) set(h http.Header, key, value string) {
	if len(*v) == cap(*v) {
		h[key] = []string{value}
		return
	}
	*v = append(*v, value)
	n := len(*v)
	h[key] = (*v)[n-1 : n : n]
}

// bodyAllowed reports whether a response of status may have a body.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// setHeaders adds what CachePage says about a response, with values from
// vals.
func (p *pageCache) setHeaders(h http.Header, vals *headerValues, req *http.Request, state string, tags []string, age time.Duration) {
	if p.cfg.header != "" {
		vals.set(h, p.cfg.header, state)
	}
	if state == "HIT" || state == "STALE" {
		vals.set(h, "Age", strconv.Itoa(max(0, int(age/time.Second))))
	}
	if p.cfg.grace > 0 && state != "BYPASS" {
		swr := "stale-while-revalidate=" + strconv.Itoa(int(p.cfg.grace/time.Second))
		if cc := h.Get("Cache-Control"); cc != "" {
			swr = cc + ", " + swr
		}
		vals.set(h, "Cache-Control", swr)
	}
	for _, cdn := range p.cfg.cdns {
		if v, cut := cdn.value(tags); v != "" {
			vals.set(h, http.CanonicalHeaderKey(cdn.Header), v)
			if cut {
				p.r.logger.Warn("cachetagging: CachePage: too many tags for the CDN header; some left out",
					"header", cdn.Header, "url", req.URL.String())
			}
		}
	}
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

// headerKey is the part of a page key given by request headers.
func headerKey(req *http.Request, names []string) string {
	if len(names) == 0 {
		return ""
	}
	var b strings.Builder
	for _, n := range names {
		b.WriteString("\x00" + n + "=" + strings.Join(req.Header.Values(n), "\x01"))
	}
	return b.String()
}

// usable is the check every page hit passes: a page (or vary table) this
// process can read, whose holes it can run.
func (p *pageCache) usable(v []byte) bool {
	if isVary(v) {
		return true
	}
	page, err := p.memo.decode(v)
	if err != nil {
		return false
	}
	if page.usable.Load() {
		return true
	}
	ok := p.r.usableHoles(page.body)
	page.usable.Store(ok) // once usable, always: handlers and sections are only ever added
	return ok
}
