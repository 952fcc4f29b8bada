package cachetagging

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"sync"

	"github.com/cachetagging/cachetagging/internal/marker"
	"github.com/cachetagging/cachetagging/tmplcache"
)

// phase1Writer is implemented by writers that take phase-1 output — text
// and holes apart — and run phase 2 themselves (CachePage's response
// recorder, which stores the page with its holes). ExecuteTemplate writes
// text to such a writer, hands it each hole as a hole, and gives it debug
// annotations apart, so they reach the client but never a stored page.
type phase1Writer interface {
	io.Writer
	hole(raw []byte) error
	annotate(s string)
	fail() // the execution failed: what it wrote is not a page
}

// ExecuteTemplate executes the template named name of t's set with data,
// writing to w. It is the only way to execute a prepared template (the
// template functions refuse to write markers otherwise, see
// [ErrNotRenderer]). Cached fragments are read or stored, every marker is
// consumed, and holes (nocache, phased) are run with data as their live
// data (or the value ctx carries from [WithLiveData]); w receives only the
// page. Output that holds no marker streams through untouched and
// unbuffered.
//
// Fragment tags and prevention reach the build ctx carries, if any
// ([Track], [tmplcache.Cache.Track], a [tmplcache.Cache.Fetch] fill,
// [CachePage]). A fragment whose body fails stores nothing and the error is
// returned; cache errors never fail the execution. Errors about the
// template are [*Error]s naming template, line and action.
func (r *Renderer) ExecuteTemplate(ctx context.Context, w io.Writer,
	t *template.Template, name string, data any) error {
	if err := r.configErr(); err != nil {
		return err
	}
	if t == nil {
		return fmt.Errorf("%w: ExecuteTemplate with a nil template", ErrConfig)
	}
	err := r.execute(ctx, w, t, name, data)
	if e, ok := errors.AsType[*Error](err); ok {
		return e // text/template's wrapper names our internal functions
	}
	return err
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
	r.active.Add(1)
	defer r.active.Add(-1)
	live := data
	if v, ok := liveFrom(ctx); ok {
		live = v
	}
	s := streams.Get().(*stream)
	s.r, s.ctx, s.out, s.live, s.scope = r, ctx, w, live, tmplcache.Current(ctx)
	s.phase1, _ = w.(phase1Writer)
	s.debug = r.debugOn(ctx)
	var err error
	if name == "" {
		err = t.Execute(s, data)
	} else {
		err = t.ExecuteTemplate(s, name, data)
	}
	err = s.finish(err)
	s.reset()
	streams.Put(s)
	return err
}

// reset readies s for the pool, keeping a modest capture buffer.
func (s *stream) reset() {
	buf := s.buf[:0]
	if cap(buf) > 64<<10 {
		buf = nil
	}
	stack, marks := s.stack[:0], s.marks[:0]
	auth := s.sc.Authentic
	*s = stream{buf: buf, stack: stack, marks: marks}
	s.sc.Authentic = auth
}

// stream is the per-execution processor between the template and w.
type stream struct {
	r      *Renderer
	ctx    context.Context
	out    io.Writer
	phase1 phase1Writer // non-nil: out runs phase 2 itself
	live   any
	debug  bool
	scope  *tmplcache.Build // what ctx carries: top-level fragments report to it
	sc     marker.Scanner

	stack []frame // open fragments, innermost last
	buf   []byte  // phase-1 content of the open fragments
	marks []mark  // the holes in buf
	found *block  // the block authentic found for the marker at hand
	holes bool    // holes were run here, into output someone may store
	err   error
}

type frame struct {
	blk   *block
	start int // where its content starts in buf
	marks int // where its holes start in marks
}

func (s *stream) authentic(m marker.Marker) bool {
	switch m.Kind {
	case marker.Nocache:
		// Run verifies again when it expands; here authenticity decides
		// only where the marker's bytes end.
		return s.r.holes.Verify(m.Raw)
	case marker.Begin, marker.Hit:
		// The scanner calls Marker right after: take the block now.
		s.found = s.r.blocks.take(m)
		return s.found != nil
	case marker.End:
		return ends(m, s.top())
	}
	return s.r.tsigner.Valid(m)
}

