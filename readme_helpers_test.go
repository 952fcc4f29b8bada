package cachetagging_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// What the README's examples lean on, kept out of their sight.

type Post struct {
	ID, CategoryID int
	Title          string
	Draft          bool
}

type Category struct {
	ID   int
	Name string
}

func loadHome(context.Context) map[string]any {
	return map[string]any{
		"Categories": []Category{{1, "Go"}, {2, "Web"}},
		"Posts":      []Post{{ID: 1, CategoryID: 1, Title: "Tags are versions"}, {ID: 2, CategoryID: 2, Title: "Holes"}},
	}
}

func liveFor(*http.Request) map[string]any { return map[string]any{"Comments": 4} }

type userKey struct{}

func withUser(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, userKey{}, name)
}

func userName(ctx context.Context) string {
	if name, ok := ctx.Value(userKey{}).(string); ok {
		return name
	}
	return "stranger"
}

func withUserFromCookie(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if c, err := req.Cookie("user"); err == nil {
			req = req.WithContext(withUser(req.Context(), c.Value))
		}
		next.ServeHTTP(w, req)
	})
}

var spaces = regexp.MustCompile(`\s+`)

// squeeze puts output on one line, for // Output.
func squeeze(s string) string { return strings.TrimSpace(spaces.ReplaceAllString(s, " ")) }

// printer collects an execution's output, to print it on one line.
type printer struct{ strings.Builder }

func (p *printer) print() { fmt.Println(squeeze(p.String())) }

func do(h http.Handler, target, user string) *httptest.ResponseRecorder {
	method := http.MethodGet
	if m, path, ok := strings.Cut(target, " "); ok {
		method, target = m, path
	}
	req := httptest.NewRequest(method, target, nil)
	if user != "" {
		req.AddCookie(&http.Cookie{Name: "user", Value: user})
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func show(h http.Handler, target string) {
	w := do(h, target, "")
	fmt.Println(strings.TrimSpace(fmt.Sprint(w.Code, " ", squeeze(w.Body.String()))))
}

func showHeaders(h http.Handler, target, user string, names ...string) {
	w := do(h, target, user)
	var parts []string
	for _, n := range names {
		parts = append(parts, n+"="+w.Header().Get(n))
	}
	fmt.Println(w.Code, strings.Join(parts, " "), squeeze(w.Body.String()))
}

// TestREADMESnippetsAreExamples: every Go and template snippet of the
// README stands, word for word, in one of the readme*_test.go files, whose
// examples run it.
func TestREADMESnippetsAreExamples(t *testing.T) {
	var sources strings.Builder
	for _, f := range []string{"readme_test.go", "readme_stores_test.go"} {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		sources.WriteString(normalize(string(b)))
	}
	readme, err := os.Open("README.md")
	require.NoError(t, err)
	defer readme.Close()
	var block []string
	lang, n := "", 0
	sc := bufio.NewScanner(readme)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case lang == "" && (line == "```go" || line == "```html"):
			lang, block = line[3:], nil
		case lang != "" && line == "```":
			snippet := normalize(strings.Join(block, "\n"))
			require.Contains(t, sources.String(), snippet, "this %s snippet of the README is no example's", lang)
			lang = ""
			n++
		case lang != "":
			block = append(block, line)
		}
	}
	require.NoError(t, sc.Err())
	require.GreaterOrEqual(t, n, 8, "the README shows its snippets")
}

// normalize drops indentation and blank lines, which differ between a
// README block and the same code in a function.
func normalize(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}
