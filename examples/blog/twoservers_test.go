package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// The demo as it is meant to run: two processes on two ports, one
// PostgreSQL database, one Redis. An edit made through the first is seen
// by the second at once, on every page that shows it, and everything else
// stays cached.
func TestTwoServersOnPostgresAndRedisServeEachOthersEdits(t *testing.T) {
	requireAnswers(t, "PostgreSQL", postgresAddr)
	requireAnswers(t, "Redis", testRedisAddr())

	run := strings.ToLower(rand.Text()[:10])
	dbURL := createDatabase(t, "blog_e2e_"+run)
	namespace := "blog-e2e-" + run
	deleteNamespaceAtEnd(t, namespace)
	bin := buildBlog(t)
	args := []string{"-db", dbURL, "-redis", testRedisAddr(), "-namespace", namespace, "-secret", secret}
	first := startProcess(t, bin, args...) // seeds the database
	second := startProcess(t, bin, args...)
	debug := map[string]string{overlayCookie: "on"}

	pages := []string{"/", "/categories/1", "/categories/2", "/categories/3"}
	for id := 1; id <= 6; id++ {
		pages = append(pages, fmt.Sprintf("/posts/%d", id))
	}
	// The first server renders and caches every page; the second serves
	// them from Redis without rendering anything.
	for _, p := range pages {
		fetch(t, http.MethodGet, first+p, debug, nil)
		res, body := fetch(t, http.MethodGet, first+p, debug, nil)
		require.Equal(t, "HIT", res.Header.Get("X-Cache"), p)
		res, body = fetch(t, http.MethodGet, second+p, debug, nil)
		require.Equal(t, "HIT", res.Header.Get("X-Cache"), "%s: the page the first server cached", p)
		require.Contains(t, body, "Cold starts", "%s shows post 6 (in its recent posts)", p)
	}

	// Edit post 6 through the first server's form.
	_, form := fetch(t, http.MethodGet, first+"/posts/6/edit", nil, nil)
	action, values := postForm(t, form)
	require.Equal(t, "/posts/6/edit", action)
	require.Equal(t, "Cold starts", values.Get("title"))
	values.Set("title", "Warm starts")
	res, _ := fetch(t, http.MethodPost, first+action, nil, values)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)

	// Every page, from the second server, all at once.
	type result struct {
		status int
		body   string
		err    error
	}
	results := make([]result, len(pages))
	var wg sync.WaitGroup
	for i, p := range pages {
		wg.Go(func() {
			results[i].status, results[i].body, results[i].err = get(second+p, debug)
		})
	}
	wg.Wait()
	rebuilt := map[string]bool{}
	for i, p := range pages {
		r := results[i]
		require.NoError(t, r.err, p)
		require.Equal(t, http.StatusOK, r.status, p)
		a := annotations(t, r.body)
		require.Contains(t, a.text, "Warm starts", p)
		require.NotContains(t, a.text, "Cold starts", p)
		require.Equal(t, "MISS", a.page, "%s shows post 6: invalidated", p)
		requireStates(t, a, unrelatedFragments(p), "unrelated fragments of %s stay cached", p)
		for key, state := range a.fragments {
			if state == "MISS" {
				rebuilt[key] = true
			}
		}
	}
	// What shows post 6 was rendered again (once, by one of the requests:
	// those that waited for it got that one's result).
	for _, key := range []string{"home:posts", "post-item:6", "post-body:6", "category-posts:3", "sidebar:recent"} {
		require.True(t, rebuilt[key], "%s was rendered again", key)
	}
	for _, key := range []string{"post-item:1", "post-item:2", "post-item:3", "post-item:4", "post-item:5",
		"post-body:1", "post-comments:6", "category-posts:1", "category-posts:2"} {
		require.False(t, rebuilt[key], "%s was not rendered again", key)
	}
}

// unrelatedFragments are the fragments of a page that show nothing of
// post 6: an edit of it leaves them cached.
func unrelatedFragments(page string) map[string]string {
	switch page {
	case "/":
		return states("HIT", "post-item:1", "post-item:2", "post-item:3", "post-item:4", "post-item:5")
	case "/categories/1", "/categories/2":
		return states("HIT", "category-posts:"+page[len("/categories/"):])
	case "/categories/3":
		return states("HIT", "post-item:3")
	case "/posts/6":
		return states("HIT", "post-comments:6")
	}
	id := page[len("/posts/"):]
	return states("HIT", "post-body:"+id, "post-comments:"+id)
}

var (
	formActionRE = regexp.MustCompile(`<form class="form" id="post-form" method="post" action="([^"]+)"`)
	titleRE      = regexp.MustCompile(`name="title" value="([^"]*)"`)
	selectedRE   = regexp.MustCompile(`<option value="(\d+)" selected>`)
	bodyRE       = regexp.MustCompile(`<textarea name="body"[^>]*>([^<]*)</textarea>`)
)

