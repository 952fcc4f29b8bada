package cachetagging

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// recorder is the ResponseWriter a page's handler writes to on a miss. It
// keeps the phase-1 body (text and holes apart) to store and to send once
// the handler has returned; a handler that flushes, or a body over the
// size limit, makes it stream from then on, running holes as they come.
// It only records: what is stored and sent, and the headers the cache adds
// when it streams, pageCache decides (it gives the recorder what it needs:
// the size limit, how to run a hole, what to do when streaming starts).
type recorder struct {
	w        http.ResponseWriter
	maxBody  int
	debug    bool
	runHole  func(w io.Writer, raw []byte) error
	onStream func(h http.Header) // adds the cache's headers
	header   http.Header
	status   int

	wroteHeader bool
	body        bytes.Buffer // phase 1, as stored
	marks       []mark       // its holes
	notes       bytes.Buffer // with debug: phase 1 and annotations, as sent
	noteMarks   []mark
	overflow    bool // the body outgrew the limit: not stored
	streaming   bool // sent as written, from some point on
	hijacked    bool // the handler took the connection
	failed      bool // a render or a streamed hole failed: not stored
}

var _ phase1Writer = (*recorder)(nil)

func (p *pageCache) newRecorder(w http.ResponseWriter, req *http.Request) *recorder {
	rec := &recorder{w: w, maxBody: p.cfg.maxBody, debug: p.r.debugOn(req.Context()), header: http.Header{}}
	ctx, live := tmplcache.Detach(req.Context()), p.cfg.live(req)
	rec.runHole = func(w io.Writer, raw []byte) error { return p.r.runHole(ctx, w, raw, live, rec.debug) }
	rec.onStream = func(h http.Header) {
		_, state := p.decide(req, rec)
		p.setHeaders(h, new(headerValues), req, state, nil, 0)
	}
	return rec
}

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(status int) {
	if rec.wroteHeader || rec.hijacked {
		return
	}
	if status >= 100 && status < 200 && status != http.StatusSwitchingProtocols {
		// Informational (103 Early Hints): it goes out now, and the final
		// status is still to come.
		h := rec.w.Header()
		for k, vs := range rec.header {
			h[k] = vs
		}
		rec.w.WriteHeader(status)
		return
	}
	rec.wroteHeader, rec.status = true, status
}

func (rec *recorder) Write(b []byte) (int, error) {
	return rec.write(b, false)
}

// hole takes a hole's marker: recorded with the body, run when streaming.
func (rec *recorder) hole(raw []byte) error {
	_, err := rec.write(raw, true)
	return err
}

func (rec *recorder) write(b []byte, hole bool) (int, error) {
	if rec.hijacked {
		return 0, http.ErrHijacked
	}
	if !rec.wroteHeader {
		rec.WriteHeader(http.StatusOK)
	}
	if !rec.overflow {
		if rec.body.Len()+len(b) > rec.maxBody {
			rec.overflow = true
			rec.stream()
		} else {
			rec.marks = record(&rec.body, rec.marks, b, hole)
		}
	}
	if rec.streaming {
		if err := rec.send(b, hole); err != nil {
			rec.failed = true
			return 0, err
		}
	} else if rec.debug {
		rec.noteMarks = record(&rec.notes, rec.noteMarks, b, hole)
	}
	return len(b), nil
}

// record appends b to buf, as a hole or as text.
func record(buf *bytes.Buffer, marks []mark, b []byte, hole bool) []mark {
	if hole {
		marks = append(marks, mark{off: buf.Len(), n: len(b)})
	}
	buf.Write(b)
	return marks
}

// send writes to the client while streaming: text as it is, holes run.
func (rec *recorder) send(b []byte, hole bool) error {
	if !hole {
		_, err := rec.w.Write(b)
		return err
	}
	return rec.runHole(rec.w, b)
}

// fail is told that an execution writing to rec failed: what was buffered
// is dropped (a half page), so the handler may write an error page in its
// place. Streamed bytes are out already.
func (rec *recorder) fail() {
	rec.failed = true
	if rec.streaming {
		return
	}
	rec.body.Reset()
	rec.notes.Reset()
	rec.marks, rec.noteMarks = rec.marks[:0], rec.noteMarks[:0]
	rec.wroteHeader, rec.status = false, 0
}

// annotate keeps a debug annotation for the client, out of the stored body.
func (rec *recorder) annotate(s string) {
	switch {
	case rec.streaming:
		_, _ = rec.w.Write([]byte(s))
	case rec.debug:
		rec.notes.WriteString(s)
	}
}

// stream sends what was recorded and everything after as it comes.
func (rec *recorder) stream() {
	if rec.streaming {
		return
	}
	rec.streaming = true
	h := rec.w.Header()
	for k, vs := range rec.header {
		h[k] = vs
	}
	rec.onStream(h)
	h.Del("Content-Length") // holes may change the length
	rec.w.WriteHeader(rec.status)
	v := rec.view()
	for s := v.segments(); ; {
		text, hole, ok := s.next()
		if !ok {
			break
		}
		if rec.send(text, false) != nil || (hole != nil && rec.send(hole, true) != nil) {
			rec.failed = true
			return
		}
	}
}

// Flush implements http.Flusher: the handler wants its output sent now.
func (rec *recorder) Flush() {
	if rec.hijacked {
		return
	}
	if !rec.wroteHeader {
		rec.WriteHeader(http.StatusOK)
	}
	rec.stream()
	if f, ok := rec.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack implements http.Hijacker: the connection is the handler's, and
// nothing of it is stored.
func (rec *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	rec.hijacked = true
	return http.NewResponseController(rec.w).Hijack()
}

// Unwrap lets http.ResponseController reach the real writer.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.w }

// finishHandler runs after the handler returned.
func (rec *recorder) finishHandler() {
	if !rec.wroteHeader && !rec.hijacked {
		rec.WriteHeader(http.StatusOK)
	}
}

// view is what the client gets (before phase 2): the body, with debug
// annotations when on.
func (rec *recorder) view() doc {
	if rec.debug {
		return docOf(rec.notes.Bytes(), rec.noteMarks)
	}
	return docOf(rec.body.Bytes(), rec.marks)
}

// docOf makes the document of content with its holes at marks.
func docOf(content []byte, marks []mark) doc {
	if len(marks) == 0 {
		return doc{content: content}
	}
	// The table as appendDoc writes it, minus the count.
	table := appendDoc(nil, nil, marks, 0)
	_, k := binary.Uvarint(table)
	return doc{table: table[k:], holes: len(marks), content: content}
}

// page is what rec recorded, to store: minus the headers that belong to
// one response (and drop, the cache's own).
func (rec *recorder) page(drop string) *storedPage {
	h := rec.header.Clone()
	for _, k := range []string{"Date", "Content-Length", "Age", "Set-Cookie", drop} {
		if k != "" {
			h.Del(k)
		}
	}
	return &storedPage{status: rec.status, header: h, content: rec.body.Bytes(), marks: rec.marks}
}
