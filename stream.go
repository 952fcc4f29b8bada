package cachetagging

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"html/template"
	"io"
	"sync"

	"github.com/cachetagging/cachetagging/internal/marker"
	"github.com/cachetagging/cachetagging/tmplcache"
)

// Phase1Writer is implemented by writers that take phase-1 output — text
// with the holes' markers still in — and run phase 2 themselves (CachePage's
// response recorder, which stores the page with its holes). ExecuteTemplate
// writes to such a writer without expanding holes.
type Phase1Writer interface {
	io.Writer
	TakesPhase1()
}

// ExecuteTemplate executes the template named name of t's set with data,
// writing to w. Cached fragments are read or stored, every marker is
// consumed, and holes (nocache, phased) are expanded with data as their
// live data (or the value ctx carries from [WithLiveData]); w receives
// only the page. Output that holds no marker streams
// through untouched and unbuffered.
//
// Fragment tags and prevention reach the build ctx carries, if any
// ([tmplcache.Cache.Track], a [tmplcache.Cache.Fetch] fill, [CachePage]).
// A fragment whose body fails stores nothing and the error is returned;
// cache errors never fail the execution.
func (r *Renderer) ExecuteTemplate(ctx context.Context, w io.Writer,
	t *template.Template, name string, data any) error {
	if err := r.configErr(); err != nil {
		return err
	}
	return r.execute(ctx, w, t, name, data)
}

// executeSection runs a phased section at phase 2.
func (r *Renderer) executeSection(ctx context.Context, w io.Writer, t *template.Template, data any) error {
	return r.execute(tmplcache.Detach(ctx), w, t, "", data)
}

var streams = sync.Pool{New: func() any {
	s := &stream{}
	s.sc.Authentic = s.authentic
	return s
}}

// execute runs t's template name ("": t itself) through a stream.
func (r *Renderer) execute(ctx context.Context, w io.Writer, t *template.Template, name string, data any) error {
	live := data
	if v, ok := liveFrom(ctx); ok {
		live = v
	}
	s := streams.Get().(*stream)
	s.r, s.ctx, s.out, s.live, s.scope = r, ctx, w, live, tmplcache.Current(ctx)
	s.phase1, _ = w.(Phase1Writer)
	var err error
	if name == "" {
		err = t.Execute(s, data)
	} else {
		err = t.ExecuteTemplate(s, name, data)
	}
	err = s.finish(err)
	s.reset()
	return err
}

// reset readies s for the pool, keeping a modest capture buffer.
func (s *stream) reset() {
	buf := s.buf[:0]
	if cap(buf) > 64<<10 {
		buf = nil
	}
	auth := s.sc.Authentic
	*s = stream{buf: buf}
	s.sc.Authentic = auth
}

// stream is the per-execution processor between the template and w.
type stream struct {
	r      *Renderer
	ctx    context.Context
	out    io.Writer
	phase1 Phase1Writer // non-nil: out runs phase 2 itself
	live   any
	scope  *tmplcache.Build // what ctx carries: top-level fragments report to it
	sc     marker.Scanner

	stack []frame // open fragments, innermost last
	buf   []byte  // phase-1 content of the open fragments
	holes bool    // holes were expanded here, into output someone may store
	err   error
}

type frame struct {
	blk   *block
	start int // where its content starts in buf
}

func (s *stream) authentic(m marker.Marker) bool {
	if m.Kind.Stored() {
		// Run verifies again when it expands; here authenticity decides
		// only where the marker's bytes end.
		return s.r.holes.Verify(m.Raw)
	}
	return s.r.tsigner.Valid(m)
}

func (s *stream) Write(p []byte) (int, error) {
	if s.err != nil {
		s.abandon(p)
		return 0, s.err
	}
	if s.err = s.sc.Write(p, s); s.err != nil {
		return 0, s.err
	}
	return len(p), nil
}

// Text handles plain output.
func (s *stream) Text(p []byte) error {
	if len(s.stack) > 0 {
		s.buf = append(s.buf, p...)
	}
	_, err := s.out.Write(p)
	return err
}

// Marker handles an authentic marker.
func (s *stream) Marker(m marker.Marker) error {
	switch m.Kind {
	case marker.Begin:
		blk := s.r.blocks.claim(m.Payload)
		if blk == nil {
			return fmt.Errorf("cachetagging: fragment start of an unknown block")
		}
		blk.build.Adopt(s.ctx, s.parent())
		s.stack = append(s.stack, frame{blk: blk, start: len(s.buf)})
	case marker.End:
		return s.endFragment(m.Payload)
	case marker.Hit:
		blk := s.r.blocks.claim(m.Payload)
		if blk == nil {
			return fmt.Errorf("cachetagging: cached fragment of an unknown block")
		}
		blk.build.Adopt(s.ctx, s.parent())
		_ = blk.build.End(s.ctx, nil) // passes its tags up
		return s.content(blk.build.Value())
	case marker.AddTags:
		if b := s.parent(); b != nil {
			b.AddTags(decodeTags(m.Payload)...)
		}
	case marker.Prevent:
		if b := s.parent(); b != nil {
			b.Prevent()
		}
	case marker.Nocache:
		return s.hole(m.Raw)
	}
	return nil
}

