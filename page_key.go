package cachetagging

import (
	"net/http"
	"sync"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// DefaultPageKey is scheme, host, path and query.
func DefaultPageKey(r *http.Request) string { return string(appendDefaultPageKey(nil, "", r, "")) }

// appendDefaultPageKey appends DefaultPageKey between prefix and suffix.
func appendDefaultPageKey(dst []byte, prefix string, r *http.Request, suffix string) []byte {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	dst = append(dst, prefix...)
	dst = append(dst, scheme...)
	dst = append(dst, "://"...)
	dst = append(dst, r.Host...)
	dst = append(dst, r.URL.EscapedPath()...)
	dst = append(dst, '?')
	dst = append(dst, r.URL.RawQuery...)
	return append(dst, suffix...)
}

// appendStoreKey appends the key of req's page in the store: the digest of
// the renderer's templates, then req's own key.
func (p *pageCache) appendStoreKey(dst []byte, req *http.Request) []byte {
	return p.appendRequestKey(dst, req, *p.r.pagePrefix.Load())
}

// appendRequestKey appends prefix, then req's key ([PageKey], by default
// [DefaultPageKey]) and the values of [PageKeyHeaders].
func (p *pageCache) appendRequestKey(dst []byte, req *http.Request, prefix string) []byte {
	if p.cfg.key == nil {
		return appendDefaultPageKey(dst, prefix, req, headerKey(req, p.cfg.keyHeaders))
	}
	dst = append(dst, prefix...)
	dst = append(dst, p.cfg.key(req)...)
	return append(dst, headerKey(req, p.cfg.keyHeaders)...)
}

// keyBufs hold page keys while a request is served: a hit needs no string
// of its key (see pageSpecs).
var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// pageSpecs keeps the prepared reads of the pages read lately, by store
// key, for a store in this process: a hit then builds neither its key's
// string nor its read. Bounded: past maxPageSpecs it starts over.
type pageSpecs struct {
	mu sync.RWMutex
	m  map[string]*tmplcache.Spec
}

const maxPageSpecs = 4096

// get returns the read of the page at key, if kept.
func (s *pageSpecs) get(key []byte) *tmplcache.Spec {
	s.mu.RLock()
	spec := s.m[string(key)] // no allocation: a map lookup of a converted key
	s.mu.RUnlock()
	return spec
}

func (s *pageSpecs) put(key string, spec *tmplcache.Spec) {
	s.mu.Lock()
	if s.m == nil || len(s.m) >= maxPageSpecs {
		s.m = make(map[string]*tmplcache.Spec) // start over: simpler than LRU, and rare
	}
	s.m[key] = spec
	s.mu.Unlock()
}
