package cachetagging_test

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/internal/testclock"
	"github.com/cachetagging/cachetagging/tmplcache"
)

// missOnce is an in-process store whose next read of a fragment finds
// nothing, once armed: a block's fast path misses, and its open function,
// reading again, finds the entry (as when a concurrent build stores it in
// between). It counts the reads of fragments.
type missOnce struct {
	tmplcache.Store
	armed atomic.Bool
	reads atomic.Int32
	local bool
}

func (s *missOnce) Local() bool { return s.local }

func (s *missOnce) Get(ctx context.Context, keys []string) ([][]byte, error) {
	if strings.Contains(keys[0], "fragment:") {
		s.reads.Add(1)
		if s.armed.CompareAndSwap(true, false) {
			return make([][]byte, len(keys)), nil
		}
	}
	return s.Store.Get(ctx, keys)
}

type greeter struct{}

func (greeter) Greet(name string) string { return "Hello, " + name }

// A block's fast path declines, and the open function finds the entry:
// the page is the cached fragment, the body does not run, and the read
// counts once, as a hit.
func TestBlockFastPathDeclinesThenOpenHits(t *testing.T) {
	for _, src := range []string{
		`<p>{{ cache_tagging "k" "t" }}{{ body }}{{ end_cache_tagging }}</p>`,
		`<p>{{ cache_tagging (print "k") "t" }}{{ body }}{{ end_cache_tagging }}</p>`,
		`<p>{{ cache_tagging "k" "t" }}{{ .Greet "Ann" }} {{ body }}{{ end_cache_tagging }}</p>`, // a call with arguments, not a function
		`<p>{{ cache_tagging "outer" }}[{{ cache_tagging "k" "t" }}{{ body }}{{ end_cache_tagging }}]{{ end_cache_tagging }}</p>`,
	} {
		t.Run(src, func(t *testing.T) {
			store := &missOnce{Store: tmplcache.NewMemoryStore(), local: true}
			c := tmplcache.New(store)
			r := cachetagging.New(c, cachetagging.WithSecret([]byte("0123456789abcdef0123")), cachetagging.WithoutDigests())
			var runs atomic.Int32
			tmpl := template.Must(template.New("t").Funcs(template.FuncMap{"body": func() string {
				return "body " + string(rune('0'+runs.Add(1)))
			}}).Funcs(r.FuncMap()).Parse(src))
			require.NoError(t, r.Prepare(tmpl))
			render := func() string {
				var b strings.Builder
				require.NoError(t, r.ExecuteTemplate(bg, &b, tmpl, "t", greeter{}))
				return b.String()
			}
			first := render()
			require.Contains(t, first, "body 1")
			require.NoError(t, c.Delete(bg, "fragment:outer")) // the inner block's read is the one tested

			hits := c.Stats().Hits
			store.armed.Store(true)
			require.Equal(t, first, render(), "served from the cache")
			require.False(t, store.armed.Load(), "the fast path read and missed")
			require.Equal(t, int32(1), runs.Load(), "the body did not run again")
			require.Equal(t, hits+1, c.Stats().Hits, "one read, one hit")
		})
	}
}

// A shared store has no fast path: a read is a round trip, and a miss
// reads the fragment once, a hit once.
func TestSharedStoreReadsABlockOnce(t *testing.T) {
	store := &missOnce{Store: tmplcache.NewMemoryStore()}
	c := tmplcache.New(store)
	r := cachetagging.New(c, cachetagging.WithSecret([]byte("0123456789abcdef0123")))
	tmpl := mustPrepared(t, r, `<p>{{ cache_tagging "k" "t" }}v{{ end_cache_tagging }}</p>`)
	for _, want := range []string{"miss", "hit"} {
		store.reads.Store(0)
		var b strings.Builder
		require.NoError(t, r.ExecuteTemplate(bg, &b, tmpl, "t", nil))
		require.Equal(t, "<p>v</p>", b.String())
		require.Equal(t, int32(1), store.reads.Load(), "a %s reads the fragment once", want)
	}
}

// Early recomputation reaches template blocks through the hit path: far
// from expiry (past the rule's horizon) every render hits; near it, one
// render rebuilds the block ahead of its expiry and the others keep hitting.
func TestBlockRecomputedEarlyNearExpiry(t *testing.T) {
	clk := testclock.New()
	var builds atomic.Int32
	data := map[string]any{"build": func() int32 {
		clk.Add(time.Second) // a build takes a second
		return builds.Add(1)
	}}
	src := `{{ cache_tagging "k" "t" (cache_timeout 600) }}<p>{{ call .build }}</p>{{ end_cache_tagging }}`
	h := parse(t, src, tmplcache.WithClock(clk))
	require.Equal(t, "<p>1</p>", h.render("t", data))

	clk.Add(600*time.Second - 60*time.Second) // 60 build times left: past the horizon
	for range 1000 {
		require.Equal(t, "<p>1</p>", h.render("t", data))
	}
	require.Equal(t, int32(1), builds.Load(), "far from expiry nobody rebuilds")

	clk.Add(60*time.Second - 200*time.Millisecond) // a fifth of a build time left
	for i := 0; i < 200 && builds.Load() == 1; i++ {
		h.render("t", data)
	}
	require.Equal(t, int32(2), builds.Load(), "near expiry one render rebuilt early")
	for range 100 {
		require.Equal(t, "<p>2</p>", h.render("t", data), "the rebuilt value is fresh again")
	}
	require.EqualValues(t, 1, h.c.Stats().EarlyRebuilds)
}

