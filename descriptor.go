package cachetagging

import (
	"context"
	"fmt"
	"html/template"
	"slices"
	"text/template/parse"

	"github.com/cachetagging/cachetagging/internal/marker"
	"github.com/cachetagging/cachetagging/tmplcache"
)

// A blockDesc is what Prepare knows about one {{ cache_tagging }} block:
// where it is, its arguments (those that are constants evaluated once,
// the others marked for evaluation per execution), and the digest of its
// source. Prepare registers a function per block bound to its descriptor,
// so that a hit passes through text/template's reflection only what may
// change between executions, often nothing.
type blockDesc struct {
	r      *Renderer
	loc    string // "page.html:12"
	action string // the block's opening action as written, for errors
	digest string // mixed into the key; "" when digests are off
	slots  []slot // the arguments as written
	nDyn   int
	nested bool                 // the block sits in another of the same template
	fast   bool                 // the block's hit function comes first (see cacheBlock)
	calls  []*parse.CommandNode // the calls of its functions in the rewritten template

	// When every argument is a constant, so is the read: prepared once.
	spec *tmplcache.Spec
	// When only the key is computed, the read's options are constants:
	// prepared once, under a stand-in key, and given each execution's key
	// (constArgs holds the constant arguments, evaluated).
	keyed     *tmplcache.Spec
	constArgs blockArgs
}

// slot is one argument of the block: a constant, or one evaluated per
// execution and passed to the block's function.
type slot struct {
	dynamic bool
	value   any
}

// bind returns one of the block's functions, f, in the shape the
// rewritten template calls it: {{ FN PARENT [DYNAMIC ARGS] }}, PARENT being
// the enclosing block of the same template (dropped by settle when there
// is none) and the dynamic arguments only when the block has some.
// Functions: the hit function, {{ if $hit := FN ... }}, which returns the
// Hit marker or nil (false to {{if}}: the open function decides); the open
// function, {{ $h := FN ... }}. Both return pointers: results text/template
// need not copy to the heap.
func bind[T any](d *blockDesc, f func(parent *block, dyn []any) (T, error)) any {
	switch {
	case d.nested && d.nDyn == 0:
		return func(p *block) (T, error) { return f(p, nil) }
	case d.nested:
		return func(p *block, args ...any) (T, error) { return f(p, args) }
	case d.nDyn == 0:
		return func() (T, error) { return f(nil, nil) } // the commonest: nothing to evaluate
	}
	return func(args ...any) (T, error) { return f(nil, args) }
}

// settle drops the parent argument of a block no other encloses, before
// its functions are registered (see bind).
func (d *blockDesc) settle() {
	if !d.nested {
		for _, c := range d.calls {
			c.Args = slices.Delete(c.Args, 1, 2)
		}
	}
}

// finish computes what constant arguments allow, once: their errors are
// Prepare's.
func (d *blockDesc) finish() error {
	switch {
	case d.nDyn == 0:
		a, err := d.args(nil)
		if err != nil {
			return err
		}
		d.spec = d.r.c.Spec(d.keyOf(a), d.optsOf(a)...)
	case d.nDyn == 1 && d.slots[0].dynamic:
		// The key alone is computed: evaluate the rest with a stand-in.
		a, err := d.args([]any{keyStandIn})
		if err != nil {
			return err
		}
		d.constArgs, d.keyed = a, d.r.c.Spec(d.keyOf(a), d.optsOf(a)...)
	}
	return nil
}

// keyStandIn stands for a computed key while the constant arguments of
// its block are evaluated, once.
const keyStandIn = "key"

// args evaluates the block's arguments, taking the dynamic ones from dyn.
func (d *blockDesc) args(dyn []any) (blockArgs, error) {
	var a blockArgs
	for _, s := range d.slots {
		v := s.value
		if s.dynamic {
			if len(dyn) == 0 {
				return a, d.fail(fmt.Errorf("%w: missing argument", ErrBadArgument))
			}
			v, dyn = dyn[0], dyn[1:]
		}
		if err := a.add(v); err != nil {
			return a, d.fail(err)
		}
	}
	if !a.hasKey {
		return a, d.fail(fmt.Errorf("%w: cache_tagging needs a key", ErrBadArgument))
	}
	return a, nil
}

