package cachetagging

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// WithDebug makes the renderer annotate the output of the requests on
// (called with each execution's context) reports true: an HTML comment
// opens and closes every fragment (its key, tags, and what this request
// did with it: HIT, STALE, MISS; for a hit its age and the time left) and
// every hole (its handler's name), and [CachePage] adds one for the page.
// Annotations describe this request, are written to the client only,
// never into a cached fragment or page, and cost nothing when on reports
// false. They look like
//
//	<!--ct:fragment key="sidebar" tags="categories posts" state="HIT" age="12s" ttl="3588s"-->
//	...
//	<!--/ct:fragment-->
//
// Turn them on per request (a cookie, a header on an internal network),
// never for everyone: they show keys and tags.
func WithDebug(on func(ctx context.Context) bool) Option {
	return func(o *options) { o.debug = on }
}

func (r *Renderer) debugOn(ctx context.Context) bool {
	return r.debug != nil && r.debug(ctx)
}

const (
	fragmentClosing = "<!--/ct:fragment-->"
	holeClosing     = "<!--/ct:hole-->"
)

// fragmentOpening annotates a fragment's start.
func fragmentOpening(b *tmplcache.Build, state string) string {
	var a strings.Builder
	a.WriteString("<!--ct:fragment")
	attr(&a, "key", userKey(b.Key()))
	attr(&a, "tags", strings.Join(b.Tags(), " "))
	attr(&a, "state", state)
	if stored, expires := b.Stored(); !stored.IsZero() {
		now := time.Now()
		attr(&a, "age", now.Sub(stored).Round(time.Second).String())
		if !expires.IsZero() {
			attr(&a, "ttl", expires.Sub(now).Round(time.Second).String())
		}
	}
	a.WriteString("-->")
	return a.String()
}

// holeOpening annotates a hole's start.
func holeOpening(name string) string {
	var a strings.Builder
	a.WriteString("<!--ct:hole")
	attr(&a, "name", name)
	a.WriteString("-->")
	return a.String()
}

// pageAnnotation annotates a page served by CachePage.
func pageAnnotation(key, state string, tags []string, age time.Duration) string {
	var a strings.Builder
	a.WriteString("<!--ct:page")
	attr(&a, "key", key)
	attr(&a, "tags", strings.Join(tags, " "))
	attr(&a, "state", state)
	if state == "HIT" || state == "STALE" {
		attr(&a, "age", age.Round(time.Second).String())
	}
	a.WriteString("-->")
	return a.String()
}

// attr writes name="value", escaping what could end the comment or the
// quotes: '-', '<', '>', '&', '"' and controls become character references.
func attr(a *strings.Builder, name, value string) {
	a.WriteString(" " + name + `="`)
	for _, c := range []byte(value) {
		switch {
		case c == '-' || c == '<' || c == '>' || c == '&' || c == '"' || c < ' ' || c == 0x7f:
			a.WriteString("&#" + strconv.Itoa(int(c)) + ";")
		default:
			a.WriteByte(c)
		}
	}
	a.WriteByte('"')
}

// userKey is the key a template author wrote, from a fragment's cache key.
func userKey(key string) string {
	key = strings.TrimPrefix(key, fragmentPrefix)
	if i := strings.IndexByte(key, 0); i >= 0 {
		key = key[:i] // the digest
	}
	return key
}
