// Package storefake is a [tmplcache.Store] for tests of the cache and of
// its plugins that can be made to fail or to hang.
package storefake

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// ErrDown is what a call to a failing Faulty returns.
var ErrDown = errors.New("store down")

// Faulty wraps a store. It has the four Store methods only (the embedded
// field is the interface): no optional extension of the wrapped store, such
// as [tmplcache.Local], bypasses the failure, and a cache sees it as shared.
type Faulty struct {
	tmplcache.Store
	Failing atomic.Bool  // every call returns ErrDown
	Hanging atomic.Bool  // every call waits for its context to end
	Calls   atomic.Int64 // calls made, failed and hung ones too
}

// New returns a Faulty over a new memory store, working.
func New() *Faulty { return &Faulty{Store: tmplcache.NewMemoryStore()} }

func (f *Faulty) check(ctx context.Context) error {
	f.Calls.Add(1)
	if f.Hanging.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	if f.Failing.Load() {
		return ErrDown
	}
	return nil
}

func (f *Faulty) Get(ctx context.Context, keys []string) ([][]byte, error) {
	if err := f.check(ctx); err != nil {
		return nil, err
	}
	return f.Store.Get(ctx, keys)
}

func (f *Faulty) Set(ctx context.Context, items []tmplcache.Item) error {
	if err := f.check(ctx); err != nil {
		return err
	}
	return f.Store.Set(ctx, items)
}

func (f *Faulty) Add(ctx context.Context, items []tmplcache.Item) error {
	if err := f.check(ctx); err != nil {
		return err
	}
	return f.Store.Add(ctx, items)
}

func (f *Faulty) Delete(ctx context.Context, keys []string) error {
	if err := f.check(ctx); err != nil {
		return err
	}
	return f.Store.Delete(ctx, keys)
}
