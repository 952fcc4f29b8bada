package redisstore

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// rawEntry lays an entry out by hand, as tmplcache/entry.go documents it,
// so the script is tested against the documented format, not against
// whatever the cache happens to write.
func rawEntry(keys []string, value string) []byte {
	b := make([]byte, 25) // format, stored, expiry, build time, grace
	b[0] = 2
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for i, k := range keys {
		b = binary.BigEndian.AppendUint16(b, uint16(len(k)))
		b = append(b, k...)
		b = append(b, strings.Repeat(string(rune('a'+i%26)), 16)...)
	}
	return append(b, value...)
}

// entryCases are raw entries, valid and corrupt. Their tag keys start with
// prefix: tag keys are absolute, and a shared server must only see keys of
// the test's own namespace.
func entryCases(prefix string) map[string][]byte {
	p := func(keys ...string) []string {
		for i := range keys {
			keys[i] = prefix + keys[i]
		}
		return keys
	}
	long := strings.Repeat("L", 300) // a key length whose high byte is not 0
	valid := rawEntry(p("t:a", "t:b"), "value")
	bare := rawEntry(p("t:a"), "") // ends with its last version
	firstKeyEnd := 29 + 2 + len(prefix+"t:a")
	return map[string][]byte{
		"no tags":                             rawEntry(nil, "value"),
		"no tags and no value":                rawEntry(nil, ""),
		"one tag":                             rawEntry(p("t:one"), "<p>hi</p>"),
		"one tag and no value":                bare,
		"five tags":                           rawEntry(p("t:1", "t:2", "t:3", "t:4", "t:5"), "v"),
		"binary tag keys":                     rawEntry(p("t:\x00nul", "t:\xff\xfe", "t:{slot}", "t:\r\n"), "v"),
		"a tag key longer than 255 bytes":     rawEntry(p(long, "t:short"), "v"),
		"an empty tag key":                    rawEntry(p(""), "v"),
		"a value that looks like tags":        rawEntry(p("t:a"), string(rawEntry(p("t:b"), "x"))),
		"the same tag twice":                  rawEntry(p("t:a", "t:a"), "v"),
		"corrupt: empty":                      {},
		"corrupt: shorter than the header":    valid[:20],
		"corrupt: unknown format":             append([]byte{1}, valid[1:]...),
		"corrupt: key length past the end":    valid[:21+1],
		"corrupt: key past the end":           valid[:firstKeyEnd-1],
		"corrupt: version past the end":       valid[:firstKeyEnd+15],
		"corrupt: last version cut short":     bare[:len(bare)-1],
		"corrupt: more tags than are there":   append(append([]byte{}, valid[:25]...), append([]byte{0, 0, 0, 3}, valid[29:]...)...),
		"corrupt: a tag count no entry holds": append(append([]byte{}, valid[:25]...), append([]byte{0xff, 0xff, 0xff, 0xff}, valid[29:]...)...),
	}
}

// checkEntryScript stores raw as an entry and a record for every other tag
// key it names, and checks GetEntry against tmplcache's own decoder.
func checkEntryScript(t *testing.T, c redis.UniversalClient, s *Store, entryKey string, raw []byte) {
	t.Helper()
	ctx := testCtx(t)
	keys, decodeErr := tmplcache.EntryTagKeys(raw)
	require.NoError(t, c.Set(ctx, entryKey+":also", "along", 0).Err())
	want := make([][]byte, len(keys))
	for i, k := range keys {
		switch {
		case k == entryKey: // fuzzed data may name the entry itself
			want[i] = raw
		case len(k)%2 == 0: // present or missing by the key, so a key named twice agrees
			want[i] = []byte("record of " + k)
			require.NoError(t, c.Set(ctx, k, want[i], 0).Err())
		default:
			require.NoError(t, c.Del(ctx, k).Err())
		}
	}
	require.NoError(t, s.Set(ctx, []tmplcache.Item{{Key: entryKey, Value: raw}}))
	entry, recs, err := s.GetEntry(ctx, entryKey, nil)
	require.NoError(t, err)
	require.Equal(t, raw, entry)
	// The build's read parses the entry alike, and brings the values at
	// also along.
	also := []string{entryKey + ":also", entryKey}
	alsoWant, err := stringValue(c.Get(ctx, also[0])) // fuzzed data may name it too
	require.NoError(t, err)
	entryWith, recsWith, alsoVals, err := s.GetEntryWith(ctx, entryKey, nil, also)
	require.NoError(t, err)
	require.Equal(t, raw, entryWith)
	if alsoVals != nil || decodeErr != nil { // values come unless the read looks like a hit
		require.Equal(t, [][]byte{alsoWant, raw}, alsoVals)
	}
	require.Equal(t, len(recs), len(recsWith))
	if decodeErr != nil || len(keys) == 0 {
		require.Empty(t, recs, "an entry the cache cannot decode (%v) or without tags comes back alone", decodeErr)
		return
	}
	require.Equal(t, want, recs)
	require.Equal(t, want, recsWith)
}

func TestEntryScript(t *testing.T) {
	backends := []struct {
		name   string
		client func(t *testing.T) redis.UniversalClient
	}{
		{"miniredis", func(t *testing.T) redis.UniversalClient { c, _ := miniClient(t); return c }},
		{"redis", func(t *testing.T) redis.UniversalClient { return realClient(t) }},
	}
	for _, b := range backends {
		t.Run("on "+b.name, func(t *testing.T) {
			c := b.client(t)
			s := New(c)
			require.True(t, s.script)
			prefix := namespace(t, c) + ":"
			if b.name == "miniredis" {
				prefix = "" // a private server: try the empty key too
			}
			for name, raw := range entryCases(prefix) {
				t.Run("reads "+name, func(t *testing.T) {
					checkEntryScript(t, c, s, prefix+"entry:"+name, raw)
				})
			}
		})
	}
}

func TestEntryScriptSurvivesAScriptFlush(t *testing.T) {
	c, _ := miniClient(t)
	s := New(c)
	ctx := testCtx(t)
	cache := tmplcache.New(s)
	require.NoError(t, cache.Set(ctx, "k", []byte("v"), tmplcache.Tags("a")))
	for range 2 {
		v, ok, err := cache.Get(ctx, "k")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "v", string(v))
		require.NoError(t, c.ScriptFlush(ctx).Err()) // a restart or failover forgets scripts
	}
}

// FuzzEntryScript checks that the Lua script and tmplcache's decoder agree
// on every entry: the same tag keys, in the same order, and the same idea
// of what is corrupt.
func FuzzEntryScript(f *testing.F) {
	for _, raw := range entryCases("") {
		f.Add(raw)
	}
	c, _ := miniClient(f)
	s := New(c)
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkEntryScript(t, c, s, "fuzz:entry", raw)
	})
}
