package cachetagging

import (
	"bytes"
	"net/http"
	"testing"
	"time"
)

// FuzzDecodePage: any bytes decode or fail cleanly; what encodes decodes
// back.
func FuzzDecodePage(f *testing.F) {
	f.Add(encodePage(storedPage{created: time.Unix(5, 0), status: 200, holes: true,
		header: http.Header{"Content-Type": {"text/html"}, "Vary": {"Cookie", "Accept"}}, body: []byte("<p>x</p>")}),
		"X-K", "v", []byte("body"))
	f.Add([]byte("P\x01"), "", "", []byte{})
	f.Add([]byte("P\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\xc8\x00\xff\xff\xff\xff\x0f"), "a", "b", []byte{0})
	f.Fuzz(func(t *testing.T, raw []byte, name, val string, body []byte) {
		_, _ = decodePage(raw)
		in := storedPage{created: time.Unix(0, 42), status: 203, holes: len(body)%2 == 0,
			header: http.Header{name: {val, val}}, body: body}
		out, err := decodePage(encodePage(in))
		if err != nil || !out.created.Equal(in.created) || out.status != in.status || out.holes != in.holes ||
			!bytes.Equal(out.body, in.body) || len(out.header[name]) != 2 || out.header[name][1] != val {
			t.Fatalf("round trip: %v %+v", err, out)
		}
	})
}