// postForm reads the post form of a page: where it posts, and its values.
func postForm(t *testing.T, page string) (action string, values url.Values) {
	t.Helper()
	field := func(re *regexp.Regexp) string {
		m := re.FindStringSubmatch(page)
		require.NotNil(t, m, "no match for %s", re)
		return html.UnescapeString(m[1])
	}
	return field(formActionRE), url.Values{"title": {field(titleRE)}, "category": {field(selectedRE)}, "body": {field(bodyRE)}}
}

// get fetches a page without failing the test, for use from goroutines.
func get(target string, cookies map[string]string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return 0, "", err
	}
	for name, value := range cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res.StatusCode, string(body), err
}

const postgresAddr = "127.0.0.1:5432"

func testRedisAddr() string {
	if a := os.Getenv("REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// requireAnswers skips the test when a server does not answer, unless
// CI=true: CI starts every server, and a missing one is a broken CI, not
// a reason to go green.
func requireAnswers(t *testing.T, name, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		_ = conn.Close()
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s at %s does not answer, and CI=true: %v", name, addr, err)
	}
	t.Skipf("%s at %s does not answer (with CI=true this fails): %v", name, addr, err)
}

// createDatabase creates a PostgreSQL database for this test run, dropped
// when it ends, and returns its URL.
func createDatabase(t *testing.T, name string) string {
	t.Helper()
	admin, err := gorm.Open(postgres.Open("postgres://postgres@"+postgresAddr+"/test?sslmode=disable"),
		&gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	require.NoError(t, admin.Exec(`CREATE DATABASE "`+name+`"`).Error)
	t.Cleanup(func() {
		// FORCE: a process that could not be stopped still holds connections.
		if err := admin.Exec(`DROP DATABASE IF EXISTS "` + name + `" WITH (FORCE)`).Error; err != nil {
			t.Errorf("dropping the test database %s: %v", name, err)
		}
		_ = closeDB(admin)
	})
	return "postgres://postgres@" + postgresAddr + "/" + name + "?sslmode=disable"
}

// deleteNamespaceAtEnd deletes the test's keys from Redis when it ends:
// entries under "NAMESPACE:", tag records and the clock under
// "{NAMESPACE/tags}".
func deleteNamespaceAtEnd(t *testing.T, namespace string) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testRedisAddr()})
	t.Cleanup(func() {
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, pattern := range []string{namespace + ":*", "{" + namespace + "/tags}*"} {
			iter := rdb.Scan(ctx, 0, pattern, 500).Iterator()
			var keys []string
			for iter.Next(ctx) {
				keys = append(keys, iter.Val())
			}
			if err := iter.Err(); err != nil {
				t.Errorf("listing the test's Redis keys: %v", err)
				return
			}
			if len(keys) > 0 {
				if err := rdb.Del(ctx, keys...).Err(); err != nil {
					t.Errorf("deleting the test's Redis keys: %v", err)
				}
			}
		}
	})
}

// buildBlog builds the demo's binary once for the test.
func buildBlog(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "blog")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	args := []string{"build", "-o", bin}
	if builtWithRace() {
		// The packages go test -race compiled are reused, and the
		// processes are checked for races too.
		args = append(args, "-race")
	}
	out, err := exec.Command(goTool, append(args, ".")...).CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// builtWithRace reports whether this test binary runs with the race
// detector.
func builtWithRace() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// startProcess starts the demo binary on a free port and returns its URL
// once it listens. The process is stopped when the test ends; its log is
// shown if the test failed.
func startProcess(t *testing.T, bin string, args ...string) string {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "stderr.log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		stopProcess(t, cmd, exited)
		_ = logFile.Close()
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			t.Logf("log of %s:\n%s", cmd.Args, log)
		}
	})

	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
		_, _ = io.Copy(io.Discard, stdout) // Wait needs the pipe drained
	}()
	select {
	case s := <-line:
		m := startupRE.FindStringSubmatch(s)
		require.NotNil(t, m, "startup line: %q (log in %s)", s, logPath)
		return m[1]
	case err := <-exited:
		exited <- err
		t.Fatalf("%s exited before listening: %v", cmd.Args, err)
	case <-time.After(time.Minute):
		t.Fatalf("%s is not listening after a minute", cmd.Args)
	}
	return ""
}

// stopProcess stops a demo process: gracefully, else by force.
func stopProcess(t *testing.T, cmd *exec.Cmd, exited chan error) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Errorf("waiting for %s: %v", cmd.Args, err)
		} else if err != nil {
			t.Errorf("%s did not shut down cleanly: %v", cmd.Args, err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("%s did not stop within 10s of SIGTERM: killed", cmd.Args)
		_ = cmd.Process.Kill()
		<-exited
	}
}
