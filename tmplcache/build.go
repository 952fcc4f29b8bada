package tmplcache

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// A Build is one read of a key that either hit (the value is at hand) or
// missed (the value is being built). Most code uses [Cache.Fetch], which
// drives a Build; engines that cannot wrap the building code in a function
// (a template whose body runs after the cache was consulted) drive one
// themselves:
//
//	b, err := c.Begin(ctx, key, tmplcache.Tags("post:1"))
//	if b.Hit() { use(b.Value()); b.End(ctx, nil); return }
//	v, err := build(b.Context(ctx)) // AddTags, Prevent, nested reads on this ctx
//	if err != nil { b.Abort(); return }
//	b.End(ctx, v) // stores v if nothing it depends on changed meanwhile
//
// Exactly one of End or Abort must be called. A Build is safe for
// concurrent use by the goroutines of one fill.
type Build struct {
	c      *Cache
	key    string // store key; "" for a tracking scope
	opts   setOptions
	hit    bool
	value  []byte // a hit's value; aliases store memory
	start  time.Time
	parent *Build
	tx     *Tx // the transaction b is built in: its own locks do not stop it
	flight *flight

	mu        sync.Mutex
	deps      []dep // a handful: a slice beats a map
	depBuf    [4]dep
	preRead   bool // data may predate start: time-check known tags too
	prevented bool
	stale     bool // content may predate an invalidation: never store
	unsure    bool // versions could not be read: never store
	ended     bool
}

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
// pass their tags to the entry being built nor prevent it (the seed's
// abort=True, per call).
func Detach(ctx context.Context) context.Context {
	if Current(ctx) == nil {
		return ctx
	}
	return context.WithValue(ctx, scopeKey{}, (*Build)(nil))
}

// AddTags adds tags to the entry being built in ctx (the innermost
// [Cache.Fetch] fill or template block). Tags that appear mid-build are
// checked against the build's start: one invalidated after (or within the
// skew margin before) that moment keeps the entry from being stored.
// Outside a build it does nothing.
func AddTags(ctx context.Context, tags ...string) {
	if b := Current(ctx); b != nil {
		b.AddTags(tags...)
	}
}

// Prevent keeps the entry being built in ctx, and every entry enclosing it,
// from being stored (the seed's cache_tagging_prevent). The values are still
// returned to their callers.
func Prevent(ctx context.Context) {
	if b := Current(ctx); b != nil {
		b.Prevent()
	}
}

// Track returns ctx carrying a tracking scope: a build that is never stored
// but collects the tags of everything built or read under it, and whether
// any of it was prevented (the seed's request.cache_tagging). Its start is
// now, so builds under it treat data as read from this moment: wrap a
// request as early as possible. Call [Build.End] (with nil) when done to
// pass what it collected to its own parent.
func (c *Cache) Track(ctx context.Context) (context.Context, *Build) {
	b := &Build{c: c, start: c.now(), parent: Current(ctx), tx: activeTx(ctx)}
	b.deps = b.depBuf[:0]
	return b.Context(ctx), b
}

// Hit reports whether b read a valid stored value.
func (b *Build) Hit() bool { return b.hit }

// Value returns a hit's value. It aliases the store's memory: do not modify
// it.
func (b *Build) Value() []byte { return b.value }

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
// before Begin (a template block whose data the handler loaded earlier), so
// every tag, not only those added mid-build, is checked against b's start
// with the skew margin.
func (b *Build) MarkPreRead() {
	b.mu.Lock()
	b.preRead = true
	b.mu.Unlock()
}

