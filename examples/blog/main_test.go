package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/stretchr/testify/require"
)

const secret = "0123456789abcdef"

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  string
		want config
		err  string
	}{
		{name: "no flags serve from memory on 127.0.0.1:8080",
			want: config{addr: "127.0.0.1:8080"}},
		{name: "-redis with -secret is a shared store",
			args: []string{"-redis", "redis://127.0.0.1:6379/0", "-secret", secret},
			want: config{addr: "127.0.0.1:8080", redisURL: "redis://127.0.0.1:6379/0", secret: secret}},
		{name: "the secret may come from $BLOG_SECRET",
			args: []string{"-memcache", "127.0.0.1:11211"}, env: secret,
			want: config{addr: "127.0.0.1:8080", memcacheAddr: "127.0.0.1:11211", secret: secret}},
		{name: "-redis without a secret is refused",
			args: []string{"-redis", "redis://127.0.0.1:6379/0"}, err: "needs -secret"},
		{name: "-memcache without a secret is refused",
			args: []string{"-memcache", "127.0.0.1:11211"}, err: "needs -secret"},
		{name: "a short secret is refused",
			args: []string{"-secret", "short"}, err: "want at least 16"},
		{name: "two stores are refused",
			args: []string{"-redis", "redis://x", "-memcache", "x:1", "-secret", secret}, err: "choose one"},
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

func TestRunRefusesABadRedisURL(t *testing.T) {
	err := run(context.Background(), []string{"-redis", "mysql://x", "-secret", secret}, io.Discard, io.Discard)
	require.ErrorContains(t, err, "-redis")
}

// startRun runs the blog as main does, on a free port, until the test
// ends, and returns its URL and the store it reported.
func startRun(t *testing.T, args ...string) (base, store string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, stdout := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), stdout, t.Output())
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
	m := regexp.MustCompile(`^blog listening on (http://\S+) \(store: (.+)\)\n$`).FindStringSubmatch(line)
	require.NotNil(t, m, "startup line: %q", line)
	return m[1], m[2]
}

// fetch sends a request to target, with a name cookie unless name is
// empty and a form unless form is nil. It does not follow redirects.
func fetch(t *testing.T, method, target, name string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if name != "" {
		req.AddCookie(&http.Cookie{Name: nameCookie, Value: name})
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
	res, body := fetch(t, http.MethodGet, base+"/", "", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "MISS", res.Header.Get("X-Cache"))
	require.Contains(t, body, "Cold starts")
	res, body = fetch(t, http.MethodGet, base+"/", "Ann", nil)
	require.Equal(t, "HIT", res.Header.Get("X-Cache"))
	require.Contains(t, body, "Hello, Ann<")
}

// On a shared store, cached holes are signed with the secret and checked
// when they come back from the store.
func TestRunServesTheBlogFromRedis(t *testing.T) {
	srv := miniredis.RunT(t)
	base, store := startRun(t, "-redis", "redis://"+srv.Addr()+"/0", "-secret", secret)
	require.Equal(t, "redis "+srv.Addr(), store)

	res, body := fetch(t, http.MethodGet, base+"/posts/2", "Ann", nil)
	require.Equal(t, "MISS", res.Header.Get("X-Cache"))
	require.Contains(t, body, "Hello, Ann<")
	res, body = fetch(t, http.MethodGet, base+"/posts/2", "Bob", nil)
	require.Equal(t, "HIT", res.Header.Get("X-Cache"))
	require.Contains(t, body, "Hello, Bob<")
	require.Contains(t, body, `<a href="#comments">2 comments</a>`, "the phased section, from Redis")
	require.NotEmpty(t, srv.Keys(), "the cache is in Redis")

	res, _ = fetch(t, http.MethodPost, base+"/posts/2/edit", "", url.Values{
		"title": {"Versions, not key sets"}, "category": {"2"}, "body": {"Edited."}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	_, body = fetch(t, http.MethodGet, base+"/posts/2", "", nil)
	require.Contains(t, body, "<h1>Versions, not key sets</h1>")
}
