package tmplcache

import (
	"fmt"
	"log/slog"
	"time"
)

// Option configures a [Cache] made by [New]. A zero or nil value given to an
// option means its default.
type Option func(*config)

type config struct {
	namespace         string
	defaultTTL        time.Duration
	tagTTL            time.Duration
	lockTTL           time.Duration
	skew              time.Duration
	timeout           time.Duration
	flightWait        time.Duration
	replicaDelay      time.Duration
	breakerFailures   int
	breakerCooldown   time.Duration
	logger            *slog.Logger
	clock             Clock
	beta              float64 // early recomputation; < 0: off
	ignoreDescendants bool
	naiveVersions     bool // test hook: read versions at store time (the classic race)
	errs              []error
}

// Defaults, filled in one place by [New].
const (
	DefaultTTL             = time.Hour
	DefaultLockTTL         = time.Minute
	DefaultSkew            = time.Second
	DefaultTimeout         = 250 * time.Millisecond
	DefaultFlightWait      = 5 * time.Second
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 5 * time.Second
	// DefaultEarlyRecompute is the β of early recomputation (see
	// [WithEarlyRecompute]): the value the XFetch paper shows optimal.
	DefaultEarlyRecompute = 1.0
)

func (c *config) fill() {
	if c.defaultTTL == 0 {
		c.defaultTTL = DefaultTTL
	}
	if c.lockTTL == 0 {
		c.lockTTL = DefaultLockTTL
	}
	if c.skew == 0 {
		c.skew = DefaultSkew
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.flightWait == 0 {
		c.flightWait = DefaultFlightWait
	}
	if c.breakerFailures == 0 {
		c.breakerFailures = DefaultBreakerFailures
	}
	if c.breakerCooldown == 0 {
		c.breakerCooldown = DefaultBreakerCooldown
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.clock == nil {
		c.clock = systemClock{}
	}
	if c.beta == 0 {
		c.beta = DefaultEarlyRecompute
	}
}

func durationOption(name string, d time.Duration, set func(*config)) Option {
	return func(c *config) {
		if d < 0 {
			c.errs = append(c.errs, fmt.Errorf("%w: %s(%v): negative duration", ErrBadOption, name, d))
			return
		}
		set(c)
	}
}

// WithNamespace prefixes every key the cache writes, so several apps (or
// several versions of one app) can share a store without seeing each other.
func WithNamespace(ns string) Option {
	return func(c *config) { c.namespace = ns }
}

// WithDefaultTTL sets the lifetime of entries stored without [TTL]
// (default [DefaultTTL]). Tags, not time, are meant to end most entries.
func WithDefaultTTL(d time.Duration) Option {
	return durationOption("WithDefaultTTL", d, func(c *config) { c.defaultTTL = d })
}

// WithTagTTL sets the lifetime of tag version records (default: no expiry).
// An entry whose tag record expired is invalid, so a short tag TTL only
// costs misses, never correctness.
func WithTagTTL(d time.Duration) Option {
	return durationOption("WithTagTTL", d, func(c *config) { c.tagTTL = d })
}

// WithLockTTL bounds how long a transaction's tag locks last (default
// [DefaultLockTTL]): a process that dies inside a transaction locks its tags
// for at most this long. Set it above your longest transaction.
func WithLockTTL(d time.Duration) Option {
	return durationOption("WithLockTTL", d, func(c *config) { c.lockTTL = d })
}

// WithSkew sets the clock-skew margin (default [DefaultSkew]) used where a
// build must compare a tag's invalidation time with the time its data was
// read: a tag invalidated less than this long before the build began keeps
// the build from being stored.
func WithSkew(d time.Duration) Option {
	return durationOption("WithSkew", d, func(c *config) { c.skew = d })
}

// WithTimeout bounds every store call (default [DefaultTimeout]). Calls to a
// [Local] store are not bounded: they never wait on I/O.
func WithTimeout(d time.Duration) Option {
	return durationOption("WithTimeout", d, func(c *config) { c.timeout = d })
}

// WithFlightWait bounds how long a miss waits for a concurrent build of the
// same key in this process (default [DefaultFlightWait]) before building
// the value itself.
func WithFlightWait(d time.Duration) Option {
	return durationOption("WithFlightWait", d, func(c *config) { c.flightWait = d })
}

// WithReplicaDelay makes every transaction re-apply its invalidations once
// more, d after it ended, for databases whose read replicas lag behind.
// Zero (the default) disables the delayed pass. Pending passes run at once
// on [Cache.Close].
func WithReplicaDelay(d time.Duration) Option {
	return durationOption("WithReplicaDelay", d, func(c *config) { c.replicaDelay = d })
}

// WithBreaker configures the circuit breaker: after failures consecutive
// store errors the store is short-circuited (calls fail at once with
// [ErrUnavailable]) for cooldown, then one trial call decides whether it
// closes again. Defaults: [DefaultBreakerFailures], [DefaultBreakerCooldown].
func WithBreaker(failures int, cooldown time.Duration) Option {
	return func(c *config) {
		if failures < 0 || cooldown < 0 {
			c.errs = append(c.errs, fmt.Errorf("%w: WithBreaker(%d, %v): negative value", ErrBadOption, failures, cooldown))
			return
		}
		c.breakerFailures, c.breakerCooldown = failures, cooldown
	}
}

// WithLogger sets the logger for store errors and breaker state changes
// (default [slog.Default]).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithClock sets the clock (default: the system clock).
func WithClock(clk Clock) Option {
	return func(c *config) { c.clock = clk }
}

// WithIgnoreDescendants turns off tag propagation for the whole cache: an
// entry depends only on its own tags, not on those of the entries built or
// read while it was being built (Django cache-tagging's
// ignore_descendants). [Prevent] still reaches ancestors. For one call, use
// [Detach] instead.
func WithIgnoreDescendants() Option {
	return func(c *config) { c.ignoreDescendants = true }
}

// WithEarlyRecompute tunes early recomputation (the XFetch rule of Vattani,
// Chierichetti and Lowenstein, "Optimal Probabilistic Cache Stampede
// Prevention", VLDB 2015): as an entry nears the end of its TTL, each
// reader rebuilds it early with a probability that rises with how long its
// last build took, times beta, so that one reader refreshes a hot entry
// before it expires while the others keep hitting; its value stays valid
// for them meanwhile. Zero means the default [DefaultEarlyRecompute]; a
// larger beta recomputes earlier. [WithoutEarlyRecompute] turns it off.
func WithEarlyRecompute(beta float64) Option {
	return func(c *config) {
		if beta < 0 || beta != beta {
			c.errs = append(c.errs, fmt.Errorf("%w: WithEarlyRecompute(%v): want a positive beta", ErrBadOption, beta))
			return
		}
		c.beta = beta
	}
}

// WithoutEarlyRecompute turns early recomputation off: entries are rebuilt
// only once expired (or invalidated).
func WithoutEarlyRecompute() Option {
	return func(c *config) { c.beta = -1 }
}

// SetOption configures one [Cache.Set] or [Cache.Fetch] call.
type SetOption func(*setOptions)

type setOptions struct {
	tags  []string
	ttl   time.Duration
	grace time.Duration
	check func([]byte) bool
	err   error
}

// Tags marks the entry with tags; it is valid only while none of them has
// been invalidated. Tags given several times accumulate. The option keeps
// tags as given (not a copy): build it once and reuse it freely, but do
// not change the slice while a call uses it.
func Tags(tags ...string) SetOption {
	return func(o *setOptions) {
		if o.tags == nil {
			o.tags = tags // the common single Tags option costs no copy
			return
		}
		o.tags = append(o.tags[:len(o.tags):len(o.tags)], tags...)
	}
}

// Grace lets the entry be served for up to d after it expired or one of
// its tags was invalidated, while one reader of this process rebuilds it
// (stale-while-revalidate). A reader served that way gets the previous
// value, so this trades the promise of "No stale entry outlives an
// invalidation" (package documentation) for latency, for this entry only:
// give it to fragments whose data may lag by d (a view counter, a "latest
// posts" box), never to what a user just changed and expects to see (their
// cart, a form's result, a permission). An entry enclosing one served
// stale is not stored. Zero (the default) means no grace.
func Grace(d time.Duration) SetOption {
	return func(o *setOptions) {
		if d < 0 {
			o.err = fmt.Errorf("%w: Grace(%v): negative duration", ErrBadOption, d)
			return
		}
		o.grace = d
	}
}

// Check makes a hit whose value fn rejects a miss: the value is rebuilt and
// stored over it. An engine uses it for entries it can no longer use (an
// older format, markers signed with a retired key, a handler that no
// longer exists).
func Check(fn func(value []byte) bool) SetOption {
	return func(o *setOptions) { o.check = fn }
}

// TTL sets the entry's lifetime (default: the cache's [WithDefaultTTL]).
func TTL(d time.Duration) SetOption {
	return func(o *setOptions) {
		if d < 0 {
			o.err = fmt.Errorf("%w: TTL(%v): negative duration", ErrBadOption, d)
			return
		}
		o.ttl = d
	}
}

func (o *setOptions) apply(opts []SetOption) {
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
}
