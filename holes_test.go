package cachetagging_test

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"sync/atomic"
	"testing"

	"github.com/cachetagging/cachetagging/nocache"
	"github.com/cachetagging/cachetagging/phased"
	"github.com/stretchr/testify/require"
)

const nocacheSeed = `{{ cache_tagging .cachename "tag1" (cache_timeout 120) }}
  {{ .now }}
  #{{ nocache "calc" .a .b .c .u }}#
  and repeat
  {{ nocache "pickled" 3 .u }}
  end
{{ end_cache_tagging }}`

// Django cache-tagging's test_templatetag_nocache: the first render runs the holes with
// the first request's data; a second request with other data gets the
// cached fragment (the old "now") with the holes run again for it.
func TestDjangoTemplatetagNocache(t *testing.T) {
	var h *harness
	var calls atomic.Int32
	var argTypes []string
	calc := handler{"calc", func(ctx context.Context, w io.Writer, call nocache.Call) error {
		calls.Add(1)
		live := call.Live.(map[string]any)
		a, b, c := call.Args[0].(int64), call.Args[1].(int64), call.Args[2].(int64)
		argTypes = append(argTypes, fmt.Sprintf("%T %T", call.Args[0], call.Args[3]))
		if live["do"].(bool) {
			live["result"] = 1
			fmt.Fprint(w, a+b, "\n", "случай1", "\n", call.Args[3], "\n")
		} else {
			live["result"] = 2
			fmt.Fprint(w, b+c, "\n", "случай2", "\n")
		}
		fmt.Fprint(w, "<b>bold</b>\n", template.HTMLEscapeString("<b>bold</b>"), "\n")
		return nil
	}}
	pickled := handler{"pickled", func(ctx context.Context, w io.Writer, call nocache.Call) error {
		calls.Add(1)
		fmt.Fprint(w, "pickled=", call.Args[0], "\n", "pickled_unicode=", call.Args[1], "\n")
		nested, err := h.r.Holes().Marker("nested")
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, string(nested)) // a hole in a hole's output is expanded too
		return err
	}}
	nested := handler{"nested", func(ctx context.Context, w io.Writer, call nocache.Call) error {
		_, err := io.WriteString(w, "nested nocache\n")
		return err
	}}
	h = parse(t, nocacheSeed, calc, pickled, nested)

	data := map[string]any{"cachename": "nocachename", "now": "now-1", "do": true,
		"a": 1, "b": 2, "c": 3, "u": "юникод", "result": nil}
	r1 := h.render("t", data)
	require.Contains(t, r1, "now-1")
	require.Contains(t, r1, "end")
	require.Contains(t, r1, "#3\n")
	require.Contains(t, r1, "случай1")
	require.Contains(t, r1, "юникод")
	require.Equal(t, 1, data["result"])
	require.Contains(t, r1, "<b>bold</b>")
	require.Contains(t, r1, "&lt;b&gt;bold&lt;/b&gt;")
	require.Contains(t, r1, "pickled=3\n")
	require.Contains(t, r1, "pickled_unicode=юникод\n")
	require.Contains(t, r1, "nested nocache\n")

	data2 := map[string]any{"cachename": "nocachename", "now": "now-2", "do": false,
		"a": 10, "b": 20, "c": 30, "u": "другое", "result": nil}
	r2 := h.render("t", data2)
	require.Contains(t, r2, "now-1", "the fragment is cached")
	require.NotContains(t, r2, "now-2")
	require.Contains(t, r2, "end")
	require.Contains(t, r2, "#5\n", "the hole runs again, with the arguments captured at build time")
	require.Contains(t, r2, "случай2")
	require.Equal(t, 2, data2["result"], "and with this request's live data")
	require.EqualValues(t, 4, calls.Load(), "one call per hole per request")
	require.Equal(t, []string{"int64 string", "int64 string"}, argTypes, "arguments arrive after a JSON round trip")
	require.EqualValues(t, 1, h.c.Stats().Stores)
}

// A phased section runs on every request with dot = the stash captured at
// build time plus .Live, this request's data.
func TestPhasedStashAndLive(t *testing.T) {
	h := parse(t, `{{ cache_tagging "post" "post:1" }}<h1>{{ .title }}</h1>
{{ phased "count" .count "title" .title }}comments={{ .count }} user={{ .Live.user }} eq={{ eq .count 3 }}{{ end_phased }}
{{ phased (dict "t" .title) }}[{{ .t }}]{{ end_phased }}{{ end_cache_tagging }}`)
	r1 := h.render("t", map[string]any{"title": "Hello", "count": 3, "user": "ann"})
	require.Contains(t, r1, "comments=3 user=ann eq=true")
	require.Contains(t, r1, "[Hello]")
	r2 := h.render("t", map[string]any{"title": "Changed", "count": 5, "user": "bob"})
	require.Contains(t, r2, "<h1>Hello</h1>", "the fragment is a hit")
	require.Contains(t, r2, "comments=3 user=bob", "the stash is the build's, .Live the request's")

	raw, ok, err := h.c.Get(bg, "fragment:post")
	require.NoError(t, err)
	require.True(t, ok)
	require.NotContains(t, string(raw), ".Live.user", "markers carry no template source")
	require.NotContains(t, string(raw), "comments=", "nor the section's text")
	require.Contains(t, string(raw), `"count":3`, "but the stash")
}

func TestHolesOutsideFragmentsRunInline(t *testing.T) {
	h := parse(t, `<p>{{ nocache "who" 1 }}</p>{{ phased "x" .x }}{{ .x }}-{{ .Live.x }}{{ end_phased }}`,
		handler{"who", func(ctx context.Context, w io.Writer, call nocache.Call) error {
			_, err := fmt.Fprintf(w, "you=%v", call.Live.(map[string]any)["x"])
			return err
		}})
	require.Equal(t, "<p>you=7</p>7-7", h.render("t", map[string]any{"x": 7}))
	require.Equal(t, "<p>you=8</p>8-8", h.render("t", map[string]any{"x": 8}))
}

func TestHoleErrorsAreClearAndStoreNothing(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      error
	}{
		{"a handler error", `{{ cache_tagging "k" }}a{{ nocache "fails" }}{{ end_cache_tagging }}`, errHandler},
		{"a handler panic", `{{ cache_tagging "k" }}a{{ nocache "panics" }}{{ end_cache_tagging }}`, nocache.ErrHandlerPanic},
		{"an unknown handler named at execution", `{{ cache_tagging "k" }}a{{ nocache .name }}{{ end_cache_tagging }}`, nocache.ErrUnknownHandler},
		{"a stash that cannot be serialized", `{{ cache_tagging "k" }}{{ phased "f" .fn }}{{ end_phased }}{{ end_cache_tagging }}`, nocache.ErrBadArgs},
		{"bad stash arguments", `{{ cache_tagging "k" }}{{ phased "odd" }}{{ end_phased }}{{ end_cache_tagging }}`, phased.ErrBadStash},
	} {
		t.Run(tc.name+" fails the execution and stores nothing", func(t *testing.T) {
			h := parse(t, tc.src,
				handler{"fails", func(context.Context, io.Writer, nocache.Call) error { return errHandler }},
				handler{"panics", func(context.Context, io.Writer, nocache.Call) error { panic("handler bug") }})
			_, err := h.exec(bg, "t", map[string]any{"fn": func() {}, "name": "nobody"})
			require.ErrorIs(t, err, tc.want)
			_, ok, _ := h.c.Get(bg, "fragment:k")
			require.False(t, ok)
		})
	}
}

var errHandler = fmt.Errorf("database down")
