package nocache_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"text/template"

	"github.com/cachetagging/cachetagging/nocache"
	"github.com/stretchr/testify/require"
)

var key = []byte("a key of sixteen bytes or more")

func TestRegistry(t *testing.T) {
	reg := nocache.NewRegistry(key)
	noop := func(context.Context, io.Writer, nocache.Call) error { return nil }
	require.NoError(t, reg.Handle("a", noop))
	require.ErrorIs(t, reg.Handle("a", noop), nocache.ErrDuplicateHandler)
	require.ErrorIs(t, reg.Handle("", noop), nocache.ErrBadName)
	require.ErrorIs(t, reg.Handle("b", nil), nocache.ErrBadName)
	require.ErrorIs(t, reg.Handle(strings.Repeat("n", 257), noop), nocache.ErrBadName)
	_, err := reg.Marker("unknown")
	require.ErrorIs(t, err, nocache.ErrUnknownHandler)
	_, err = reg.Marker("a", make(chan int))
	require.ErrorIs(t, err, nocache.ErrBadArgs)
}

func TestExpand(t *testing.T) {
	reg := nocache.NewRegistry(key)
	require.NoError(t, reg.Handle("args", func(ctx context.Context, w io.Writer, call nocache.Call) error {
		_, err := fmt.Fprintf(w, "%s%v/%T/%T/%v", call.Name, call.Args, call.Args[0], call.Args[1], call.Live)
		return err
	}))
	m, err := reg.Marker("args", 3, 2.5, "s", map[string]int{"k": 1}, []int{1})
	require.NoError(t, err)

	var out bytes.Buffer
	require.NoError(t, reg.Expand(context.Background(), &out, []byte("<"+string(m)+">"), "live"))
	require.Equal(t, "<args[3 2.5 s map[k:1] [1]]/int64/float64/live>", out.String())

	t.Run("a marker from another key is inert", func(t *testing.T) {
		other := nocache.NewRegistry([]byte("another key of sixteen bytes"))
		require.NoError(t, other.Handle("args", func(context.Context, io.Writer, nocache.Call) error { return nil }))
		forged, _ := other.Marker("args")
		var out bytes.Buffer
		require.NoError(t, reg.Expand(context.Background(), &out, []byte(forged), nil))
		require.Equal(t, string(forged), out.String())
		require.False(t, reg.Verify([]byte(forged)))
		require.True(t, reg.Verify([]byte(m)))
	})
	t.Run("an unknown handler at expansion is an error", func(t *testing.T) {
		writer := nocache.NewRegistry(key)
		require.NoError(t, writer.Handle("gone", func(context.Context, io.Writer, nocache.Call) error { return nil }))
		gone, _ := writer.Marker("gone")
		err := reg.Expand(context.Background(), io.Discard, []byte(gone), nil)
		require.ErrorIs(t, err, nocache.ErrUnknownHandler)
	})
}

func TestHandlerFailures(t *testing.T) {
	reg := nocache.NewRegistry(key)
	boom := fmt.Errorf("boom")
	require.NoError(t, reg.Handle("err", func(context.Context, io.Writer, nocache.Call) error { return boom }))
	require.NoError(t, reg.Handle("panic", func(context.Context, io.Writer, nocache.Call) error { panic("bug") }))
	var self func(ctx context.Context, w io.Writer, call nocache.Call) error
	self = func(ctx context.Context, w io.Writer, call nocache.Call) error {
		m, _ := reg.Marker("self")
		_, err := io.WriteString(w, string(m)) // a hole writing itself: bounded
		return err
	}
	require.NoError(t, reg.Handle("self", self))
	for name, want := range map[string]error{"err": boom, "panic": nocache.ErrHandlerPanic, "self": nocache.ErrTooDeep} {
		m, err := reg.Marker(name)
		require.NoError(t, err)
		require.ErrorIs(t, reg.Expand(context.Background(), io.Discard, []byte(m), nil), want, name)
	}
}

// The package works with any engine: here text/template writes the marker
// and a Writer expands it on the way out.
func Example() {
	reg := nocache.NewRegistry([]byte("the key every server shares"))
	_ = reg.Handle("greeting", func(ctx context.Context, w io.Writer, call nocache.Call) error {
		_, err := fmt.Fprintf(w, "Hello, %s (%d new)", call.Live, call.Args[0])
		return err
	})
	tmpl := template.Must(template.New("t").Funcs(template.FuncMap{"nocache": reg.Func()}).
		Parse(`<header>{{ nocache "greeting" .Unread }}</header>`))

	// Render once (this output is what a cache would keep) ...
	var cached bytes.Buffer
	_ = tmpl.Execute(&cached, map[string]int{"Unread": 3})

	// ... and expand it for each request.
	for _, user := range []string{"Ann", "Bob"} {
		var page strings.Builder
		_ = reg.Expand(context.Background(), &page, cached.Bytes(), user)
		fmt.Println(page.String())
	}
	// Output:
	// <header>Hello, Ann (3 new)</header>
	// <header>Hello, Bob (3 new)</header>
}
