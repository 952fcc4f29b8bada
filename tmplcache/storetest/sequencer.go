package storetest

import (
	"encoding/binary"
	"sync"
	"testing"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/stretchr/testify/require"
)

// record builds an unstamped tag record (see tmplcache.Sequencer): random
// bytes, a time, and a lock.
func record(random uint64, lock int64) []byte {
	b := make([]byte, 40)
	binary.BigEndian.PutUint64(b[8:], random)
	binary.BigEndian.PutUint64(b[24:], 12345)
	binary.BigEndian.PutUint64(b[32:], uint64(lock))
	return b
}

type stamp struct{ epoch, seq uint64 }

func clockOf(t *testing.T, b []byte) stamp {
	t.Helper()
	require.Len(t, b, 16, "a clock value is 16 bytes")
	return stamp{binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])}
}

func stampOf(t *testing.T, rec []byte) stamp {
	t.Helper()
	require.Len(t, rec, 40, "a tag record is 40 bytes")
	return stamp{binary.BigEndian.Uint64(rec[16:]), binary.BigEndian.Uint64(rec)}
}

func lockOf(rec []byte) int64 { return int64(binary.BigEndian.Uint64(rec[32:])) }

func testSequencer(t *testing.T, s tmplcache.Store, p string) {
	sq, ok := s.(tmplcache.Sequencer)
	if !ok {
		return // optional: the cache falls back to wall-clock margins
	}
	// Keys as a cache names them: one Redis Cluster hash tag for all.
	tags := "{" + p + "/tags}"
	clock, a, b := tags+"#clock", tags+":a", tags+":b"
	inv := func(release int64, recs ...tmplcache.Invalidation) stamp {
		t.Helper()
		for i := range recs {
			recs[i].Release = release
		}
		v, err := sq.Invalidate(ctx(t), clock, recs)
		require.NoError(t, err)
		require.Equal(t, v, get(t, s, clock)[0], "the clock reads back as Invalidate returned it")
		return clockOf(t, v)
	}

	first := inv(0, tmplcache.Invalidation{Key: a, Record: record(1, 0)}, tmplcache.Invalidation{Key: b, Record: record(2, 0)})
	require.NotZero(t, first.epoch, "a new clock has a non-zero epoch")
	require.EqualValues(t, 1, first.seq, "a new clock starts at 1")
	recs := get(t, s, a, b)
	require.Equal(t, first, stampOf(t, recs[0]))
	require.Equal(t, first, stampOf(t, recs[1]))
	require.EqualValues(t, 2, binary.BigEndian.Uint64(recs[1][8:]), "the random bytes are kept")
	require.EqualValues(t, 12345, binary.BigEndian.Uint64(recs[1][24:]), "the time is kept")

	second := inv(0, tmplcache.Invalidation{Key: a, Record: record(3, 77)})
	require.Equal(t, stamp{first.epoch, 2}, second, "the clock advances by one in its epoch")
	require.EqualValues(t, 77, lockOf(get(t, s, a)[0]), "a lock is written")

	inv(0, tmplcache.Invalidation{Key: a, Record: record(4, 0)})
	require.EqualValues(t, 77, lockOf(get(t, s, a)[0]), "an invalidation outside the transaction keeps its lock")
	inv(76, tmplcache.Invalidation{Key: a, Record: record(5, 0)})
	require.EqualValues(t, 77, lockOf(get(t, s, a)[0]), "another transaction's end keeps the lock")
	inv(77, tmplcache.Invalidation{Key: a, Record: record(6, 0)})
	require.Zero(t, lockOf(get(t, s, a)[0]), "the transaction's end releases its lock")

	// A clock the store loses (a flush, an eviction) starts a new epoch; a
	// store may also keep its clocks safe from Delete.
	require.NoError(t, s.Delete(ctx(t), []string{clock}))
	third := inv(0, tmplcache.Invalidation{Key: a, Record: record(7, 0)})
	if third.epoch == first.epoch {
		require.EqualValues(t, 6, third.seq, "a kept clock goes on")
	} else {
		// A compare-and-swap store may advance once more to learn which
		// epoch is the stale one.
		require.LessOrEqual(t, third.seq, uint64(2), "a lost clock starts anew")
	}
	require.Equal(t, third, stampOf(t, get(t, s, a)[0]), "records of the old epoch are overwritten")
}

func testSequencerRace(t *testing.T, s tmplcache.Store, p string) {
	sq, ok := s.(tmplcache.Sequencer)
	if !ok {
		return
	}
	tags := "{" + p + "/tags}"
	clock, key := tags+"#clock", tags+":hot"
	var mu sync.Mutex
	var latest stamp
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 25 {
				v, err := sq.Invalidate(ctx(t), clock, []tmplcache.Invalidation{{Key: key, Record: record(uint64(g*100+i), 0)}})
				if !assertNoError(t, err) {
					return
				}
				st := clockOf(t, v)
				mu.Lock()
				if st.epoch != latest.epoch || st.seq > latest.seq {
					latest = st
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Equal(t, latest, stampOf(t, get(t, s, key)[0]), "the record holds the latest stamp handed out")
	require.Equal(t, latest, clockOf(t, get(t, s, clock)[0]))
	require.EqualValues(t, 200, latest.seq, "every invalidation advanced the clock once")
}

func assertNoError(t *testing.T, err error) bool {
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}
