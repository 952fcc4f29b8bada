package memcachestore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// requireLegal checks what memcached's text protocol needs of a key.
func requireLegal(t *testing.T, key string) {
	t.Helper()
	require.NotEmpty(t, key)
	require.LessOrEqual(t, len(key), 250, "key %q", key)
	for i := 0; i < len(key); i++ {
		require.True(t, key[i] > ' ' && key[i] < 0x7f, "byte %#x at %d of %q", key[i], i, key)
	}
}

func TestMapKey(t *testing.T) {
	long := strings.Repeat("k", maxKeyLen)
	for _, tc := range []struct {
		name string
		key  string
		kept bool
	}{
		{"a short printable key is kept", "ns:e:post:1", true},
		{"a key of 250 bytes is kept", long, true},
		{"a '#' after the first byte is kept", "a#b", true},
		{"a key of 251 bytes is hashed", long + "k", false},
		{"the empty key is hashed", "", false},
		{"a space is hashed", "a b", false},
		{"a tab is hashed", "a\tb", false},
		{"a newline is hashed", "a\r\nb", false},
		{"a NUL is hashed", "a\x00b", false},
		{"DEL is hashed", "a\x7fb", false},
		{"UTF-8 is hashed", "ünïcødé", false},
		{"invalid UTF-8 is hashed", "\xff\xfe", false},
		{"a key starting with '#' is hashed", "#abc", false},
		{"a key that is a hashed key is hashed again", mapKey("a b"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mapKey(tc.key)
			requireLegal(t, got)
			require.Equal(t, got, mapKey(tc.key), "the mapping must be deterministic")
			if tc.kept {
				require.Equal(t, tc.key, got)
				return
			}
			require.NotEqual(t, tc.key, got)
			require.Len(t, got, hashedLen)
			require.Equal(t, byte(hashPrefix), got[0])
			require.NotContains(t, got, ".", "'.' is reserved for chunk keys")
		})
	}
}

// oddKeys returns keys that a careless mapping would confuse: every byte on
// its own and inside a key, keys around the length limit, keys that look
// like hashed keys.
func oddKeys() []string {
	long := strings.Repeat("x", maxKeyLen)
	keys := []string{
		"", " ", "  ", "a b", "a_b", "a-b", "a\tb", "a\nb", "a\r\nb", "a\x00b", "a\x00c",
		long[:249], long, long + "x", long + "y", long + long, "ünïcødé", "\xff\xfe",
		"#", "##", mapKey("a b"), "#" + mapKey("a b"), mapKey("a b") + " ",
		mapKey(long + "x"), strings.ToUpper(mapKey("a b")),
	}
	for b := range 256 {
		keys = append(keys, string(rune(b)), string([]byte{byte(b)}), "ns:"+string([]byte{byte(b)})+":k")
	}
	return keys
}

func TestMapKeyKeepsOddKeysDistinct(t *testing.T) {
	seen := map[string]string{} // memcached key → key
	for _, k := range oddKeys() {
		mk := mapKey(k)
		requireLegal(t, mk)
		if prev, dup := seen[mk]; dup && prev != k {
			t.Fatalf("keys %q and %q both map to %q", prev, k, mk)
		}
		seen[mk] = k
	}
}

// TestOddKeysStayDistinctOnTheServer stores every odd key with a value of
// its own and reads them all back in one call.
func TestOddKeysStayDistinctOnTheServer(t *testing.T) {
	s := New(NewTestClient(t, ServerAddr(t)))
	ns := Namespace() + ":"
	uniq := map[string]bool{}
	var keys []string
	for _, k := range oddKeys() {
		if !uniq[k] {
			uniq[k] = true
			keys = append(keys, k)
		}
	}
	items := make([]tmplcache.Item, len(keys))
	for i, k := range keys {
		// Half of them keep their odd start ("#...", " "), made unique by
		// a suffix.
		if i%2 == 0 {
			keys[i] = ns + k
		} else {
			keys[i] = k + ns
		}
		items[i] = tmplcache.Item{Key: keys[i], Value: []byte(fmt.Sprint(i)), TTL: time.Minute}
	}
	ctx := context.Background()
	require.NoError(t, s.Set(ctx, items))
	vals, err := s.Get(ctx, keys)
	require.NoError(t, err)
	for i, v := range vals {
		require.Equal(t, fmt.Sprint(i), string(v), "key %q", keys[i])
	}
}

func FuzzMapKey(f *testing.F) {
	for _, k := range oddKeys()[:30] {
		f.Add(k, "a b")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ma, mb := mapKey(a), mapKey(b)
		requireLegal(t, ma)
		if rawKey(a) {
			require.Equal(t, a, ma)
		}
		if a != b {
			require.NotEqual(t, ma, mb, "%q and %q", a, b)
		}
	})
}
