package layout

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
	"unsafe"
)

// An entry (format 2) is what the cache stores at an entry key:
//
//	[0]      format = 2
//	[1:9]    stored: when the value was stored, Unix nanoseconds (int64)
//	[9:17]   expires: Unix nanoseconds (int64; 0 = never)
//	[17:21]  delta: how long the value took to build, microseconds
//	         (uint32, saturated): early recomputation weighs it
//	[21:25]  grace: how long after expiry or invalidation the value may
//	         still be served while one reader rebuilds it, milliseconds
//	         (uint32; 0 = never)
//	[25:29]  n: the number of tags (uint32)
//	n times: key length (uint16), the tag record's store key, the
//	         16-byte version the value was built against
//	rest     the value
//
// A Redis Lua script reads the tag keys out of it (tmplcache/redisstore,
// entry.go) to fetch an entry and its tag records in one round trip.
const (
	EntryFormat    = 2
	EntryHeaderLen = 29
	// MaxKeyLen is the longest tag record key an entry can name.
	MaxKeyLen = math.MaxUint16
)

// ErrEntry reports bytes that are not an entry of this format (an older
// format after an upgrade is one: it reads as a miss).
var ErrEntry = errors.New("not an entry of format 2")

// Dep is one tag an entry depends on: its record's key and the version the
// value was built against.
type Dep struct {
	Key string
	Ver Version
}

// Meta is an entry's header.
type Meta struct {
	Stored  int64         // Unix nanoseconds
	Expires int64         // Unix nanoseconds; 0 = never
	Delta   time.Duration // build time (µs precision)
	Grace   time.Duration // ms precision
}

// EntryLen returns the encoded length of an entry.
func EntryLen(deps []Dep, value []byte) int {
	n := EntryHeaderLen + len(value)
	for _, d := range deps {
		n += 2 + len(d.Key) + VersionLen
	}
	return n
}

// AppendEntry appends an entry to dst. Keys longer than [MaxKeyLen] must
// have been refused before.
func AppendEntry(dst []byte, m Meta, deps []Dep, value []byte) []byte {
	dst = append(dst, EntryFormat)
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.Stored))
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.Expires))
	dst = binary.BigEndian.AppendUint32(dst, saturate(m.Delta/time.Microsecond))
	dst = binary.BigEndian.AppendUint32(dst, saturate(m.Grace/time.Millisecond))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(deps)))
	for _, d := range deps {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(d.Key)))
		dst = append(dst, d.Key...)
		dst = append(dst, d.Ver[:]...)
	}
	return append(dst, value...)
}

func saturate(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	return uint32(min(int64(d), math.MaxUint32))
}

// DecodeEntry reads an entry without copying it: the keys and the value
// alias raw, which stores never modify once written. deps is appended to.
func DecodeEntry(raw []byte, deps []Dep) (Meta, []Dep, []byte, error) {
	m, tags, value, err := ReadEntry(raw)
	if err != nil {
		return m, deps, nil, err
	}
	for tags.Next() {
		deps = append(deps, Dep{Key: tags.Key(), Ver: tags.Version()})
	}
	return m, deps, value, nil
}

// Tags iterates over an entry's tags (see [ReadEntry]), in order.
type Tags struct {
	table []byte
	left  int
	key   string
	ver   Version
}

// Len returns the number of tags not yet read.
func (t *Tags) Len() int { return t.left }

// Next moves to the next tag; false at the end.
func (t *Tags) Next() bool {
	if t.left == 0 {
		return false
	}
	t.left--
	kl := int(binary.BigEndian.Uint16(t.table))
	t.key = ""
	if kl > 0 {
		t.key = unsafe.String(&t.table[2], kl)
	}
	copy(t.ver[:], t.table[2+kl:])
	t.table = t.table[2+kl+VersionLen:]
	return true
}

// Key returns the tag record's key (aliasing the entry).
func (t *Tags) Key() string { return t.key }

// Version returns the version the value was built against.
func (t *Tags) Version() Version { return t.ver }

// EntryTagCount returns the number of tags the header of raw claims, as
// far as raw can hold them, or 0 for bytes that are not an entry: a bound
// for what reading it will find, without reading it.
func EntryTagCount(raw []byte) int {
	if len(raw) < EntryHeaderLen || raw[0] != EntryFormat {
		return 0
	}
	n := uint64(binary.BigEndian.Uint32(raw[25:29]))
	return int(min(n, uint64(len(raw)-EntryHeaderLen)/(2+VersionLen)))
}

// ReadEntry reads an entry's header, checks its tag table and returns an
// iterator over it and the value, without copying or allocating.
func ReadEntry(raw []byte) (Meta, Tags, []byte, error) {
	var m Meta
	if len(raw) < EntryHeaderLen || raw[0] != EntryFormat {
		return m, Tags{}, nil, ErrEntry
	}
	m.Stored = int64(binary.BigEndian.Uint64(raw[1:9]))
	m.Expires = int64(binary.BigEndian.Uint64(raw[9:17]))
	m.Delta = time.Duration(binary.BigEndian.Uint32(raw[17:21])) * time.Microsecond
	m.Grace = time.Duration(binary.BigEndian.Uint32(raw[21:25])) * time.Millisecond
	n := binary.BigEndian.Uint32(raw[25:29])
	p := EntryHeaderLen
	if uint64(n)*(2+VersionLen) > uint64(len(raw)-p) {
		return m, Tags{}, nil, ErrEntry // cannot hold n tags
	}
	for range n {
		if len(raw)-p < 2 {
			return m, Tags{}, nil, ErrEntry
		}
		kl := int(binary.BigEndian.Uint16(raw[p:]))
		if len(raw)-p-2 < kl+VersionLen {
			return m, Tags{}, nil, ErrEntry
		}
		p += 2 + kl + VersionLen
	}
	return m, Tags{table: raw[EntryHeaderLen:p], left: int(n)}, raw[p:], nil
}