// parent is the build fragments and tags report to: the innermost open
// fragment, else what ctx carries.
func (s *stream) parent() *tmplcache.Build {
	if n := len(s.stack); n > 0 {
		return s.stack[n-1].blk.build
	}
	return s.scope
}

// endFragment stores the innermost fragment's content.
func (s *stream) endFragment(payload []byte) error {
	n := len(s.stack)
	if n == 0 {
		return fmt.Errorf("cachetagging: end_cache_tagging without an open fragment")
	}
	top := s.stack[n-1]
	if len(payload) != 8 || binary.BigEndian.Uint64(payload) != top.blk.id {
		return errAt(top.blk.loc, ErrUnbalanced, "the fragment ends inside another one")
	}
	content := s.buf[top.start:]
	_ = top.blk.build.End(s.ctx, encodeFragment(content)) // store errors are counted and logged
	s.stack = s.stack[:n-1]
	if len(s.stack) == 0 {
		s.buf = s.buf[:0]
	}
	return nil
}

// A stored fragment is a flag byte (whether it holds holes, so a hit
// without holes is written without scanning it) and the phase-1 content.
const (
	fragPlain = 'p'
	fragHoles = 'h'
)

func encodeFragment(content []byte) []byte {
	v := make([]byte, 1+len(content))
	v[0] = fragPlain
	if bytes.IndexByte(content, 0) >= 0 {
		v[0] = fragHoles
	}
	copy(v[1:], content)
	return v
}

// content writes a cached fragment: into the open fragments as it is
// (holes in), to the page with its holes expanded.
func (s *stream) content(v []byte) error {
	if len(v) == 0 {
		return nil
	}
	flag, body := v[0], v[1:]
	if len(s.stack) > 0 {
		s.buf = append(s.buf, body...)
	}
	if flag != fragHoles || s.phase1 != nil {
		_, err := s.out.Write(body)
		return err
	}
	sc := marker.Scanner{Authentic: s.authentic}
	if err := sc.Write(body, (*expandOnly)(s)); err != nil {
		return err
	}
	return sc.Flush((*expandOnly)(s))
}

// expandOnly expands the holes of cached content (already in buf).
type expandOnly stream

func (e *expandOnly) Text(p []byte) error {
	_, err := e.out.Write(p)
	return err
}

func (e *expandOnly) Marker(m marker.Marker) error {
	if m.Kind != marker.Nocache {
		return nil // transient markers are never stored
	}
	return (*stream)(e).expand(m.Raw)
}

// hole handles a hole's marker in the template's own output.
func (s *stream) hole(raw []byte) error {
	if len(s.stack) > 0 {
		s.buf = append(s.buf, raw...)
	}
	if s.phase1 != nil {
		_, err := s.out.Write(raw)
		return err
	}
	return s.expand(raw)
}

func (s *stream) expand(raw []byte) error {
	s.holes = true
	return s.r.holes.Run(tmplcache.Detach(s.ctx), s.out, raw, s.live)
}

// abandon releases the blocks whose markers arrive after the stream failed
// (the template writes one more action before it notices): nobody else
// would, and their builds hold the key's flight.
func (s *stream) abandon(p []byte) {
	sc := marker.Scanner{Authentic: s.authentic}
	_ = sc.Write(p, (*abandoner)(s))
}

type abandoner stream

func (a *abandoner) Text([]byte) error { return nil }

func (a *abandoner) Marker(m marker.Marker) error {
	if m.Kind == marker.Begin || m.Kind == marker.Hit {
		if blk := a.r.blocks.claim(m.Payload); blk != nil {
			blk.build.Abort()
		}
	}
	return nil
}

// finish ends the execution: it flushes, closes or aborts fragments.
func (s *stream) finish(err error) error {
	if err == nil {
		err = s.sc.Flush(s)
	}
	if err == nil && len(s.stack) > 0 {
		err = errAt(s.stack[len(s.stack)-1].blk.loc, ErrUnbalanced, "the fragment never ended")
	}
	if err != nil {
		for _, f := range s.stack {
			f.blk.build.Abort()
		}
		s.stack = nil
		if s.scope != nil {
			s.scope.Prevent() // whatever encloses this execution holds a broken page
		}
		if s.err != nil {
			err = s.err // the processor's own error says more than text/template's wrapper
		}
		return err
	}
	if s.holes && s.phase1 == nil && s.scope != nil && storesOutput(s.scope) {
		// Per-request hole output went into output that an enclosing build
		// is about to store: it must not be.
		s.scope.Prevent()
		s.r.warnHiddenHoles(s.scope)
	}
	return nil
}

// warnHiddenHoles says, once per key, why an enclosing build is never
// stored: holes ran before it could see them.
func (r *Renderer) warnHiddenHoles(b *tmplcache.Build) {
	for ; b != nil && b.Key() == ""; b = b.Parent() {
	}
	if b == nil {
		return
	}
	if _, seen := r.warned.LoadOrStore(b.Key(), true); !seen {
		r.logger.Warn("cachetagging: holes were expanded into output a cache stores, so it is never stored "+
			"(a writer wrapped around CachePage's, or ExecuteTemplate inside a Fetch fill?)", "key", b.Key())
	}
}

func storesOutput(b *tmplcache.Build) bool {
	for ; b != nil; b = b.Parent() {
		if b.Key() != "" {
			return true
		}
	}
	return false
}
