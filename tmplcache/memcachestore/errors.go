package memcachestore

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these, a
// context error, or an error of the memcache client, and are meant to be
// checked with [errors.Is]. Bad options wrap [tmplcache.ErrBadOption].
var (
	// ErrNilClient is returned by every call on a [Store] made with a nil
	// client.
	ErrNilClient = errors.New("memcachestore: nil client")
	// ErrNegativeTTL is returned for an item whose TTL is negative.
	ErrNegativeTTL = errors.New("memcachestore: negative TTL")
)
