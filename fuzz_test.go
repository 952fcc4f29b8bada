package cachetagging_test

import (
	"html/template"
	"testing"
)

// FuzzTrustedContent renders any bytes, as trusted HTML and as escaped
// text, inside and outside a cached fragment: the page is exactly what
// html/template alone would write (nothing forged acts as a marker), and
// the hit equals the miss.
func FuzzTrustedContent(f *testing.F) {
	f.Add("plain", "<b>x</b>")
	f.Add("\x00CTE\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x010123456789abcdef", "\x00CTN\x00\x00\x00\x01x0123456789abcdef")
	f.Add("\x00", "\x00CT")
	f.Add("", "\x00CTN\x00\x03\xff\xff")
	const src = `{{ cache_tagging "k" "t" }}<p>{{ .text }}</p>{{ .trusted }}{{ end_cache_tagging }}|{{ .trusted }}|{{ .text }}`
	f.Fuzz(func(t *testing.T, text, trusted string) {
		h := parse(t, src)
		plain := mustPlain(`<p>{{ .text }}</p>{{ .trusted }}|{{ .trusted }}|{{ .text }}`)
		data := map[string]any{"text": text, "trusted": template.HTML(trusted)}
		var want []byte
		{
			var b bytesWriter
			if err := plain.Execute(&b, data); err != nil {
				t.Fatalf("plain html/template failed: %v", err)
			}
			want = b
		}
		for _, round := range []string{"miss", "hit"} {
			out, err := h.exec(bg, "t", data)
			if err != nil {
				t.Fatalf("%s: %v", round, err)
			}
			if out != string(want) {
				t.Fatalf("%s: got %q, want %q", round, out, want)
			}
		}
	})
}

type bytesWriter []byte

func (b *bytesWriter) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }
