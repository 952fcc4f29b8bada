package tmplcache

import (
	"context"
	"time"
)

// Store is the storage a [Cache] runs on: a flat map of byte keys to byte
// values with expiry. It knows nothing of tags; [Cache] encodes entries and
// tag records itself, so any key-value server can back it.
//
// Keys may hold any bytes and be of any length; a store that cannot take
// them as they are (memcached) must map them to keys it can (by hashing).
// Values returned by Get must not be modified by the caller and may be
// retained by the store; values given to Set and Add may be retained by the
// store and are never modified by the caller afterwards.
//
// A miss is not an error. Every method must honour ctx (deadline and
// cancellation): [Cache] bounds each call with a timeout.
type Store interface {
	// Get returns, in order, the value of each key, or nil for a key that is
	// missing or expired. All keys are read together (one round trip where
	// the backend allows it).
	Get(ctx context.Context, keys []string) ([][]byte, error)
	// Set stores every item, overwriting what was there.
	Set(ctx context.Context, items []Item) error
	// Add stores each item whose key is absent and leaves present keys
	// untouched (set-if-absent, per item).
	Add(ctx context.Context, items []Item) error
	// Delete removes the keys; missing keys are not an error.
	Delete(ctx context.Context, keys []string) error
}

// Item is one key-value pair to store. A TTL of zero means no expiry; a
// negative TTL is invalid ([Cache] never writes one) and a store may reject
// it.
type Item struct {
	Key   string
	Value []byte
	TTL   time.Duration
}

// EntryGetter is an optional [Store] extension: it reads an entry together
// with the tag records the entry depends on, in one round trip. The tag
// record keys are found in the entry itself with [EntryTagKeys], or, by a
// server-side script, from its layout (big-endian integers):
//
//	[0]      format = 2
//	[1:25]   when stored, when it expires, build time, grace
//	[25:29]  n, the number of tags
//	n times: key length (2 bytes), the tag record's key, its 16-byte version
//	rest     the value
//
// GetEntry appends the records to recs (a buffer of the caller's, which may
// be nil) and returns it: the i-th appended is the record of the i-th key
// EntryTagKeys returns, or nil. A missing entry returns (nil, recs, nil).
type EntryGetter interface {
	GetEntry(ctx context.Context, key string, recs [][]byte) (entry []byte, tags [][]byte, err error)
}

// Prefetcher is an optional [EntryGetter] extension for a shared store,
// where round trips are the cost that counts. A build's tag records come
// with its entry lookup, and the built entry is written only if those
// records are still what was read, in one atomic step: a miss costs two
// round trips (lookup, write) instead of three (lookup, records, write),
// and no invalidation can slip between the check and the write.
//
// GetEntryWith is [EntryGetter.GetEntry] that also returns the values at
// also, in order (nil for a missing key), at least whenever the entry is
// missing or one of its tag records does not hold the version the entry
// stored; on a read that looks like a hit it may return no values (a nil
// slice), sparing a hit the reads. SetIfUnchanged stores item only
// if the value at each of keys is still the one in vals (a nil value: the
// key is still missing), and reports whether it did. Prefetches reports
// whether the store can do both on its connection (a sharded client cannot:
// an entry and its records live on different servers); a store that says
// false is used as an EntryGetter.
type Prefetcher interface {
	EntryGetter
	Prefetches() bool
	GetEntryWith(ctx context.Context, key string, recs [][]byte, also []string) (entry []byte, tags, alsoVals [][]byte, err error)
	SetIfUnchanged(ctx context.Context, item Item, keys []string, vals [][]byte) (stored bool, err error)
}

// Local is an optional [Store] extension. A store whose Local method returns
// true lives inside this process: its calls never block on I/O (so they are
// not wrapped in timeouts) and nothing stored in it is seen by another
// process (so markers may be signed with a random per-process key).
type Local interface {
	Local() bool
}

// Sequencer is an optional [Store] extension: a logical clock kept by the
// store, which orders invalidations and builds exactly, whatever the
// machines' wall clocks say (see "No stale entry outlives an invalidation"
// in the package documentation). Stores without one fall back to comparing
// wall-clock times with a margin ([WithSkew]).
//
// Invalidate advances the clock value stored at key clock (16 bytes: an
// 8-byte epoch and an 8-byte sequence number, big-endian; a missing or
// unreadable value starts a new random non-zero epoch at sequence 1,
// otherwise the sequence grows by one) and writes each tag record of inv
// stamped with the new value: bytes [0:8] of the record get the sequence
// number and bytes [16:24] the epoch. If the record's lock (bytes [32:40])
// is zero, the record keeps the lock of the record it replaces, unless
// that lock equals inv's Release. It returns the new clock value.
//
// Stamps must never go backwards: a record is never replaced by one with
// an older stamp of the same epoch. A store that advances the clock and
// writes the records in one atomic step (a server-side script, a mutex)
// gets that for free; one that cannot must compare and swap each record.
// A cache names its clock and its tag records with one Redis Cluster hash
// tag ("{namespace/tags}"), so a sharded store can keep them on one server.
type Sequencer interface {
	Invalidate(ctx context.Context, clock string, inv []Invalidation) ([]byte, error)
}

// Invalidation is one tag record written by [Sequencer.Invalidate].
type Invalidation struct {
	Key     string        // the tag record's key
	Record  []byte        // the record, unstamped (see Sequencer)
	Release int64         // the lock of a transaction that is ending, or 0
	TTL     time.Duration // as in [Item]
}
