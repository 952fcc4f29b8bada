package redisstore

import (
	"context"
	"fmt"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/redis/go-redis/v9"
)

var _ tmplcache.Prefetcher = (*Store)(nil)

// setIfScriptSrc sets KEYS[1] to ARGV[1] (for ARGV[2] milliseconds, none
// if "0") if every KEYS[i+1] still holds what ARGV[i+2] says: "1" and the
// value, or "0" for a missing key. It returns 1 if it set, else 0.
const setIfScriptSrc = `
for i = 2, #KEYS do
  local want = ARGV[i + 1]
  local v = redis.call('GET', KEYS[i])
  if string.sub(want, 1, 1) == '0' then
    if v then return 0 end
  elseif v ~= string.sub(want, 2) then
    return 0
  end
end
if ARGV[2] == '0' then
  redis.call('SET', KEYS[1], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
`

var setIfScript = redis.NewScript(setIfScriptSrc)

// Prefetches implements [tmplcache.Prefetcher]: on one server, where the
// entry script runs. A sharded client keeps entries and tag records on
// different servers, and [WithoutScript] runs no script.
func (s *Store) Prefetches() bool { return s.client != nil && s.script }

// GetEntryWith implements [tmplcache.Prefetcher]: the entry, its tag
// records and, unless every record holds the entry's version (a hit, most
// likely), the values at also, in one round trip (EVALSHA).
func (s *Store) GetEntryWith(ctx context.Context, key string, recs [][]byte, also []string) (entry []byte, tags, alsoVals [][]byte, err error) {
	if !s.Prefetches() {
		return nil, recs, nil, fmt.Errorf("redisstore: GetEntryWith: %w", errNoPrefetch)
	}
	r, err := await(ctx, s.direct, func(ctx context.Context) (entryWithReply, error) {
		return s.runEntryScript(ctx, key, also)
	})
	return r.entry, append(recs, r.tags...), r.also, wrap("get entry", err)
}

// SetIfUnchanged implements [tmplcache.Prefetcher]: one script checks the
// values at keys and sets the item, atomically, in one round trip.
func (s *Store) SetIfUnchanged(ctx context.Context, item tmplcache.Item, keys []string, vals [][]byte) (bool, error) {
	if !s.Prefetches() {
		return false, fmt.Errorf("redisstore: SetIfUnchanged: %w", errNoPrefetch)
	}
	if len(vals) != len(keys) {
		return false, fmt.Errorf("redisstore: SetIfUnchanged: %d values for %d keys", len(vals), len(keys))
	}
	skeys := append([]string{item.Key}, keys...)
	args := make([]any, 2, 2+len(vals))
	args[0], args[1] = item.Value, int64(0)
	if item.TTL > 0 {
		args[1] = ttlMillis(item.TTL)
	}
	for _, v := range vals {
		if v == nil {
			args = append(args, "0")
		} else {
			args = append(args, append([]byte{'1'}, v...))
		}
	}
	set, err := await(ctx, s.direct, func(ctx context.Context) (bool, error) {
		n, err := setIfScript.Run(ctx, s.client, skeys, args...).Int64()
		return n == 1, err
	})
	return set, wrap("set", err)
}