func (d *blockDesc) keyOf(a blockArgs) string {
	if d.digest == "" || a.noDigest {
		return fragmentPrefix + a.key
	}
	return fragmentPrefix + a.key + "\x00" + d.digest
}

func (d *blockDesc) optsOf(a blockArgs) []tmplcache.SetOption {
	opts := []tmplcache.SetOption{tmplcache.Tags(a.tags...), d.r.checkFragment}
	if a.ttl > 0 {
		opts = append(opts, tmplcache.TTL(a.ttl))
	}
	if a.grace > 0 {
		opts = append(opts, tmplcache.Grace(a.grace))
	}
	return opts
}

// read returns the block's prepared read, with dyn its dynamic arguments,
// and the context of its store calls (see [blockDesc.context]). It refuses
// before anything is written when no ExecuteTemplate of the renderer runs.
// A read made for this execution only (the key alone is computed) is made
// in *tmp, if not nil: a hit then allocates none.
func (d *blockDesc) read(parent *block, dyn []any, tmp *tmplcache.Spec) (*tmplcache.Spec, context.Context, error) {
	if !d.r.executing() {
		return nil, nil, d.fail(ErrNotRenderer)
	}
	switch {
	case d.spec != nil:
		return d.spec, d.context(parent), nil
	case d.keyed != nil:
		a := d.constArgs
		if len(dyn) != 1 {
			return nil, nil, d.fail(fmt.Errorf("%w: missing argument", ErrBadArgument))
		}
		if err := a.setKey(dyn[0]); err != nil {
			return nil, nil, d.fail(err)
		}
		if tmp == nil {
			tmp = new(tmplcache.Spec)
		}
		*tmp = d.keyed.WithKey(d.keyOf(a))
		return tmp, d.context(parent), nil
	}
	a, err := d.args(dyn)
	if err != nil {
		return nil, nil, err
	}
	return d.r.c.Spec(d.keyOf(a), d.optsOf(a)...), d.context(parent), nil
}

// context returns the context of the block's store calls. Template
// functions cannot see the request's: store calls are bounded by the
// cache's timeout instead, and the enclosing block of the same template,
// if any, is the build's parent.
func (d *blockDesc) context(parent *block) context.Context {
	if parent != nil {
		return parent.build.Context(context.Background())
	}
	return context.Background()
}

// hit is the common case of a block's execution: a fresh entry, served
// without Begin's bookkeeping (see [tmplcache.Spec.Peek]). It returns
// nil when the open function must decide.
func (d *blockDesc) hit(parent *block, dyn []any) (*template.HTML, error) {
	var tmp tmplcache.Spec
	spec, ctx, err := d.read(parent, dyn, &tmp)
	if err != nil {
		return nil, err
	}
	blk := hitBlocks.Get().(*block)
	if !spec.PeekInto(ctx, &blk.hit) {
		hitBlocks.Put(blk)
		return nil, nil
	}
	blk.desc, blk.build, blk.Miss = d, &blk.hit, false
	d.r.blocks.hold(blk)
	blk.Mark = blk.marker(marker.Hit)
	return &blk.Mark, nil
}

// open starts one execution of the block that hit did not serve (or, on a
// shared store, every execution): it reads the cache and, on a miss, begins
// a build (a concurrent execution of the same block waits for it,
// bounded). parent is the enclosing block of the same template, if any:
// the build reports to it, and a block nested in one of its own key builds
// without waiting for itself.
func (d *blockDesc) open(parent *block, dyn []any) (*block, error) {
	spec, ctx, err := d.read(parent, dyn, nil)
	if err != nil {
		return nil, err
	}
	b, err := spec.Begin(ctx)
	if err != nil {
		return nil, d.fail(fmt.Errorf("%w: %w", ErrBadArgument, err))
	}
	blk := d.r.blocks.add(d, b)
	if b.Hit() {
		blk.Mark = blk.marker(marker.Hit)
		return blk, nil
	}
	// The handler most likely loaded the data before executing the template.
	b.MarkPreRead()
	blk.Miss, blk.Mark = true, blk.marker(marker.Begin)
	return blk, nil
}

// fail reports a problem with the block, in the words its author wrote.
func (d *blockDesc) fail(err error) *Error {
	e := errAt(d.loc, err, "")
	e.Action = d.action
	return e
}
