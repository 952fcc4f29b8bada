package gormtags

import "errors"

// Sentinel errors, returned by [gorm.DB.Use] when the plugin cannot be
// installed. Failures after installation never reach the caller of a
// write: they are logged and counted ([Stats.Errors]).
var (
	// ErrNoRegistry is returned when [Plugin] was given a nil registry.
	ErrNoRegistry = errors.New("gormtags: Plugin needs a *tmplcache.Registry")
	// ErrBadOption is returned when an option given to [Plugin] is invalid.
	ErrBadOption = errors.New("gormtags: bad option")
)
