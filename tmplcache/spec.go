package tmplcache

import (
	"context"
	"slices"
)

// Spec is a key with its options, checked once. An engine that reads the
// same key with the same options over and over (a template block whose key
// and tags are constants) prepares a Spec once and begins each read from
// it, without applying the options or building the store key again. A Spec
// is immutable and safe for concurrent use.
type Spec struct {
	c       *Cache
	key     string   // store key
	tagKeys []string // store keys of the tags' records
	// prefetch is what a lookup also reads on a Prefetcher store: the
	// records of tagKeys, then (on a Sequencer) the clock.
	prefetch []string
	opts     setOptions
	err      error
}

// Spec prepares key with opts for [Spec.Begin]. Bad input (an empty key,
// a bad tag or option) is reported by each Begin.
func (c *Cache) Spec(key string, opts ...SetOption) *Spec {
	s := &Spec{c: c}
	s.opts.apply(opts)
	switch {
	case c.err != nil:
		s.err = c.err
	case key == "":
		s.err = ErrEmptyKey
	case s.opts.err != nil:
		s.err = s.opts.err
	default:
		s.err = checkTags(s.opts.tags)
	}
	if s.err != nil {
		return s
	}
	s.key = c.entryKey(key)
	s.tagKeys = make([]string, len(s.opts.tags))
	for i, t := range s.opts.tags {
		s.tagKeys[i] = c.tagKey(t)
	}
	if c.pre != nil && len(s.tagKeys) > 0 {
		s.prefetch = s.tagKeys
		if c.seq != nil {
			s.prefetch = append(slices.Clip(s.tagKeys), c.clockKey)
		}
	}
	return s
}

// WithKey returns a Spec of key with s's options, which are not checked
// again: an engine whose reads differ only by key (a template block whose
// key is computed and whose tags are constants) prepares its options once
// and derives a Spec per key, for one string. It is a value: one that only
// peeks ([Spec.PeekInto]) can stay on its caller's stack.
func (s *Spec) WithKey(key string) Spec {
	n := *s
	switch {
	case s.err != nil:
	case key == "":
		n.err = ErrEmptyKey
	default:
		n.key = s.c.entryKey(key)
	}
	return n
}

// Begin is [Cache.Begin] of the prepared key and options.
func (s *Spec) Begin(ctx context.Context) (*Build, error) {
	if s.err != nil {
		return nil, s.err
	}
	return s.c.begin(ctx, s)
}

// Peek is Begin's fast path: a hit when the entry is fresh and no
// early-recomputation draw could rebuild it yet, or nil. It never waits and
// never starts a build; after a nil Peek, Begin decides (reading again: the
// entry may be missing, within its grace, near its expiry, or stored since).
// End a hit like any other: it passes the entry's tags to the build that
// encloses it. Stats counts a read once either way.
//
// Peek suits an engine whose hit path is cheaper when it need not handle
// anything else (a template block: one call, one print), on a store where a
// read is cheap: on a shared store a miss then costs two reads, two round
// trips, where Begin alone costs one.
func (s *Spec) Peek(ctx context.Context) *Build {
	b := new(Build)
	if !s.PeekInto(ctx, b) {
		return nil
	}
	return b
}

// PeekInto is [Spec.Peek] into b, a Build the caller owns: an engine that
// keeps its Builds with what holds them, and reuses them once ended, pays
// no allocation for a hit. b is overwritten, so it must be new or ended
// (and no longer read by anyone). It reports whether b is now a hit; after
// false, b holds nothing to End.
func (s *Spec) PeekInto(ctx context.Context, b *Build) bool {
	if s.err != nil {
		return false
	}
	c := s.c
	now := c.now()
	var e entryView
	st, _ := c.load(ctx, s.key, s.opts.check, now, true, nil, &e)
	if st.readState != fresh || c.mayRecomputeEarly(e.meta, now) {
		return false
	}
	c.stats.hits.Add(1)
	*b = Build{c: c, key: s.key, parent: Current(ctx), start: now} // a hit needs neither its spec nor a transaction
	b.setHit(&e, false)
	return true
}

// newBuild returns a build of s, not yet started.
func (s *Spec) newBuild(ctx context.Context) *Build {
	b := &Build{c: s.c, key: s.key, spec: s, tx: activeTx(ctx)}
	b.deps = b.depBuf[:0]
	return b
}
