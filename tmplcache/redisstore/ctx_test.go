package redisstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// A server that never answers: go-redis itself would wait for its
// ReadTimeout (set to a minute here), so with ContextTimeoutEnabled off,
// its default, only the store can make a call end with its ctx; with it
// on, a call with a deadline runs on the caller's goroutine and the client
// ends it there, while a cancellation without a deadline is still the
// store's to honour.
func TestCallsEndWithTheirContext(t *testing.T) {
	for _, deadlines := range []bool{false, true} {
		t.Run(fmt.Sprint("ContextTimeoutEnabled=", deadlines), func(t *testing.T) {
			testCallsEndWithTheirContext(t, deadlines)
		})
	}
}

func testCallsEndWithTheirContext(t *testing.T, deadlines bool) {
	hole := newProxy(t, nil)
	c := redis.NewClient(&redis.Options{
		Addr:        hole.addr(),
		ReadTimeout: time.Minute, WriteTimeout: time.Minute, DialTimeout: time.Minute,
		ContextTimeoutEnabled: deadlines,
	})
	t.Cleanup(func() { _ = c.Close() })
	rt := countRoundTrips(c)
	require.Equal(t, deadlines, New(c).direct)

	calls := []struct {
		name string
		call func(ctx context.Context, s *Store) error
		one  bool // single node only: a script over keys it reads as it goes
	}{
		{"Get of one key", func(ctx context.Context, s *Store) error { _, err := s.Get(ctx, []string{"a"}); return err }, false},
		{"Get of keys", func(ctx context.Context, s *Store) error { _, err := s.Get(ctx, []string{"a", "b"}); return err }, false},
		{"Set", func(ctx context.Context, s *Store) error {
			return s.Set(ctx, []tmplcache.Item{{Key: "a", Value: []byte("v")}, {Key: "b", Value: []byte("v")}})
		}, false},
		{"Add", func(ctx context.Context, s *Store) error {
			return s.Add(ctx, []tmplcache.Item{{Key: "a", Value: []byte("v")}})
		}, false},
		{"Delete", func(ctx context.Context, s *Store) error { return s.Delete(ctx, []string{"a", "b"}) }, false},
		{"GetEntry", func(ctx context.Context, s *Store) error { _, _, err := s.GetEntry(ctx, "a", nil); return err }, false},
		{"GetEntryWith", func(ctx context.Context, s *Store) error {
			_, _, _, err := s.GetEntryWith(ctx, "a", nil, []string{"b"})
			return err
		}, true},
		{"Invalidate", func(ctx context.Context, s *Store) error {
			_, err := s.Invalidate(ctx, "{t}#clock", []tmplcache.Invalidation{{Key: "{t}:a", Record: make([]byte, 40)}})
			return err
		}, false},
	}
	for _, mode := range []struct {
		name string
		opts []Option
	}{{"single node", nil}, {"single-key commands", []Option{Sharded()}}} {
		s := New(c, mode.opts...)
		for _, tc := range calls {
			if tc.one && s.sharded {
				continue
			}
			t.Run(tc.name+" on "+mode.name+" returns at its deadline", func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel()
				start := time.Now()
				err := tc.call(ctx, s)
				require.ErrorIs(t, err, context.DeadlineExceeded)
				require.Less(t, time.Since(start), 5*time.Second, "the call waited for go-redis's own timeout")
			})
			t.Run(tc.name+" on "+mode.name+" returns when cancelled", func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(50*time.Millisecond, cancel)
				start := time.Now()
				err := tc.call(ctx, s)
				require.ErrorIs(t, err, context.Canceled)
				require.Less(t, time.Since(start), 5*time.Second, "the call ignored its cancellation")
			})
			t.Run(tc.name+" on "+mode.name+" with an ended ctx sends nothing", func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				n := rt.during(func() { require.ErrorIs(t, tc.call(ctx, s), context.Canceled) })
				require.Zero(t, n)
			})
		}
	}
}
