package cachetagging_test

import (
	"bytes"
	"context"
	"errors"
	"html/template"
	"io"
	"testing"

	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/nocache"
	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/stretchr/testify/require"
)

func prepareErr(t *testing.T, src string) error {
	t.Helper()
	r := cachetagging.New(tmplcache.New(nil))
	r.Nocache("h", func(ctx context.Context, w io.Writer, call nocache.Call) error { return nil })
	tmpl, err := template.New("page.html").Funcs(sprigFuncs()).Funcs(r.FuncMap()).Parse(src)
	require.NoError(t, err)
	return r.Prepare(tmpl)
}

func TestPrepareReportsMisuse(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want error
		line int
		msg  string
	}{
		{"a block that is never closed", "a\n{{ cache_tagging \"k\" }}x", cachetagging.ErrUnbalanced, 2, "never closed"},
		{"an end without a start", "{{ end_cache_tagging }}", cachetagging.ErrUnbalanced, 1, "without a matching"},
		{"a block closed by the wrong end", "{{ cache_tagging \"k\" }}\n{{ end_phased }}", cachetagging.ErrUnbalanced, 2, "end_phased"},
		{"a block that crosses an if", "{{ if .x }}{{ cache_tagging \"k\" }}{{ end }}\n{{ end_cache_tagging }}", cachetagging.ErrUnbalanced, 1, "never closed"},
		{"a block without a key", "{{ cache_tagging }}x{{ end_cache_tagging }}", cachetagging.ErrBadArgument, 1, "needs a key"},
		{"an end with arguments", "{{ cache_tagging \"k\" }}x{{ end_cache_tagging \"k\" }}", cachetagging.ErrBadArgument, 1, "no arguments"},
		{"a block inside a declaration", "\n\n{{ $x := cache_tagging \"k\" }}", cachetagging.ErrMisplaced, 3, "stand alone"},
		{"a block as an if condition", "{{ if cache_tagging \"k\" }}{{ end }}", cachetagging.ErrMisplaced, 1, "stand alone"},
		{"a block in a pipeline", "{{ cache_tagging \"k\" | print }}x{{ end_cache_tagging }}", cachetagging.ErrMisplaced, 1, "stand alone"},
		{"a block in an attribute", "<a title=\"{{ cache_tagging \"k\" }}x{{ end_cache_tagging }}\">", cachetagging.ErrMisplaced, 1, "an attribute value"},
		{"a block in a URL", "<a href=\"/x?{{ cache_tagging \"k\" }}x{{ end_cache_tagging }}\">", cachetagging.ErrMisplaced, 1, "URL"},
		{"a hole in a script", "<script>\nvar u = {{ nocache \"h\" }};\n</script>", cachetagging.ErrMisplaced, 2, "JavaScript"},
		{"a hole in a style", "<style>p { color: {{ nocache \"h\" }} }</style>", cachetagging.ErrMisplaced, 1, "CSS"},
		{"a block in a textarea", "<textarea>{{ cache_tagging \"k\" }}x{{ end_cache_tagging }}</textarea>", cachetagging.ErrMisplaced, 1, "textarea"},
		{"added tags in a tag", "<p {{ cache_add_tags \"t\" }}>", cachetagging.ErrMisplaced, 1, "tag or attribute name"},
		{"a phased block in an attribute", "<p class=\"{{ phased }}x{{ end_phased }}\">", cachetagging.ErrMisplaced, 1, "attribute"},
		{"a template with a hole called in an attribute",
			"{{ define \"hole\" }}{{ nocache \"h\" }}{{ end }}<p title=\"{{ template \"hole\" }}\">", cachetagging.ErrMisplaced, 1, "called outside HTML text"},
		{"a phased section using an enclosing variable",
			"{{ $u := .user }}\n{{ phased }}{{ $u }}{{ end_phased }}", cachetagging.ErrBadArgument, 2, "$u"},
		{"a phased section assigning an enclosing variable",
			"{{ $u := .user }}\n{{ phased }}{{ $u = 1 }}{{ end_phased }}", cachetagging.ErrBadArgument, 2, "$u"},
		{"a variable declared in a block and used after it",
			"{{ cache_tagging \"k\" }}{{ $n := len .posts }}{{ end_cache_tagging }}\n<p>{{ $n }} posts</p>",
			cachetagging.ErrMisplaced, 2, "$n is declared inside cache_tagging … end_cache_tagging and used after it"},
		{"a variable declared in a block and assigned after it",
			"{{ cache_tagging \"k\" }}{{ $n := 1 }}{{ end_cache_tagging }}\n{{ if .x }}{{ $n = 2 }}{{ end }}",
			cachetagging.ErrMisplaced, 2, "$n is declared inside"},
		{"a variable declared in a phased section and used after it",
			"{{ phased }}{{ $n := 1 }}{{ end_phased }}\n{{ $n }}", cachetagging.ErrMisplaced, 2, "$n is declared inside phased … end_phased"},
		{"a break of a range around a block",
			"{{ range .posts }}{{ cache_tagging \"k\" }}\n{{ if .x }}{{ break }}{{ end }}{{ end_cache_tagging }}{{ end }}",
			cachetagging.ErrMisplaced, 2, "{{break}} inside cache_tagging … end_cache_tagging ends a {{range}} around the block"},
		{"a continue of a range around a phased section",
			"{{ range .posts }}{{ phased }}\n{{ continue }}{{ end_phased }}{{ end }}",
			cachetagging.ErrMisplaced, 2, "{{continue}} inside phased … end_phased"},
		{"a variable assigned in a block but declared before it",
			"{{ $n := 0 }}{{ cache_tagging \"k\" }}\n{{ range .posts }}{{ $n = 1 }}{{ end }}{{ end_cache_tagging }}{{ $n }}",
			cachetagging.ErrMisplaced, 2, "$n is assigned inside cache_tagging … end_cache_tagging but declared outside it"},
	} {
		t.Run(tc.name+" is an error naming template and line", func(t *testing.T) {
			err := prepareErr(t, tc.src)
			require.ErrorIs(t, err, tc.want)
			var te *cachetagging.Error
			require.True(t, errors.As(err, &te), "%v is not a *cachetagging.Error", err)
			require.Equal(t, "page.html", te.Name)
			require.Equal(t, tc.line, te.Line, err.Error())
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

// Variables that stay within a block, or are redeclared after it, are fine.
func TestPrepareAcceptsVariablesThatStayInTheirBlock(t *testing.T) {
	for _, src := range []string{
		`{{ cache_tagging "k" }}{{ $n := 1 }}{{ $n = 2 }}{{ $n }}{{ end_cache_tagging }}`,
		`{{ cache_tagging "k" }}{{ $n := 1 }}{{ end_cache_tagging }}{{ $n := 2 }}{{ $n }}`,
		`{{ cache_tagging "k" }}{{ range $i, $p := .posts }}{{ $i = 0 }}{{ end }}{{ end_cache_tagging }}`,
		`{{ $n := 1 }}{{ cache_tagging "k" }}{{ $n }}{{ end_cache_tagging }}{{ $n }}`,
		`{{ cache_tagging "k" }}{{ range .posts }}{{ if . }}{{ break }}{{ end }}{{ continue }}{{ end }}{{ end_cache_tagging }}`,
	} {
		require.NoError(t, prepareErr(t, src), src)
	}
}

func TestPrepareAcceptsHTMLText(t *testing.T) {
	for _, src := range []string{
		`<p>{{ cache_tagging "k" }}<a href="/{{ .x }}" title="{{ .y }}">x</a><script>var a = {{ .z }};</script>{{ end_cache_tagging }}</p>`,
		`{{ range .l }}{{ cache_tagging . }}{{ phased "v" . }}{{ .v }}{{ end_phased }}{{ end_cache_tagging }}{{ end }}`,
		`{{ define "part" }}{{ nocache "h" }}{{ end }}<div>{{ template "part" . }}</div>`,
		`<title>{{ .t }}</title>{{ cache_add_tags "a" (list "b" "c") }}{{ cache_tagging_prevent }}`,
	} {
		require.NoError(t, prepareErr(t, src), src)
	}
}

func TestPrepareIsIdempotentAndOrdered(t *testing.T) {
	h := parse(t, `{{ cache_tagging "k" }}{{ .n }}{{ end_cache_tagging }}`)
	require.NoError(t, h.r.Prepare(h.tmpl), "a second Prepare is harmless")
	require.Equal(t, "1", h.render("t", map[string]int{"n": 1}))
	require.Equal(t, "1", h.render("t", map[string]int{"n": 2}))
	require.NoError(t, h.r.Prepare(h.tmpl), "and so is a Prepare after executing")

	t.Run("a template parsed into the set after executing cannot be prepared", func(t *testing.T) {
		_, err := h.tmpl.New("late").Parse(`{{ cache_tagging "late" }}x{{ end_cache_tagging }}`)
		require.Error(t, err, "html/template refuses it already")
	})
}

func TestUnpreparedBlocksAreAnError(t *testing.T) {
	r := cachetagging.New(tmplcache.New(nil))
	tmpl := template.Must(template.New("t").Funcs(r.FuncMap()).Parse(`{{ cache_tagging "k" }}x{{ end_cache_tagging }}`))
	err := r.ExecuteTemplate(bg, io.Discard, tmpl, "t", nil)
	require.ErrorIs(t, err, cachetagging.ErrNotPrepared)
}

// A prepared template executed out of html/template habit fails before it
// writes a marker byte, whatever it holds, warm cache or cold.
func TestPreparedTemplatesNeedExecuteTemplate(t *testing.T) {
	for _, src := range []string{
		`<p>{{ cache_tagging "k" }}x{{ end_cache_tagging }}</p>`,
		`<p>{{ cache_add_tags "t" }}</p>`,
		`<p>{{ cache_tagging_prevent }}</p>`,
		`<p>{{ nocache "h" }}</p>`,
		`<p>{{ phased }}x{{ end_phased }}</p>`,
	} {
		t.Run(src, func(t *testing.T) {
			h := parse(t, src, handler{"h", func(context.Context, io.Writer, nocache.Call) error { return nil }})
			warm := h.render("t", nil)
			for _, round := range []string{"warm", "again"} {
				var b bytes.Buffer
				err := h.tmpl.Execute(&b, nil) // not through the renderer
				require.ErrorIs(t, err, cachetagging.ErrNotRenderer, round)
				require.ErrorContains(t, err, "Renderer.ExecuteTemplate")
				require.NotContains(t, b.String(), "\x00", "no marker byte was written")
				var b2 bytes.Buffer
				require.ErrorIs(t, h.tmpl.ExecuteTemplate(&b2, "t", nil), cachetagging.ErrNotRenderer)
			}
			require.Equal(t, warm, h.render("t", nil), "the renderer works as before")
		})
	}
}

func TestConfigurationErrors(t *testing.T) {
	shared := tmplcache.New(sharedStore{tmplcache.NewMemoryStore()})
	tmpl := template.Must(template.New("t").Parse("x"))
	t.Run("a shared store needs a secret", func(t *testing.T) {
		r := cachetagging.New(shared)
		require.ErrorIs(t, r.Prepare(tmpl), cachetagging.ErrConfig)
		err := r.ExecuteTemplate(bg, io.Discard, tmpl, "t", nil)
		require.ErrorIs(t, err, cachetagging.ErrConfig)
		require.ErrorContains(t, err, "WithSecret")
	})
	t.Run("a short secret is refused", func(t *testing.T) {
		r := cachetagging.New(shared, cachetagging.WithSecret([]byte("short")))
		require.ErrorIs(t, r.Prepare(tmpl), cachetagging.ErrConfig)
	})
	t.Run("a shared store with a secret is fine", func(t *testing.T) {
		r := cachetagging.New(shared, cachetagging.WithSecret([]byte("0123456789abcdef0123")))
		require.NoError(t, r.Prepare(tmpl))
	})
	t.Run("a duplicate nocache handler is reported", func(t *testing.T) {
		r := cachetagging.New(tmplcache.New(nil))
		fn := func(ctx context.Context, w io.Writer, call nocache.Call) error { return nil }
		r.Nocache("user", fn)
		r.Nocache("user", fn)
		require.ErrorIs(t, r.Prepare(tmpl), nocache.ErrDuplicateHandler)
	})
}

// sharedStore hides MemoryStore's Local: it plays a store other processes see.
type sharedStore struct{ tmplcache.Store }
