package cachetagging

import (
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"sync"
	"sync/atomic"
	"text/template/parse"

	"github.com/cachetagging/cachetagging/internal/marker"
	"github.com/cachetagging/cachetagging/nocache"
	"github.com/cachetagging/cachetagging/phased"
	"github.com/cachetagging/cachetagging/tmplcache"
)

// Renderer caches fragments of html/template output in a [tmplcache.Cache].
// Make one with [New], register its [Renderer.FuncMap] before parsing,
// call [Renderer.Prepare] after parsing, then execute with
// [Renderer.ExecuteTemplate]. It is safe for concurrent use.
type Renderer struct {
	c      *tmplcache.Cache
	err    atomic.Pointer[error] // configuration error: Prepare and ExecuteTemplate return it
	logger *slog.Logger

	// tsigner signs the markers consumed within an execution, under a
	// random per-process key that never leaves the process. A tag bound to
	// its payload (not a bare nonce) keeps a forged header from borrowing
	// the tag of the genuine marker that follows it.
	tsigner  *marker.Signer
	holes    *nocache.Registry
	sections phased.Sections
	blocks   blockTable

	mu       sync.Mutex
	prepared map[*parse.Tree]bool
	warned   sync.Map // keys already warned about (see warnHiddenHoles)
}

// Option configures a [Renderer].
type Option func(*options)

type options struct {
	secret []byte
}

// MinSecretLen is the shortest key [WithSecret] accepts.
const MinSecretLen = 16

// WithSecret sets the key that authenticates the markers stored inside
// cached fragments (nocache and phased holes). Every process sharing one
// store must use the same key; with a shared store it is required. With an
// in-process store a random key is made when none (or an empty one) is
// given.
func WithSecret(key []byte) Option {
	return func(o *options) { o.secret = append([]byte(nil), key...) }
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
	r := &Renderer{c: c, prepared: map[*parse.Tree]bool{}}
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
	r.holes = nocache.NewRegistry(o.secret) // empty: a random in-process key
	r.addErr(r.holes.Handle(phased.HandlerName, r.sections.Handler(r.executeSection)))
	return r
}

// Cache returns the cache r stores fragments in.
func (r *Renderer) Cache() *tmplcache.Cache { return r.c }

// Holes returns the registry of r's nocache handlers, for expanding
// phase-1 output outside ExecuteTemplate (see [nocache.Registry.Expand]).
func (r *Renderer) Holes() *nocache.Registry { return r.holes }

// Nocache registers fn as the handler of {{ nocache "name" ... }}. A name
// may be registered once: a duplicate is reported by [Renderer.Prepare] and
// [Renderer.ExecuteTemplate].
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

// FuncMap returns the template functions: cache_tagging, end_cache_tagging,
// cache_add_tags, cache_tagging_prevent, cache_timeout, nocache, phased and
// end_phased, plus the internal ones Prepare rewrites blocks into. Add it
// with Funcs before parsing.
func (r *Renderer) FuncMap() template.FuncMap {
	return template.FuncMap{
		identBlock:              notPrepared(identBlock),
		identEndBlock:           notPrepared(identEndBlock),
		identPhased:             notPrepared(identPhased),
		identEndPhased:          notPrepared(identEndPhased),
		"cache_add_tags":        r.addTags,
		"cache_tagging_prevent": r.prevent,
		"cache_timeout":         cacheTimeout,
		"nocache":               r.holes.Func(),
		fnOpen:                  r.open,
		fnBegin:                 r.begin,
		fnEnd:                   r.end,
		fnHit:                   r.hit,
		fnPhased:                r.phased,
	}
}
