package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/stretchr/testify/require"
)

const secret = "0123456789abcdef"

func TestParseFlags(t *testing.T) {
	defaults := config{addr: "127.0.0.1:8080", db: defaultDBPath(), namespace: "blog"}
	with := func(f func(*config)) config { c := defaults; f(&c); return c }
	for _, tc := range []struct {
		name string
		args []string
		env  string
		want config
		err  string
	}{
		{name: "no flags serve SQLite and an in-memory cache on 127.0.0.1:8080",
			want: defaults},
		{name: "-db takes a PostgreSQL URL",
			args: []string{"-db", "postgres://postgres@127.0.0.1:5432/test"},
			want: with(func(c *config) { c.db = "postgres://postgres@127.0.0.1:5432/test" })},
		{name: "-redis with -secret is a shared store",
			args: []string{"-redis", "127.0.0.1:6379", "-secret", secret, "-namespace", "blog2"},
			want: with(func(c *config) { c.redis, c.secret, c.namespace = "127.0.0.1:6379", secret, "blog2" })},
		{name: "the secret may come from $BLOG_SECRET",
			args: []string{"-memcache", "127.0.0.1:11211"}, env: secret,
			want: with(func(c *config) { c.memcacheAddr, c.secret = "127.0.0.1:11211", secret })},
		{name: "-redis without a secret is refused",
			args: []string{"-redis", "redis://127.0.0.1:6379/0"}, err: "needs -secret"},
		{name: "-memcache without a secret is refused",
			args: []string{"-memcache", "127.0.0.1:11211"}, err: "needs -secret"},
		{name: "a short secret is refused",
			args: []string{"-secret", "short"}, err: "want at least 16"},
		{name: "two stores are refused",
			args: []string{"-redis", "redis://x", "-memcache", "x:1", "-secret", secret}, err: "choose one"},
		{name: "an empty -db is refused",
			args: []string{"-db", ""}, err: "-db: empty"},
		{name: "stray arguments are refused",
			args: []string{"serve"}, err: "unexpected arguments"},
		{name: "unknown flags are refused",
			args: []string{"-port", "80"}, err: "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("BLOG_SECRET", tc.env)
			got, err := parseFlags(tc.args, io.Discard)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestRedisTakesAnAddressOrAURL(t *testing.T) {
	for in, addr := range map[string]string{
		"127.0.0.1:6379":           "127.0.0.1:6379",
		"redis://127.0.0.1:6380/2": "127.0.0.1:6380",
		"redis.internal:6379":      "redis.internal:6379",
	} {
		opts, err := redisOptions(in)
		require.NoError(t, err, in)
		require.Equal(t, addr, opts.Addr, in)
	}
	for _, bad := range []string{"localhost", "mysql://x"} {
		_, err := redisOptions(bad)
		require.Error(t, err, bad)
	}
}

func TestRunRefusesABadRedisURL(t *testing.T) {
	err := run(context.Background(), []string{"-redis", "mysql://x", "-secret", secret}, io.Discard, io.Discard)
	require.ErrorContains(t, err, "-redis")
}

var startupRE = regexp.MustCompile(`^blog listening on (http://\S+) \(store: (.+), db: (.+)\)\n$`)

// startRun runs the blog as main does, on a free port, until the test
// ends, and returns its URL and the store it reported. Unless args name
// one, it gets a SQLite database of its own.
func startRun(t *testing.T, args ...string) (base, store string) {
	t.Helper()
	args = append([]string{"-addr", "127.0.0.1:0", "-db", filepath.Join(t.TempDir(), "blog.db")}, args...)
	ctx, cancel := context.WithCancel(context.Background())
	out, stdout := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, stdout, t.Output())
		stdout.Close()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cancel()
		require.NoError(t, <-done, "run stopped before listening")
	}
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done, "run shuts down cleanly")
	})
	m := startupRE.FindStringSubmatch(line)
	require.NotNil(t, m, "startup line: %q", line)
	return m[1], m[2]
}

// fetch sends a request to target, with cookies unless nil and a form
// unless form is nil. It does not follow redirects.
func fetch(t *testing.T, method, target string, cookies map[string]string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for name, value := range cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	client := http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NotContains(t, string(body), "\x00")
	return res, string(body)
}

func TestRunServesTheBlogFromMemory(t *testing.T) {
	base, store := startRun(t)
	require.Equal(t, "memory", store)
	res, body := fetch(t, http.MethodGet, base+"/", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "MISS", res.Header.Get("X-Cache"))
	require.Contains(t, body, "Cold starts")
	res, body = fetch(t, http.MethodGet, base+"/", map[string]string{nameCookie: "Ann"}, nil)
	require.Equal(t, "HIT", res.Header.Get("X-Cache"))
	require.Contains(t, body, "Hello, Ann<")

	_, vars := fetch(t, http.MethodGet, base+"/debug/vars", nil, nil)
	require.Contains(t, vars, `"tmplcache": {"Hits":`)
}

// On a shared store, cached holes are signed with the secret and checked
// when they come back from the store.
func TestRunServesTheBlogFromRedis(t *testing.T) {
	srv := miniredis.RunT(t)
	base, store := startRun(t, "-redis", "redis://"+srv.Addr()+"/0", "-secret", secret)
	require.Equal(t, "redis "+srv.Addr(), store)

	res, body := fetch(t, http.MethodGet, base+"/posts/2", map[string]string{nameCookie: "Ann"}, nil)
	require.Equal(t, "MISS", res.Header.Get("X-Cache"))
	require.Contains(t, body, "Hello, Ann<")
	res, body = fetch(t, http.MethodGet, base+"/posts/2", map[string]string{nameCookie: "Bob"}, nil)
	require.Equal(t, "HIT", res.Header.Get("X-Cache"))
	require.Contains(t, body, "Hello, Bob<")
	require.Contains(t, body, `<a href="#comments">2 comments</a>`, "the phased section, from Redis")
	for _, key := range srv.Keys() {
		require.True(t, strings.HasPrefix(key, "blog:") || strings.HasPrefix(key, "{blog/tags}"), "in the namespace: %q", key)
	}
}

// Two processes on one database and one Redis serve each other's edits at
// once. (twoservers_test.go does it with two real processes on PostgreSQL
// and Redis; this runs anywhere, on SQLite and miniredis.)
func TestTwoRunsShareTheDatabaseAndTheCache(t *testing.T) {
	srv := miniredis.RunT(t)
	db := filepath.Join(t.TempDir(), "shared.db")
	shared := []string{"-db", db, "-redis", srv.Addr(), "-secret", secret}
	first, _ := startRun(t, shared...)
	second, _ := startRun(t, shared...)
	debug := map[string]string{overlayCookie: "on"}

	_, body := fetch(t, http.MethodGet, first+"/posts/2", debug, nil)
	require.Equal(t, "MISS", annotations(t, body).page)
	res, body := fetch(t, http.MethodGet, second+"/posts/2", debug, nil)
	require.Equal(t, "HIT", res.Header.Get("X-Cache"), "the page the first one cached")

	res, _ = fetch(t, http.MethodPost, first+"/posts/2/edit", nil, url.Values{
		"title": {"Versions, not key sets"}, "category": {"2"}, "body": {"Edited."}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	_, body = fetch(t, http.MethodGet, second+"/posts/2", debug, nil)
	a := annotations(t, body)
	require.Contains(t, a.text, "<h1>Versions, not key sets</h1>")
	require.NotContains(t, a.text, "Tags are versions")
	requireStates(t, a, merge(states("MISS", "post-body:2", "sidebar:recent"), states("HIT", "post-comments:2")))
}
