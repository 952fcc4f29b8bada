package tmplcache

import (
	"context"
	"fmt"
	"reflect"
	"sync"
)

// Registry maps changed values to the tags they invalidate: Django cache-tagging's
// registry.register with model signals, without an ORM. Register a tag
// function per type once, then report every change with [Registry.Changed]:
//
//	reg := tmplcache.NewRegistry(c)
//	tmplcache.Register(reg, func(p *Post) []string {
//		return []string{"posts", fmt.Sprint("post:", p.ID), fmt.Sprint("category:", p.CategoryID)}
//	})
//	...
//	err := reg.Changed(ctx, oldPost, newPost) // both: the category may have moved
type Registry struct {
	c   *Cache
	mu  sync.RWMutex
	fns map[reflect.Type][]func(any) []string
}

// NewRegistry returns an empty registry invalidating on c.
func NewRegistry(c *Cache) *Registry {
	return &Registry{c: c, fns: map[reflect.Type][]func(any) []string{}}
}

// Register adds fn as a tag function for values of type T. Several
// functions may be registered for one type; their tags add up.
func Register[T any](r *Registry, fn func(T) []string) {
	t := reflect.TypeFor[T]()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fns[t] = append(r.fns[t], func(v any) []string { return fn(v.(T)) })
}

// Tags returns the tags of values, deduplicated. A value whose type (or,
// for a pointer, whose pointed-to type) has no function is an error
// wrapping [ErrNoTagFunc]; a nil value is skipped (a creation has no old
// value, a deletion no new one).
func (r *Registry) Tags(values ...any) ([]string, error) {
	var tags []string
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, v := range values {
		if v == nil {
			continue
		}
		fns, arg := r.lookup(v)
		if fns == nil {
			return nil, fmt.Errorf("%w for %T", ErrNoTagFunc, v)
		}
		if arg == nil {
			continue // a nil pointer
		}
		for _, fn := range fns {
			tags = append(tags, fn(arg)...)
		}
	}
	return dedupe(tags), nil
}

// lookup finds the functions for v's type, or for the type it points to
// (then arg is the pointed-to value, or nil for a nil pointer).
func (r *Registry) lookup(v any) (fns []func(any) []string, arg any) {
	rv := reflect.ValueOf(v)
	if fns := r.fns[rv.Type()]; fns != nil {
		if rv.Kind() == reflect.Pointer && rv.IsNil() {
			return fns, nil
		}
		return fns, v
	}
	if rv.Kind() == reflect.Pointer {
		if fns := r.fns[rv.Type().Elem()]; fns != nil {
			if rv.IsNil() {
				return fns, nil
			}
			return fns, rv.Elem().Interface()
		}
	}
	return nil, nil
}

// Changed invalidates the tags of values (see [Registry.Tags]) in one call.
// Call it inside the transaction that changed them (see [Cache.Transaction]).
func (r *Registry) Changed(ctx context.Context, values ...any) error {
	tags, err := r.Tags(values...)
	if err != nil {
		return err
	}
	return r.c.InvalidateTags(ctx, tags...)
}

// Cache returns the cache r invalidates on, for integrations that must
// also begin its transactions (an ORM plugin that ends one at commit).
func (r *Registry) Cache() *Cache { return r.c }
