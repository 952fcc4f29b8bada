package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/redis/go-redis/v9"
)

// Store is a [tmplcache.Store] (and a [tmplcache.EntryGetter]) on Redis.
// It is safe for concurrent use. Make one with [New].
//
// Store is shared, not [tmplcache.Local]: every process on the same Redis
// sees what it stores, so the renderer needs a secret every process knows.
type Store struct {
	client  redis.UniversalClient // nil: every call returns ErrNilClient
	sharded bool                  // single-key commands only (Cluster, Ring, [Sharded])
	script  bool                  // GetEntry runs entryScript (not sharded, not [WithoutScript])
	direct  bool                  // calls with a deadline run on the caller's goroutine (see await)
}

var _ interface {
	tmplcache.Store
	tmplcache.EntryGetter
} = (*Store)(nil)

// New returns a store on client: a [*redis.Client] (one server, or a
// Sentinel-managed master made by NewFailoverClient), a
// [*redis.ClusterClient] or a [*redis.Ring], as made by
// redis.NewUniversalClient or directly. The store does not own the client:
// closing it is the caller's business.
//
// New never fails: a nil client makes a store whose every call returns
// [ErrNilClient].
//
// [*redis.Client]: https://pkg.go.dev/github.com/redis/go-redis/v9#Client
// [*redis.ClusterClient]: https://pkg.go.dev/github.com/redis/go-redis/v9#ClusterClient
// [*redis.Ring]: https://pkg.go.dev/github.com/redis/go-redis/v9#Ring
func New(client redis.UniversalClient, opts ...Option) *Store {
	var cfg config
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	if isNil(client) {
		return &Store{}
	}
	sharded := cfg.sharded || isSharded(client)
	return &Store{client: client, sharded: sharded, script: !sharded && !cfg.noScript, direct: honoursDeadlines(client)}
}

