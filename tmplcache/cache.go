package tmplcache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache/internal/entrykeys"
	"github.com/cachetagging/cachetagging/tmplcache/internal/layout"
)

// Cache is a tagged cache over a [Store]. It is safe for concurrent use.
// Make one with [New].
type Cache struct {
	store   Store
	entries EntryGetter  // store's one-round-trip entry read, or nil
	mem     *MemoryStore // the store, when it is one: read directly (see loadLocal)
	// sysClock: the cache reads the system clock, as a MemoryStore does,
	// so a read's one clock reading serves both.
	sysClock bool
	pre      Prefetcher     // a shared store that reads a build's records with its lookup, or nil
	known    entrykeys.Memo // the records entries named when this cache last read them (known.go)
	seq      Sequencer      // store's logical clock, or nil
	local    bool
	cfg      config
	err      error // configuration error, returned by every call

	entryPrefix string
	tagPrefix   string
	clockKey    string

	seen      atomic.Pointer[layout.Stamp] // see clock.go
	untracked sync.Once                    // the Info line about untracked builds

	stats   counters
	br      breaker
	flights flights
	pend    pending

	delayMu sync.Mutex
	delayed map[*time.Timer][]string // replica-lag passes not yet run
}

// New returns a cache over store; a nil store means a new [MemoryStore].
// Invalid options do not panic: every call on the cache then returns an
// error wrapping [ErrBadOption].
func New(store Store, opts ...Option) *Cache {
	var cfg config
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	cfg.fill()
	if store == nil {
		store = NewMemoryStore()
	}
	switch {
	case len(cfg.namespace) > maxNamespaceLen:
		cfg.errs = append(cfg.errs, fmt.Errorf("%w: WithNamespace: longer than %d bytes", ErrBadOption, maxNamespaceLen))
	case strings.ContainsAny(cfg.namespace, "{}"):
		cfg.errs = append(cfg.errs, fmt.Errorf("%w: WithNamespace(%q): braces are reserved", ErrBadOption, cfg.namespace))
	}
	c := &Cache{store: store, cfg: cfg, err: errors.Join(cfg.errs...)}
	c.entries, _ = store.(EntryGetter)
	c.mem, _ = store.(*MemoryStore)
	_, c.sysClock = cfg.clock.(systemClock)
	c.seq, _ = store.(Sequencer)
	if l, ok := store.(Local); ok {
		c.local = l.Local()
	}
	if p, ok := store.(Prefetcher); ok && !c.local && p.Prefetches() {
		c.pre = p
	}
	c.entryPrefix, c.tagPrefix, c.clockKey = keyPrefixes(cfg.namespace)
	c.br.threshold, c.br.cooldown = cfg.breakerFailures, cfg.breakerCooldown
	return c
}

// Shared reports whether the cache's store may be seen by other processes
// (any store that is not [Local]). Whatever is signed for a shared store
// must be signed with a key every process knows.
func (c *Cache) Shared() bool { return !c.local }

// Logger returns the logger the cache reports to ([WithLogger]).
func (c *Cache) Logger() *slog.Logger { return c.cfg.logger }

func (c *Cache) now() time.Time { return c.cfg.clock.Now() }

// keyPrefixes names a namespace's keys. Tag records and the clock share a
// Redis Cluster hash tag ("{ns/tags}"), so one server holds them all and
// can stamp records with its clock in one atomic script; entries have none
// and spread over the cluster.
func keyPrefixes(ns string) (entry, tag, clock string) {
	hashTag := "{" + ns + "/tags}"
	if ns != "" {
		ns += ":"
	}
	return ns + "e:", hashTag + ":", hashTag + "#clock"
}

func (c *Cache) entryKey(key string) string { return c.entryPrefix + key }

func (c *Cache) tagKey(tag string) string { return c.tagPrefix + tag }

func (c *Cache) tagName(key string) string { return key[len(c.tagPrefix):] }

