package tmplcache_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// gate is a fill that blocks until released, counting how many run.
type gate struct {
	running, calls atomic.Int32
	release        chan struct{}
	started        chan struct{}
	value          string
	err            error
}

func newGate(v string) *gate {
	return &gate{release: make(chan struct{}), started: make(chan struct{}, 16), value: v}
}

func (g *gate) fill(context.Context) ([]byte, error) {
	g.calls.Add(1)
	g.running.Add(1)
	defer g.running.Add(-1)
	g.started <- struct{}{}
	<-g.release
	return []byte(g.value), g.err
}

// Within its grace, an entry whose tag was invalidated is served as it
// was while one reader rebuilds it; past the grace it is not served.
func TestGraceServesThePreviousValueWhileOneRebuilds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		expire func(c *tmplcache.Cache, clk *fakeClock)
	}{
		{"after an invalidation", func(c *tmplcache.Cache, clk *fakeClock) {
			require.NoError(t, c.InvalidateTags(bg, "t"))
		}},
		{"after expiry", func(c *tmplcache.Cache, clk *fakeClock) { clk.Add(time.Minute + time.Second) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			c := tmplcache.New(nil, tmplcache.WithClock(clk), tmplcache.WithoutEarlyRecompute())
			opts := []tmplcache.SetOption{tmplcache.Tags("t"), tmplcache.TTL(time.Minute), tmplcache.Grace(5 * time.Second)}
			_, err := c.Fetch(bg, "k", value("old"), opts...)
			require.NoError(t, err)
			tc.expire(c, clk)
			clk.Add(time.Second)

			rebuild := newGate("new")
			var wg sync.WaitGroup
			wg.Go(func() {
				v, err := c.Fetch(bg, "k", rebuild.fill, opts...)
				require.NoError(t, err)
				require.Equal(t, "new", string(v), "the rebuilding reader gets the new value")
			})
			<-rebuild.started
			for range 20 {
				v, err := c.Fetch(bg, "k", rebuild.fill, opts...)
				require.NoError(t, err)
				require.Equal(t, "old", string(v), "the others get the previous value at once")
			}
			require.EqualValues(t, 1, rebuild.calls.Load(), "one rebuild at a time")
			require.EqualValues(t, 20, c.Stats().GraceHits)

			clk.Add(5 * time.Second) // the grace is over
			_, ok, err := c.Get(bg, "k")
			require.NoError(t, err)
			require.False(t, ok, "past its grace the previous value is never served")
			close(rebuild.release)
			wg.Wait()
			v, err := c.Fetch(bg, "k", value("unused"), opts...)
			require.NoError(t, err)
			require.Equal(t, "new", string(v))
		})
	}
}

// A rebuild that fails leaves the previous value served until the grace
// ends, then the entry is a miss.
func TestAFailedRebuildKeepsServingUntilTheGraceEnds(t *testing.T) {
	clk := newFakeClock()
	c := tmplcache.New(nil, tmplcache.WithClock(clk), tmplcache.WithoutEarlyRecompute())
	opts := []tmplcache.SetOption{tmplcache.Tags("t"), tmplcache.Grace(10 * time.Second)}
	_, err := c.Fetch(bg, "k", value("old"), opts...)
	require.NoError(t, err)
	require.NoError(t, c.InvalidateTags(bg, "t"))
	errDown := errors.New("database down")

	// duringAFailingRebuild runs a rebuild that fails, and reads meanwhile.
	duringAFailingRebuild := func() (string, bool) {
		g := newGate("")
		g.err = errDown
		done := make(chan error)
		go func() {
			_, err := c.Fetch(bg, "k", g.fill, opts...)
			done <- err
		}()
		<-g.started
		v, err := c.Fetch(bg, "k", value("a second rebuild"), opts...)
		require.NoError(t, err)
		close(g.release)
		require.ErrorIs(t, <-done, errDown, "the reader that rebuilt sees its failure")
		_, ok, err := c.Get(bg, "k")
		require.NoError(t, err)
		require.False(t, ok, "a failed rebuild stores nothing")
		return string(v), g.calls.Load() == 1
	}
	for _, at := range []time.Duration{0, 4 * time.Second, 5 * time.Second} {
		clk.Add(at)
		v, oneRebuild := duringAFailingRebuild()
		require.Equal(t, "old", v, "within the grace the previous value is served")
		require.True(t, oneRebuild)
	}
	clk.Add(time.Second + time.Millisecond) // 10 s after the invalidation
	g := newGate("new")
	close(g.release)
	v, err := c.Fetch(bg, "k", g.fill, opts...)
	require.NoError(t, err)
	require.Equal(t, "new", string(v), "past the grace the entry is a miss")
}

// Without grace (the default) an invalidated entry is never served: the
// promise of "No stale entry outlives an invalidation" stands as it is.
func TestWithoutGraceNothingStaleIsServed(t *testing.T) {
	c := tmplcache.New(nil)
	_, err := c.Fetch(bg, "k", value("old"), tmplcache.Tags("t"))
	require.NoError(t, err)
	require.NoError(t, c.InvalidateTags(bg, "t"))
	v, err := c.Fetch(bg, "k", value("new"), tmplcache.Tags("t"))
	require.NoError(t, err)
	require.Equal(t, "new", string(v))
	require.Zero(t, c.Stats().GraceHits)
}
