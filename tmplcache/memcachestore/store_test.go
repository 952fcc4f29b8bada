package memcachestore_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/stretchr/testify/require"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/memcachestore"
	"github.com/cachetagging/cachetagging/tmplcache/storetest"
)

func newStore(t *testing.T, opts ...memcachestore.Option) *memcachestore.Store {
	t.Helper()
	return memcachestore.New(memcachestore.NewTestClient(t, memcachestore.ServerAddr(t)), opts...)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	addr := memcachestore.ServerAddr(t)
	storetest.Run(t, func(t *testing.T) tmplcache.Store {
		return memcachestore.New(memcachestore.NewTestClient(t, addr))
	})
}

func TestStoreIsShared(t *testing.T) {
	s := memcachestore.New(memcache.New("127.0.0.1:1"))
	_, local := any(s).(tmplcache.Local)
	require.False(t, local, "memcached is seen by every process: the store must not be Local")
	require.True(t, tmplcache.New(s).Shared())
}

// Memcached cannot read an entry and the records it names in one command,
// but once a cache has read the entry it knows them: a hit is then one get
// of both, also after the entry was rebuilt with other tags and read once.
func TestKnownEntriesAreOneGet(t *testing.T) {
	proxy := newGetCounter(t, memcachestore.ServerAddr(t))
	c := tmplcache.New(memcachestore.New(memcachestore.NewTestClient(t, proxy.addr())),
		tmplcache.WithNamespace(memcachestore.Namespace()))
	ctx := context.Background()
	hit := func(want string) int64 {
		t.Helper()
		before := proxy.gets.Load()
		v, ok, err := c.Get(ctx, "k")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, want, string(v))
		return proxy.gets.Load() - before
	}
	require.NoError(t, c.Set(ctx, "k", []byte("v1"), tmplcache.Tags("a", "b")))
	require.Equal(t, int64(2), hit("v1"), "the first read: the entry, then its records")
	require.Equal(t, int64(1), hit("v1"), "a known entry: one get")

	require.NoError(t, c.Set(ctx, "k", []byte("v2"), tmplcache.Tags("b", "c", "d")))
	hit("v2") // rebuilt with other tags: read again, learned (tmplcache's TestKnownEntriesAreOneRead)
	require.Equal(t, int64(1), hit("v2"))
}

// getCounter is a TCP proxy in front of a memcached server that counts the
// get commands (get, gets) its clients send: one per round trip a read
// makes to the server.
type getCounter struct {
	ln   net.Listener
	gets atomic.Int64
}

func newGetCounter(t *testing.T, upstream string) *getCounter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &getCounter{ln: ln}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", upstream)
			if err != nil {
				_ = client.Close()
				continue
			}
			go func() { _, _ = io.Copy(client, server); _ = client.Close() }()
			go p.forward(server, client)
		}
	}()
	return p
}

func (p *getCounter) addr() string { return p.ln.Addr().String() }

// forward copies the client's commands to the server, counting gets.
func (p *getCounter) forward(server, client net.Conn) {
	defer server.Close()
	r := bufio.NewReader(client)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			if bytes.HasPrefix(line, []byte("get ")) || bytes.HasPrefix(line, []byte("gets ")) {
				p.gets.Add(1)
			}
			if _, werr := server.Write(line); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func TestNewLeavesTheClientAsItIs(t *testing.T) {
	c := memcache.New("127.0.0.1:1")
	memcachestore.New(c)
	require.Zero(t, c.Timeout)
}

func TestBadConfigurationFailsEveryCall(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store *memcachestore.Store
		want  error
	}{
		{"a nil client", memcachestore.New(nil), memcachestore.ErrNilClient},
		{"an item size limit below the minimum", memcachestore.New(memcache.New("127.0.0.1:1"),
			memcachestore.WithItemSizeLimit(memcachestore.MinItemSizeLimit-1)), tmplcache.ErrBadOption},
		{"a negative item size limit", memcachestore.New(memcache.New("127.0.0.1:1"),
			memcachestore.WithItemSizeLimit(-1)), tmplcache.ErrBadOption},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			items := []tmplcache.Item{{Key: "k", Value: []byte("v")}}
			_, err := tc.store.Get(ctx, []string{"k"})
			require.ErrorIs(t, err, tc.want)
			require.ErrorIs(t, tc.store.Set(ctx, items), tc.want)
			require.ErrorIs(t, tc.store.Add(ctx, items), tc.want)
			require.ErrorIs(t, tc.store.Delete(ctx, []string{"k"}), tc.want)
		})
	}
}

func TestEmptyValueIsNotAMiss(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	p := memcachestore.Namespace() + ":"
	require.NoError(t, s.Set(ctx, []tmplcache.Item{{Key: p + "empty", Value: nil, TTL: time.Minute}}))
	vals, err := s.Get(ctx, []string{p + "empty", p + "missing"})
	require.NoError(t, err)
	require.NotNil(t, vals[0], "a stored empty value is present")
	require.Empty(t, vals[0])
	require.Nil(t, vals[1])
}

func TestNegativeTTLIsAnErrorAndStoresNothing(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	p := memcachestore.Namespace() + ":"
	items := []tmplcache.Item{
		{Key: p + "ok", Value: []byte("v"), TTL: time.Minute},
		{Key: p + "bad", Value: []byte("v"), TTL: -time.Second},
	}
	require.ErrorIs(t, s.Set(ctx, items), memcachestore.ErrNegativeTTL)
	require.ErrorIs(t, s.Add(ctx, items), memcachestore.ErrNegativeTTL)
	vals, err := s.Get(ctx, []string{p + "ok", p + "bad"})
	require.NoError(t, err)
	require.Equal(t, [][]byte{nil, nil}, vals, "a batch with a bad item is refused whole")
}

func TestCacheOverMemcached(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	ns := memcachestore.Namespace()
	// Two caches on one store play two processes on one memcached.
	a := tmplcache.New(s, tmplcache.WithNamespace(ns))
	b := tmplcache.New(s, tmplcache.WithNamespace(ns))
	key := "fragment with spaces and a long tail " + string(make([]byte, 300))
	require.NoError(t, a.Set(ctx, key, []byte("v1"), tmplcache.Tags("post:1", "posts")))
	got, ok, err := b.Get(ctx, key)
	require.NoError(t, err)
	require.True(t, ok, "an entry stored by one process is seen by another")
	require.Equal(t, "v1", string(got))

	require.NoError(t, b.InvalidateTags(ctx, "posts"))
	_, ok, err = a.Get(ctx, key)
	require.NoError(t, err)
	require.False(t, ok, "an invalidation by one process is seen by another")
	require.Zero(t, a.Stats().StoreErrors+b.Stats().StoreErrors)
}
