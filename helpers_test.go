package cachetagging_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Masterminds/sprig/v3"
	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/nocache"
	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

var bg = context.Background()

// sprigFuncs are sprig's functions without the ones that read the
// environment (never expose env/expandenv to templates).
func sprigFuncs() template.FuncMap {
	fm := sprig.HtmlFuncMap()
	delete(fm, "env")
	delete(fm, "expandenv")
	return fm
}

type harness struct {
	t    *testing.T
	c    *tmplcache.Cache
	r    *cachetagging.Renderer
	tmpl *template.Template
}

// handler registers a nocache handler on a harness before Prepare.
type handler struct {
	name string
	fn   nocache.Func
}

// harnessConfig sorts a harness's options: tmplcache options,
// cachetagging options, and handlers.
func harnessConfig(opts []any) (copts []tmplcache.Option, ropts []cachetagging.Option, hs []handler) {
	for _, o := range opts {
		switch o := o.(type) {
		case tmplcache.Option:
			copts = append(copts, o)
		case cachetagging.Option:
			ropts = append(ropts, o)
		case handler:
			hs = append(hs, o)
		default:
			panic(fmt.Sprintf("harness option %T", o))
		}
	}
	return copts, ropts, hs
}

func newRenderer(opts []any) (*tmplcache.Cache, *cachetagging.Renderer) {
	copts, ropts, hs := harnessConfig(opts)
	c := tmplcache.New(nil, copts...)
	r := cachetagging.New(c, ropts...)
	for _, h := range hs {
		r.Nocache(h.name, h.fn)
	}
	return c, r
}

// newHarness parses testdata/templates with the renderer's functions and
// sprig, and prepares the set. Digests are off: tests read fragments by key.
func newHarness(t *testing.T, opts ...any) *harness {
	t.Helper()
	c, r := newRenderer(append(opts, cachetagging.WithoutDigests()))
	tmpl := template.Must(template.New("root").Funcs(sprigFuncs()).Funcs(r.FuncMap()).
		ParseGlob(filepath.Join("testdata", "templates", "*.html")))
	require.NoError(t, r.Prepare(tmpl))
	return &harness{t: t, c: c, r: r, tmpl: tmpl}
}

// parse makes a one-template harness from source (options as harnessConfig
// reads them). Digests are off: tests read fragments by key.
func parse(t *testing.T, src string, opts ...any) *harness {
	t.Helper()
	h := &harness{t: t}
	h.c, h.r = newRenderer(append(opts, cachetagging.WithoutDigests()))
	h.tmpl = template.Must(template.New("t").Funcs(sprigFuncs()).Funcs(h.r.FuncMap()).Parse(src))
	require.NoError(t, h.r.Prepare(h.tmpl))
	return h
}

func (h *harness) exec(ctx context.Context, name string, data any) (string, error) {
	var b bytes.Buffer
	err := h.r.ExecuteTemplate(ctx, &b, h.tmpl, name, data)
	return b.String(), err
}

// render renders as a request would: tracked from its start (see
// cachetagging.Track).
func (h *harness) render(name string, data any) string {
	h.t.Helper()
	ctx, scope := h.c.Track(bg)
	defer func() { _ = scope.End(ctx, nil) }()
	out, err := h.exec(ctx, name, data)
	require.NoError(h.t, err)
	requireClean(h.t, out)
	return out
}

// renderTracked renders under a tracking scope and returns what it saw.
func (h *harness) renderTracked(name string, data any) (string, *tmplcache.Build) {
	h.t.Helper()
	ctx, scope := h.c.Track(bg)
	out, err := h.exec(ctx, name, data)
	require.NoError(h.t, err)
	requireClean(h.t, out)
	return out, scope
}

// invalidate invalidates tags. A tracked render right after it stores
// again: the store's clock orders the two exactly.
func (h *harness) invalidate(tags ...string) {
	h.t.Helper()
	require.NoError(h.t, h.c.InvalidateTags(bg, tags...))
}

// requireClean checks that no marker byte reached the output.
func requireClean(t *testing.T, out string) {
	t.Helper()
	require.NotContains(t, out, "\x00", "a marker leaked into the output")
}

// golden collects the outputs of a scenario and compares them with
// testdata/golden/NAME.golden (rewritten with -update).
type golden struct {
	t    *testing.T
	name string
	b    strings.Builder
}

func newGolden(t *testing.T, name string) *golden { return &golden{t: t, name: name} }

func (g *golden) step(title, out string) {
	g.b.WriteString("== " + title + "\n" + strings.TrimSpace(out) + "\n")
}

func (g *golden) check() {
	g.t.Helper()
	path := filepath.Join("testdata", "golden", g.name+".golden")
	if *update {
		require.NoError(g.t, os.WriteFile(path, []byte(g.b.String()), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(g.t, err, "run go test -update to create it")
	require.Equal(g.t, string(want), g.b.String())
}

func mustPlain(src string) *template.Template {
	return template.Must(template.New("plain").Funcs(sprigFuncs()).Parse(src))
}

func mustPrepared(t *testing.T, r *cachetagging.Renderer, src string) *template.Template {
	t.Helper()
	tmpl := template.Must(template.New("t").Funcs(sprigFuncs()).Funcs(r.FuncMap()).Parse(src))
	require.NoError(t, r.Prepare(tmpl))
	return tmpl
}
