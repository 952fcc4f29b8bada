package tmplcache

import (
	"bytes"
	"testing"
)

// FuzzDecodeEntry: any bytes decode or fail cleanly, and what encodes
// decodes back.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(encodeEntry(42, []dep{{key: "ns:t:a"}, {key: "ns:t:b"}}, []byte("value")), "t:x", []byte("v"))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, "", []byte{})
	f.Fuzz(func(t *testing.T, raw []byte, key string, value []byte) {
		if e, err := decodeEntry(raw, nil); err == nil {
			if _, err := EntryTagKeys(raw); err != nil {
				t.Fatal("EntryTagKeys disagrees with decodeEntry")
			}
			if len(e.value) > len(raw) {
				t.Fatal("value larger than the entry")
			}
		}
		if len(key) > 1<<16-1 {
			return
		}
		var v version
		copy(v[:], key)
		enc := encodeEntry(7, []dep{{key: key, ver: v}}, value)
		e, err := decodeEntry(enc, nil)
		if err != nil || e.expires != 7 || len(e.deps) != 1 || e.deps[0].key != key || e.deps[0].ver != v || !bytes.Equal(e.value, value) {
			t.Fatalf("round trip failed: %v %+v", err, e)
		}
	})
}
