package nocache

import (
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
// It runs on every request that outputs the hole, cached or not.
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
)

// MaxDepth bounds how deep holes may nest: a handler's output is expanded
// again (it may hold holes), up to this depth.
const MaxDepth = 4

const maxNameLen = 256

// Registry holds named handlers and the key markers are signed with. It is
// safe for concurrent use; handlers may be added at any time.
type Registry struct {
	signer   *marker.Signer
	auth     func(marker.Marker) bool // r.authentic, bound once
	mu       sync.Mutex               // serializes writers of handlers
	handlers atomic.Pointer[map[string]Func]
	seen     verifiedCalls
}

// NewRegistry returns an empty registry signing markers with key. Every
// process that expands markers another one wrote (a shared cache) must use
// the same key. An empty key makes a random one: markers then verify in
// this process only.
func NewRegistry(key []byte) *Registry {
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key) // crypto/rand.Read never fails
	}
	r := &Registry{signer: marker.NewSigner(key)}
	r.auth = r.authentic
	r.handlers.Store(&map[string]Func{})
	return r
}

// Handle registers fn under name. A name may be registered once.
func (r *Registry) Handle(name string, fn Func) error {
	if name == "" || len(name) > maxNameLen || fn == nil {
		return fmt.Errorf("%w: %q (1 to %d bytes, with a non-nil Func)", ErrBadName, name, maxNameLen)
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

// Verify reports whether raw is exactly one authentic marker of r's.
func (r *Registry) Verify(raw []byte) bool {
	m, ok := marker.ParseOne(raw)
	return ok && r.authentic(m)
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
	out := r.newWriter(ctx, w, call.Live, depth+1)
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %q: %v", ErrHandlerPanic, call.Name, p)
		}
	}()
	if err := fn(ctx, out, call); err != nil {
		return fmt.Errorf("nocache: handler %q: %w", call.Name, err)
	}
	return out.Close()
}
