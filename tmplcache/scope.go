package tmplcache

import (
	"context"
	"slices"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache/internal/layout"
)

// The scope of a build travels in a context: the fill of [Cache.Fetch] gets
// it, and every read, write, [AddTags] and [Prevent] made with that context
// reports to the build. This file holds what acts on the scope; build.go
// holds a build's own life (Begin, End).

type scopeKey struct{}

// Current returns the build that ctx carries (the entry a fill is
// building), or nil.
func Current(ctx context.Context) *Build {
	b, _ := ctx.Value(scopeKey{}).(*Build)
	return b
}

// Context returns ctx carrying b: reads, writes, [AddTags] and [Prevent]
// made with it contribute to b.
func (b *Build) Context(ctx context.Context) context.Context {
	return context.WithValue(ctx, scopeKey{}, b)
}

// Detach returns ctx without its enclosing build: calls made with it neither
// pass their tags to the entry being built nor prevent it (Django
// cache-tagging's abort=True, per call).
func Detach(ctx context.Context) context.Context {
	if Current(ctx) == nil {
		return ctx
	}
	return context.WithValue(ctx, scopeKey{}, (*Build)(nil))
}

// AddTags adds tags to the entry being built in ctx (the innermost
// [Cache.Fetch] fill or template block). A tag that appears mid-build is
// checked like the others: one invalidated after the data was read keeps
// the entry from being stored. Outside a build it does nothing.
func AddTags(ctx context.Context, tags ...string) {
	if b := Current(ctx); b != nil {
		b.AddTags(tags...)
	}
}

// Prevent keeps the entry being built in ctx, and every entry enclosing it,
// from being stored (Django cache-tagging's cache_tagging_prevent). The
// values are still returned to their callers.
func Prevent(ctx context.Context) {
	if b := Current(ctx); b != nil {
		b.Prevent()
	}
}

// Track returns ctx carrying a tracking scope: a build that is never stored
// but collects the tags of everything built or read under it, and whether
// any of it was prevented (Django cache-tagging's request.cache_tagging).
//
// Tracking is what makes invalidation ordering exact: the scope takes a
// reading of the store's logical clock now (an atomic load; only the
// first one in a process may fetch the clock), and every build under it
// treats its data as read from that moment on — which is true when the scope starts before the handler loads any
// data. So wrap requests as early as possible (cachetagging.Track,
// cachetagging.CachePage and cachetagging.TransactionMiddleware do). Call
// [Build.End] (with nil) when done to pass what it collected to its own
// parent.
func (c *Cache) Track(ctx context.Context) (context.Context, *Build) {
	b := &Build{c: c, start: c.now(), reading: c.syncClock(ctx), parent: Current(ctx), tx: activeTx(ctx)}
	b.deps = b.depBuf[:0]
	return b.Context(ctx), b
}

// Hit reports whether b read a valid stored value.
func (b *Build) Hit() bool { return b.hit }

// Value returns a hit's value. It aliases the store's memory: do not modify
// it.
func (b *Build) Value() []byte { return b.value }

// Stale reports a hit served within its grace ([Grace]): the value may
// predate an invalidation, and one reader is rebuilding it.
func (b *Build) Stale() bool { return b.graced }

// Stored returns when a hit's value was stored, and when it expires (the
// zero Time: never).
func (b *Build) Stored() (stored, expires time.Time) {
	if !b.hit {
		return time.Time{}, time.Time{}
	}
	stored = time.Unix(0, b.meta.Stored)
	if b.meta.Expires != 0 {
		expires = time.Unix(0, b.meta.Expires)
	}
	return stored, expires
}

// Age returns how old a hit's value was when it was read, by the cache's
// clock ([WithClock]); 0 for a miss.
func (b *Build) Age() time.Duration {
	if !b.hit {
		return 0
	}
	return max(0, time.Duration(b.start.UnixNano()-b.meta.Stored))
}

// Key returns the key b reads or builds ("" for a tracking scope).
func (b *Build) Key() string {
	if b.key == "" {
		return ""
	}
	return b.key[len(b.c.entryPrefix):]
}

