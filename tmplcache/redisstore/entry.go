package redisstore

import (
	"context"
	"fmt"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/redis/go-redis/v9"
)

// entryScriptSrc reads an entry (KEYS[1]) and the tag records it depends on,
// in one round trip. It parses the entry layout of tmplcache (format 2,
// tmplcache/internal/layout/entry.go; Lua 5.1 strings are 1-based byte
// strings):
//
//	byte 1        format = 2
//	bytes 2..25   stored, expiry, build time, grace
//	bytes 26..29  n, the number of tags, big-endian
//	n times       key length (2 bytes, big-endian), key, 16-byte version
//
// It returns {entry or false, k, k values, rec1, ..., recN}, with false (a
// nil bulk reply) for a missing key. The k values are those of KEYS[2..]
// (for a build's read, [Store.GetEntryWith]; none for [Store.GetEntry]),
// read only when the read is no plain hit: the entry is missing or
// unparseable, or one of its tag records does not hold the version the
// entry stored (bytes 1..16 of a 40-byte record,
// tmplcache/internal/layout/record.go); on a likely hit k is 0. The records
// come only when the entry parses, so an entry it cannot parse comes back
// without them, for the cache to report as corrupt. Its bounds checks
// mirror tmplcache's decoder, so both agree on what is corrupt.
//
// The record keys are not declared in KEYS: they are only known once the
// entry is read. That is allowed on one server, and is why the script is
// never used on a cluster.
const entryScriptSrc = `
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
if not stale then m = 1 end -- a likely hit: the values of also are spared
return with(recs)
`

// entryScript runs with EVALSHA, falling back to EVAL when the server does
// not know it yet (a restart, a failover, SCRIPT FLUSH).
var entryScript = redis.NewScript(entryScriptSrc)

// GetEntry implements [tmplcache.EntryGetter]. On one server it costs one
// round trip (EVALSHA of the entry script; the first call on a server that
// does not know the script yet adds an EVAL). On a sharded client, or with
// [WithoutScript], it reads the entry, finds its tag record keys with
// [tmplcache.EntryTagKeys], and reads them: two round trips. A missing
// entry is (nil, nil, nil). (A cache that read the entry before knows its
// records, and reads them with it in one Get instead.)
func (s *Store) GetEntry(ctx context.Context, key string, recs [][]byte) (entry []byte, tags [][]byte, err error) {
	if s.client == nil {
		return nil, recs, ErrNilClient
	}
	r, err := await(ctx, s.direct, func(ctx context.Context) (entryReply, error) {
		if s.script {
			r, err := s.runEntryScript(ctx, key, nil)
			return r.entryReply, err
		}
		return s.getEntryTwice(ctx, key)
	})
	return r.entry, append(recs, r.tags...), wrap("get entry", err)
}

type entryReply struct {
	entry []byte
	tags  [][]byte
}

func (s *Store) getEntryTwice(ctx context.Context, key string) (entryReply, error) {
	v, err := stringValue(s.client.Get(ctx, key))
	if err != nil || v == nil {
		return entryReply{}, err
	}
	keys, err := tmplcache.EntryTagKeys(v)
	if err != nil || len(keys) == 0 {
		return entryReply{entry: v}, nil // the cache reports a corrupt entry
	}
	tags, err := s.get(ctx, keys)
	if err != nil {
		return entryReply{}, err
	}
	return entryReply{entry: v, tags: tags}, nil
}

// entryWithReply is what the entry script returned.
type entryWithReply struct {
	entryReply
	also [][]byte
}

// runEntryScript runs the entry script on key, with also as KEYS[2..].
func (s *Store) runEntryScript(ctx context.Context, key string, also []string) (entryWithReply, error) {
	keys := append([]string{key}, also...)
	res, err := entryScript.Run(ctx, s.client, keys).Result()
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
