package cachetagging_test

import (
	"context"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/stretchr/testify/require"
)

type failing struct{ fail bool }

func (f failing) Value() (string, error) {
	if f.fail {
		return "", errors.New("query failed")
	}
	return "ok", nil
}

func TestAFailedBodyStoresNothing(t *testing.T) {
	h := parse(t, `{{ cache_tagging "outer" }}<o>{{ cache_tagging "inner" }}<i>inner</i>{{ end_cache_tagging }}`+
		`{{ cache_tagging "failing" }}partial {{ .f.Value }}{{ end_cache_tagging }}</o>{{ end_cache_tagging }}`)
	_, err := h.exec(bg, "t", map[string]any{"f": failing{fail: true}})
	require.ErrorContains(t, err, "query failed")
	for key, stored := range map[string]bool{"outer": false, "failing": false, "inner": true} {
		_, ok, _ := h.c.Get(bg, "fragment:"+key)
		require.Equal(t, stored, ok, "fragment %q stored", key)
	}
	// Nothing was left locked or half-built: the next render fills both.
	out := h.render("t", map[string]any{"f": failing{}})
	require.Equal(t, "<o><i>inner</i>partial ok</o>", out)
	_, ok, _ := h.c.Get(bg, "fragment:outer")
	require.True(t, ok)
}

func TestStoreFailuresRenderUncached(t *testing.T) {
	store := &brokenStore{}
	c := tmplcache.New(store, tmplcache.WithLogger(slog.New(slog.DiscardHandler)), tmplcache.WithTimeout(20*time.Millisecond))
	r := cachetagging.New(c, cachetagging.WithSecret([]byte("0123456789abcdef")))
	h := &harness{t: t, c: c, r: r}
	h.tmpl = mustPrepared(t, r, `{{ cache_tagging "k" "t" }}<p>{{ .n }}</p>{{ end_cache_tagging }}`)
	for n := range 3 {
		out, err := h.exec(bg, "t", map[string]any{"n": n})
		require.NoError(t, err, "a store error never fails a page")
		require.Equal(t, "<p>"+string(rune('0'+n))+"</p>", out)
	}
	st := c.Stats()
	require.NotZero(t, st.StoreErrors)
	require.Zero(t, st.Stores)
}

// brokenStore fails every call.
type brokenStore struct{}

var errBroken = errors.New("connection refused")

func (brokenStore) Get(context.Context, []string) ([][]byte, error) { return nil, errBroken }
func (brokenStore) Set(context.Context, []tmplcache.Item) error     { return errBroken }
func (brokenStore) Add(context.Context, []tmplcache.Item) error     { return errBroken }
func (brokenStore) Delete(context.Context, []string) error          { return errBroken }

func TestBadArgumentsAreClearErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		atPrepare bool // constant arguments are checked once, by Prepare
		msg       string
	}{
		{"a key that is not a string", `{{ cache_tagging 42 }}x{{ end_cache_tagging }}`, true, "key must be a non-empty string"},
		{"an empty key", `{{ cache_tagging "" }}x{{ end_cache_tagging }}`, true, "key must be a non-empty string"},
		{"a tag that is not a string", `{{ cache_tagging "k" 3 }}x{{ end_cache_tagging }}`, true, "a tag must be a string"},
		{"an empty tag", `{{ cache_tagging "k" "" }}x{{ end_cache_tagging }}`, true, "tags are 1 to"},
		{"two timeouts", `{{ cache_tagging "k" (cache_timeout 1) (cache_timeout 2) }}x{{ end_cache_tagging }}`, true, "given twice"},
		{"an empty key given as data", `{{ cache_tagging .empty }}x{{ end_cache_tagging }}`, false, "key must be a non-empty string"},
		{"a list holding a non-string", `{{ cache_tagging "k" (list "a" 1) }}x{{ end_cache_tagging }}`, false, "a tag must be a string"},
		{"a bad timeout", `{{ cache_tagging "k" (cache_timeout "soon") }}x{{ end_cache_tagging }}`, true, "want seconds or a duration"},
		{"a negative timeout", `{{ cache_tagging "k" (cache_timeout -5) }}x{{ end_cache_tagging }}`, true, "must be positive"},
		{"a bad timeout given as data", `{{ cache_tagging "k" (cache_timeout .empty) }}x{{ end_cache_tagging }}`, false, "want seconds or a duration"},
		{"a bad added tag", `{{ cache_tagging "k" }}{{ cache_add_tags 1.5 }}{{ end_cache_tagging }}`, false, "a tag must be a string"},
	} {
		t.Run(tc.name+" is an error naming the action, not a panic", func(t *testing.T) {
			c, r := newRenderer(nil)
			tmpl := template.Must(template.New("t").Funcs(sprigFuncs()).Funcs(r.FuncMap()).Parse(tc.src))
			err := r.Prepare(tmpl)
			if !tc.atPrepare {
				require.NoError(t, err)
				err = r.ExecuteTemplate(bg, io.Discard, tmpl, "t", map[string]any{"empty": ""})
			}
			require.ErrorIs(t, err, cachetagging.ErrBadArgument)
			require.ErrorContains(t, err, tc.msg)
			require.ErrorContains(t, err, "t:1")
			require.NotContains(t, err.Error(), "_cachetagging", "errors speak the author's words")
			if tc.atPrepare {
				require.ErrorContains(t, err, "cachetagging: t:1: {{cache_tagging")
			}
			require.Zero(t, c.Stats().Stores)
		})
	}
}

func TestTagsFlattenFromListsAndTimeoutsApply(t *testing.T) {
	h := parse(t, `{{ cache_tagging "k" "a" (list "b" (list "c")) .more (cache_timeout "90s") }}{{ .n }}{{ end_cache_tagging }}`)
	ctx, scope := h.c.Track(bg)
	out, err := h.exec(ctx, "t", map[string]any{"n": 1, "more": []string{"d", "e"}})
	require.NoError(t, err)
	require.Equal(t, "1", out)
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, scope.Tags())
	require.NoError(t, h.c.InvalidateTags(bg, "c"))
	_, ok, _ := h.c.Get(bg, "fragment:k")
	require.False(t, ok, "a tag from a nested list invalidates")
}
