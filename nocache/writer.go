package nocache

import (
	"context"
	"io"
	"sync"
	"unsafe"

	"github.com/cachetagging/cachetagging/internal/marker"
)

// Writer expands holes in a stream: text passes straight through to the
// underlying writer, unbuffered; each authentic marker is replaced by its
// handler's output. Close it to flush bytes held back at the end of the
// stream (a possible marker cut short is plain text).
type Writer struct {
	r     *Registry
	ctx   context.Context
	w     io.Writer
	live  any
	depth int
	sc    marker.Scanner
	err   error
}

var writers = sync.Pool{New: func() any { return new(Writer) }}

// NewWriter returns a Writer expanding r's holes into w with live as every
// [Call]'s Live.
func (r *Registry) NewWriter(ctx context.Context, w io.Writer, live any) *Writer {
	return r.newWriter(ctx, w, live, 0)
}

func (r *Registry) newWriter(ctx context.Context, w io.Writer, live any, depth int) *Writer {
	return &Writer{r: r, ctx: ctx, w: w, live: live, depth: depth, sc: marker.Scanner{Authentic: r.auth}}
}

// Write implements io.Writer. After an error every call returns it.
func (x *Writer) Write(p []byte) (int, error) {
	if x.err != nil {
		return 0, x.err
	}
	if x.err = x.sc.Write(p, (*expander)(x)); x.err != nil {
		return 0, x.err
	}
	return len(p), nil
}

// WriteString implements io.StringWriter, so that a handler's
// io.WriteString or fmt.Fprint costs no copy of s. Neither the scanner nor
// an io.Writer keeps or modifies what it is given.
func (x *Writer) WriteString(s string) (int, error) {
	if s == "" {
		return x.Write(nil)
	}
	return x.Write(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// Close flushes what was held back. It does not close the underlying writer.
func (x *Writer) Close() error {
	if x.err != nil {
		return x.err
	}
	x.err = x.sc.Flush((*expander)(x))
	return x.err
}

type expander Writer

func (e *expander) Text(p []byte) error {
	_, err := e.w.Write(p)
	return err
}

func (e *expander) Marker(m marker.Marker) error {
	return e.r.runMarker(e.ctx, e.w, m, e.live, e.depth)
}

// Expand writes src to w with its holes expanded.
func (r *Registry) Expand(ctx context.Context, w io.Writer, src []byte, live any) error {
	x := r.newWriter(ctx, w, live, 0)
	if _, err := x.Write(src); err != nil {
		return err
	}
	return x.Close()
}
