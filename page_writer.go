package cachetagging

import (
	"bytes"
	"net/http"
	"time"

	"github.com/cachetagging/cachetagging/nocache"
	"github.com/cachetagging/cachetagging/tmplcache"
)

// recorder is the ResponseWriter a page's handler writes to on a miss. It
// keeps the phase-1 body (holes in) to store, and — unless the page is
// buffered for CDN headers — streams it to the client through phase 2.
type recorder struct {
	w        http.ResponseWriter
	req      *http.Request
	p        *pageCache
	buffered bool

	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
	overflow    bool // the body outgrew the limit: not stored
	out         *nocache.Writer
}

var _ Phase1Writer = (*recorder)(nil)

func (p *pageCache) newRecorder(w http.ResponseWriter, req *http.Request, buffered bool) *recorder {
	return &recorder{w: w, req: req, p: p, buffered: buffered, header: http.Header{}}
}

// TakesPhase1 tells ExecuteTemplate to leave holes to the recorder.
func (rec *recorder) TakesPhase1() {}

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(status int) {
	if rec.wroteHeader {
		return
	}
	rec.wroteHeader = true
	rec.status = status
	if rec.buffered {
		return
	}
	h := rec.w.Header()
	for k, vs := range rec.header {
		h[k] = vs
	}
	if rec.p.cfg.header != "" {
		state := "MISS"
		if !storableResponse(status, rec.header) {
			state = "BYPASS"
		}
		h.Set(rec.p.cfg.header, state)
	}
	h.Del("Content-Length") // holes may change the length
	rec.w.WriteHeader(status)
	rec.out = rec.p.r.holes.NewWriter(tmplcache.Detach(rec.req.Context()), rec.w, rec.p.cfg.live(rec.req))
}

func (rec *recorder) Write(b []byte) (int, error) {
	if !rec.wroteHeader {
		rec.WriteHeader(http.StatusOK)
	}
	if !rec.overflow {
		if rec.body.Len()+len(b) > rec.p.cfg.maxBody {
			rec.overflow = true
			if rec.buffered { // nothing was sent yet: send what we have, then stream
				rec.unbuffer()
			}
		} else {
			rec.body.Write(b)
		}
	}
	if rec.buffered {
		return len(b), nil
	}
	if _, err := rec.out.Write(b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// unbuffer gives up buffering: a page too large to store streams.
func (rec *recorder) unbuffer() {
	rec.buffered = false
	held := rec.body.Bytes()
	rec.wroteHeader = false
	rec.WriteHeader(rec.status)
	_, _ = rec.out.Write(held)
	rec.body.Reset()
}

// Flush implements http.Flusher (a no-op while buffering).
func (rec *recorder) Flush() {
	if rec.buffered {
		return
	}
	if f, ok := rec.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.w }

// finishHandler runs after the handler returned.
func (rec *recorder) finishHandler() {
	if !rec.wroteHeader {
		rec.WriteHeader(http.StatusOK)
	}
}

func (rec *recorder) page() storedPage {
	h := rec.header.Clone()
	for _, k := range []string{"Date", "Content-Length", "Age", "Set-Cookie"} {
		h.Del(k)
	}
	if rec.p.cfg.header != "" {
		h.Del(rec.p.cfg.header)
	}
	return storedPage{created: time.Now(), status: rec.status, header: h,
		body: rec.body.Bytes(), holes: bytes.IndexByte(rec.body.Bytes(), 0) >= 0}
}

// close flushes phase 2 of a streamed page.
func (rec *recorder) close() {
	if rec.out != nil && !rec.buffered {
		if err := rec.out.Close(); err != nil {
			rec.p.r.logger.Error("cachetagging: CachePage: a hole failed", "url", rec.req.URL.String(), "err", err)
		}
	}
}
