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
// It returns {} for a missing entry, {entry, rec1, ..., recN} otherwise,
// with false (a nil bulk reply) for a missing record; an entry it cannot
// parse comes back alone, for the cache to report as corrupt. Its bounds
// checks mirror tmplcache's decoder, so both agree on what is corrupt.
//
// The record keys are not declared in KEYS: they are only known once the
// entry is read. That is allowed on one server, and is why the script is
// never used on a cluster.
const entryScriptSrc = `
local e = redis.call('GET', KEYS[1])
if not e then return {} end
local len = #e
if len < 29 or string.byte(e, 1) ~= 2 then return {e} end
local n = ((string.byte(e, 26) * 256 + string.byte(e, 27)) * 256 + string.byte(e, 28)) * 256 + string.byte(e, 29)
if n * 18 > len - 29 then return {e} end
local out = {e}
local p = 30
for i = 1, n do
  if p + 1 > len then return {e} end
  local kl = string.byte(e, p) * 256 + string.byte(e, p + 1)
  p = p + 2
  if p + kl + 15 > len then return {e} end
  out[i + 1] = redis.call('GET', string.sub(e, p, p + kl - 1))
  p = p + kl + 16
end
return out
`

// entryScript runs with EVALSHA, falling back to EVAL when the server does
// not know it yet (a restart, a failover, SCRIPT FLUSH).
var entryScript = redis.NewScript(entryScriptSrc)

// GetEntry implements [tmplcache.EntryGetter]. On one server it costs one
// round trip (EVALSHA of the entry script; the first call on a server that
// does not know the script yet adds an EVAL). On a sharded client, or with
// [WithoutScript], it reads the entry, finds its tag record keys with
// [tmplcache.EntryTagKeys], and reads them: two round trips. A missing
// entry is (nil, nil, nil).
func (s *Store) GetEntry(ctx context.Context, key string, recs [][]byte) (entry []byte, tags [][]byte, err error) {
	if s.client == nil {
		return nil, recs, ErrNilClient
	}
	r, err := await(ctx, func(ctx context.Context) (entryReply, error) {
		if s.script {
			return s.getEntryScript(ctx, key)
		}
		return s.getEntryTwice(ctx, key)
	})
	return r.entry, append(recs, r.tags...), wrap("get entry", err)
}

type entryReply struct {
	entry []byte
	tags  [][]byte
}

func (s *Store) getEntryScript(ctx context.Context, key string) (entryReply, error) {
	res, err := entryScript.Run(ctx, s.client, []string{key}).Result()
	if err != nil {
		return entryReply{}, err
	}
	vals, ok := res.([]any)
	if !ok {
		return entryReply{}, fmt.Errorf("%w: %T from the entry script", ErrUnexpectedReply, res)
	}
	if len(vals) == 0 {
		return entryReply{}, nil
	}
	var r entryReply
	if r.entry, err = valueOf(vals[0]); err != nil {
		return entryReply{}, err
	}
	if r.entry == nil {
		return entryReply{}, fmt.Errorf("%w: nil entry from the entry script", ErrUnexpectedReply)
	}
	if len(vals) == 1 {
		return r, nil
	}
	r.tags = make([][]byte, len(vals)-1)
	for i, v := range vals[1:] {
		if r.tags[i], err = valueOf(v); err != nil {
			return entryReply{}, err
		}
	}
	return r, nil
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
