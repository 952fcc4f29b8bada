package tmplcache_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/stretchr/testify/require"
)

func set(t *testing.T, ctx context.Context, c *tmplcache.Cache, key, v string, tags ...string) {
	t.Helper()
	require.NoError(t, c.Set(ctx, key, []byte(v), tmplcache.Tags(tags...), tmplcache.TTL(120*time.Second)))
}

func getCtx(t *testing.T, ctx context.Context, c *tmplcache.Cache, key string) (string, bool) {
	t.Helper()
	v, ok, err := c.Get(ctx, key)
	require.NoError(t, err)
	return string(v), ok
}

// Django cache-tagging's test_cache_transaction_handlers: nested transactions are
// savepoints; a transaction reads its own writes; everything it invalidated
// is invalidated again when the outermost one ends.
func TestDjangoTransactionHandlers(t *testing.T) {
	c := tmplcache.New(nil)
	err := c.Transaction(bg, func(ctx context.Context) error {
		set(t, ctx, c, "name1", "value1", "tag1")
		requireHitCtx(t, ctx, c, "name1", "value1")

		err := c.Transaction(ctx, func(ctx context.Context) error {
			set(t, ctx, c, "name2", "value2", "tag2")
			requireHitCtx(t, ctx, c, "name2", "value2")

			require.NoError(t, c.InvalidateTags(ctx, "tag2"))
			requireMissCtx(t, ctx, c, "name2")
			requireHitCtx(t, ctx, c, "name1", "value1")

			set(t, ctx, c, "name2", "value2", "tag2")
			requireHitCtx(t, ctx, c, "name2", "value2")
			return nil
		})
		require.NoError(t, err)
		// A savepoint's end re-applies nothing yet.
		requireHitCtx(t, tmplcache.Detach(ctx), c, "name2", "value2")
		requireHitCtx(t, ctx, c, "name1", "value1")

		set(t, ctx, c, "name3", "value3", "tag3")
		require.NoError(t, c.InvalidateTags(ctx, "tag1"))
		requireHitCtx(t, ctx, c, "name3", "value3")
		requireMissCtx(t, ctx, c, "name1")

		set(t, ctx, c, "name1", "value1", "tag1")
		requireHitCtx(t, ctx, c, "name1", "value1")
		return nil
	})
	require.NoError(t, err)
	requireHit(t, c, "name3", "value3")
	requireMiss(t, c, "name1")
	requireMiss(t, c, "name2")
}

// Django cache-tagging's test_cache_transaction_context and _decorator.
func TestDjangoTransactionContext(t *testing.T) {
	c := tmplcache.New(nil)
	set(t, bg, c, "name1", "value1", "tag1")
	requireHit(t, c, "name1", "value1")
	require.NoError(t, c.Transaction(bg, func(ctx context.Context) error {
		require.NoError(t, c.InvalidateTags(ctx, "tag1"))
		requireMissCtx(t, ctx, c, "name1")
		set(t, ctx, c, "name1", "value1", "tag1")
		requireHitCtx(t, ctx, c, "name1", "value1")
		return nil
	}))
	requireMiss(t, c, "name1")
}

func requireHitCtx(t *testing.T, ctx context.Context, c *tmplcache.Cache, key, want string) {
	t.Helper()
	v, ok := getCtx(t, ctx, c, key)
	require.True(t, ok, "%q must be a hit", key)
	require.Equal(t, want, v)
}

func requireMissCtx(t *testing.T, ctx context.Context, c *tmplcache.Cache, key string) {
	t.Helper()
	_, ok := getCtx(t, ctx, c, key)
	require.False(t, ok, "%q must be a miss", key)
}

func TestTransactionLocksTagsAgainstOtherBuilds(t *testing.T) {
	c := tmplcache.New(nil)
	ctx, tx := c.BeginTx(bg)
	require.NoError(t, c.InvalidateTags(ctx, "post:1"))

	// Another request builds from data the transaction has not committed.
	v, err := c.Fetch(bg, "post-page", value("old title"), tmplcache.Tags("post:1"))
	require.NoError(t, err)
	require.Equal(t, "old title", string(v))
	requireMiss(t, c, "post-page")
	require.EqualValues(t, 1, c.Stats().SkippedLocked)

	// A build that does not depend on the tag is not held back.
	_, err = c.Fetch(bg, "other", value("x"), tmplcache.Tags("post:2"))
	require.NoError(t, err)
	requireHit(t, c, "other", "x")

	require.NoError(t, tx.End(bg))
	_, err = c.Fetch(bg, "post-page", value("new title"), tmplcache.Tags("post:1"))
	require.NoError(t, err)
	requireHit(t, c, "post-page", "new title")
	require.NoError(t, tx.End(bg), "End is idempotent")
}

