package memcachestore

import (
	"fmt"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// Option configures a [Store] made by [New]. A zero value given to an option
// means its default.
type Option func(*config)

type config struct {
	itemSizeLimit int
	errs          []error
}

const (
	// DefaultItemSizeLimit is memcached's default item size limit (its -I
	// flag): 1 MiB.
	DefaultItemSizeLimit = 1 << 20
	// MinItemSizeLimit is the smallest limit [WithItemSizeLimit] accepts.
	MinItemSizeLimit = 4 << 10
	// itemOverhead is the room kept in each item for what memcached stores
	// beside the value: its item header, CAS, the key (at most 250 bytes).
	itemOverhead = 1 << 10
)

func (c *config) fill() {
	if c.itemSizeLimit == 0 {
		c.itemSizeLimit = DefaultItemSizeLimit
	}
}

// chunkSize is the largest value stored in one item; longer values are
// split into chunks of this size.
func (c *config) chunkSize() int { return c.itemSizeLimit - itemOverhead }

// WithItemSizeLimit tells the store the item size limit of the servers (the
// -I flag of memcached; default [DefaultItemSizeLimit]). Values that do not
// fit in one item are split into chunks that do (see the package
// documentation). Set it when the servers run with a larger -I, to keep big
// values in one item; a limit above the servers' makes big values fail.
func WithItemSizeLimit(n int) Option {
	return func(c *config) {
		if n != 0 && n < MinItemSizeLimit {
			c.errs = append(c.errs, fmt.Errorf("%w: memcachestore.WithItemSizeLimit(%d): below %d bytes",
				tmplcache.ErrBadOption, n, MinItemSizeLimit))
			return
		}
		c.itemSizeLimit = n
	}
}