// Fast-path hits reuse their blocks (and the builds in them) once the
// stream has written them. Many executions at once, each tracked, each
// hitting two blocks of one template: every page is whole, and every
// request's scope collects exactly the tags of the blocks it hit.
func TestReusedHitBlocksServeTheirOwnExecution(t *testing.T) {
	c := tmplcache.New(nil)
	r := cachetagging.New(c, cachetagging.WithSecret([]byte("0123456789abcdef0123")))
	tmpl := template.Must(template.New("t").Funcs(r.FuncMap()).Parse(
		`{{ range .Blocks }}{{ cache_tagging . (print "tag:" .) }}[{{ . }}]{{ end_cache_tagging }}{{ end }}`))
	require.NoError(t, r.Prepare(tmpl))
	pages := [][]string{{"a", "b"}, {"c", "d"}, {"b", "c"}}
	for _, p := range pages {
		require.NoError(t, r.ExecuteTemplate(bg, io.Discard, tmpl, "t", map[string]any{"Blocks": p}))
	}
	hits := c.Stats().Hits
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				p := pages[(g+i)%len(pages)]
				ctx, scope := c.Track(bg)
				var out strings.Builder
				if err := r.ExecuteTemplate(ctx, &out, tmpl, "t", map[string]any{"Blocks": p}); err != nil {
					errs <- err
					return
				}
				tags := scope.Tags()
				_ = scope.End(bg, nil)
				want := "[" + p[0] + "][" + p[1] + "]"
				wantTags := []string{"tag:" + p[0], "tag:" + p[1]}
				if out.String() != want || !slices.Equal(tags, wantTags) {
					errs <- fmt.Errorf("page %q tags %q, want %q tags %q", out.String(), tags, want, wantTags)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	require.Equal(t, hits+8*2000*2, c.Stats().Hits, "every block was a hit")
}

// A block whose key alone is computed reads with options prepared once
// (tmplcache.Spec.WithKey): the same entry a block computing every
// argument reads, and the same errors.
func TestComputedKeyBlocksReadTheirOwnEntry(t *testing.T) {
	c := tmplcache.New(nil)
	r := cachetagging.New(c, cachetagging.WithSecret([]byte("0123456789abcdef0123")), cachetagging.WithoutDigests())
	var runs atomic.Int32
	funcs := template.FuncMap{"body": func() string { runs.Add(1); return "built" }}
	keyed := template.Must(template.New("t").Funcs(funcs).Funcs(r.FuncMap()).Parse(
		`{{ cache_tagging .K "t" (cache_timeout 60) }}{{ body }} {{ .K }}{{ end_cache_tagging }}`))
	general := template.Must(template.New("t").Funcs(funcs).Funcs(r.FuncMap()).Parse(
		`{{ cache_tagging .K .T (cache_timeout 60) }}{{ body }} {{ .K }}{{ end_cache_tagging }}`))
	require.NoError(t, r.Prepare(keyed))
	require.NoError(t, r.Prepare(general))
	render := func(tmpl *template.Template, data map[string]any) (string, error) {
		var out strings.Builder
		err := r.ExecuteTemplate(bg, &out, tmpl, "t", data)
		return out.String(), err
	}
	for _, k := range []string{"k1", "k2"} {
		out, err := render(keyed, map[string]any{"K": k})
		require.NoError(t, err)
		require.Equal(t, "built "+k, out)
		out, err = render(keyed, map[string]any{"K": k})
		require.NoError(t, err)
		require.Equal(t, "built "+k, out)
		out, err = render(general, map[string]any{"K": k, "T": "t"})
		require.NoError(t, err)
		require.Equal(t, "built "+k, out)
	}
	require.EqualValues(t, 2, runs.Load(), "one build per key, then hits, from either block")

	require.NoError(t, c.InvalidateTags(bg, "t"))
	_, err := render(keyed, map[string]any{"K": "k1"})
	require.NoError(t, err)
	require.EqualValues(t, 3, runs.Load(), "the constant tag invalidates a computed key's entry")

	_, err = render(keyed, map[string]any{"K": ""})
	require.ErrorIs(t, err, cachetagging.ErrBadArgument)
	require.ErrorContains(t, err, "cache_tagging")
}
