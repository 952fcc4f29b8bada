package redisstore

import (
	"context"
	"fmt"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/redis/go-redis/v9"
)

var _ tmplcache.Prefetcher = (*Store)(nil)

// entryWithScriptSrc is entryScriptSrc for a build's read: it returns
// {entry or false, k, k values, the entry's tag records}. k is the number
// of KEYS[2..], whose values it reads when the read is no plain hit: the
// entry is missing or unparseable, or one of its tag records does not hold
// the version the entry stored (bytes 1..16 of a 40-byte record,
// tmplcache/internal/layout/record.go). On a likely hit k is 0 and nothing
// more is read. The records come only when the entry parses (its bounds
// checks are entryScriptSrc's), so a count that does not match the entry's
// tags is the cache's to report as corrupt.
const entryWithScriptSrc = `
local e = redis.call('GET', KEYS[1])
local m = #KEYS
local function with(recs)
  local out = {e, m - 1}
  for i = 2, m do out[i + 1] = redis.call('GET', KEYS[i]) end
  if recs then
    for i = 1, #recs do out[m + 1 + i] = recs[i] end
  end
  return out
end
if not e then return with(nil) end
local len = #e
if len < 29 or string.byte(e, 1) ~= 2 then return with(nil) end
local n = ((string.byte(e, 26) * 256 + string.byte(e, 27)) * 256 + string.byte(e, 28)) * 256 + string.byte(e, 29)
if n * 18 > len - 29 then return with(nil) end
local recs = {}
local stale = false
local p = 30
for i = 1, n do
  if p + 1 > len then return with(nil) end
  local kl = string.byte(e, p) * 256 + string.byte(e, p + 1)
  p = p + 2
  if p + kl + 15 > len then return with(nil) end
  local r = redis.call('GET', string.sub(e, p, p + kl - 1))
  recs[i] = r
  if not r or #r ~= 40 or string.sub(r, 1, 16) ~= string.sub(e, p + kl, p + kl + 15) then stale = true end
  p = p + kl + 16
end
if stale then return with(recs) end
local out = {e, 0}
for i = 1, n do out[2 + i] = recs[i] end
return out
`

var entryWithScript = redis.NewScript(entryWithScriptSrc)

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
	r, err := await(ctx, func(ctx context.Context) (entryWithReply, error) {
		return s.getEntryWith(ctx, key, also)
	})
	return r.entry, append(recs, r.tags...), r.also, wrap("get entry", err)
}

type entryWithReply struct {
	entryReply
	also [][]byte
}

func (s *Store) getEntryWith(ctx context.Context, key string, also []string) (entryWithReply, error) {
	keys := append([]string{key}, also...)
	res, err := entryWithScript.Run(ctx, s.client, keys).Result()
	if err != nil {
		return entryWithReply{}, err
	}
	vals, ok := res.([]any)
	if !ok || len(vals) < 2 {
		return entryWithReply{}, fmt.Errorf("%w: %T from the entry script", ErrUnexpectedReply, res)
	}
	k, ok := vals[1].(int64)
	if !ok || (k != 0 && k != int64(len(also))) || len(vals) < 2+int(k) {
		return entryWithReply{}, fmt.Errorf("%w: %v values of %d from the entry script", ErrUnexpectedReply, vals[1], len(also))
	}
	all := make([][]byte, 0, len(vals)-1)
	for _, v := range append(vals[:1:1], vals[2:]...) {
		b, err := valueOf(v)
		if err != nil {
			return entryWithReply{}, err
		}
		all = append(all, b)
	}
	r := entryWithReply{entryReply: entryReply{entry: all[0]}}
	if k > 0 {
		r.also = all[1 : 1+k]
	}
	if rest := all[1+k:]; len(rest) > 0 {
		r.tags = rest
	}
	return r, nil
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
	set, err := await(ctx, func(ctx context.Context) (bool, error) {
		n, err := setIfScript.Run(ctx, s.client, skeys, args...).Int64()
		return n == 1, err
	})
	return set, wrap("set", err)
}
