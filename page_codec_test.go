package cachetagging

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// FuzzDecodePage: any bytes decode or fail cleanly; what encodes decodes
// back, holes where they were.
func FuzzDecodePage(f *testing.F) {
	f.Add(encodePage(&storedPage{status: 200,
		header:  http.Header{"Content-Type": {"text/html"}, "Vary": {"Cookie", "Accept"}},
		content: []byte("<p>xHOLEy</p>"), marks: []mark{{off: 4, n: 4}}}),
		"X-K", "v", []byte("body"), uint8(2))
	f.Add([]byte("P\x03"), "", "", []byte{}, uint8(0))
	f.Add([]byte("P\x03\x00\xc8\x00\xff\xff\xff\xff\x0f"), "a", "b", []byte{0}, uint8(9))
	f.Fuzz(func(t *testing.T, raw []byte, name, val string, body []byte, cut uint8) {
		if p, err := decodePage(raw); err == nil {
			for s := p.body.segments(); ; { // every segment lies within the body
				if _, _, ok := s.next(); !ok {
					break
				}
			}
		}
		var marks []mark
		if n := int(cut); n > 0 && n <= len(body) {
			marks = []mark{{off: 0, n: n}}
		}
		in := &storedPage{status: 200, header: http.Header{name: {val, val}}, content: body, marks: marks}
		out, err := decodePage(encodePage(in))
		if err != nil || out.status != in.status ||
			!bytes.Equal(out.body.content, in.content) || out.body.holes != len(marks) ||
			len(out.header[name]) != 2 || out.header[name][1] != val {
			t.Fatalf("round trip: %v %+v", err, out)
		}
		if _, err := decodePage(encodePage(&storedPage{status: 203, content: body})); err == nil {
			t.Fatal("a page of a status CachePage never stores must not read back")
		}
	})
}

// The prepared reads of pages are kept by store key, bounded.
func TestPageSpecsAreBounded(t *testing.T) {
	var s pageSpecs
	spec := &tmplcache.Spec{}
	for i := range maxPageSpecs + 10 {
		s.put(fmt.Sprint("page:", i), spec)
	}
	if n := len(s.m); n > maxPageSpecs {
		t.Fatalf("%d reads kept, more than %d", n, maxPageSpecs)
	}
	if s.get([]byte(fmt.Sprint("page:", maxPageSpecs+9))) != spec {
		t.Fatal("the latest read was not kept")
	}
	if s.get([]byte("page:other")) != nil {
		t.Fatal("a read of another key")
	}
}
