package tmplcache_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/internal/storefake"
	"github.com/cachetagging/cachetagging/tmplcache/internal/syncbuf"
	"github.com/stretchr/testify/require"
)

func TestStoreErrorsNeverFailFetch(t *testing.T) {
	store := storefake.New()
	c := tmplcache.New(store, tmplcache.WithLogger(slog.New(slog.DiscardHandler)))
	store.Failing.Store(true)
	v, err := c.Fetch(bg, "k", value("rendered uncached"), tmplcache.Tags("t"))
	require.NoError(t, err)
	require.Equal(t, "rendered uncached", string(v))
	_, ok, err := c.Get(bg, "k")
	require.False(t, ok)
	require.ErrorIs(t, err, storefake.ErrDown, "Get reports the store error")
	require.NotZero(t, c.Stats().StoreErrors)
}

func TestTimeoutsBoundEveryStoreCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := storefake.New()
		c := tmplcache.New(store, tmplcache.WithTimeout(50*time.Millisecond),
			tmplcache.WithBreaker(100, time.Second), tmplcache.WithLogger(slog.New(slog.DiscardHandler)))
		store.Hanging.Store(true)
		start := time.Now()
		v, err := c.Fetch(bg, "k", value("v"), tmplcache.Tags("t"))
		require.NoError(t, err)
		require.Equal(t, "v", string(v))
		// A miss costs the entry read, the tag read and the store: one timeout each.
		require.LessOrEqual(t, time.Since(start), 3*50*time.Millisecond)
		require.NotZero(t, c.Stats().Timeouts)
	})
}

func TestBreakerOpensShortCircuitsAndCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := &syncbuf.Buffer{}
		store := storefake.New()
		c := tmplcache.New(store, tmplcache.WithTimeout(10*time.Millisecond),
			tmplcache.WithBreaker(3, 5*time.Second), tmplcache.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
		require.NoError(t, c.Set(bg, "k", []byte("v"), tmplcache.Tags("t")))

		store.Hanging.Store(true) // black hole: accepts, never answers
		for range 3 {
			_, _, _ = c.Get(bg, "k")
		}
		st := c.Stats()
		require.True(t, st.BreakerOpen)
		require.EqualValues(t, 1, st.BreakerOpens)

		calls := store.Calls.Load()
		start := time.Now()
		for range 100 {
			v, err := c.Fetch(bg, "k", value("uncached"))
			require.NoError(t, err)
			require.Equal(t, "uncached", string(v))
		}
		require.Zero(t, time.Since(start), "an open breaker costs no timeout")
		require.Equal(t, calls, store.Calls.Load(), "an open breaker sends nothing to the store")
		require.NotZero(t, c.Stats().ShortCircuits)

		store.Hanging.Store(false)
		time.Sleep(5 * time.Second)
		requireHit(t, c, "k", "v")
		require.False(t, c.Stats().BreakerOpen)

		out := logs.String()
		require.Equal(t, 1, strings.Count(out, "store failing"), out)
		require.Equal(t, 1, strings.Count(out, "circuit open"), out)
		require.Equal(t, 1, strings.Count(out, "circuit closed"), out)
	})
}

func TestFailedInvalidationIsReappliedBeforeAnyRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := storefake.New()
		c := tmplcache.New(store, tmplcache.WithBreaker(1, time.Second), tmplcache.WithLogger(slog.New(slog.DiscardHandler)))
		require.NoError(t, c.Set(bg, "k", []byte("old"), tmplcache.Tags("t")))

		store.Failing.Store(true)
		require.ErrorIs(t, c.InvalidateTags(bg, "t"), storefake.ErrDown)
		require.Equal(t, 1, c.Stats().PendingTags)

		store.Failing.Store(false)
		time.Sleep(time.Second)
		requireMiss(t, c, "k")
		require.Zero(t, c.Stats().PendingTags)
	})
}

