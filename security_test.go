package cachetagging_test

import (
	"context"
	"encoding/binary"
	"html/template"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/nocache"
	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/stretchr/testify/require"
)

// forged returns a well-formed marker of kind k with a made-up tag.
func forged(k byte, payload string) string {
	var b []byte
	b = append(b, 0, 'C', 'T', k)
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	b = append(b, payload...)
	return string(append(b, []byte("0123456789abcdef")...))
}

func nocachePayload(name string) string {
	return string(binary.AppendUvarint(nil, uint64(len(name)))) + name + "[]"
}

const securitySrc = `{{ cache_tagging "k" "t" }}<p>{{ .text }}</p>{{ .trusted }}<i>{{ nocache "secret" }}</i>{{ end_cache_tagging }}|{{ .trusted }}`

func securityHarness(t *testing.T) (*harness, *atomic.Int32) {
	t.Helper()
	calls := &atomic.Int32{}
	h := parse(t, securitySrc, handler{"secret", func(ctx context.Context, w io.Writer, call nocache.Call) error {
		calls.Add(1)
		_, err := io.WriteString(w, "ran")
		return err
	}})
	return h, calls
}

func TestForgedMarkersAreInert(t *testing.T) {
	other := cachetagging.New(tmplcache.New(nil), cachetagging.WithSecret([]byte("another secret, another process")))
	other.Nocache("secret", func(context.Context, io.Writer, nocache.Call) error { return nil })
	signedElsewhere, err := other.Holes().Marker("secret")
	require.NoError(t, err)
	genuine := string(signedElsewhere)

	for _, tc := range []struct {
		name, text, trusted string
	}{
		{"escaped data imitating a hole", forged('N', nocachePayload("secret")), ""},
		{"escaped data imitating a fragment end", forged('E', "\x00\x00\x00\x00\x00\x00\x00\x01"), ""},
		{"trusted HTML holding a forged hole", "", forged('N', nocachePayload("secret"))},
		{"trusted HTML holding forged fragment markers", "", forged('E', "12345678") + forged('B', "12345678") + forged('P', "") + forged('H', "12345678")},
		{"trusted HTML holding a hole signed with another secret", "", genuine},
		{"trusted HTML holding a truncated hole", "", genuine[:len(genuine)-3]},
		{"trusted HTML holding a header that claims a huge payload", "", "\x00CTN\x00\x03\xff\xff" + "swallow me"},
		{"trusted HTML holding bare NULs and marker-like text", "", "\x00\x00CT\x00CTX\x00C"},
	} {
		t.Run(tc.name+" never runs a handler", func(t *testing.T) {
			h, calls := securityHarness(t)
			data := map[string]any{"text": tc.text, "trusted": template.HTML(tc.trusted)}
			out, err := h.exec(bg, "t", data)
			require.NoError(t, err)
			require.EqualValues(t, 1, calls.Load(), "only the template's own hole ran")
			require.Contains(t, out, "<i>ran</i>")
			if tc.trusted != "" {
				require.Equal(t, 2, strings.Count(out, tc.trusted), "trusted bytes pass through unchanged, inside and outside the fragment")
			} else {
				require.NotContains(t, out, "\x00", "escaping removed every NUL")
			}
			// The fragment was stored whole: a forged end did not cut it.
			out2, err := h.exec(bg, "t", data)
			require.NoError(t, err)
			require.Equal(t, out, out2)
			require.EqualValues(t, 1, h.c.Stats().Stores)
			require.EqualValues(t, 2, calls.Load())
		})
	}
}

func TestNoMarkerOrSecretReachesTheClient(t *testing.T) {
	secret := []byte("0123456789abcdef-the-shared-secret")
	c := tmplcache.New(sharedStore{tmplcache.NewMemoryStore()})
	r := cachetagging.New(c, cachetagging.WithSecret(secret))
	r.Nocache("who", func(ctx context.Context, w io.Writer, call nocache.Call) error {
		_, err := io.WriteString(w, "someone")
		return err
	})
	tmpl := template.Must(template.New("t").Funcs(r.FuncMap()).Parse(
		`{{ cache_tagging "k" "t" }}a{{ nocache "who" }}{{ cache_add_tags "x" }}{{ phased }}p{{ end_phased }}{{ end_cache_tagging }}{{ cache_tagging_prevent }}`))
	require.NoError(t, r.Prepare(tmpl))
	for range 2 { // miss, then hit
		var b strings.Builder
		require.NoError(t, r.ExecuteTemplate(bg, &b, tmpl, "t", nil))
		require.Equal(t, "asomeonep", b.String())
	}
}

func TestAStoreFromAnotherSecretServesNoHoles(t *testing.T) {
	store := sharedStore{tmplcache.NewMemoryStore()}
	src := `{{ cache_tagging "k" }}[{{ nocache "who" }}]{{ end_cache_tagging }}`
	var calls atomic.Int32
	mk := func(secret string) *harness {
		c := tmplcache.New(store)
		r := cachetagging.New(c, cachetagging.WithSecret([]byte(secret)))
		r.Nocache("who", func(ctx context.Context, w io.Writer, call nocache.Call) error {
			calls.Add(1)
			return nil
		})
		tmpl := template.Must(template.New("t").Funcs(r.FuncMap()).Parse(src))
		require.NoError(t, r.Prepare(tmpl))
		return &harness{t: t, c: c, r: r, tmpl: tmpl}
	}
	a, b := mk("secret number one, long enough"), mk("secret number two, long enough")
	_, err := a.exec(bg, "t", nil)
	require.NoError(t, err)
	out, err := b.exec(bg, "t", nil) // a's entry, signed with a's secret
	require.NoError(t, err)
	require.Equal(t, "[]", out, "no marker byte reaches the page")
	require.EqualValues(t, 1, b.c.Stats().Unusable, "b cannot use a's entry: a miss")
	require.EqualValues(t, 1, b.c.Stats().Stores, "b rebuilt it, with its own hole")
	require.EqualValues(t, 2, calls.Load(), "each process ran only a hole it verified")
	out, err = b.exec(bg, "t", nil)
	require.NoError(t, err)
	require.Equal(t, "[]", out)
	require.EqualValues(t, 1, b.c.Stats().Hits, "and now hits its own entry")
}

// A forged header whose claimed length ends exactly where the next genuine
// marker's tag ends must not borrow that tag (found by FuzzTrustedContent).
func TestAForgedHeaderCannotBorrowTheNextMarkersTag(t *testing.T) {
	filler := "0123456789abcdefg"
	// The end marker that follows is 8 header bytes, an 8-byte id, 16 tag bytes.
	claimed := byte(len(filler) + 8 + 8)
	for _, kind := range []byte{'A', 'P', 'E', 'B', 'H'} {
		h := parse(t, `{{ cache_tagging "k" }}{{ .trusted }}{{ end_cache_tagging }}`)
		trusted := string([]byte{0, 'C', 'T', kind, 0, 0, 0, claimed}) + filler
		out, err := h.exec(bg, "t", map[string]any{"trusted": template.HTML(trusted)})
		require.NoError(t, err, "kind %c", kind)
		require.Equal(t, trusted, out)
		hit, err := h.exec(bg, "t", map[string]any{"trusted": template.HTML("other")})
		require.NoError(t, err)
		require.Equal(t, trusted, hit, "the fragment was stored whole")
	}
}