func (s *stream) top() *block {
	if n := len(s.stack); n > 0 {
		return s.stack[n-1].blk
	}
	return nil
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
		blk := s.found
		blk.build.Adopt(s.ctx, s.parent())
		s.stack = append(s.stack, frame{blk: blk, start: len(s.buf), marks: len(s.marks)})
		if s.debug {
			s.annotate(fragmentOpening(blk.build, "MISS"))
		}
	case marker.End:
		return s.endFragment()
	case marker.Hit:
		blk := s.found
		s.found = nil
		defer blk.release()
		blk.build.Adopt(s.ctx, s.parent())
		_ = blk.build.End(s.ctx, nil) // passes its tags up
		if !s.debug {
			return s.content(blk.build.Value())
		}
		state := "HIT"
		if blk.build.Stale() {
			state = "STALE"
		}
		s.annotate(fragmentOpening(blk.build, state))
		err := s.content(blk.build.Value())
		s.annotate(fragmentClosing)
		return err
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
	if b := s.top(); b != nil {
		return b.build
	}
	return s.scope
}

// endFragment stores the innermost fragment's content (authentic checked
// that it is the one ending).
func (s *stream) endFragment() error {
	n := len(s.stack)
	top := s.stack[n-1]
	v := encodeFragment(s.buf[top.start:], s.marks[top.marks:], top.start)
	_ = top.blk.build.End(s.ctx, v) // store errors are counted and logged
	s.stack = s.stack[:n-1]
	if len(s.stack) == 0 {
		s.buf, s.marks = s.buf[:0], s.marks[:0]
	}
	if s.debug {
		s.annotate(fragmentClosing)
	}
	return nil
}

// content writes a cached fragment: into the open fragments as it is
// (holes in), to the page with its holes run.
func (s *stream) content(v []byte) error {
	d, _ := decodeFragment(v) // usableFragment checked it
	if d.holes == 0 {
		if len(s.stack) > 0 {
			s.buf = append(s.buf, d.content...)
		}
		_, err := s.out.Write(d.content)
		return err
	}
	for seg := d.segments(); ; {
		text, hole, ok := seg.next()
		if !ok {
			return nil
		}
		if len(s.stack) > 0 {
			s.buf = append(s.buf, text...)
		}
		if _, err := s.out.Write(text); err != nil {
			return err
		}
		if hole != nil {
			if err := s.hole(hole); err != nil {
				return err
			}
		}
	}
}

// hole handles a hole: its marker goes into the open fragments, and it
// runs now, or later for a writer that runs phase 2 itself.
func (s *stream) hole(raw []byte) error {
	if len(s.stack) > 0 {
		s.marks = append(s.marks, mark{off: len(s.buf), n: len(raw)})
		s.buf = append(s.buf, raw...)
	}
	if s.phase1 != nil {
		return s.phase1.hole(raw)
	}
	s.holes = true
	return s.r.runHole(tmplcache.Detach(s.ctx), s.out, raw, s.live, s.debug)
}

// annotate writes a debug annotation to the client only.
func (s *stream) annotate(a string) {
	if s.phase1 != nil {
		s.phase1.annotate(a)
		return
	}
	_, _ = io.WriteString(s.out, a)
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
		a.found.build.Abort()
	}
	return nil
}

// finish ends the execution: it flushes, closes or aborts fragments.
func (s *stream) finish(err error) error {
	if err == nil {
		err = s.sc.Flush(s)
	}
	if err == nil && len(s.stack) > 0 {
		err = s.top().desc.fail(fmt.Errorf("%w: the fragment never ended", ErrUnbalanced))
	}
	if err != nil {
		for _, f := range s.stack {
			f.blk.build.Abort()
		}
		if s.scope != nil {
			s.scope.Prevent() // whatever encloses this execution holds a broken page
		}
		if s.phase1 != nil {
			s.phase1.fail()
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

func storesOutput(b *tmplcache.Build) bool {
	for ; b != nil; b = b.Parent() {
		if b.Key() != "" {
			return true
		}
	}
	return false
}
