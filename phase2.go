package cachetagging

import (
	"context"
	"io"

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
