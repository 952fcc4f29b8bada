package main

import (
	"log/slog"
	"net/http"
	"time"
)

// logRequests logs every request with its status and X-Cache (HIT or MISS
// for the pages under CachePage). It must wrap CachePage, not sit inside
// it: inside, it would hide the page's holes from CachePage.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", sw.status(), "took", time.Since(start)}
		if c := w.Header().Get("X-Cache"); c != "" {
			attrs = append(attrs, "cache", c)
		}
		log.InfoContext(r.Context(), "request", attrs...)
	})
}

// statusWriter remembers the status of a response.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// Flush and Unwrap keep the writer's other abilities reachable (CachePage
// streams pages and flushes them).
func (w *statusWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