// Tags returns the tags b depends on so far, sorted.
func (b *Build) Tags() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	tags := make([]string, 0, len(b.deps))
	for _, d := range b.deps {
		tags = append(tags, b.c.tagName(d.key))
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
		b.mu.Lock()
		b.unsure = true
		b.mu.Unlock()
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

func (b *Build) horizon() time.Time {
	h := b.start
	for p := b.parent; p != nil; p = p.parent {
		if p.start.Before(h) {
			h = p.start
		}
	}
	return h
}

// prepare validates a call and returns a build for it (not yet started).
func (c *Cache) prepare(ctx context.Context, key string, opts []SetOption) (*Build, error) {
	if c.err != nil {
		return nil, c.err
	}
	if key == "" {
		return nil, ErrEmptyKey
	}
	b := &Build{c: c, key: c.entryKey(key), tx: activeTx(ctx)}
	b.opts.apply(opts) // in place: b is on the heap already
	if b.opts.err != nil {
		return nil, b.opts.err
	}
	if err := checkTags(b.opts.tags); err != nil {
		return nil, err
	}
	b.deps = b.depBuf[:0]
	return b, nil
}

// Begin reads key. On a hit the returned build holds the value; on a miss
// it is ready to build one: the versions of the tags given by [Tags] have
// been read (so an invalidation from now on keeps it from being stored).
// If another goroutine of this process is building key, Begin first waits
// for it (at most [WithFlightWait]) and reads again. Store errors are not
// returned: the build goes on uncached. Errors are for bad input only.
func (c *Cache) Begin(ctx context.Context, key string, opts ...SetOption) (*Build, error) {
	b, err := c.prepare(ctx, key, opts)
	if err != nil {
		return nil, err
	}
	b.parent = Current(ctx)
	for waited := false; ; waited = true {
		e, ok, _ := c.load(ctx, b.key, b.deps[:0])
		if ok {
			b.hit, b.value, b.deps = true, e.value, e.deps
			return b, nil
		}
		if waited || b.buildingSelf() {
			break
		}
		f, leader := c.flights.join(b.key, c.now(), c.cfg.flightWait)
		if leader {
			b.flight = f
			break
		}
		c.stats.flightWaits.Add(1)
		if !f.wait(ctx, f.expires.Sub(c.now())) {
			break // the other build is too slow: build our own
		}
	}
	c.startBuild(ctx, b)
	return b, nil
}

// buildingSelf reports a key that is being built by an ancestor (a value
// that contains itself): waiting for that flight would wait for ourselves.
func (b *Build) buildingSelf() bool {
	for p := b.parent; p != nil; p = p.parent {
		if p.key == b.key {
			return true
		}
	}
	return false
}

// startBuild reads the versions of the build's tags before any data is.
func (c *Cache) startBuild(ctx context.Context, b *Build) {
	b.start = c.now()
	if len(b.opts.tags) == 0 {
		return
	}
	keys := make([]string, 0, len(b.opts.tags))
	for _, t := range b.opts.tags {
		keys = append(keys, c.tagKey(t))
	}
	recs, err := c.readRecords(ctx, keys)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.unsure = true
		return
	}
	for i, k := range keys {
		d := b.dep(k)
		d.ver, d.hasVer = recs[i].ver, true
	}
}

// readRecords reads tag records, creating the missing ones. A created
// record's time is zero: creating a tag is not invalidating it, so it never
// fails a time check (a record lost to eviction takes its entries with it).
func (c *Cache) readRecords(ctx context.Context, keys []string) ([]record, error) {
	raw, err := c.storeGet(ctx, keys)
	if err != nil {
		return nil, err
	}
	recs := make([]record, len(keys))
	var missing []Item
	var at []int
	for i, v := range raw {
		r, ok := decodeRecord(v)
		if !ok {
			missing = append(missing, Item{Key: keys[i], Value: newRecord(time.Time{}, 0).encode(), TTL: c.cfg.tagTTL})
			at = append(at, i)
			continue
		}
		recs[i] = r
	}
	if len(missing) == 0 {
		return recs, nil
	}
	// Add, not Set: a concurrent invalidation must win over our creation.
	if err := c.storeWrite(ctx, "add", missing, c.store.Add); err != nil {
		return nil, err
	}
	mkeys := make([]string, len(missing))
	for i, it := range missing {
		mkeys[i] = it.Key
	}
	again, err := c.storeGet(ctx, mkeys)
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		r, ok := decodeRecord(again[j])
		if !ok {
			return nil, fmt.Errorf("%w: tag record %q vanished after Add", ErrCorrupt, keys[i])
		}
		recs[i] = r
	}
	return recs, nil
}

