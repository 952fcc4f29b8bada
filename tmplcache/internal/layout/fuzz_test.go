package layout

import (
	"bytes"
	"testing"
	"time"
)

// FuzzDecodeEntry: any bytes decode or fail cleanly (without allocating
// for tags they cannot hold), and what encodes decodes back.
func FuzzDecodeEntry(f *testing.F) {
	meta := Meta{Stored: 41, Expires: 42, Delta: 3 * time.Millisecond, Grace: 5 * time.Second}
	deps := []Dep{{Key: "{ns/tags}:a"}, {Key: "{ns/tags}:b"}}
	f.Add(AppendEntry(nil, meta, deps, []byte("value")), "{/tags}:x", []byte("v"))
	f.Add(append(append([]byte{2}, make([]byte, 24)...), 0xff, 0xff, 0xff, 0xff), "", []byte{})
	f.Fuzz(func(t *testing.T, raw []byte, key string, value []byte) {
		if _, ds, v, err := DecodeEntry(raw, nil); err == nil {
			if len(v) > len(raw) || len(ds)*(2+VersionLen) > len(raw) {
				t.Fatal("decoded more than the entry holds")
			}
		}
		if len(key) > MaxKeyLen {
			return
		}
		var ver Version
		copy(ver[:], key)
		enc := AppendEntry(nil, meta, []Dep{{Key: key, Ver: ver}}, value)
		if len(enc) != EntryLen([]Dep{{Key: key}}, value) {
			t.Fatalf("EntryLen %d, encoded %d", EntryLen([]Dep{{Key: key}}, value), len(enc))
		}
		m, ds, v, err := DecodeEntry(enc, nil)
		if err != nil || m != meta || len(ds) != 1 || ds[0].Key != key || ds[0].Ver != ver || !bytes.Equal(v, value) {
			t.Fatalf("round trip failed: %v %+v %+v", err, m, ds)
		}
	})
}

// FuzzApply: whatever a store holds, an invalidation's write is a readable
// record that never carries a stamp older than the one it replaced within
// one epoch, and the lock rule holds.
func FuzzApply(f *testing.F) {
	old := Record{Seq: 5, Rand: 1, Epoch: 9, Time: 1, Lock: 77}.Encode()
	f.Add(old, uint64(9), uint64(6), int64(0), int64(77), false)
	f.Add(old, uint64(9), uint64(4), int64(0), int64(0), false)
	f.Add(old, uint64(8), uint64(1), int64(3), int64(0), false)
	f.Add([]byte("junk"), uint64(1), uint64(1), int64(0), int64(0), true)
	f.Fuzz(func(t *testing.T, old []byte, epoch, seq uint64, lock, release int64, force bool) {
		if epoch == 0 || seq == 0 || seq >= MaxSeq {
			return
		}
		clk := Stamp{Epoch: epoch, Seq: seq}
		out, verdict := Apply(old, Record{Rand: 7, Time: 8, Lock: lock}, release, clk, force)
		prev, prevOK := DecodeRecord(old)
		wantLock := lock
		if lock == 0 && prevOK && prev.Lock != release {
			wantLock = prev.Lock
		}
		switch verdict {
		case Write:
			r, ok := DecodeRecord(out)
			if !ok || r.Seq != seq || r.Epoch != epoch || r.Rand != 7 || r.Lock != wantLock {
				t.Fatalf("wrote %+v (readable %v) for stamp %+v lock %d", r, ok, clk, wantLock)
			}
			if !force && prevOK && prev.Seq != 0 && (prev.Epoch != epoch || prev.Seq >= seq) {
				t.Fatalf("replaced %+v with the older stamp %+v", prev, clk)
			}
		case Keep:
			if !prevOK || prev.Epoch != epoch || prev.Seq < seq || force {
				t.Fatalf("kept %+v against %+v", prev, clk)
			}
			if out != nil {
				r, ok := DecodeRecord(out)
				if !ok || r.Version() != prev.Version() || r.Lock != wantLock {
					t.Fatalf("kept record changed beyond its lock: %+v -> %+v", prev, r)
				}
			}
		case Retry:
			if force || !prevOK || prev.Epoch == epoch {
				t.Fatalf("retry for %+v against %+v", prev, clk)
			}
		}
	})
}
