package memcachestore

import (
	"fmt"
	"math"
	"time"
)

// maxRelative is the longest expiration memcached takes as relative, in
// seconds (30 days); it reads any larger number as a Unix time.
const maxRelative = 60 * 60 * 24 * 30

// expiration converts a TTL to memcached's expiration field. Zero means no
// expiry. A TTL never rounds down: memcached counts whole seconds, and a
// positive TTL of less than one second must not become 0 (no expiry). TTLs
// over 30 days become the Unix time now+ttl (by now, the client's clock),
// rounded up; past 2038 they are clamped to the last time the 32-bit field
// holds, which only ends them early.
func expiration(ttl time.Duration, now time.Time) (int32, error) {
	switch {
	case ttl < 0:
		return 0, fmt.Errorf("%w: %v", ErrNegativeTTL, ttl)
	case ttl == 0:
		return 0, nil
	}
	secs := int64(ttl / time.Second)
	if ttl%time.Second != 0 {
		secs++
	}
	if secs <= maxRelative {
		return int32(secs), nil
	}
	at := now.Add(ttl)
	unix := at.Unix()
	if at.Nanosecond() != 0 {
		unix++
	}
	if unix > math.MaxInt32 {
		return math.MaxInt32, nil
	}
	return int32(unix), nil
}
