package layout

import (
	"encoding/binary"
	"math/rand/v2"
)

// A clock value (16 bytes) is what a store keeps at a namespace's clock
// key:
//
//	[0:8]   epoch: random, non-zero; a new one is drawn whenever the
//	        clock is found missing or unreadable (a flush, an eviction)
//	[8:16]  seq: advanced by one by every invalidation
//
// Two stamps of one epoch compare by seq; stamps of different epochs do not
// compare at all (see [Stamp.After]).
const ClockLen = 16

// MaxSeq bounds seq: the Redis scripts do arithmetic on Lua numbers
// (doubles), exact only below 2^53. A clock that reaches it starts a new
// epoch, which costs one rebuild per tag and is never wrong.
const MaxSeq = 1 << 52

// Stamp is a clock value: a reading of a store's clock, or the stamp an
// invalidation wrote on its tag records. The zero Stamp means "no reading".
type Stamp struct {
	Epoch uint64
	Seq   uint64
}

// Known reports whether s is an actual reading.
func (s Stamp) Known() bool { return s.Epoch != 0 }

// After reports whether an invalidation stamped s may have happened after
// the reading r was taken: a later seq of the same epoch, or any stamp of
// another epoch (whose order with r's cannot be known). r must be known.
func (s Stamp) After(r Stamp) bool { return s.Epoch != r.Epoch || s.Seq > r.Seq }

// DecodeClock reads a clock value.
func DecodeClock(b []byte) (Stamp, bool) {
	if len(b) != ClockLen {
		return Stamp{}, false
	}
	s := Stamp{Epoch: binary.BigEndian.Uint64(b), Seq: binary.BigEndian.Uint64(b[8:])}
	if s.Epoch == 0 || s.Seq >= MaxSeq {
		return Stamp{}, false
	}
	return s, true
}

// AppendClock appends the clock value s to dst.
func AppendClock(dst []byte, s Stamp) []byte {
	dst = binary.BigEndian.AppendUint64(dst, s.Epoch)
	return binary.BigEndian.AppendUint64(dst, s.Seq)
}

// NewEpoch draws a random epoch for a clock that starts anew: never zero,
// which means "no reading".
func NewEpoch() uint64 {
	for {
		if e := rand.Uint64(); e != 0 {
			return e
		}
	}
}

// Next returns the clock value that follows old: seq+1 in the same epoch,
// or seq 1 of newEpoch (non-zero) when old is missing or unreadable or
// would pass [MaxSeq].
func Next(old []byte, newEpoch uint64) Stamp {
	s, ok := DecodeClock(old)
	if !ok || s.Seq+1 >= MaxSeq {
		return Stamp{Epoch: newEpoch, Seq: 1}
	}
	s.Seq++
	return s
}
