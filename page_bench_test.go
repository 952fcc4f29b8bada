package cachetagging_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/tmplcache"
)

// BenchmarkPage: a page hit through CachePage, the uncached handler, and a
// handler writing the same bytes from a static []byte, in one run.
func BenchmarkPage(b *testing.B) {
	r := cachetagging.New(tmplcache.New(nil))
	plain, cached := pageTemplates(b, r)
	data := benchData()
	var static bytes.Buffer
	if err := plain.Execute(&static, data); err != nil {
		b.Fatal(err)
	}
	handlers := map[string]http.Handler{
		"handler=cached": cachetagging.CachePage(r, time.Hour)(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			_ = r.ExecuteTemplate(req.Context(), w, cached, "list", data)
		})),
		"handler=uncached": http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			_ = plain.Execute(w, data)
		}),
		"handler=static": http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			_, _ = w.Write(static.Bytes())
		}),
	}
	req := httptest.NewRequest(http.MethodGet, "/posts?page=1", nil)
	for _, name := range []string{"handler=cached", "handler=uncached", "handler=static"} {
		h := handlers[name]
		h.ServeHTTP(httptest.NewRecorder(), req) // warm the cache
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(static.Len()))
			w := &discardWriter{h: http.Header{}}
			for b.Loop() {
				clear(w.h)
				w.buf = w.buf[:0]
				h.ServeHTTP(w, req)
			}
		})
	}
}

// BenchmarkPageHTTP is BenchmarkPage over a real loopback connection, what
// a client sees: server, connection and client costs included.
func BenchmarkPageHTTP(b *testing.B) {
	r := cachetagging.New(tmplcache.New(nil))
	plain, cached := pageTemplates(b, r)
	data := benchData()
	var static bytes.Buffer
	if err := plain.Execute(&static, data); err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/cached", cachetagging.CachePage(r, time.Hour)(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_ = r.ExecuteTemplate(req.Context(), w, cached, "list", data)
	})))
	mux.HandleFunc("/uncached", func(w http.ResponseWriter, req *http.Request) { _ = plain.Execute(w, data) })
	mux.HandleFunc("/static", func(w http.ResponseWriter, req *http.Request) { _, _ = w.Write(static.Bytes()) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := srv.Client()
	for _, path := range []string{"/cached", "/uncached", "/static"} {
		get := func() {
			resp, err := client.Get(srv.URL + path)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if n != int64(static.Len()) {
				b.Fatalf("%s: %d bytes, want %d", path, n, static.Len())
			}
		}
		get()
		b.Run("handler="+path[1:], func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(static.Len()))
			for b.Loop() {
				get()
			}
		})
	}
}

func pageTemplates(b *testing.B, r *cachetagging.Renderer) (plain, cached *templateT) {
	plain = mustTemplate(b, nil, listBody)
	cached = mustTemplate(b, r, listBody)
	return plain, cached
}

// discardWriter is a ResponseWriter that copies the body into a reused
// buffer, as a server copies it into its connection's buffer.
type discardWriter struct {
	h   http.Header
	buf []byte
}

func (d *discardWriter) Header() http.Header { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) {
	d.buf = append(d.buf, p...)
	return len(p), nil
}
func (d *discardWriter) WriteHeader(int) {}
