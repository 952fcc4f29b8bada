package cachemetrics

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these and are
// meant to be checked with [errors.Is].
var (
	// ErrBadOption is returned (by the registry, when the collector is
	// registered) for an invalid option given to [NewCollector].
	ErrBadOption = errors.New("cachemetrics: bad option")
	// ErrNilCache is returned by [Publish] and, when the collector is
	// registered, by [NewCollector] for a nil cache.
	ErrNilCache = errors.New("cachemetrics: nil cache")
	// ErrNameTaken is returned by [Publish] for an expvar name already
	// published, by another package or for another cache.
	ErrNameTaken = errors.New("cachemetrics: expvar name already published")
	// ErrEmptyName is returned by [Publish] for an empty expvar name.
	ErrEmptyName = errors.New("cachemetrics: empty expvar name")
)
