package cachetagging

import (
	"bytes"
	"context"
	"io"
	"sync"

	"github.com/cachetagging/cachetagging/internal/sections"
)

// Phase 2 runs the holes of phase-1 output for one request. The stream
// runs holes as a page is rendered, CachePage those of the pages it
// serves; both through these functions, which annotate holes in debug
// mode.

// runHole runs the hole raw (one authentic marker) into w.
func (r *Renderer) runHole(ctx context.Context, w io.Writer, raw []byte, live any, debug bool) error {
	if !debug {
		return r.holes.Run(ctx, w, raw, live)
	}
	name := "?"
	if c, err := r.holes.Lookup(raw); err == nil {
		name = c.Name
		if name == sections.HandlerName && len(c.Args) > 0 {
			s, _ := c.Args[0].(string)
			name = "phased " + s
		}
	}
	_, _ = io.WriteString(w, holeOpening(name))
	err := r.holes.Run(ctx, w, raw, live)
	_, _ = io.WriteString(w, holeClosing)
	return err
}

// expand writes the document d to w with its holes run.
func (r *Renderer) expand(ctx context.Context, w io.Writer, d doc, live any, debug bool) error {
	for s := d.segments(); ; {
		text, hole, ok := s.next()
		if !ok {
			return nil
		}
		if len(text) > 0 {
			if _, err := w.Write(text); err != nil {
				return err
			}
		}
		if hole != nil {
			if err := r.runHole(ctx, w, hole, live, debug); err != nil {
				return err
			}
		}
	}
}

// holeOutput runs the holes of a document before any of it is sent, then
// writes the text and the holes' output in order.
type holeOutput struct {
	buf     bytes.Buffer
	ends    []int // where each hole's output ends in buf
	markers int   // bytes of the markers the outputs replace
}

var holeOutputs = sync.Pool{New: func() any { return &holeOutput{} }}

func (o *holeOutput) release() {
	if o.buf.Cap() > 64<<10 {
		return // a rare huge one: let it go
	}
	o.buf.Reset()
	o.ends, o.markers = o.ends[:0], 0
	holeOutputs.Put(o)
}

func (o *holeOutput) run(r *Renderer, ctx context.Context, d doc, live any, debug bool) error {
	for s := d.segments(); ; {
		_, hole, ok := s.next()
		if !ok {
			return nil
		}
		if hole != nil {
			if err := r.runHole(ctx, &o.buf, hole, live, debug); err != nil {
				return err
			}
			o.ends = append(o.ends, o.buf.Len())
			o.markers += len(hole)
		}
	}
}

func (o *holeOutput) write(w io.Writer, d doc) {
	out := o.buf.Bytes()
	start, i := 0, 0
	for s := d.segments(); ; {
		text, hole, ok := s.next()
		if !ok {
			return
		}
		if len(text) > 0 {
			if _, err := w.Write(text); err != nil {
				return // the client is gone
			}
		}
		if hole != nil {
			if _, err := w.Write(out[start:o.ends[i]]); err != nil {
				return
			}
			start = o.ends[i]
			i++
		}
	}
}