// checkTags checks the tags of one entry: each, and how many.
func checkTags(tags []string) error {
	if len(tags) > MaxTags {
		return fmt.Errorf("%w: %d tags on one entry (at most %d)", ErrBadTag, len(tags), MaxTags)
	}
	return checkEachTag(tags)
}

func checkEachTag(tags []string) error {
	for _, t := range tags {
		if err := CheckTag(t); err != nil {
			return err
		}
	}
	return nil
}

// CheckTag reports, as an error wrapping [ErrBadTag], a tag the cache
// refuses: empty, or longer than [MaxTagLen]. A call given one fails as a
// whole; code that gathers tags from elsewhere (a template, a model) checks
// each with it first.
func CheckTag(tag string) error {
	if tag == "" || len(tag) > MaxTagLen {
		return fmt.Errorf("%w: %q (tags are 1 to %d bytes, got %d)", ErrBadTag, truncate(tag, 40), MaxTagLen, len(tag))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Get returns the value stored at key if it is present and every tag it
// depends on still has the version it was built against. A miss is
// (nil, false, nil). A store error is returned (and counted and logged) with
// ok false: callers may treat it as a miss. The returned slice is the
// caller's own.
//
// Inside a [Cache.Fetch] fill, a hit passes the entry's tags to the entry
// being built (see [Detach]).
func (c *Cache) Get(ctx context.Context, key string) (value []byte, ok bool, err error) {
	if c.err != nil {
		return nil, false, c.err
	}
	if key == "" {
		return nil, false, ErrEmptyKey
	}
	var e entryView
	ld, err := c.load(ctx, c.entryKey(key), nil, c.now(), false, nil, &e)
	st := ld.readState
	if st == inGrace {
		c.stats.misses.Add(1) // Get has nobody to rebuild it: never stale
	}
	if st != fresh {
		return nil, false, err
	}
	if p := Current(ctx); p != nil {
		p.includeTags(e.tags, false)
	}
	return append([]byte(nil), e.value...), true, nil
}

// readState is what a read found.
type readState int

const (
	missed  readState = iota
	fresh             // valid: serve it
	inGrace           // invalid, but its grace lets it be served while one reader rebuilds
)

// recBufs hold the tag records of one read while it is judged: a hit needs
// them no longer (its tags are read in place in the entry).
var recBufs = sync.Pool{New: func() any { return new([8][]byte) }}

// load reads and judges an entry, viewed in *e (left as it was on a miss).
// Its tags and value alias store memory. check, if set, may reject a value
// this reader cannot use. A peek counts nothing in Stats: the read that
// follows it, or the hit it returns, does. also are keys a Prefetcher
// store reads in the same round trip: their values come back in
// loaded.also.
func (c *Cache) load(ctx context.Context, skey string, check func([]byte) bool, now time.Time, peek bool, also []string, e *entryView) (loaded, error) {
	st, err := c.loadState(ctx, skey, check, now, also, e)
	if peek {
		return st, err
	}
	switch st.readState {
	case fresh:
		c.stats.hits.Add(1)
	case missed:
		c.stats.misses.Add(1)
	}
	if st.unusable {
		c.stats.unusable.Add(1)
	}
	return st, err
}

// loaded is what loadState found: unusable when the check rejected a
// value that was valid; also, the values a Prefetcher read along.
type loaded struct {
	readState
	unusable bool
	also     [][]byte
}

// loadState is load without the counting.
func (c *Cache) loadState(ctx context.Context, skey string, check func([]byte) bool, now time.Time, also []string, e *entryView) (loaded, error) {
	if c.pend.nonEmpty() {
		if err := c.replayPending(ctx); err != nil {
			// An invalidation we could not deliver may concern this entry.
			return loaded{}, err
		}
	}
	if c.mem != nil {
		return c.loadLocal(ctx, skey, check, now, e)
	}
	buf := recBufs.Get().(*[8][]byte)
	defer func() {
		clear(buf[:])
		recBufs.Put(buf)
	}()
	raw, recs, alsoVals, err := c.readShared(ctx, skey, buf[:0], also)
	if err != nil {
		return loaded{}, err
	}
	st := c.judgeRead(skey, raw, recs, check, now, e)
	st.also = alsoVals
	return st, nil
}

// loadLocal is loadState on a MemoryStore, the commonest hit of all: a
// direct call, the records gathered on the stack, and one clock reading
// for the cache and the store when both read the system clock.
func (c *Cache) loadLocal(ctx context.Context, skey string, check func([]byte) bool, now time.Time, e *entryView) (loaded, error) {
	_, cancel, err := c.callCtx(ctx) // no timeout for a local store: the breaker's say only
	if err != nil {
		return loaded{}, err
	}
	var at int64
	if c.sysClock {
		at = now.UnixNano()
	}
	var buf [8][]byte
	raw, recs, r, err := c.mem.getEntry(skey, buf[:0], &at)
	if err = c.done(ctx, cancel, "get", err); err != nil {
		return loaded{}, err
	}
	if r != nil {
		if cur := r.current.Load(); cur != nil {
			// Every version was found current, and no record changed since.
			*e = *cur
			return c.judgeChecked(e, judgeTimes(e.meta, 0, now.UnixNano()), check), nil
		}
	}
	st := c.judgeRead(skey, raw, recs, check, now, e)
	if r != nil && st.readState == fresh {
		cur := *e
		r.current.Store(&cur)
	}
	return st, nil
}

// judgeRead judges an entry read with its tag records, viewed in *e.
func (c *Cache) judgeRead(skey string, raw []byte, recs [][]byte, check func([]byte) bool, now time.Time, e *entryView) loaded {
	if raw == nil {
		return loaded{}
	}
	v, err := viewEntry(raw)
	if err != nil {
		// An entry of another format (written before an upgrade) or
		// damaged: a miss, rebuilt over.
		c.cfg.logger.Debug("tmplcache: unreadable entry is a miss", "key", skey, "err", err)
		return loaded{}
	}
	if len(recs) != v.tags.Len() {
		err = fmt.Errorf("%w: store returned %d tag records for %d tags", ErrCorrupt, len(recs), v.tags.Len())
		c.cfg.logger.Warn("tmplcache: entry read failed", "key", skey, "err", err)
		return loaded{}
	}
	*e = v
	return c.judgeChecked(e, c.judge(e, recs, now), check)
}

// judgeChecked is st, unless check rejects the value of an entry it
// would serve.
func (c *Cache) judgeChecked(e *entryView, st readState, check func([]byte) bool) loaded {
	if st != missed && check != nil && !check(e.value) {
		return loaded{unusable: true}
	}
	return loaded{readState: st}
}

// judge tells whether an entry is fresh (every tag still at the version it
// was built against, not expired), or within its grace: expired or
// invalidated less than its grace ago. A tag record that is missing or
// unreadable leaves no grace: nothing says when it changed.
func (c *Cache) judge(e *entryView, recs [][]byte, at time.Time) readState {
	now := at.UnixNano()
	var changed int64 // the latest invalidation of a tag that changed
	for i, tags := 0, e.tags; tags.Next(); i++ {
		if layout.HasVersion(recs[i], tags.Version()) {
			continue
		}
		t := layout.RecordTime(recs[i])
		if t == 0 || e.meta.Grace <= 0 {
			return missed
		}
		changed = max(changed, t)
	}
	return judgeTimes(e.meta, changed, now)
}

// judgeTimes is judge once the versions are compared: changed is the
// latest invalidation of a tag that changed (0: none did), now the time of
// the read, both Unix nanoseconds.
func judgeTimes(m layout.Meta, changed, now int64) readState {
	expired := m.Expires != 0 && now >= m.Expires
	if changed == 0 && !expired {
		return fresh
	}
	limit := now - int64(m.Grace)
	if (expired && m.Expires < limit) || (changed != 0 && changed < limit) {
		return missed
	}
	return inGrace
}

func (c *Cache) readEntry(ctx context.Context, skey string, recs [][]byte) ([]byte, [][]byte, error) {
	if c.entries != nil {
		return c.storeGetEntry(ctx, skey, recs)
	}
	vals, err := c.storeGet(ctx, []string{skey})
	if err != nil || vals[0] == nil {
		return nil, nil, err
	}
	keys, err := EntryTagKeys(vals[0])
	if err != nil {
		return vals[0], nil, nil // load reports the corruption
	}
	if len(keys) == 0 {
		return vals[0], nil, nil
	}
	recs, err = c.storeGet(ctx, keys)
	return vals[0], recs, err
}

// Set stores value at key with the tags given by [Tags]. The tags' versions
// are read now, so a value computed from data read before a concurrent
// invalidation can be stored as valid: use [Cache.Fetch] for values built
// from data that may change (it reads versions before the fill runs).
// Inside a Fetch fill, Set's tags are checked against the fill's start.
func (c *Cache) Set(ctx context.Context, key string, value []byte, opts ...SetOption) error {
	s := c.Spec(key, opts...)
	if s.err != nil {
		return s.err
	}
	b := s.newBuild(ctx)
	b.start = c.now()
	b.parent = Current(ctx)
	b.given = true
	b.mu.Lock()
	for _, k := range s.tagKeys {
		b.dep(k).timeCheck = b.parent != nil
	}
	b.mu.Unlock()
	return b.End(ctx, value)
}

// Delete removes the entry stored at key.
func (c *Cache) Delete(ctx context.Context, key string) error {
	if c.err != nil {
		return c.err
	}
	if key == "" {
		return ErrEmptyKey
	}
	cctx, cancel, err := c.callCtx(ctx)
	if err != nil {
		return err
	}
	err = c.store.Delete(cctx, []string{c.entryKey(key)})
	return c.done(ctx, cancel, "delete", err)
}

// Fetch returns the value at key, building it with fill on a miss and
// storing it with the given options. fill receives a context that carries
// the entry being built: [AddTags] and [Prevent] on it, and every Get, Set
// and Fetch made with it, contribute to the entry. Concurrent misses of one
// key in this process run fill once while the others wait (at most
// [WithFlightWait]) and then read the stored value.
//
// An entry whose data may predate an invalidation of one of its tags is
// never stored: Fetch takes its clock reading before fill runs (see the
// package documentation), and checks every tag before storing. A fill error is returned and nothing is
// stored. Store errors never fail Fetch: the value is built and returned
// uncached, and the error is counted and logged.
func (c *Cache) Fetch(ctx context.Context, key string,
	fill func(ctx context.Context) ([]byte, error), opts ...SetOption) ([]byte, error) {
	b, err := c.Begin(ctx, key, opts...)
	if err != nil {
		return nil, err
	}
	if b.Hit() {
		v := append([]byte(nil), b.value...)
		_ = b.End(ctx, nil)
		return v, nil
	}
	defer b.abortUnlessDone() // fill panicked
	v, err := fill(b.Context(ctx))
	if err != nil {
		b.Abort()
		return nil, err
	}
	_ = b.End(ctx, v) // store errors are counted and logged; the value stands
	return v, nil
}

// Close runs every pending replica-lag pass ([WithReplicaDelay]) at once.
// It does not close the store, which belongs to the caller. Close is
// idempotent; the cache stays usable afterwards.
func (c *Cache) Close() error {
	c.delayMu.Lock()
	var tags []string
	for t, ts := range c.delayed {
		if t.Stop() {
			tags = append(tags, ts...)
		}
	}
	c.delayed = nil
	c.delayMu.Unlock()
	if len(tags) == 0 {
		return nil
	}
	return c.invalidate(context.Background(), tags, nil, 0)
}
