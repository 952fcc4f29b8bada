package redisstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/internal/layout"
	"github.com/redis/go-redis/v9"
)

// invalidateScriptSrc implements tmplcache.Sequencer in one atomic step:
// it advances the clock (KEYS[1]) and writes the tag records (KEYS[2..]),
// stamped with the new value, so stamps can never go backwards. ARGV[1] is
// a random non-zero epoch for a clock that is missing or unreadable; then
// per record: the unstamped record (40 bytes), the lock being released
// (8 bytes), the TTL in milliseconds (0: none).
//
// It mirrors tmplcache/internal/layout (clock.go, record.go, apply.go):
// clock = epoch(8) seq(8); record = seq(8) random(8) epoch(8) time(8)
// lock(8). Sequence numbers stay below 2^52, where Lua numbers (doubles)
// are exact; a clock that reaches it starts a new epoch.
//
// Every key shares the cache's hash tag ("{namespace/tags}"), so on a
// Redis Cluster they live in one slot and the script runs there too.
const invalidateScriptSrc = `
local zero = string.rep('\0', 8)
local function u64(s, i)
  local n = 0
  for k = i, i + 7 do n = n * 256 + string.byte(s, k) end
  return n
end
local function be64(n)
  local t = {}
  for k = 8, 1, -1 do t[k] = string.char(n % 256); n = math.floor(n / 256) end
  return table.concat(t)
end
local limit = 4503599627370496
local c = redis.call('GET', KEYS[1])
local epoch, seq = ARGV[1], 0
if c and #c == 16 and string.sub(c, 1, 8) ~= zero and u64(c, 9) + 1 < limit then
  epoch, seq = string.sub(c, 1, 8), u64(c, 9)
end
seq = seq + 1
local stamp = be64(seq)
local clock = epoch .. stamp
redis.call('SET', KEYS[1], clock)
for i = 2, #KEYS do
  local a = 2 + (i - 2) * 3
  local rec, release, ttl = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  local lock = string.sub(rec, 33, 40)
  if lock == zero then
    local old = redis.call('GET', KEYS[i])
    if old and #old == 40 and (string.sub(old, 1, 8) == zero) == (string.sub(old, 17, 24) == zero)
        and u64(old, 1) < limit and string.sub(old, 33, 40) ~= release then
      lock = string.sub(old, 33, 40)
    end
  end
  local new = stamp .. string.sub(rec, 9, 16) .. epoch .. string.sub(rec, 25, 32) .. lock
  if ttl > 0 then
    redis.call('SET', KEYS[i], new, 'PX', ttl)
  else
    redis.call('SET', KEYS[i], new)
  end
end
return clock
`

var invalidateScript = redis.NewScript(invalidateScriptSrc)

var _ tmplcache.Sequencer = (*Store)(nil)

// Invalidate implements [tmplcache.Sequencer]: one script, one round trip
// (EVALSHA; the first call on a server that does not know the script yet
// adds an EVAL), on one server or in the slot of the cache's hash tag on a
// cluster.
func (s *Store) Invalidate(ctx context.Context, clock string, inv []tmplcache.Invalidation) ([]byte, error) {
	if s.client == nil {
		return nil, ErrNilClient
	}
	keys := make([]string, 1, 1+len(inv))
	keys[0] = clock
	args := make([]any, 1, 1+3*len(inv))
	args[0] = binary.BigEndian.AppendUint64(nil, layout.NewEpoch())
	for _, in := range inv {
		if len(in.Record) != layout.RecordLen {
			return nil, fmt.Errorf("redisstore: invalidate: a record of %d bytes", len(in.Record))
		}
		var release [8]byte
		binary.BigEndian.PutUint64(release[:], uint64(in.Release))
		var ttl int64
		if in.TTL > 0 {
			ttl = ttlMillis(in.TTL)
		}
		keys = append(keys, in.Key)
		args = append(args, in.Record, release[:], strconv.FormatInt(ttl, 10))
	}
	v, err := await(ctx, s.direct, func(ctx context.Context) ([]byte, error) {
		v, err := invalidateScript.Run(ctx, s.client, keys, args...).Text()
		return bytesOf(v), err
	})
	return v, wrap("invalidate", err)
}