// honoursDeadlines reports clients built with ContextTimeoutEnabled: they
// end a command at its context's deadline themselves.
func honoursDeadlines(c redis.UniversalClient) bool {
	switch c := c.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// isSharded reports clients that spread keys over several servers: a
// multi-key command (MGET, DEL k1 k2, a script touching undeclared keys)
// fails on them with CROSSSLOT, or silently reads one shard only.
func isSharded(c redis.UniversalClient) bool {
	switch c.(type) {
	case *redis.ClusterClient, *redis.Ring:
		return true
	}
	return false
}

func isNil(c redis.UniversalClient) bool {
	switch c := c.(type) {
	case nil:
		return true
	case *redis.Client:
		return c == nil
	case *redis.ClusterClient:
		return c == nil
	case *redis.Ring:
		return c == nil
	}
	return false
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

// Get implements [tmplcache.Store]: one MGET, or on a sharded client one
// pipeline of GETs (one round trip per server, in parallel). The values
// returned share memory with the reply and must not be modified.
func (s *Store) Get(ctx context.Context, keys []string) ([][]byte, error) {
	if s.client == nil {
		return nil, ErrNilClient
	}
	if len(keys) == 0 {
		return [][]byte{}, nil
	}
	vals, err := await(ctx, s.direct, func(ctx context.Context) ([][]byte, error) {
		return s.get(ctx, keys)
	})
	return vals, wrap("get", err)
}

func (s *Store) get(ctx context.Context, keys []string) ([][]byte, error) {
	switch {
	case len(keys) == 1:
		v, err := stringValue(s.client.Get(ctx, keys[0]))
		if err != nil {
			return nil, err
		}
		return [][]byte{v}, nil
	case s.sharded && !oneHashTag(keys):
		return s.getEach(ctx, keys)
	}
	res, err := s.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, err
	}
	if len(res) != len(keys) {
		return nil, fmt.Errorf("%w: MGET of %d keys returned %d values", ErrUnexpectedReply, len(keys), len(res))
	}
	vals := make([][]byte, len(res))
	for i, v := range res {
		if vals[i], err = valueOf(v); err != nil {
			return nil, err
		}
	}
	return vals, nil
}

// oneHashTag reports keys that all carry the same Redis Cluster hash tag
// (the "{...}" part that picks the slot): a cache's tag records and clock
// do, so one MGET on one node reads them all.
func oneHashTag(keys []string) bool {
	tag := hashTag(keys[0])
	if tag == "" {
		return false
	}
	for _, k := range keys[1:] {
		if hashTag(k) != tag {
			return false
		}
	}
	return true
}

// hashTag returns the part of key Redis Cluster hashes when it has one:
// what lies between the first '{' and the first '}' after it, if not empty.
func hashTag(key string) string {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(key[i+1:], '}')
	if j <= 0 {
		return ""
	}
	return key[i+1 : i+1+j]
}

// getEach reads keys with one pipeline of single-key GETs: a cluster
// client sends each node its share, all nodes at once.
func (s *Store) getEach(ctx context.Context, keys []string) ([][]byte, error) {
	pipe := s.client.Pipeline()
	cmds := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Get(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	if err := firstErr(cmds); err != nil {
		return nil, err
	}
	vals := make([][]byte, len(cmds))
	for i, c := range cmds {
		vals[i], _ = stringValue(c) // errors were checked above
	}
	return vals, nil
}

// Set implements [tmplcache.Store]: one SET (PX for a TTL), or a pipeline
// of them for several items.
func (s *Store) Set(ctx context.Context, items []tmplcache.Item) error {
	return wrap("set", s.write(ctx, items, false))
}

// Add implements [tmplcache.Store]: SET NX per item, in one pipeline.
func (s *Store) Add(ctx context.Context, items []tmplcache.Item) error {
	return wrap("add", s.write(ctx, items, true))
}

func (s *Store) write(ctx context.Context, items []tmplcache.Item, nx bool) error {
	if s.client == nil {
		return ErrNilClient
	}
	if len(items) == 0 {
		return nil
	}
	_, err := await(ctx, s.direct, func(ctx context.Context) (struct{}, error) {
		if len(items) == 1 {
			cmd := setCmd(ctx, items[0], nx)
			_ = s.client.Process(ctx, cmd)
			return struct{}{}, firstErr([]*redis.StatusCmd{cmd})
		}
		pipe := s.client.Pipeline()
		cmds := make([]*redis.StatusCmd, len(items))
		for i, it := range items {
			cmds[i] = setCmd(ctx, it, nx)
			_ = pipe.Process(ctx, cmds[i])
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return struct{}{}, err
		}
		return struct{}{}, firstErr(cmds)
	})
	return err
}

// setCmd builds SET key value [PX ms] [NX]. It is built by hand rather
// than with go-redis's Set, which switches between EX and PX and truncates
// (with a log line) a TTL under a millisecond.
func setCmd(ctx context.Context, it tmplcache.Item, nx bool) *redis.StatusCmd {
	args := make([]any, 3, 6)
	args[0], args[1], args[2] = "set", it.Key, it.Value
	if it.TTL > 0 {
		args = append(args, "px", ttlMillis(it.TTL))
	}
	if nx {
		args = append(args, "nx")
	}
	cmd := redis.NewStatusCmd(ctx, args...)
	cmd.SetFirstKeyPos(1) // route by key on a cluster without asking COMMAND INFO
	return cmd
}

// ttlMillis rounds a positive TTL up to whole milliseconds: an item never
// expires before its TTL, nor turns into one that never expires.
func ttlMillis(d time.Duration) int64 {
	ms := int64(d / time.Millisecond)
	if d%time.Millisecond != 0 {
		ms++
	}
	return ms
}

// Delete implements [tmplcache.Store]: one DEL, or on a sharded client a
// pipeline of single-key DELs.
func (s *Store) Delete(ctx context.Context, keys []string) error {
	if s.client == nil {
		return ErrNilClient
	}
	if len(keys) == 0 {
		return nil
	}
	_, err := await(ctx, s.direct, func(ctx context.Context) (struct{}, error) {
		if len(keys) == 1 || !s.sharded {
			return struct{}{}, s.client.Del(ctx, keys...).Err()
		}
		pipe := s.client.Pipeline()
		cmds := make([]*redis.IntCmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.Del(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, firstErr(cmds)
	})
	return wrap("delete", err)
}
