package tmplcache_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/stretchr/testify/require"
)

func TestConcurrentMissesFillOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := tmplcache.New(nil)
		var fills atomic.Int32
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				v, err := c.Fetch(bg, "k", func(context.Context) ([]byte, error) {
					fills.Add(1)
					time.Sleep(100 * time.Millisecond) // a slow render
					return []byte("v"), nil
				}, tmplcache.Tags("t"))
				require.NoError(t, err)
				require.Equal(t, "v", string(v))
			})
		}
		wg.Wait()
		require.EqualValues(t, 1, fills.Load())
		require.EqualValues(t, 9, c.Stats().FlightWaits)
	})
}

func TestWaitersDoNotTakeAPreventedValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := tmplcache.New(nil)
		leaderIn := make(chan struct{})
		release := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			v, err := c.Fetch(bg, "k", func(ctx context.Context) ([]byte, error) {
				close(leaderIn)
				<-release
				tmplcache.Prevent(ctx) // built for one user only
				return []byte("alice's"), nil
			})
			require.NoError(t, err)
			require.Equal(t, "alice's", string(v))
		})
		<-leaderIn
		wg.Go(func() {
			v, err := c.Fetch(bg, "k", value("bob's"))
			require.NoError(t, err)
			require.Equal(t, "bob's", string(v))
		})
		synctest.Wait() // bob is waiting for the flight
		close(release)
		wg.Wait()
	})
}

func TestWaitIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := tmplcache.New(nil, tmplcache.WithFlightWait(time.Second))
		hang := make(chan struct{})
		go func() {
			_, _ = c.Fetch(bg, "k", func(context.Context) ([]byte, error) {
				<-hang
				return []byte("late"), nil
			})
		}()
		synctest.Wait()
		start := time.Now()
		v, err := c.Fetch(bg, "k", value("own"))
		require.NoError(t, err)
		require.Equal(t, "own", string(v))
		require.Equal(t, time.Second, time.Since(start), "the waiter gives up after the flight wait")

		// A later miss does not wait for the hung leader either.
		require.NoError(t, c.Delete(bg, "k"))
		start = time.Now()
		_, err = c.Fetch(bg, "k", value("again"))
		require.NoError(t, err)
		require.Zero(t, time.Since(start))
		close(hang)
	})
}

func TestAValueContainingItselfDoesNotWaitForItself(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := tmplcache.New(nil)
		start := time.Now()
		v, err := c.Fetch(bg, "k", func(ctx context.Context) ([]byte, error) {
			return c.Fetch(ctx, "k", value("inner"))
		})
		require.NoError(t, err)
		require.Equal(t, "inner", string(v))
		require.Zero(t, time.Since(start))
	})
}
