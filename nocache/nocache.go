package nocache

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cachetagging/cachetagging/internal/marker"
)

// Func renders one hole: it writes the per-request content for call to w.
// It runs on every request that outputs the hole, cached or not. Like an
// http.ResponseWriter, w must not be used once the function returns.
type Func func(ctx context.Context, w io.Writer, call Call) error

// Call is one hole to render.
//
// Args is the handler's own slice, but the maps and slices inside it may be
// shared with other calls of the same hole: do not modify them.
type Call struct {
	Name string // the handler's name
	Args []any  // the arguments given in the template, after a JSON round trip
	Live any    // this request's live data
}

// Errors. Errors returned by this package wrap one of these.
var (
	ErrUnknownHandler   = errors.New("nocache: unknown handler")
	ErrDuplicateHandler = errors.New("nocache: handler registered twice")
	ErrBadName          = errors.New("nocache: bad handler name")
	ErrBadArgs          = errors.New("nocache: arguments cannot be serialized")
	ErrHandlerPanic     = errors.New("nocache: handler panicked")
	ErrTooDeep          = errors.New("nocache: holes nested too deep")
	ErrNotAMarker       = errors.New("nocache: not one authentic marker")
	ErrNilHandler       = errors.New("nocache: nil handler")
	ErrTooLarge         = errors.New("nocache: arguments too large")
)

// MaxDepth bounds how deep holes may nest: a handler's output is expanded
// again (it may hold holes), up to this depth.
const MaxDepth = 4

const maxNameLen = 256

// Registry holds named handlers and the keys markers are signed with. It
// is safe for concurrent use; handlers may be added at any time.
type Registry struct {
	signer   *marker.Signer           // signs new markers
	verifier []*marker.Signer         // accepts markers: the signer's key, then the previous ones
	auth     func(marker.Marker) bool // r.authentic, bound once
	mu       sync.Mutex               // serializes writers of handlers
	handlers atomic.Pointer[map[string]Func]
	seen     verifiedCalls
}

// NewRegistry returns an empty registry signing markers with key and
// accepting markers signed with key or any of previous (key rotation: put
// the new key first and keep the old ones until what they signed has left
// the cache). Every process that expands markers another one wrote (a
// shared cache) must know the key they were signed with. An empty key
// makes a random one: markers then verify in this process only.
func NewRegistry(key []byte, previous ...[]byte) *Registry {
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key) // crypto/rand.Read never fails
	}
	r := &Registry{signer: marker.NewSigner(key)}
	r.verifier = append(r.verifier, r.signer)
	for _, k := range previous {
		if len(k) > 0 {
			r.verifier = append(r.verifier, marker.NewSigner(k))
		}
	}
	r.auth = r.authentic
	r.handlers.Store(&map[string]Func{})
	return r
}