func TestCallerCancellationDoesNotTripTheBreaker(t *testing.T) {
	store := storefake.New()
	c := tmplcache.New(store, tmplcache.WithBreaker(1, time.Hour), tmplcache.WithLogger(slog.New(slog.DiscardHandler)))
	store.Hanging.Store(true)
	ctx, cancel := context.WithCancel(bg)
	cancel()
	_, _, err := c.Get(ctx, "k")
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, c.Stats().BreakerOpen)
}

func TestATrialCallWhoseCallerGivesUpDoesNotJamTheBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := storefake.New()
		c := tmplcache.New(store, tmplcache.WithBreaker(1, time.Second), tmplcache.WithLogger(slog.New(slog.DiscardHandler)))
		store.Failing.Store(true)
		_, _, _ = c.Get(bg, "k") // opens the breaker
		require.True(t, c.Stats().BreakerOpen)

		time.Sleep(time.Second)
		store.Failing.Store(false)
		store.Hanging.Store(true)
		ctx, cancel := context.WithCancel(bg)
		go func() {
			time.Sleep(10 * time.Millisecond)
			cancel() // the client hangs up during the trial call
		}()
		_, _, err := c.Get(ctx, "k")
		require.ErrorIs(t, err, context.Canceled)

		store.Hanging.Store(false)
		_, _, err = c.Get(bg, "k")
		require.NoError(t, err, "the next call is a new trial, not refused")
		require.False(t, c.Stats().BreakerOpen)
	})
}

// While a failed invalidation is being re-applied, no read may serve an
// entry it concerns: the pending set empties only once the replay landed.
func TestNoReadSlipsInWhileAnInvalidationIsReplayed(t *testing.T) {
	store := &gatedStore{Store: tmplcache.NewMemoryStore()}
	c := tmplcache.New(store, tmplcache.WithBreaker(100, time.Second), tmplcache.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, c.Set(bg, "k", []byte("old"), tmplcache.Tags("t")))

	store.fail.Store(true)
	require.Error(t, c.InvalidateTags(bg, "t"))
	store.fail.Store(false)

	store.gate = make(chan struct{})
	store.entered = make(chan struct{})
	done := make(chan struct{})
	go func() { // this read re-applies the invalidation, and is held mid-write
		defer close(done)
		_, ok, _ := c.Get(bg, "k")
		require.False(t, ok)
	}()
	<-store.entered
	_, ok, err := c.Get(bg, "k")
	require.False(t, ok, "a read during the replay served the invalidated entry")
	require.ErrorIs(t, err, tmplcache.ErrUnavailable)
	close(store.gate)
	<-done
	_, ok, err = c.Get(bg, "k")
	require.NoError(t, err)
	require.False(t, ok)
	require.Zero(t, c.Stats().PendingTags)
}

// gatedStore can fail writes, or hold the next write until gate closes.
type gatedStore struct {
	tmplcache.Store
	fail    atomic.Bool
	gate    chan struct{}
	entered chan struct{}
}

func (g *gatedStore) Set(ctx context.Context, items []tmplcache.Item) error {
	if g.fail.Load() {
		return storefake.ErrDown
	}
	if g.gate != nil {
		close(g.entered)
		<-g.gate
		g.gate = nil
	}
	return g.Store.Set(ctx, items)
}

func TestACallersOwnDeadlineDoesNotTripTheBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := storefake.New()
		c := tmplcache.New(store, tmplcache.WithTimeout(time.Second), tmplcache.WithBreaker(1, time.Hour),
			tmplcache.WithLogger(slog.New(slog.DiscardHandler)))
		store.Hanging.Store(true)
		ctx, cancel := context.WithTimeout(bg, 10*time.Millisecond) // shorter than the cache's timeout
		defer cancel()
		_, _, err := c.Get(ctx, "k")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.False(t, c.Stats().BreakerOpen, "the caller ran out of time, not the store")
	})
}
