package tmplcache

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these (or a
// store's own error) and are meant to be checked with [errors.Is].
var (
	// ErrEmptyKey is returned for an empty cache key.
	ErrEmptyKey = errors.New("tmplcache: empty key")
	// ErrBadTag is returned for a tag that is empty or longer than [MaxTagLen].
	ErrBadTag = errors.New("tmplcache: bad tag")
	// ErrBadOption is returned when an option given to [New] or to a call is invalid.
	ErrBadOption = errors.New("tmplcache: bad option")
	// ErrUnavailable is returned while the circuit breaker short-circuits a
	// store that keeps failing; callers treat it like any store error.
	ErrUnavailable = errors.New("tmplcache: store unavailable (circuit open)")
	// ErrCorrupt is returned when a stored record cannot be decoded.
	ErrCorrupt = errors.New("tmplcache: corrupt record")
	// ErrNoTagFunc is returned by [Registry] for a value of a type nobody registered.
	ErrNoTagFunc = errors.New("tmplcache: no tag function registered")
)
