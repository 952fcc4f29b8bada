package tmplcache

import (
	"encoding/binary"
	"math/rand/v2"
	"time"
)

// A tag record (24 bytes) is what invalidation writes for a tag:
//
//	[0:8]   invalidation time, Unix nanoseconds (big-endian); 0 for a
//	        record created by a build (the tag was never invalidated)
//	[8:16]  random bytes: two invalidations at the same instant differ
//	[16:24] locked until, Unix nanoseconds (0 = unlocked): a transaction
//	        that invalidated the tag has not ended yet
//
// The first 16 bytes are the tag's version. A missing record means every
// entry that depends on the tag is invalid.
const recordLen = 24

type record struct {
	ver         version
	lockedUntil int64
}

func (r record) time() int64 { return int64(binary.BigEndian.Uint64(r.ver[:8])) }

func (r record) locked(now time.Time) bool { return r.lockedUntil > now.UnixNano() }

func newRecord(now time.Time, lockedUntil int64) record {
	var r record
	if !now.IsZero() {
		binary.BigEndian.PutUint64(r.ver[:8], uint64(now.UnixNano()))
	}
	binary.BigEndian.PutUint64(r.ver[8:], rand.Uint64())
	r.lockedUntil = lockedUntil
	return r
}

func (r record) encode() []byte {
	b := make([]byte, recordLen)
	copy(b, r.ver[:])
	binary.BigEndian.PutUint64(b[16:], uint64(r.lockedUntil))
	return b
}

// decodeRecord reports ok=false for a missing or malformed record: both
// make dependent entries invalid.
func decodeRecord(b []byte) (r record, ok bool) {
	if len(b) != recordLen {
		return r, false
	}
	copy(r.ver[:], b)
	r.lockedUntil = int64(binary.BigEndian.Uint64(b[16:]))
	return r, true
}
