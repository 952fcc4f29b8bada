package cachetagging

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"text/template/parse"

	"github.com/cachetagging/cachetagging/internal/marker"
	"github.com/cachetagging/cachetagging/internal/sections"
	"github.com/cachetagging/cachetagging/nocache"
	"github.com/cachetagging/cachetagging/tmplcache"
)

// Renderer caches fragments of html/template output in a [tmplcache.Cache].
// Make one with [New], register its [Renderer.FuncMap] and its nocache
// handlers ([Renderer.Nocache]) before parsing, call [Renderer.Prepare]
// after parsing, then execute with [Renderer.ExecuteTemplate]. It is safe
// for concurrent use.
type Renderer struct {
	c      *tmplcache.Cache
	err    atomic.Pointer[error] // configuration error: Prepare and ExecuteTemplate return it
	logger *slog.Logger

	// tsigner signs the AddTags and Prevent markers consumed within an
	// execution, under a random per-process key that never leaves the
	// process. A tag bound to its payload (not a bare nonce) keeps a forged
	// header from borrowing the tag of the genuine marker that follows it.
	tsigner  *marker.Signer
	holes    *nocache.Registry
	sections sections.Sections
	blocks   blockTable
	active   atomic.Int32 // executions running: see executing

	debug         func(context.Context) bool
	digests       bool
	checkFragment tmplcache.SetOption // usableFragment, as an option built once

	mu         sync.Mutex
	prepared   map[*parse.Tree]bool
	sources    map[string]string      // name → source of every template prepared
	pagePrefix atomic.Pointer[string] // what every page key starts with: "page:", the digest of sources, ":"

	unusableLogged atomic.Bool
	warned         boundedSet // keys already warned about (see warnHiddenHoles)
}

// Option configures a [Renderer].
type Option func(*options)

type options struct {
	secret    []byte
	previous  [][]byte
	debug     func(context.Context) bool
	noDigests bool
}

// MinSecretLen is the shortest key [WithSecret] accepts.
const MinSecretLen = 16

// WithSecret sets the key that authenticates the markers stored inside
// cached fragments (nocache and phased holes). Every process sharing one
// store must use the same key; with a shared store it is required. With an
// in-process store a random key is made when none (or an empty one) is
// given. To change it, see [WithPreviousSecrets].
func WithSecret(key []byte) Option {
	return func(o *options) { o.secret = append([]byte(nil), key...) }
}

// WithPreviousSecrets rotates the secret: holes signed with any of keys
// are still accepted, new ones are signed with [WithSecret]'s key. Deploy
// the new key as the secret with the old one here on every process, and
// drop the old one once what it signed has expired. An entry whose holes
// verify under none of the keys is a miss, rebuilt and stored over.
func WithPreviousSecrets(keys ...[]byte) Option {
	return func(o *options) {
		for _, k := range keys {
			o.previous = append(o.previous, append([]byte(nil), k...))
		}
	}
}

// WithoutDigests keeps the digest of each block's source out of its key
// (see [Renderer.Prepare]): for keys another program shares, whose
// templates differ from these. A deploy that changes a block then serves
// its old entries until they expire or their tags are invalidated. One
// block can opt out alone with {{ cache_tagging KEY ... (cache_digest
// false) }}.
func WithoutDigests() Option {
	return func(o *options) { o.noDigests = true }
}

// fragmentPrefix keeps fragment keys apart from keys the application
// stores in the same cache itself.
const fragmentPrefix = "fragment:"

