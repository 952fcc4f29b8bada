package entrykeys

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachetagging/cachetagging/tmplcache/internal/layout"
)

func entry(keys ...string) []byte {
	deps := make([]layout.Dep, len(keys))
	for i, k := range keys {
		deps[i] = layout.Dep{Key: k}
	}
	return layout.AppendEntry(nil, layout.Meta{}, deps, []byte("value"))
}

func TestMemoLearnsWhatEntriesName(t *testing.T) {
	var m Memo
	_, ok := m.Get("e")
	require.False(t, ok)

	e := entry("r1", "r2")
	m.Learn("e", e)
	keys, ok := m.Get("e")
	require.True(t, ok)
	require.Equal(t, []string{"r1", "r2"}, keys)
	clear(e) // the entry's memory is reused: what was learned must not change
	keys, _ = m.Get("e")
	require.Equal(t, []string{"r1", "r2"}, keys)

	m.Learn("none", entry())
	keys, ok = m.Get("none")
	require.True(t, ok, "an entry without tags is learned too")
	require.Empty(t, keys)

	m.Learn("garbage", []byte("not an entry"))
	_, ok = m.Get("garbage")
	require.False(t, ok)
}

func TestMemoIsBounded(t *testing.T) {
	var m Memo
	for i := range Max + 10 {
		m.Learn(fmt.Sprint("e", i), entry("r"))
	}
	n := 0
	m.m.Range(func(any, any) bool { n++; return true })
	require.LessOrEqual(t, n, Max)
	_, ok := m.Get(fmt.Sprint("e", Max+9))
	require.True(t, ok, "the latest is kept")
}

func TestRecords(t *testing.T) {
	e := entry("r1", "r2")
	vals := [][]byte{[]byte("v1"), []byte("v2"), []byte("v3")}
	recs, ok := Records(e, []string{"r1", "r2"}, vals[:2])
	require.True(t, ok)
	require.Equal(t, vals[:2], recs)
	recs, ok = Records(e, []string{"r3", "r2", "r1"}, vals)
	require.True(t, ok, "any order, more keys")
	require.Equal(t, [][]byte{vals[2], vals[1]}, recs)
	_, ok = Records(e, []string{"r1"}, vals[:1])
	require.False(t, ok, "a record not read")
	_, ok = Records([]byte("not an entry"), nil, nil)
	require.False(t, ok)
	recs, ok = Records(entry(), nil, nil)
	require.True(t, ok)
	require.Empty(t, recs)
}

// Whatever bytes a store hands back, learning and taking records never
// panic, and an entry's records are found among the keys learned from it.
func FuzzRecords(f *testing.F) {
	f.Add(entry("r1", "r2"), "r1")
	f.Add(entry(), "")
	f.Add([]byte("not an entry"), "x")
	f.Fuzz(func(t *testing.T, raw []byte, key string) {
		var m Memo
		m.Learn("e", raw)
		keys, ok := m.Get("e")
		if ok {
			recs, found := Records(raw, keys, make([][]byte, len(keys)))
			if !found || len(recs) != len(keys) {
				t.Fatalf("the entry's records are not those learned from it: %q", keys)
			}
		}
		_, _ = Records(raw, []string{key}, [][]byte{nil})
	})
}