// Parent returns the build b reports to, or nil.
func (b *Build) Parent() *Build { return b.parent }

// Adopt places b in the context it is really built in, for engines that
// call Begin before they know it (a template function runs without the
// request's context): parent becomes the build b reports its tags and
// prevention to (nil means Current(ctx)), and ctx's transaction becomes
// b's. Call it before End.
func (b *Build) Adopt(ctx context.Context, parent *Build) {
	if parent == nil {
		parent = Current(ctx)
	}
	tx := activeTx(ctx)
	b.mu.Lock()
	b.parent = parent
	if tx != nil {
		b.tx = tx
	}
	b.mu.Unlock()
}

// MarkPreRead tells b that the data it is built from may have been read
// before Begin (a template block whose data the handler loaded earlier).
// Its own clock reading then says nothing about its data: it is checked
// against the reading of the outermost tracked build enclosing it
// ([Cache.Track], a page), or, when there is none, against its start less
// the skew margin ([WithSkew]).
func (b *Build) MarkPreRead() {
	b.mu.Lock()
	b.preRead = true
	b.mu.Unlock()
}

// Tags returns the tags b depends on so far, sorted.
func (b *Build) Tags() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	tags := make([]string, 0, len(b.deps)+b.hitTags.Len())
	for _, d := range b.deps {
		tags = append(tags, b.c.tagName(d.key))
	}
	for t := b.hitTags; t.Next(); {
		tags = append(tags, b.c.tagName(t.Key()))
	}
	slices.Sort(tags)
	return tags
}

// Prevented reports whether [Prevent] reached b.
func (b *Build) Prevented() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.prevented
}

// AddTags: see the package-level [AddTags].
func (b *Build) AddTags(tags ...string) {
	if err := checkTags(tags); err != nil {
		b.c.cfg.logger.Warn("tmplcache: AddTags: entry will not be stored", "key", b.Key(), "err", err)
		b.markUnsure()
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, t := range tags {
		b.dep(b.c.tagKey(t)).timeCheck = true
	}
}

// Prevent: see the package-level [Prevent].
func (b *Build) Prevent() {
	for x := b; x != nil; {
		x.mu.Lock()
		x.prevented = true
		next := x.parent
		x.mu.Unlock()
		x = next
	}
}

// includeDeps records that b's content contains content built against deps.
func (b *Build) includeDeps(deps []dep, stale bool) {
	if b.c.cfg.ignoreDescendants {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stale = b.stale || stale
	for _, d := range deps {
		s := b.dep(d.key)
		switch {
		case !s.hasVer:
			s.ver, s.hasVer = d.ver, true
		case s.ver != d.ver:
			b.stale = true // two parts built against different versions
		}
	}
}

// includeTags is includeDeps for the tags of an entry read in place.
func (b *Build) includeTags(tags layout.Tags, stale bool) {
	if b.c.cfg.ignoreDescendants {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stale = b.stale || stale
	for tags.Next() {
		s := b.dep(tags.Key())
		switch v := tags.Version(); {
		case !s.hasVer:
			s.ver, s.hasVer = v, true
		case s.ver != v:
			b.stale = true
		}
	}
}

// dep returns b's entry for a tag record key, adding it if needed. The
// pointer is valid until the next call; b.mu must be held.
func (b *Build) dep(key string) *dep {
	for i := range b.deps {
		if b.deps[i].key == key {
			return &b.deps[i]
		}
	}
	b.deps = append(b.deps, dep{key: key})
	return &b.deps[len(b.deps)-1]
}

// passScopeUp hands a tracking scope's collection to its parent: tags with
// a known version as dependencies, the others as tags added mid-build.
func (b *Build) passScopeUp() {
	if b.parent == nil {
		return
	}
	b.mu.Lock()
	var deps []dep
	var added []string
	for _, d := range b.deps {
		if d.hasVer {
			deps = append(deps, d)
		} else {
			added = append(added, b.c.tagName(d.key))
		}
	}
	stale := b.stale || b.unsure
	b.mu.Unlock()
	b.parent.includeDeps(deps, stale)
	if len(added) > 0 {
		b.parent.AddTags(added...)
	}
}
