package tmplcache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// checkMemoryInvariants checks that the policy's queues and go-cache agree
// and that the accounting adds up.
func checkMemoryInvariants(t *testing.T, m *MemoryStore) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, q := range []struct {
		id memQueueID
		q  *memQueue
	}{{memSmall, &m.p.small}, {memMain, &m.p.main}} {
		n, bytes := 0, int64(0)
		var prev *memItem
		for it := q.q.head; it != nil; prev, it = it, it.next {
			require.Equal(t, q.id, it.queue, "item %q is in the wrong queue", it.key)
			require.Same(t, prev, it.prev, "broken link at %q", it.key)
			require.Equal(t, memItemSize(it.key, it.value), it.size)
			v, ok := m.c.Get(it.key)
			require.True(t, ok, "queued item %q is not in go-cache", it.key)
			require.Same(t, it, v.(*memItem))
			n++
			bytes += it.size
		}
		require.Same(t, prev, q.q.tail)
		require.Equal(t, n, q.q.n)
		require.Equal(t, bytes, q.q.bytes)
	}
	require.Equal(t, m.p.items(), m.c.ItemCount(), "go-cache holds items the policy does not know")
	require.LessOrEqual(t, m.p.bytes(), m.max)
}

// holds looks key up without counting a read.
func (m *MemoryStore) holds(key string) bool {
	_, ok := m.c.Get(key)
	return ok
}

func TestMemoryStoreInternals(t *testing.T) {
	t.Run("random writes keep the queues, go-cache and the accounting in agreement", func(t *testing.T) {
		m := NewMemoryStore(MaxBytes(64 << 10))
		r := rand.New(rand.NewPCG(1, 1))
		buf := make([]byte, 8<<10)
		for i := range 20_000 {
			k := fmt.Sprintf("k%d", r.IntN(2000))
			v := buf[:r.IntN(len(buf))]
			switch r.IntN(10) {
			case 0:
				m.add(k, v, 0)
			case 1:
				require.NoError(t, m.Delete(context.Background(), []string{k}))
			case 2, 3, 4:
				m.set(k, v, 0)
			default:
				m.get(k)
			}
			if i%500 == 0 {
				checkMemoryInvariants(t, m)
			}
		}
		checkMemoryInvariants(t, m)
		require.NotZero(t, m.Stats().Evictions, "the workload was meant to overflow the budget")
	})

	t.Run("the ghost never outgrows the items it shadows", func(t *testing.T) {
		m := NewMemoryStore(MaxBytes(32 << 10))
		for i := range 10_000 {
			m.set(fmt.Sprint(i), make([]byte, 100), 0)
			m.mu.Lock()
			g, n := len(m.p.ghost.ring), m.p.items()
			m.mu.Unlock()
			require.LessOrEqual(t, g, n)
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		require.NotZero(t, len(m.p.ghost.ring), "keys evicted unread must be remembered")
	})

	t.Run("a key evicted unread and written again goes straight to the main queue", func(t *testing.T) {
		m := NewMemoryStore(MaxBytes(32 << 10))
		m.set("first", make([]byte, 100), 0)
		for i := 0; m.holds("first"); i++ {
			require.Less(t, i, 10_000, "a flood of new keys must evict an unread one")
			m.set(fmt.Sprint(i), make([]byte, 100), 0)
		}
		m.set("first", make([]byte, 100), 0)
		v, _ := m.c.Get("first")
		m.mu.Lock()
		defer m.mu.Unlock()
		require.Equal(t, memMain, v.(*memItem).queue)
	})

	t.Run("the item being written is never its own victim", func(t *testing.T) {
		// Over a tenth of the budget, a new item alone overflows the small
		// queue: the main queue must give way instead.
		m := NewMemoryStore(MaxBytes(64 << 10))
		for i := range 40 {
			m.set(fmt.Sprint("old", i), make([]byte, 1000), 0)
			m.get(fmt.Sprint("old", i)) // promoted, not evicted, from the small queue
		}
		for i := range 20 {
			big := fmt.Sprint("big", i)
			require.True(t, m.add(big, make([]byte, 20<<10), 0))
			require.NotNil(t, m.get(big), "an item just added must be readable")
			checkMemoryInvariants(t, m)
		}
	})

	t.Run("set, add and get are the store's primitives", func(t *testing.T) {
		m := NewMemoryStore()
		require.True(t, m.add("k", []byte("1"), 0))
		require.False(t, m.add("k", []byte("2"), 0), "add must not overwrite a live item")
		require.Equal(t, []byte("1"), m.get("k"))
		m.set("k", []byte("3"), 0)
		require.Equal(t, []byte("3"), m.get("k"))
		require.Nil(t, m.get("missing"))
	})

	t.Run("add takes the place of an expired item", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			m := NewMemoryStore()
			require.True(t, m.add("k", []byte("old"), time.Second))
			time.Sleep(time.Second)
			require.True(t, m.add("k", []byte("new"), 0))
			require.Equal(t, []byte("new"), m.get("k"))
			require.Equal(t, uint64(1), m.Stats().Expirations)
			checkMemoryInvariants(t, m)
		})
	})

	t.Run("concurrent writers, readers and deleters leave a consistent store", func(t *testing.T) {
		m := NewMemoryStore(MaxBytes(256 << 10))
		ctx := context.Background()
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(g), 2))
				val := make([]byte, 2000)
				for range 5000 {
					k := fmt.Sprintf("k%d", r.IntN(500))
					var err error
					switch r.IntN(8) {
					case 0:
						err = m.Add(ctx, []Item{{Key: k, Value: val[:r.IntN(len(val))]}})
					case 1:
						err = m.Delete(ctx, []string{k})
					case 2, 3:
						err = m.Set(ctx, []Item{{Key: k, Value: val[:r.IntN(len(val))], TTL: time.Duration(r.IntN(2)) * time.Hour}})
					default:
						_, _, err = m.GetEntry(ctx, k, nil)
						m.get(k)
					}
					if err != nil {
						t.Error(err)
						return
					}
					if s := m.Stats(); s.Bytes > s.MaxBytes {
						t.Errorf("%d bytes accounted over a budget of %d", s.Bytes, s.MaxBytes)
						return
					}
				}
			})
		}
		wg.Wait()
		checkMemoryInvariants(t, m)
	})
}
