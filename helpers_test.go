package cachetagging_test

import (
	"bytes"
	"context"
	"flag"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Masterminds/sprig/v3"
	"github.com/cachetagging/cachetagging"
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

// newHarness parses testdata/templates with the renderer's functions and
// sprig, and prepares the set.
func newHarness(t *testing.T, opts ...tmplcache.Option) *harness {
	t.Helper()
	c := tmplcache.New(nil, opts...)
	r := cachetagging.New(c)
	tmpl := template.Must(template.New("root").Funcs(sprigFuncs()).Funcs(r.FuncMap()).
		ParseGlob(filepath.Join("testdata", "templates", "*.html")))
	require.NoError(t, r.Prepare(tmpl))
	return &harness{t: t, c: c, r: r, tmpl: tmpl}
}

// parse makes a one-template harness from source.
func parse(t *testing.T, src string, opts ...tmplcache.Option) *harness {
	t.Helper()
	h := &harness{t: t, c: tmplcache.New(nil, opts...)}
	h.r = cachetagging.New(h.c)
	h.tmpl = template.Must(template.New("t").Funcs(sprigFuncs()).Funcs(h.r.FuncMap()).Parse(src))
	require.NoError(t, h.r.Prepare(h.tmpl))
	return h
}

func (h *harness) exec(ctx context.Context, name string, data any) (string, error) {
	var b bytes.Buffer
	err := h.r.ExecuteTemplate(ctx, &b, h.tmpl, name, data)
	return b.String(), err
}

func (h *harness) render(name string, data any) string {
	h.t.Helper()
	out, err := h.exec(bg, name, data)
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

// invalidate invalidates tags, then lets the skew margin pass: fragments
// rendered right after an invalidation are (correctly) not stored.
func (h *harness) invalidate(tags ...string) {
	h.t.Helper()
	require.NoError(h.t, h.c.InvalidateTags(bg, tags...))
	time.Sleep(2 * tmplcache.DefaultSkew)
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
