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
	require.ErrorIs(t, reg.Handle("b", nil), nocache.ErrNilHandler)
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

func TestRotationAndLimits(t *testing.T) {
	noop := func(context.Context, io.Writer, nocache.Call) error { return nil }
	oldKey, newKey := []byte("the old key, sixteen bytes+"), []byte("the new key, sixteen bytes+")
	old := nocache.NewRegistry(oldKey)
	require.NoError(t, old.Handle("h", noop))
	signedOld, err := old.Marker("h")
	require.NoError(t, err)

	rotated := nocache.NewRegistry(newKey, oldKey)
	require.NoError(t, rotated.Handle("h", noop))
	signedNew, err := rotated.Marker("h")
	require.NoError(t, err)
	t.Run("a rotated registry accepts markers of the previous key", func(t *testing.T) {
		require.True(t, rotated.Verify([]byte(signedOld)))
		require.NoError(t, rotated.Check([]byte("a"+string(signedOld)+"b"), nil))
	})
	t.Run("and signs with the new one", func(t *testing.T) {
		require.False(t, old.Verify([]byte(signedNew)))
		require.ErrorIs(t, old.Check([]byte(signedNew), nil), nocache.ErrNotAMarker)
	})
	t.Run("content naming a handler this registry lacks cannot run", func(t *testing.T) {
		bare := nocache.NewRegistry(newKey)
		require.ErrorIs(t, bare.Check([]byte(signedNew), nil), nocache.ErrUnknownHandler)
	})
	t.Run("a check callback sees each call", func(t *testing.T) {
		var names []string
		require.NoError(t, rotated.Check([]byte(string(signedNew)+"\x00text"+string(signedOld)), func(c nocache.Call) error {
			names = append(names, c.Name)
			return nil
		}))
		require.Equal(t, []string{"h", "h"}, names)
	})
	t.Run("arguments over the marker limit are an error, never text", func(t *testing.T) {
		_, err := rotated.Marker("h", strings.Repeat("x", 300<<10))
		require.ErrorIs(t, err, nocache.ErrTooLarge)
	})
}

// A handler's io.WriteString reaches the Writer's WriteString: the same
// expansion as Write (a hole in its output runs, a marker split across
// calls too), with no copy of the string.
func TestWriteString(t *testing.T) {
	reg := nocache.NewRegistry(key)
	require.NoError(t, reg.Handle("inner", func(ctx context.Context, w io.Writer, call nocache.Call) error {
		_, err := io.WriteString(w, "in")
		return err
	}))
	inner, err := reg.Marker("inner")
	require.NoError(t, err)
	half := len(inner) / 2
	require.NoError(t, reg.Handle("outer", func(ctx context.Context, w io.Writer, call nocache.Call) error {
		for _, s := range []string{"<", string(inner[:half]), string(inner[half:]), ">", ""} {
			if _, err := io.WriteString(w, s); err != nil {
				return err
			}
		}
		return nil
	}))
	outer, err := reg.Marker("outer")
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, reg.Expand(context.Background(), &out, []byte(outer), nil))
	require.Equal(t, "<in>", out.String())

	x := reg.NewWriter(context.Background(), io.Discard, nil)
	s := strings.Repeat("plain text ", 10)
	allocs := testing.AllocsPerRun(100, func() { _, _ = io.WriteString(x, s) })
	require.Zero(t, allocs, "plain text through WriteString is not copied")
}