// Handle registers fn under name. A name may be registered once.
func (r *Registry) Handle(name string, fn Func) error {
	if fn == nil {
		return fmt.Errorf("%w for %q", ErrNilHandler, name)
	}
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("%w: %q (1 to %d bytes)", ErrBadName, name, maxNameLen)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.handlers.Load()
	if _, dup := old[name]; dup {
		return fmt.Errorf("%w: %q", ErrDuplicateHandler, name)
	}
	next := make(map[string]Func, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[name] = fn
	r.handlers.Store(&next)
	return nil
}

func (r *Registry) handler(name string) (Func, bool) {
	fn, ok := (*r.handlers.Load())[name]
	return fn, ok
}

// Has reports whether a handler is registered under name.
func (r *Registry) Has(name string) bool {
	_, ok := r.handler(name)
	return ok
}

// Marker returns the marker for a hole calling handler name with args. The
// arguments are serialized to JSON now (so they are captured as the cached
// content is built); the handler must be registered. The result is
// template.HTML so html/template writes it as it is in HTML text; the
// funcs of any other engine may write it as a plain string.
func (r *Registry) Marker(name string, args ...any) (template.HTML, error) {
	if _, ok := r.handler(name); !ok {
		return "", fmt.Errorf("%w %q", ErrUnknownHandler, name)
	}
	payload, err := encodeCall(name, args)
	if err != nil {
		return "", err
	}
	if len(payload) > marker.MaxStored {
		// A longer marker would read as text: refuse it now, loudly.
		return "", fmt.Errorf("%w: handler %q: %d bytes of arguments, at most %d", ErrTooLarge, name, len(payload), marker.MaxStored)
	}
	tag := r.signer.Tag(marker.Nocache, payload)
	return template.HTML(marker.Append(nil, marker.Nocache, payload, tag)), nil
}

// Func returns the template function writing a hole: register it as
// "nocache" ({{ nocache "name" args... }}).
func (r *Registry) Func() func(name string, args ...any) (template.HTML, error) {
	return r.Marker
}

// authentic reports whether a well-formed marker was signed with r's key.
func (r *Registry) authentic(m marker.Marker) bool {
	if m.Kind != marker.Nocache {
		return false
	}
	_, ok := r.verified(m)
	return ok
}

// Lookup returns the call the hole raw (one authentic marker) stands for.
// Its Args may be shared: do not modify them.
func (r *Registry) Lookup(raw []byte) (Call, error) {
	m, ok := marker.ParseOne(raw)
	if !ok {
		return Call{}, ErrNotAMarker
	}
	v, ok := r.verified(m)
	if !ok {
		return Call{}, ErrNotAMarker
	}
	return v.call, v.err
}

// Verify reports whether raw is exactly one authentic marker of r's.
func (r *Registry) Verify(raw []byte) bool {
	m, ok := marker.ParseOne(raw)
	return ok && r.authentic(m)
}

// Check reports whether every hole in src (phase-1 output, as a cache
// stored it) can run here: each well-formed marker must be authentic under
// r's keys, and name a registered handler; fn, if not nil, may check each
// call further (and must not modify it). A cache treats content that fails
// as a miss and builds it anew, so that an entry signed with a retired key
// or naming a handler a deploy removed is never printed or run.
func (r *Registry) Check(src []byte, fn func(Call) error) error {
	for {
		i := bytes.IndexByte(src, 0)
		if i < 0 {
			return nil
		}
		src = src[i:]
		m, ok := marker.Parse(src)
		if !ok || m.Kind != marker.Nocache {
			src = src[1:] // text
			continue
		}
		v, ok := r.verified(m)
		if !ok {
			return fmt.Errorf("%w: a hole signed with another key", ErrNotAMarker)
		}
		if v.err != nil {
			return v.err
		}
		if !r.Has(v.call.Name) {
			return fmt.Errorf("%w %q", ErrUnknownHandler, v.call.Name)
		}
		if fn != nil {
			if err := fn(v.call); err != nil {
				return err
			}
		}
		src = src[len(m.Raw):]
	}
}

// Run renders the hole that raw (one whole, authentic marker, as found in
// output) stands for, writing to w. Holes in the handler's output are
// expanded in turn.
func (r *Registry) Run(ctx context.Context, w io.Writer, raw []byte, live any) error {
	m, ok := marker.ParseOne(raw)
	if !ok {
		return ErrNotAMarker
	}
	return r.runMarker(ctx, w, m, live, 0)
}

func (r *Registry) runMarker(ctx context.Context, w io.Writer, m marker.Marker, live any, depth int) error {
	v, ok := r.verified(m)
	if !ok {
		return ErrNotAMarker
	}
	if v.err != nil {
		return v.err
	}
	call := Call{Name: v.call.Name, Args: slices.Clone(v.call.Args), Live: live}
	return r.call(ctx, w, call, depth)
}

// call runs a handler, expanding holes in its output, recovering a panic.
func (r *Registry) call(ctx context.Context, w io.Writer, call Call, depth int) (err error) {
	fn, ok := r.handler(call.Name)
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownHandler, call.Name)
	}
	if depth >= MaxDepth {
		return fmt.Errorf("%w: %q at depth %d", ErrTooDeep, call.Name, depth)
	}
	// The handler writes through a Writer that expands holes in its output
	// (nested holes); pooled, as a handler must not keep w once it returns.
	out := writers.Get().(*Writer)
	*out = Writer{r: r, ctx: ctx, w: w, live: call.Live, depth: depth + 1, sc: marker.Scanner{Authentic: r.auth}}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %q: %v", ErrHandlerPanic, call.Name, p)
			return // a panicking handler's writer is not reused
		}
		*out = Writer{}
		writers.Put(out)
	}()
	if err := fn(ctx, out, call); err != nil {
		return fmt.Errorf("nocache: handler %q: %w", call.Name, err)
	}
	return out.Close()
}