// New returns a Renderer caching in c. Configuration errors (a shared store
// without [WithSecret], a short secret) do not panic: [Renderer.Prepare]
// and [Renderer.ExecuteTemplate] return them.
func New(c *tmplcache.Cache, opts ...Option) *Renderer {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	r := &Renderer{c: c, prepared: map[*parse.Tree]bool{}, sources: map[string]string{},
		debug: o.debug, digests: !o.noDigests}
	var errs []error
	switch {
	case c == nil:
		errs = append(errs, fmt.Errorf("%w: New needs a *tmplcache.Cache", ErrConfig))
		c = tmplcache.New(nil)
		r.c = c
	case len(o.secret) == 0 && c.Shared():
		errs = append(errs, fmt.Errorf("%w: the store is shared with other processes: "+
			"give every process the same key with WithSecret (cached holes must verify on all of them)", ErrConfig))
	case len(o.secret) > 0 && len(o.secret) < MinSecretLen:
		errs = append(errs, fmt.Errorf("%w: WithSecret: the key has %d bytes, want at least %d", ErrConfig, len(o.secret), MinSecretLen))
	}
	r.addErr(errors.Join(errs...))
	r.logger = c.Logger()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	r.tsigner = marker.NewSigner(key)
	r.holes = nocache.NewRegistry(o.secret, o.previous...) // empty secret: a random in-process key
	r.addErr(r.holes.Handle(sections.HandlerName, r.sections.Handler(r.executeSection)))
	r.checkFragment = tmplcache.Check(r.usableFragment)
	r.setPagePrefix(digestOf(nil))
	return r
}

// setPagePrefix makes digest, the digest of every template r prepared,
// part of every page key from now on.
func (r *Renderer) setPagePrefix(digest string) {
	prefix := pagePrefix + digest + ":"
	r.pagePrefix.Store(&prefix)
}

// Cache returns the cache r stores fragments in.
func (r *Renderer) Cache() *tmplcache.Cache { return r.c }

// Holes returns the registry of r's nocache handlers, for expanding
// phase-1 output outside ExecuteTemplate (see [nocache.Registry.Expand]).
func (r *Renderer) Holes() *nocache.Registry { return r.holes }

// Nocache registers fn as the handler of {{ nocache "name" ... }}. Register
// handlers before [Renderer.Prepare], which reports a template naming one
// that does not exist. A name may be registered once. Nocache returns no
// error so that setup code reads as a list: a duplicate or nil handler is
// returned by Prepare and ExecuteTemplate.
func (r *Renderer) Nocache(name string, fn nocache.Func) {
	if err := r.holes.Handle(name, fn); err != nil {
		r.addErr(fmt.Errorf("%w: Nocache: %w", ErrConfig, err))
	}
}

// addErr records a configuration error (nil: none).
func (r *Renderer) addErr(err error) {
	if err == nil {
		return
	}
	for {
		old := r.err.Load()
		joined := err
		if old != nil {
			joined = errors.Join(*old, err)
		}
		if r.err.CompareAndSwap(old, &joined) {
			return
		}
	}
}

// configErr is read on every execution: an atomic load, no lock.
func (r *Renderer) configErr() error {
	if p := r.err.Load(); p != nil {
		return *p
	}
	return nil
}

// warnHiddenHoles says, once per key (for a bounded number of keys), why
// an enclosing build is never stored: holes ran before it could see them.
func (r *Renderer) warnHiddenHoles(b *tmplcache.Build) {
	for ; b != nil && b.Key() == ""; b = b.Parent() {
	}
	if b == nil {
		return
	}
	if r.warned.add(b.Key()) {
		r.logger.Warn("cachetagging: holes were expanded into output a cache stores, so it is never stored "+
			"(a writer wrapped around CachePage's, or ExecuteTemplate inside a Fetch fill?)", "key", b.Key())
	}
}

// boundedSet remembers up to maxWarned strings: keys come from requests,
// and no map keyed by client input may grow without bound. Once full, it
// reports nothing new.
type boundedSet struct {
	mu sync.Mutex
	m  map[string]struct{}
}

const maxWarned = 1024

// add reports whether s is new (and remembered).
func (b *boundedSet) add(s string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.m[s]; ok || len(b.m) >= maxWarned {
		return false
	}
	if b.m == nil {
		b.m = make(map[string]struct{})
	}
	b.m[s] = struct{}{}
	return true
}
