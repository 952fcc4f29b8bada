package redisstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/storetest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"with the entry script", nil},
		{"without the entry script", []Option{WithoutScript()}},
		{"with single-key commands only", []Option{Sharded()}},
	} {
		t.Run("on miniredis "+tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T) tmplcache.Store {
				c, _ := miniClient(t)
				return New(c, tc.opts...)
			})
		})
		t.Run("on redis "+tc.name, func(t *testing.T) {
			t.Parallel()
			c := realClient(t)
			storetest.Run(t, func(t *testing.T) tmplcache.Store { return track(t, New(c, tc.opts...)) })
		})
	}
}

func TestNewChoosesCommandsByClient(t *testing.T) {
	closed := func(c redis.UniversalClient) redis.UniversalClient {
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	// Clients connect lazily: none of these needs a server.
	single := closed(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}))
	for _, tc := range []struct {
		name            string
		client          redis.UniversalClient
		opts            []Option
		sharded, script bool
	}{
		{"a single-node client gets MGET and the entry script", single, nil, false, true},
		{"a cluster client gets single-key commands", closed(redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})), nil, true, false},
		{"a universal client over several addresses is a cluster client", closed(redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}})), nil, true, false},
		{"a ring gets single-key commands", closed(redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})), nil, true, false},
		{"a sentinel failover client is a single node", closed(redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}})), nil, false, true},
		{"Sharded forces single-key commands", single, []Option{Sharded()}, true, false},
		{"WithoutScript reads entries in two steps", single, []Option{WithoutScript()}, false, false},
		{"nil options are ignored", single, []Option{nil}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(tc.client, tc.opts...)
			require.Equal(t, tc.sharded, s.sharded, "sharded")
			require.Equal(t, tc.script, s.script, "script")
		})
	}
}

func TestStoreIsShared(t *testing.T) {
	c, _ := miniClient(t)
	var s tmplcache.Store = New(c)
	_, local := s.(tmplcache.Local)
	require.False(t, local, "a Redis store is seen by every process: it must not implement tmplcache.Local")
	require.True(t, tmplcache.New(s).Shared())
}

func TestNilClient(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client redis.UniversalClient
	}{
		{"nil interface", nil},
		{"nil *redis.Client", (*redis.Client)(nil)},
		{"nil *redis.ClusterClient", (*redis.ClusterClient)(nil)},
	} {
		t.Run("a store on a "+tc.name+" returns ErrNilClient from every call", func(t *testing.T) {
			s := New(tc.client)
			ctx := context.Background()
			_, err := s.Get(ctx, []string{"k"})
			require.ErrorIs(t, err, ErrNilClient)
			require.ErrorIs(t, s.Set(ctx, []tmplcache.Item{{Key: "k"}}), ErrNilClient)
			require.ErrorIs(t, s.Add(ctx, []tmplcache.Item{{Key: "k"}}), ErrNilClient)
			require.ErrorIs(t, s.Delete(ctx, []string{"k"}), ErrNilClient)
			_, _, err = s.GetEntry(ctx, "k", nil)
			require.ErrorIs(t, err, ErrNilClient)
		})
	}
}

func TestTTLIsSentInMilliseconds(t *testing.T) {
	c, mr := miniClient(t)
	mr.ClockTTL(false) // hold the TTLs still so they can be read back exactly
	s := New(c)
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		want time.Duration // 0: no expiry
	}{
		{"whole milliseconds are kept", 1500 * time.Millisecond, 1500 * time.Millisecond},
		{"whole seconds are kept", 2 * time.Second, 2 * time.Second},
		{"a fraction of a millisecond rounds up", time.Millisecond + time.Nanosecond, 2 * time.Millisecond},
		{"under a millisecond is one millisecond, not forever", 10 * time.Microsecond, time.Millisecond},
		{"zero means no expiry", 0, 0},
		{"a negative TTL means no expiry", -time.Second, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			require.NoError(t, s.Set(ctx, []tmplcache.Item{{Key: "set:" + tc.name, Value: []byte("v"), TTL: tc.ttl}}))
			require.NoError(t, s.Add(ctx, []tmplcache.Item{
				{Key: "add:" + tc.name, Value: []byte("v"), TTL: tc.ttl},
				{Key: "add2:" + tc.name, Value: []byte("v"), TTL: tc.ttl},
			}))
			for _, k := range []string{"set:", "add:", "add2:"} {
				require.Equal(t, tc.want, mr.TTL(k+tc.name), k)
			}
		})
	}
}

func TestValues(t *testing.T) {
	c, _ := miniClient(t)
	s := New(c)
	ctx := testCtx(t)

	t.Run("an empty value is present, not a miss", func(t *testing.T) {
		require.NoError(t, s.Set(ctx, []tmplcache.Item{{Key: "empty", Value: []byte{}}, {Key: "nil"}}))
		vals, err := s.Get(ctx, []string{"empty", "nil", "absent"})
		require.NoError(t, err)
		require.NotNil(t, vals[0])
		require.Empty(t, vals[0])
		require.NotNil(t, vals[1])
		require.Nil(t, vals[2])
		vals, err = s.Get(ctx, []string{"empty"})
		require.NoError(t, err)
		require.NotNil(t, vals[0])
	})

	t.Run("values read are independent of later writes", func(t *testing.T) {
		require.NoError(t, s.Set(ctx, []tmplcache.Item{{Key: "k", Value: []byte("first")}}))
		vals, err := s.Get(ctx, []string{"k", "k"})
		require.NoError(t, err)
		require.NoError(t, s.Set(ctx, []tmplcache.Item{{Key: "k", Value: []byte("second")}}))
		again, err := s.Get(ctx, []string{"k"})
		require.NoError(t, err)
		require.Equal(t, "first", string(vals[0]))
		require.Equal(t, "first", string(vals[1]))
		require.Equal(t, "second", string(again[0]))
	})
}

func TestServerErrorsAreReturnedWrapped(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"single node", nil},
		{"single-key commands", []Option{Sharded()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, mr := miniClient(t)
			// No retries: go-redis would retry LOADING with back-off.
			c := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
			t.Cleanup(func() { _ = c.Close() })
			s := New(c, tc.opts...)
			ctx := testCtx(t)
			require.NoError(t, s.Set(ctx, []tmplcache.Item{{Key: "k", Value: []byte("v")}}))
			mr.SetError("LOADING Redis is loading the dataset in memory")
			defer mr.SetError("")
			check := func(op string, err error) {
				t.Helper()
				require.Error(t, err, op)
				require.True(t, strings.HasPrefix(err.Error(), "redisstore: "+op+": "), "%s: %v", op, err)
				require.Contains(t, err.Error(), "LOADING", op)
			}
			_, err := s.Get(ctx, []string{"k"})
			check("get", err)
			_, err = s.Get(ctx, []string{"k", "l"})
			check("get", err)
			check("set", s.Set(ctx, []tmplcache.Item{{Key: "k"}, {Key: "l"}}))
			check("add", s.Add(ctx, []tmplcache.Item{{Key: "k"}}))
			check("delete", s.Delete(ctx, []string{"k", "l"}))
			_, _, err = s.GetEntry(ctx, "k", nil)
			check("get entry", err)
			var redisErr redis.Error
			require.True(t, errors.As(err, &redisErr), "the server's error stays reachable: %T", err)
		})
	}
}
