package tmplcache_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache"
)

var bg = context.Background()

// fakeClock is a clock tests move by hand (two of them play two machines).
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Add(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// faultyStore wraps a store and can be made to fail or to hang.
type faultyStore struct {
	tmplcache.Store
	failing atomic.Bool
	hanging atomic.Bool
	calls   atomic.Int64
}

var errBoom = errors.New("boom")

func (f *faultyStore) check(ctx context.Context) error {
	f.calls.Add(1)
	if f.hanging.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	if f.failing.Load() {
		return errBoom
	}
	return nil
}

func (f *faultyStore) Get(ctx context.Context, keys []string) ([][]byte, error) {
	if err := f.check(ctx); err != nil {
		return nil, err
	}
	return f.Store.Get(ctx, keys)
}

func (f *faultyStore) Set(ctx context.Context, items []tmplcache.Item) error {
	if err := f.check(ctx); err != nil {
		return err
	}
	return f.Store.Set(ctx, items)
}

func (f *faultyStore) Add(ctx context.Context, items []tmplcache.Item) error {
	if err := f.check(ctx); err != nil {
		return err
	}
	return f.Store.Add(ctx, items)
}

func (f *faultyStore) Delete(ctx context.Context, keys []string) error {
	if err := f.check(ctx); err != nil {
		return err
	}
	return f.Store.Delete(ctx, keys)
}

func value(s string) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) { return []byte(s), nil }
}
