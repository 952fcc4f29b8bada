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

// EntryGetter is an optional [Store] extension for remote stores: it reads
// an entry together with the tag records the entry depends on, in one round
// trip. The tag record keys are found in the entry itself with [EntryTagKeys]
// (a Lua script can parse the same layout: see the package documentation).
// tags[i] is the record of the i-th key EntryTagKeys returns, or nil.
// A missing entry returns (nil, nil, nil).
type EntryGetter interface {
	GetEntry(ctx context.Context, key string) (entry []byte, tags [][]byte, err error)
}

// Local is an optional [Store] extension. A store whose Local method returns
// true lives inside this process: its calls never block on I/O (so they are
// not wrapped in timeouts) and nothing stored in it is seen by another
// process (so markers may be signed with a random per-process key).
type Local interface {
	Local() bool
}
