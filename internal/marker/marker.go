// Package marker is the one codec for the in-band markers cachetagging's
// template functions write into template output: their layout, their
// authentication, and a streaming scanner that finds them across writes.
//
// A marker is
//
//	0x00 'C' 'T' kind  len (big-endian uint32)  payload[len]  tag[16]
//
// html/template never emits a raw NUL byte (it escapes it in every context),
// so escaped data can never start one. Trusted content (template.HTML) can
// hold anything, so every marker also carries a 16-byte tag, an
// HMAC-SHA256 of its kind and payload: under the shared secret for stored
// markers (those kept inside cached fragments), under a random per-process
// key for transient ones (consumed before the fragment is stored or a byte
// reaches the client). The tag must cover the payload: a forged header
// whose claimed length ends exactly where a genuine marker's tag ends would
// otherwise borrow that tag. A sequence that is not a well-formed,
// authentic marker is plain text.
package marker

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"sync"
)

// Kind tells what a marker means.
type Kind byte

// Kinds. Stored kinds are signed with the secret; the others are transient.
const (
	Nocache   Kind = 'N' // stored: a hole run at phase 2 (nocache and phased)
	Begin     Kind = 'B' // transient: a fragment body starts (payload: block id)
	End       Kind = 'E' // transient: the fragment body ends (payload: block id)
	Hit       Kind = 'H' // transient: write this cached fragment (payload: block id)
	AddTags   Kind = 'A' // transient: tags for the innermost fragment (payload: tag list)
	Prevent   Kind = 'P' // transient: do not store the enclosing fragments
	TagLen         = 16
	HeaderLen      = 8
	// MaxStored and MaxTransient bound payloads, so a forged header cannot
	// make a scanner hold more than this much output back.
	MaxStored    = 256 << 10
	MaxTransient = 64 << 10
)

const magic = "\x00CT"

// Stored reports whether markers of kind k are kept inside cached content.
func (k Kind) Stored() bool { return k == Nocache }

func (k Kind) maxPayload() int {
	switch k {
	case Nocache:
		return MaxStored
	case Begin, End, Hit, AddTags, Prevent:
		return MaxTransient
	}
	return -1
}

// Marker is a parsed marker. Payload and Raw alias the scanned bytes.
type Marker struct {
	Kind    Kind
	Payload []byte
	Tag     [TagLen]byte
	Raw     []byte // the whole marker as it appeared
}

// Append appends a marker to dst.
func Append(dst []byte, k Kind, payload []byte, tag [TagLen]byte) []byte {
	dst = append(dst, magic...)
	dst = append(dst, byte(k))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	dst = append(dst, payload...)
	return append(dst, tag[:]...)
}

// Len returns the encoded length of a marker with an n-byte payload.
func Len(n int) int { return HeaderLen + n + TagLen }

type status int

const (
	complete   status = iota
	incomplete        // b is a prefix of a well-formed marker
	notMarker         // b[0] is plain text
)

// parse examines b, which starts with a NUL byte.
func parse(b []byte) (Marker, status) {
	n := min(len(b), len(magic))
	if string(b[:n]) != magic[:n] {
		return Marker{}, notMarker
	}
	if len(b) < HeaderLen {
		if len(b) > len(magic) && Kind(b[3]).maxPayload() < 0 {
			return Marker{}, notMarker
		}
		return Marker{}, incomplete
	}
	k := Kind(b[3])
	size := binary.BigEndian.Uint32(b[4:8])
	if max := k.maxPayload(); max < 0 || size > uint32(max) {
		return Marker{}, notMarker
	}
	total := Len(int(size))
	if len(b) < total {
		return Marker{}, incomplete
	}
	m := Marker{Kind: k, Payload: b[HeaderLen : HeaderLen+int(size)], Raw: b[:total]}
	copy(m.Tag[:], b[HeaderLen+int(size):total])
	return m, complete
}

// Parse parses the well-formed marker b starts with (not authenticated);
// bytes after it are ignored.
func Parse(b []byte) (Marker, bool) {
	if len(b) == 0 || b[0] != 0 {
		return Marker{}, false
	}
	m, st := parse(b)
	return m, st == complete
}

// ParseOne parses raw as exactly one well-formed marker (not authenticated).
func ParseOne(raw []byte) (Marker, bool) {
	if len(raw) == 0 || raw[0] != 0 {
		return Marker{}, false
	}
	m, st := parse(raw)
	return m, st == complete && len(m.Raw) == len(raw)
}

// Signer makes and checks the tags of markers: HMAC-SHA256 of kind and
// payload under a key, truncated to 16 bytes. It is safe for concurrent
// use, and allocates nothing per call.
type Signer struct {
	pool sync.Pool // of *mac
}

// mac is one HMAC state with the buffers its calls need, kept off the heap
// of each call.
type mac struct {
	h    hash.Hash
	kind [1]byte
	sum  [sha256.Size]byte
}

// NewSigner returns a signer for key.
func NewSigner(key []byte) *Signer {
	k := append([]byte(nil), key...)
	s := &Signer{}
	s.pool.New = func() any { return &mac{h: hmac.New(sha256.New, k)} }
	return s
}

// Tag computes the tag of a marker of kind k with payload.
func (s *Signer) Tag(k Kind, payload []byte) [TagLen]byte {
	m := s.pool.Get().(*mac)
	m.h.Reset()
	m.kind[0] = byte(k)
	m.h.Write(m.kind[:])
	m.h.Write(payload)
	var tag [TagLen]byte
	copy(tag[:], m.h.Sum(m.sum[:0]))
	s.pool.Put(m)
	return tag
}

// Valid reports whether m's tag is authentic.
func (s *Signer) Valid(m Marker) bool {
	want := s.Tag(m.Kind, m.Payload)
	return hmac.Equal(want[:], m.Tag[:])
}
