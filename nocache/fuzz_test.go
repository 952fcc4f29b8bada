package nocache_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/cachetagging/cachetagging/nocache"
)

// FuzzExpand feeds any bytes, split anywhere, to the expander: it never
// panics, and bytes that hold no authentic marker come out unchanged.
func FuzzExpand(f *testing.F) {
	reg := nocache.NewRegistry([]byte("fuzz key, sixteen bytes at least"))
	var calls int
	_ = reg.Handle("h", func(ctx context.Context, w io.Writer, call nocache.Call) error {
		calls++
		_, err := io.WriteString(w, "[h]")
		return err
	})
	genuine, _ := reg.Marker("h", 1, "two")
	f.Add([]byte("plain"), uint16(2))
	f.Add([]byte("a"+string(genuine)+"b"), uint16(5))
	f.Add([]byte(string(genuine[:len(genuine)-1])+"x"), uint16(9))
	f.Add([]byte("\x00CTN\x00\x00\x00\x02hi0123456789abcdef"), uint16(4))
	f.Fuzz(func(t *testing.T, in []byte, cut uint16) {
		calls = 0
		var out bytes.Buffer
		w := reg.NewWriter(context.Background(), &out, nil)
		c := int(cut) % (len(in) + 1)
		_, err1 := w.Write(in[:c])
		_, err2 := w.Write(in[c:])
		err3 := w.Close()
		if calls == 0 {
			if err1 != nil || err2 != nil || err3 != nil {
				t.Fatalf("an error without any hole: %v %v %v", err1, err2, err3)
			}
			if !bytes.Equal(out.Bytes(), in) {
				t.Fatalf("bytes without an authentic marker changed: %q -> %q", in, out.Bytes())
			}
		}
		var whole bytes.Buffer
		_ = reg.Expand(context.Background(), &whole, in, nil)
		if !bytes.Equal(whole.Bytes(), out.Bytes()) {
			t.Fatalf("the cut changed the output: %q vs %q", out.Bytes(), whole.Bytes())
		}
	})
}
