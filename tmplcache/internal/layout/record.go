package layout

import "encoding/binary"

// A tag record (40 bytes) is what invalidation writes for a tag:
//
//	[0:8]   seq of the invalidation's stamp; 0 for a record a build created
//	        (the tag was never invalidated since the record was lost), and
//	        always 0 on a store without a logical clock
//	[8:16]  random: with seq, the tag's version
//	[16:24] epoch of the invalidation's stamp (0 when seq is 0)
//	[24:32] wall-clock time of the invalidation, Unix nanoseconds (0 for a
//	        created record): only builds without a clock reading use it
//	[32:40] locked until, Unix nanoseconds (0: unlocked): a transaction
//	        that invalidated the tag has not ended yet; the value also
//	        names that transaction
//
// The first 16 bytes are the tag's version: an entry stores the version of
// each of its tags and is valid while each record still holds it.
const RecordLen = 40

// VersionLen is the length of a tag version.
const VersionLen = 16

// Version identifies one state of a tag's record.
type Version [VersionLen]byte

// Record is a decoded tag record.
type Record struct {
	Seq   uint64
	Rand  uint64
	Epoch uint64
	Time  int64
	Lock  int64
}

// Version returns r's version.
func (r Record) Version() Version {
	var v Version
	binary.BigEndian.PutUint64(v[:8], r.Seq)
	binary.BigEndian.PutUint64(v[8:], r.Rand)
	return v
}

// Stamp returns the stamp of the invalidation that wrote r; a created
// record (or one of a store without a clock) has none.
func (r Record) Stamp() (Stamp, bool) {
	if r.Seq == 0 {
		return Stamp{}, false
	}
	return Stamp{Epoch: r.Epoch, Seq: r.Seq}, true
}

// Locked reports whether a transaction holds r at now (Unix nanoseconds).
func (r Record) Locked(now int64) bool { return r.Lock > now }

// Append appends the encoded record to dst.
func (r Record) Append(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, r.Seq)
	dst = binary.BigEndian.AppendUint64(dst, r.Rand)
	dst = binary.BigEndian.AppendUint64(dst, r.Epoch)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.Time))
	return binary.BigEndian.AppendUint64(dst, uint64(r.Lock))
}

// Encode returns the encoded record in a new buffer.
func (r Record) Encode() []byte { return r.Append(make([]byte, 0, RecordLen)) }

// DecodeRecord reads a tag record. A record that claims a stamp without an
// epoch (or an epoch without a stamp) is unreadable.
func DecodeRecord(b []byte) (Record, bool) {
	if len(b) != RecordLen {
		return Record{}, false
	}
	r := Record{
		Seq:   binary.BigEndian.Uint64(b),
		Rand:  binary.BigEndian.Uint64(b[8:]),
		Epoch: binary.BigEndian.Uint64(b[16:]),
		Time:  int64(binary.BigEndian.Uint64(b[24:])),
		Lock:  int64(binary.BigEndian.Uint64(b[32:])),
	}
	if (r.Seq == 0) != (r.Epoch == 0) || r.Seq >= MaxSeq {
		return Record{}, false
	}
	return r, true
}

// HasVersion reports whether the raw record b is readable and holds v,
// without decoding it (a cache hit checks every tag this way).
func HasVersion(b []byte, v Version) bool {
	return len(b) == RecordLen && string(b[:VersionLen]) == string(v[:])
}

// RecordTime returns the invalidation time of the raw record b, or 0.
func RecordTime(b []byte) int64 {
	if len(b) != RecordLen {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b[24:]))
}
