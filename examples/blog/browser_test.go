package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// In a real browser: turn the overlay on, follow a post, edit it through
// its form, and see the home page show the new title with the post's
// fragment outlined as rebuilt (MISS) and the others as served from the
// cache (HIT); then set a name and see the greeting hole change on a page
// that stays a HIT. Screenshots of each step go to os.TempDir().
func TestInABrowserTheOverlayShowsTheCacheAtWork(t *testing.T) {
	ctx := newTab(t)
	s := newTestSite(t)
	ts := httptest.NewServer(s.h)
	t.Cleanup(ts.Close)

	open := func(trigger chromedp.Action[chromedp.Void]) {
		t.Helper()
		res, err := chromedp.RunResponse(ctx, trigger)
		require.NoError(t, err)
		require.EqualValues(t, http.StatusOK, res.Status, res.URL)
	}
	do := func(actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, actions...))
	}

	open(chromedp.Navigate(ts.URL + "/"))
	require.Empty(t, readOverlay(t, ctx, false).Boxes, "the overlay is off at first")

	open(chromedp.Click(chromedp.CSS("form.overlay-toggle button")))
	home := readOverlay(t, ctx, true)
	require.Equal(t, "HIT", home.Page, "the first visit cached the page")
	require.Equal(t, "HIT", home.XCache)
	require.Contains(t, strings.Fields(home.SurrogateKey), "post:6")
	require.Contains(t, home.holes(), "greeting")
	screenshot(t, ctx, "1-home-overlay-on")

	open(chromedp.Click(chromedp.CSS(`.posts a[href="/posts/6"]`)))
	post := readOverlay(t, ctx, true)
	require.Equal(t, "/posts/6", post.Path)
	require.Equal(t, "MISS", post.Page)
	require.Equal(t, "MISS", post.fragments()["post-body:6"])
	require.Equal(t, "HIT", post.fragments()["sidebar:recent"], "rendered for the home page")

	open(chromedp.Click(chromedp.CSS("a.edit")))
	do(chromedp.SetValue(chromedp.CSS(`#post-form input[name="title"]`), "Warm starts"))
	open(chromedp.Click(chromedp.CSS("#post-form button")))
	edited := readOverlay(t, ctx, true)
	require.Equal(t, "/posts/6", edited.Path)
	title, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("article h1")))
	require.NoError(t, err)
	require.Equal(t, "Warm starts", title)
	require.Equal(t, "MISS", edited.fragments()["post-body:6"], "rebuilt after the edit")
	require.Equal(t, "HIT", edited.fragments()["post-comments:6"], "the comments did not change")
	screenshot(t, ctx, "2-post-after-edit")

	open(chromedp.Click(chromedp.CSS("header a.site")))
	home = readOverlay(t, ctx, true)
	require.Equal(t, "/", home.Path)
	require.Equal(t, "MISS", home.Page, "the home page showed the post")
	first, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".posts li strong")))
	require.NoError(t, err)
	require.Equal(t, "Warm starts", first)
	frags := home.fragments()
	require.Equal(t, "MISS", frags["post-item:6"], "the edited post's fragment was rebuilt")
	for id := 1; id <= 5; id++ {
		require.Equal(t, "HIT", frags[fmt.Sprintf("post-item:%d", id)], "post %d came from the cache", id)
	}
	for _, b := range home.Boxes {
		if b.Key == "post-item:6" {
			require.False(t, b.Hidden)
			require.Positive(t, b.Width*b.Height, "the fragment is outlined")
		}
	}
	require.Equal(t, "HIT", home.XCache, "asked again with HEAD, the page is cached by now")
	screenshot(t, ctx, "3-home-after-edit")

	do(chromedp.SendKeys(chromedp.CSS(`form.name input[name="name"]`), "Ada"))
	open(chromedp.Click(chromedp.CSS("form.name button")))
	greeted := readOverlay(t, ctx, true)
	require.Equal(t, "/", greeted.Path)
	require.Equal(t, "HIT", greeted.Page, "one cached page for every visitor")
	hello, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("header .hello")))
	require.NoError(t, err)
	require.Equal(t, "Hello, Ada", hello)
	require.Contains(t, greeted.holes(), "greeting")
	screenshot(t, ctx, "4-home-greets-Ada")
}

// overlayView is what the overlay drew on a page.
type overlayView struct {
	Path         string `json:"path"`
	Page         string `json:"page"`
	XCache       string `json:"xcache"`
	SurrogateKey string `json:"surrogateKey"`
	Boxes        []struct {
		Kind   string  `json:"kind"`
		Key    string  `json:"key"`
		State  string  `json:"state"`
		Name   string  `json:"name"`
		Hidden bool    `json:"hidden"`
		Width  float64 `json:"width"`
		Height float64 `json:"height"`
	} `json:"boxes"`
}

func (v overlayView) fragments() map[string]string {
	m := map[string]string{}
	for _, b := range v.Boxes {
		if b.Kind == "fragment" {
			m[b.Key] = b.State
		}
	}
	return m
}

func (v overlayView) holes() []string {
	var names []string
	for _, b := range v.Boxes {
		if b.Kind == "hole" {
			names = append(names, b.Name)
		}
	}
	return names
}

// readOverlay reads the boxes and the panel the overlay drew on the page,
// once its HEAD request has answered.
func readOverlay(t *testing.T, ctx context.Context, on bool) overlayView {
	t.Helper()
	if on {
		_, err := chromedp.Run(ctx, chromedp.Poll[string](
			`document.getElementById('ct-panel') && document.getElementById('ct-panel').dataset.xcache`,
			chromedp.WithPollingTimeout(30*time.Second)))
		require.NoError(t, err, "the overlay's panel")
	}
	v, err := chromedp.Run(ctx, chromedp.Evaluate[overlayView](`(() => {
		const panel = document.getElementById('ct-panel');
		return {
			path: location.pathname,
			page: panel ? panel.dataset.page || '' : '',
			xcache: panel ? panel.dataset.xcache || '' : '',
			surrogateKey: panel ? panel.dataset.surrogateKey || '' : '',
			boxes: Array.from(document.querySelectorAll('#ct-overlay .ct-box')).map((b) => ({
				kind: b.dataset.kind, key: b.dataset.key || '', state: b.dataset.state || '',
				name: b.dataset.name || '', hidden: b.hidden,
				width: b.getBoundingClientRect().width, height: b.getBoundingClientRect().height,
			})),
		};
	})()`))
	require.NoError(t, err)
	return v
}

// screenshot saves a screenshot of the whole page under os.TempDir().
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	path := filepath.Join(os.TempDir(), "cachetagging-blog-"+name+".png")
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot: %s", path)
}

// newTab starts a headless Chromium with a fresh profile and returns the
// context of its tab. Without a browser the test skips, unless CI=true.
func newTab(t *testing.T) context.Context {
	t.Helper()
	path := findBrowser()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no Chromium or Chrome found, and CI=true")
		}
		t.Skip("no Chromium or Chrome found (with CI=true this fails)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 1000),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	// Registered after TempDir: the browser is gone before its profile is.
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	require.NoError(t, chromedp.Do(ctx), "starting %s", path) // without a deadline: it lives as long as ctx
	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancel)
	return tctx
}

// findBrowser returns the path of a Chromium or Chrome, or "".
func findBrowser() string {
	if p := os.Getenv("BLOG_TEST_BROWSER"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}