// End finishes b. A miss stores value, unless it was prevented or anything
// it depends on was invalidated (or locked by a transaction) since its data
// was read; value is copied, the caller keeps it. A hit stores nothing.
// Either way b's tags (with their versions) and staleness pass to its
// parent. The error, if any, is a store error, already counted and logged.
func (b *Build) End(ctx context.Context, value []byte) error {
	b.mu.Lock()
	if b.ended {
		b.mu.Unlock()
		return fmt.Errorf("tmplcache: Build.End called twice for %q", b.Key())
	}
	b.ended = true
	b.mu.Unlock()
	defer b.leaveFlight()

	switch {
	case b.key == "":
		b.passScopeUp()
		return nil
	case b.hit:
		if b.parent != nil {
			b.parent.includeDeps(b.deps, false) // a hit's deps no longer change
		}
		return nil
	}
	deps, err := b.commit(ctx, value)
	if b.parent != nil {
		b.parent.includeDeps(deps, b.isStale())
	}
	return err
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

// Abort finishes b without storing anything (its body failed).
func (b *Build) Abort() {
	b.mu.Lock()
	b.ended = true
	b.mu.Unlock()
	b.leaveFlight()
}

func (b *Build) abortUnlessDone() {
	b.mu.Lock()
	ended := b.ended
	b.mu.Unlock()
	if !ended {
		b.Abort()
	}
}

func (b *Build) leaveFlight() {
	if f := b.flight; f != nil {
		b.flight = nil
		b.c.flights.leave(b.key, f)
	}
}

func (b *Build) isStale() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stale || b.unsure
}

// commit decides whether the built value may be stored, and stores it.
// It returns the deps (with the versions the value was built against) for
// the parent.
func (b *Build) commit(ctx context.Context, value []byte) ([]dep, error) {
	c := b.c
	b.mu.Lock()
	deps := slices.Clone(b.deps)
	prevented, stale, unsure, preRead := b.prevented, b.stale, b.unsure, b.preRead
	b.mu.Unlock()

	slices.SortFunc(deps, func(x, y dep) int { return strings.Compare(x.key, y.key) })
	switch {
	case stale:
		c.stats.skippedStale.Add(1)
		return deps, nil
	case unsure:
		c.stats.skippedUnsure.Add(1)
		return deps, nil
	}
	var recs []record
	if len(deps) > 0 {
		keys := make([]string, len(deps))
		for i, d := range deps {
			keys[i] = d.key
		}
		var err error
		if recs, err = c.readRecords(ctx, keys); err != nil {
			c.stats.skippedUnsure.Add(1)
			b.markUnsure()
			return deps, err
		}
	}
	now := c.now()
	limit := b.horizon().Add(-c.cfg.skew).UnixNano()
	checkKnown := preRead || b.parent != nil
	for i := range deps {
		d, r := &deps[i], recs[i]
		switch {
		case c.cfg.naiveVersions:
		case r.locked(now) && !b.ownLock(r.lockedUntil):
			c.stats.skippedLocked.Add(1)
			b.markUnsure()
			return deps, nil
		case d.hasVer && r.ver != d.ver:
			b.markStale()
			return deps, nil
		case (d.timeCheck || checkKnown) && r.time() > limit:
			b.markStale()
			return deps, nil
		}
		d.ver, d.hasVer = r.ver, true
	}
	if prevented {
		c.stats.prevented.Add(1)
		return deps, nil
	}
	ttl := b.opts.ttl
	if ttl == 0 {
		ttl = c.cfg.defaultTTL
	}
	var expires int64
	if ttl > 0 {
		expires = now.Add(ttl).UnixNano()
	}
	item := []Item{{Key: b.key, Value: encodeEntry(expires, deps, value), TTL: ttl}}
	if err := c.storeWrite(ctx, "set", item, c.store.Set); err != nil {
		return deps, err
	}
	c.stats.stores.Add(1)
	return deps, nil
}

func (b *Build) markStale() {
	b.c.stats.skippedStale.Add(1)
	b.mu.Lock()
	b.stale = true
	b.mu.Unlock()
}

func (b *Build) markUnsure() {
	b.mu.Lock()
	b.unsure = true
	b.mu.Unlock()
}

// ownLock reports a lock taken by b's own transaction: a transaction reads
// its own writes, as the seed does, and its end invalidates whatever it
// stored meanwhile.
func (b *Build) ownLock(lock int64) bool {
	return b.tx != nil && b.tx.lock == lock
}
