package tmplcache

import "fmt"

// MemoryOption configures a [MemoryStore] made by [NewMemoryStore]. A nil
// option, or a zero value given to one, means its default.
type MemoryOption func(*memoryConfig)

type memoryConfig struct {
	maxBytes int64
	errs     []error
}

// DefaultMemoryMaxBytes is the budget of a [MemoryStore] made without
// [MaxBytes]: 64 MiB, some ten thousand cached pages of a few KiB, or
// hundreds of thousands of fragments. With the Go collector's default
// headroom (GOGC=100) a full store costs a process about twice that, which
// a service in a 512 MiB container can afford without thinking about it;
// larger sites should size the budget for their pages and memory.
const DefaultMemoryMaxBytes = 64 << 20

// MaxBytes sets the budget of a [MemoryStore] (default
// [DefaultMemoryMaxBytes]): the bytes its keys, values and bookkeeping may
// take. An item that alone exceeds it is not stored. A negative budget is
// an error, reported by every call on the store.
func MaxBytes(n int64) MemoryOption {
	return func(c *memoryConfig) {
		if n < 0 {
			c.errs = append(c.errs, fmt.Errorf("%w: MaxBytes(%d): negative budget", ErrBadOption, n))
			return
		}
		c.maxBytes = n
	}
}

func (c *memoryConfig) fill() {
	if c.maxBytes == 0 {
		c.maxBytes = DefaultMemoryMaxBytes
	}
}
