package memcachestore

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"strconv"

	"github.com/bradfitz/gomemcache/memcache"
)

// A value too long for one item is stored as chunks under keys of their
// own, written first, then a manifest under the value's key, written last
// and marked with flagManifest (values are stored with flags 0):
//
//	[0]      format = 1
//	[1:17]   id: 16 random bytes, new for every write
//	[17:25]  the value's length, big-endian uint64
//	[25:29]  the number of chunks, big-endian uint32
//
// Chunk i is at chunkKey(id, i). Since every write has its own id, the
// chunks of two writes never mix: a read gets the whole value of one write,
// or a miss when a chunk was evicted. Chunks live one second longer than
// their manifest, so they do not expire under it.
const (
	flagManifest   = 0x7463_6b31 // "tck1"
	manifestFormat = 1
	manifestLen    = 29
	idLen          = 16
	// maxChunks bounds what a read trusts a manifest for: 64 GiB at the
	// default item size.
	maxChunks = 1 << 16
)

type manifest struct {
	id   [idLen]byte
	size uint64
	n    uint32
}

func (m manifest) encode() []byte {
	b := make([]byte, manifestLen)
	b[0] = manifestFormat
	copy(b[1:], m.id[:])
	binary.BigEndian.PutUint64(b[17:], m.size)
	binary.BigEndian.PutUint32(b[25:], m.n)
	return b
}

// decodeManifest reports ok=false for anything that is not a manifest this
// package could have written; callers read that as a miss.
func decodeManifest(b []byte) (m manifest, ok bool) {
	if len(b) != manifestLen || b[0] != manifestFormat {
		return m, false
	}
	copy(m.id[:], b[1:])
	m.size = binary.BigEndian.Uint64(b[17:])
	m.n = binary.BigEndian.Uint32(b[25:])
	// Every chunk but the last is full, and no writer has chunks smaller
	// than the smallest item size limit allows.
	minChunk := uint64(MinItemSizeLimit - itemOverhead)
	if m.n < 2 || m.n > maxChunks || uint64(m.n) > (m.size+minChunk-1)/minChunk {
		return m, false
	}
	return m, true
}

func (m manifest) chunkKey(i int) string {
	var b [1 + 22]byte // hashPrefix + base64url(id), unpadded
	b[0] = hashPrefix
	base64.RawURLEncoding.Encode(b[1:], m.id[:])
	return string(b[:]) + "." + strconv.Itoa(i)
}

// write is one item to store, as memcached items.
type write struct {
	item   *memcache.Item   // the value, or the manifest of its chunks
	chunks []*memcache.Item // stored before item
}

// newWrite prepares key=value. chunkExp must not end before exp.
func newWrite(key string, value []byte, exp, chunkExp int32, chunkSize int) write {
	if len(value) <= chunkSize {
		return write{item: &memcache.Item{Key: key, Value: value, Expiration: exp}}
	}
	var m manifest
	_, _ = rand.Read(m.id[:]) // never fails (crypto/rand)
	m.size = uint64(len(value))
	m.n = uint32((len(value) + chunkSize - 1) / chunkSize)
	chunks := make([]*memcache.Item, 0, m.n)
	for i := 0; len(value) > 0; i++ {
		n := min(chunkSize, len(value))
		chunks = append(chunks, &memcache.Item{Key: m.chunkKey(i), Value: value[:n:n], Expiration: chunkExp})
		value = value[n:]
	}
	return write{
		item:   &memcache.Item{Key: key, Value: m.encode(), Flags: flagManifest, Expiration: exp},
		chunks: chunks,
	}
}

// assemble joins the chunks of m, or returns nil if any is missing or the
// lengths disagree.
func assemble(m manifest, chunks map[string]*memcache.Item) []byte {
	parts := make([][]byte, m.n)
	var total uint64
	for i := range parts {
		it := chunks[m.chunkKey(i)]
		if it == nil {
			return nil
		}
		parts[i] = it.Value
		total += uint64(len(it.Value))
	}
	if total != m.size {
		return nil
	}
	out := make([]byte, 0, total)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