func TestTransactionEndInvalidatesWhatWasBuiltDuringIt(t *testing.T) {
	c := tmplcache.New(nil)
	ctx, tx := c.BeginTx(bg)
	require.NoError(t, c.InvalidateTags(ctx, "t"))
	set(t, ctx, c, "own", "dirty", "t") // own writes are readable inside
	requireHitCtx(t, ctx, c, "own", "dirty")
	require.NoError(t, tx.End(bg))
	requireMiss(t, c, "own") // a rollback must not leave it behind
}

func TestTransactionEndsOnErrorAndPanic(t *testing.T) {
	c := tmplcache.New(nil)
	boom := errors.New("rollback")
	err := c.Transaction(bg, func(ctx context.Context) error {
		require.NoError(t, c.InvalidateTags(ctx, "t"))
		return boom
	})
	require.ErrorIs(t, err, boom)
	_, err = c.Fetch(bg, "k", value("v"), tmplcache.Tags("t"))
	require.NoError(t, err)
	requireHit(t, c, "k", "v") // unlocked

	require.Panics(t, func() {
		_ = c.Transaction(bg, func(ctx context.Context) error {
			require.NoError(t, c.InvalidateTags(ctx, "p"))
			panic("handler bug")
		})
	})
	_, err = c.Fetch(bg, "kp", value("v"), tmplcache.Tags("p"))
	require.NoError(t, err)
	requireHit(t, c, "kp", "v")
}

func TestLocksExpireWhenTheProcessDies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := tmplcache.NewMemoryStore()
		dead := tmplcache.New(store, tmplcache.WithLockTTL(30*time.Second))
		ctx, _ := dead.BeginTx(bg) // never ended: the process crashed
		require.NoError(t, dead.InvalidateTags(ctx, "t"))

		alive := tmplcache.New(store)
		_, err := alive.Fetch(bg, "k", value("v"), tmplcache.Tags("t"))
		require.NoError(t, err)
		requireMiss(t, alive, "k")

		time.Sleep(31 * time.Second)
		_, err = alive.Fetch(bg, "k", value("v"), tmplcache.Tags("t"))
		require.NoError(t, err)
		requireHit(t, alive, "k", "v")
	})
}

func TestReplicaDelayReappliesLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := tmplcache.New(nil, tmplcache.WithReplicaDelay(2*time.Second))
		require.NoError(t, c.Transaction(bg, func(ctx context.Context) error {
			return c.InvalidateTags(ctx, "t")
		}))
		// A replica still serves the old row: this build reads stale data.
		set(t, bg, c, "k", "stale from replica", "t")
		requireHit(t, c, "k", "stale from replica")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		requireMiss(t, c, "k")
		require.NoError(t, c.Close())
	})
}

func TestCloseRunsPendingReplicaPasses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := tmplcache.New(nil, tmplcache.WithReplicaDelay(time.Hour))
		require.NoError(t, c.Transaction(bg, func(ctx context.Context) error {
			return c.InvalidateTags(ctx, "t")
		}))
		set(t, bg, c, "k", "v", "t")
		require.NoError(t, c.Close())
		requireMiss(t, c, "k")
		require.NoError(t, c.Close(), "Close is idempotent")
	})
}

func TestEndKeepsAnotherTransactionsLock(t *testing.T) {
	store := tmplcache.NewMemoryStore()
	a := tmplcache.New(store)
	b := tmplcache.New(store)
	actx, atx := a.BeginTx(bg)
	require.NoError(t, a.InvalidateTags(actx, "t"))
	bctx, btx := b.BeginTx(bg)
	require.NoError(t, b.InvalidateTags(bctx, "t"))

	require.NoError(t, atx.End(bg)) // b has not committed yet
	_, err := a.Fetch(bg, "k", value("v"), tmplcache.Tags("t"))
	require.NoError(t, err)
	requireMiss(t, a, "k")

	require.NoError(t, btx.End(bg))
	// a learns the clock value of b's End when it checks the tag: the build
	// that learns it cannot tell whether its data predates that End, the
	// next one stores.
	for range 2 {
		_, err = a.Fetch(bg, "k", value("v"), tmplcache.Tags("t"))
		require.NoError(t, err)
	}
	requireHit(t, a, "k", "v")
}
