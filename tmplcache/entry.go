package tmplcache

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// Entry layout (format 1), documented because remote stores parse it
// (a Redis Lua script reads the tag keys out of it to fetch the entry and
// its tag records in one round trip):
//
//	[0]      format = 1
//	[1:9]    expiry, Unix nanoseconds, big-endian int64 (0 = none)
//	[9:11]   n, the number of tags, big-endian uint16
//	n times: key length (big-endian uint16), the tag record's store key,
//	         the 16-byte tag version the entry was built against
//	rest     the value
const (
	entryFormat    = 1
	entryHeaderLen = 11
	versionLen     = 16
	// MaxTagLen is the longest tag accepted, in bytes.
	MaxTagLen = 8 << 10
	// maxNamespaceLen keeps every tag record key under the 64 KiB the
	// entry layout can describe.
	maxNamespaceLen = 1 << 10
	// MaxTags is the most tags one entry may carry.
	MaxTags = 1<<16 - 1
)

// version identifies one invalidation of a tag: its time and 8 random bytes.
type version [versionLen]byte

// dep is one tag an entry (or a build) depends on. key is the tag record's
// store key.
type dep struct {
	key       string
	ver       version
	hasVer    bool // ver was read before the data (or came from a descendant)
	timeCheck bool // the tag appeared mid-build: compare its time with the horizon
}

// encodeEntry builds a new buffer; value is copied, so the caller keeps it.
func encodeEntry(expires int64, deps []dep, value []byte) []byte {
	n := entryHeaderLen + len(value)
	for _, d := range deps {
		n += 2 + len(d.key) + versionLen
	}
	b := make([]byte, entryHeaderLen, n)
	b[0] = entryFormat
	binary.BigEndian.PutUint64(b[1:9], uint64(expires))
	binary.BigEndian.PutUint16(b[9:11], uint16(len(deps)))
	for _, d := range deps {
		b = binary.BigEndian.AppendUint16(b, uint16(len(d.key)))
		b = append(b, d.key...)
		b = append(b, d.ver[:]...)
	}
	return append(b, value...)
}

// decodedEntry views a raw entry without copying it. Its strings alias the
// raw bytes, which stores never modify once written.
type decodedEntry struct {
	expires int64
	deps    []dep
	value   []byte
}

func decodeEntry(raw []byte, deps []dep) (decodedEntry, error) {
	var e decodedEntry
	if len(raw) < entryHeaderLen || raw[0] != entryFormat {
		return e, fmt.Errorf("%w: entry header", ErrCorrupt)
	}
	e.expires = int64(binary.BigEndian.Uint64(raw[1:9]))
	n := int(binary.BigEndian.Uint16(raw[9:11]))
	p := entryHeaderLen
	for range n {
		if len(raw)-p < 2 {
			return e, fmt.Errorf("%w: entry tag list", ErrCorrupt)
		}
		kl := int(binary.BigEndian.Uint16(raw[p:]))
		p += 2
		if len(raw)-p < kl+versionLen {
			return e, fmt.Errorf("%w: entry tag list", ErrCorrupt)
		}
		d := dep{hasVer: true}
		if kl > 0 {
			d.key = unsafe.String(&raw[p], kl)
		}
		copy(d.ver[:], raw[p+kl:])
		p += kl + versionLen
		deps = append(deps, d)
	}
	e.deps = deps
	e.value = raw[p:]
	return e, nil
}

// EntryTagKeys returns the store keys of the tag records a raw entry (as
// stored by a [Cache]) depends on, in the order [EntryGetter] must return
// their records.
func EntryTagKeys(entry []byte) ([]string, error) {
	e, err := decodeEntry(entry, nil)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(e.deps))
	for i, d := range e.deps {
		keys[i] = string(d.key) // copy: the caller may outlive entry
	}
	return keys, nil
}
