package gormtags

import (
	"fmt"
	"log/slog"
)

// Option configures the plugin made by [Plugin]. A zero or nil value given
// to an option means its default.
type Option func(*config)

type config struct {
	logger  *slog.Logger
	maxRows int
	errs    []error
}

// DefaultMaxRows is how many rows a batch write may touch before the plugin
// stops resolving them one by one (see [WithMaxRows]).
const DefaultMaxRows = 1000

// fill sets the defaults; logger is the cache's, the fallback of WithLogger.
func (c *config) fill(logger *slog.Logger) {
	if c.logger == nil {
		c.logger = logger
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.maxRows == 0 {
		c.maxRows = DefaultMaxRows
	}
}

// WithLogger sets the logger failures are reported to (default: the
// cache's, [tmplcache.Cache.Logger]).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithMaxRows bounds the rows a write without a model instance
// (db.Model(&Post{}).Where(…).Updates(…), a Delete with conditions) may
// touch for the plugin to load them and invalidate their tags (default
// [DefaultMaxRows]). A write touching more invalidates the [TableTag] of
// its table instead, and logs that it did.
func WithMaxRows(n int) Option {
	return func(c *config) {
		if n < 0 {
			c.errs = append(c.errs, fmt.Errorf("%w: WithMaxRows(%d): negative", ErrBadOption, n))
			return
		}
		c.maxRows = n
	}
}
