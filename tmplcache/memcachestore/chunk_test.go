package memcachestore

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/stretchr/testify/require"

	"github.com/cachetagging/cachetagging/tmplcache"
)

func randomBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	return b
}

func TestManifestCodec(t *testing.T) {
	m := manifest{size: 10 << 20, n: 11}
	copy(m.id[:], "0123456789abcdef")
	got, ok := decodeManifest(m.encode())
	require.True(t, ok)
	require.Equal(t, m, got)

	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"an empty value", nil},
		{"a short one", m.encode()[:manifestLen-1]},
		{"a long one", append(m.encode(), 0)},
		{"another format", append([]byte{2}, m.encode()[1:]...)},
		{"no chunk", manifest{size: 10, n: 0}.encode()},
		{"a single chunk", manifest{size: 10 << 20, n: 1}.encode()},
		{"more chunks than a reader trusts", manifest{size: 1 << 40, n: maxChunks + 1}.encode()},
		{"chunks smaller than any writer makes", manifest{size: 10 << 20, n: 10<<20/(MinItemSizeLimit-itemOverhead) + 2}.encode()},
	} {
		t.Run("rejects "+tc.name, func(t *testing.T) {
			_, ok := decodeManifest(tc.b)
			require.False(t, ok)
		})
	}
	t.Run("accepts the most chunks a writer makes", func(t *testing.T) {
		_, ok := decodeManifest(manifest{size: 10 << 20, n: 10<<20/(MinItemSizeLimit-itemOverhead) + 1}.encode())
		require.True(t, ok)
	})
}

func FuzzDecodeManifest(f *testing.F) {
	m := manifest{size: 3 << 20, n: 4}
	f.Add(m.encode())
	f.Add([]byte{manifestFormat})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, ok := decodeManifest(b)
		if !ok {
			return
		}
		require.Equal(t, b, m.encode(), "a manifest decodes only from its own encoding")
		require.GreaterOrEqual(t, m.n, uint32(2))
		require.LessOrEqual(t, m.n, uint32(maxChunks))
	})
}

func TestNewWriteSplitsOnlyWhatDoesNotFit(t *testing.T) {
	const size = MinItemSizeLimit - itemOverhead
	for _, n := range []int{0, 1, size} {
		w := newWrite("k", make([]byte, n), 7, 8, size)
		require.Empty(t, w.chunks, "%d bytes fit in one item", n)
		require.Equal(t, uint32(0), w.item.Flags)
		require.Equal(t, int32(7), w.item.Expiration)
	}
	v := randomBytes(3*size + 1)
	w := newWrite("k", v, 7, 8, size)
	require.Equal(t, uint32(flagManifest), w.item.Flags)
	require.Equal(t, int32(7), w.item.Expiration)
	m, ok := decodeManifest(w.item.Value)
	require.True(t, ok)
	require.Equal(t, uint32(4), m.n)
	chunks := map[string]*memcache.Item{}
	for i, c := range w.chunks {
		require.Equal(t, m.chunkKey(i), c.Key)
		require.LessOrEqual(t, len(c.Value), size)
		require.Equal(t, int32(8), c.Expiration)
		requireLegal(t, c.Key)
		chunks[c.Key] = c
	}
	require.Equal(t, v, assemble(m, chunks))
	delete(chunks, m.chunkKey(2))
	require.Nil(t, assemble(m, chunks), "a missing chunk is a miss, not a shorter value")
}

// TestChunksOnTheServer stores values around the chunk size with a small
// item size limit, so values are split into many chunks.
func TestChunksOnTheServer(t *testing.T) {
	t.Parallel()
	client := NewTestClient(t, ServerAddr(t))
	s := New(client, WithItemSizeLimit(MinItemSizeLimit))
	size := s.cfg.chunkSize()
	ctx := context.Background()
	p := Namespace() + ":"
	raw := func(key string) *memcache.Item {
		it, err := client.Get(mapKey(key))
		require.NoError(t, err)
		return it
	}

	t.Run("values round-trip whole, split only when they do not fit", func(t *testing.T) {
		for _, n := range []int{size, size + 1, 10*size + 7} {
			key := p + "round" + strconv.Itoa(n)
			v := randomBytes(n)
			require.NoError(t, s.Set(ctx, []tmplcache.Item{{Key: key, Value: v, TTL: time.Minute}}))
			got, err := s.Get(ctx, []string{key, p + "missing", key})
			require.NoError(t, err)
			require.Equal(t, v, got[0])
			require.Nil(t, got[1])
			require.Equal(t, v, got[2])
			require.Equal(t, n > size, raw(key).Flags == flagManifest, "%d bytes", n)
		}
	})

	t.Run("a value whose chunk is gone reads as a miss", func(t *testing.T) {
		key := p + "lost"
		require.NoError(t, s.Set(ctx, []tmplcache.Item{{Key: key, Value: randomBytes(3 * size), TTL: time.Minute}}))
		m, ok := decodeManifest(raw(key).Value)
		require.True(t, ok)
		require.NoError(t, client.Delete(m.chunkKey(1)))
		got, err := s.Get(ctx, []string{key})
		require.NoError(t, err)
		require.Nil(t, got[0])
	})

	t.Run("add leaves a present value, chunked or not, untouched", func(t *testing.T) {
		old, big := randomBytes(2*size), randomBytes(4*size)
		require.NoError(t, s.Set(ctx, []tmplcache.Item{{Key: p + "kept", Value: old, TTL: time.Minute}}))
		require.NoError(t, s.Add(ctx, []tmplcache.Item{
			{Key: p + "kept", Value: big, TTL: time.Minute},
			{Key: p + "added", Value: big, TTL: time.Minute},
		}))
		got, err := s.Get(ctx, []string{p + "kept", p + "added"})
		require.NoError(t, err)
		require.True(t, bytes.Equal(old, got[0]))
		require.True(t, bytes.Equal(big, got[1]))
	})

	t.Run("a small value replaces a chunked one", func(t *testing.T) {
		key := p + "shrink"
		require.NoError(t, s.Set(ctx, []tmplcache.Item{{Key: key, Value: randomBytes(3 * size), TTL: time.Minute}}))
		require.NoError(t, s.Set(ctx, []tmplcache.Item{{Key: key, Value: []byte("small"), TTL: time.Minute}}))
		got, err := s.Get(ctx, []string{key})
		require.NoError(t, err)
		require.Equal(t, "small", string(got[0]))
	})
}

// TestValuesOverTheDefaultLimit stores a value the server refuses as one
// item (3 MiB, where memcached's default -I is 1 MiB).
func TestValuesOverTheDefaultLimit(t *testing.T) {
	t.Parallel()
	client := NewTestClient(t, ServerAddr(t))
	ctx := context.Background()
	key := Namespace() + ":big"
	v := randomBytes(3 << 20)
	require.Error(t, client.Set(&memcache.Item{Key: mapKey(key), Value: v}),
		"the server must refuse 3 MiB in one item, or this test tests nothing")
	s := New(client)
	require.NoError(t, s.Set(ctx, []tmplcache.Item{{Key: key, Value: v, TTL: time.Minute}}))
	got, err := s.Get(ctx, []string{key})
	require.NoError(t, err)
	require.True(t, bytes.Equal(v, got[0]), "3 MiB value differs")
}
