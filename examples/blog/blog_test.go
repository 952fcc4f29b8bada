package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"
)

// The seeded posts, by category: Go has 1 and 4, Caching 2 and 5, Field
// notes 3 and 6 (the newest).
var seededTitles = []string{
	"Fragment caching in html/template", "Tags are versions", "A week without a CDN",
	"Streaming templates", "The race every cache loses", "Cold starts",
}

// Every test runs in a synctest bubble: its clock is fake, so stepping
// past the cache's clock-skew margin (letSkewPass) takes no real time.

func TestTheHomePageIsCachedWhole(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := newTestHandler(t)
		b := newBrowser(t, h)

		first := b.get("/")
		require.Equal(t, "MISS", xCache(first))
		for _, title := range seededTitles {
			require.Contains(t, first.Body.String(), title)
		}
		require.Equal(t, map[string]int{
			"home:posts": 1, "sidebar:categories": 1, "sidebar:recent": 1,
			"post-item:1": 1, "post-item:2": 1, "post-item:3": 1, "post-item:4": 1, "post-item:5": 1, "post-item:6": 1,
		}, stampsOf(t, first), "every fragment was rendered once")

		second := b.get("/")
		require.Equal(t, "HIT", xCache(second))
		require.Equal(t, first.Body.String(), second.Body.String())
	})
}

func TestPagesShareFragments(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := newTestHandler(t)
		b := newBrowser(t, h)
		home := stampsOf(t, b.get("/"))

		category := b.get("/categories/3")
		require.Equal(t, "MISS", xCache(category), "a page of its own")
		require.Contains(t, category.Body.String(), "<h1>Field notes</h1>")
		got := stampsOf(t, category)
		require.Equal(t, 1, got["category-posts:3"])
		requireFromCache(t, home, got, "post-item:3", "post-item:6", "sidebar:categories", "sidebar:recent")
		require.NotContains(t, got, "post-item:1", "only the category's posts")
	})
}

func TestEditingAPostRefreshesExactlyWhatShowsIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := newTestHandler(t)
		b := newBrowser(t, h)
		b.get("/")
		home := stampsOf(t, b.get("/"))
		post := b.get("/posts/1")
		require.Contains(t, post.Body.String(), "<h1>Fragment caching in html/template</h1>")
		require.Contains(t, post.Body.String(), `in <a href="/categories/1">Go</a>`)
		require.Equal(t, "HIT", xCache(b.get("/posts/1")))
		postStamps := stampsOf(t, post)

		edit := b.get("/posts/1/edit")
		require.Contains(t, edit.Body.String(), `value="Fragment caching in html/template"`, "the form shows the post")
		require.Contains(t, edit.Body.String(), `<option value="1" selected>Go</option>`)

		// A new title, and a move from Go to Caching.
		require.Equal(t, "/posts/1", b.post("/posts/1/edit", url.Values{
			"title": {"Fragments, revised"}, "category": {"2"}, "body": {"New body.\r\n\r\nTwo paragraphs."},
		}))

		// The change shows at once: nothing stale is served.
		post = b.get("/posts/1")
		require.Equal(t, "MISS", xCache(post))
		body := post.Body.String()
		require.Contains(t, body, "<h1>Fragments, revised</h1>")
		require.Contains(t, body, `in <a href="/categories/2">Caching</a>`)
		require.Contains(t, body, "<p>New body.</p>\n<p>Two paragraphs.</p>")
		after := stampsOf(t, post)
		requireRendered(t, postStamps, after, "post-body:1")
		requireFromCache(t, postStamps, after, "post-comments:1")

		page := b.get("/")
		require.Equal(t, "MISS", xCache(page))
		body = page.Body.String()
		require.Contains(t, body, "Fragments, revised")
		require.NotContains(t, body, "Fragment caching in html/template")
		require.Contains(t, body, `<a href="/categories/1">Go</a> <span class="meta">(1)</span>`)
		require.Contains(t, body, `<a href="/categories/2">Caching</a> <span class="meta">(3)</span>`)
		require.Contains(t, body, `<a href="/categories/3">Field notes</a> <span class="meta">(2)</span>`)
		after = stampsOf(t, page)
		requireRendered(t, home, after,
			"home:posts", "sidebar:categories", "sidebar:recent", // lists and counts of posts
			"post-item:1",                // the post
			"post-item:4",                // the other post of the category it left (category:1)
			"post-item:2", "post-item:5") // the posts of the category it joined (category:2)
		requireFromCache(t, home, after, "post-item:3", "post-item:6") // Field notes: untouched

		// The store's clock orders the edit and the render exactly: the
		// page rendered right after the edit was stored.
		again := b.get("/")
		require.Equal(t, "HIT", xCache(again))
		requireFromCache(t, home, stampsOf(t, again), "post-item:3", "post-item:6")
	})
}

func TestVisitorsSeeTheirOwnNameOnOneCachedPage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := newTestHandler(t)
		ann, bob, stranger := newBrowser(t, h), newBrowser(t, h), newBrowser(t, h)
		require.Equal(t, "/", ann.post("/name", url.Values{"name": {"Ann"}, "next": {"/"}}))
		require.Equal(t, "/posts/2", bob.post("/name", url.Values{"name": {"Bob <b>"}, "next": {"/posts/2"}}))

		a := ann.get("/")
		require.Equal(t, "MISS", xCache(a))
		require.Contains(t, a.Body.String(), "Hello, Ann<")

		bb := bob.get("/")
		require.Equal(t, "HIT", xCache(bb), "the page Ann's visit cached")
		require.Contains(t, bb.Body.String(), "Hello, Bob &lt;b&gt;<", "escaped")
		require.NotContains(t, bb.Body.String(), "Ann<")
		require.Equal(t, stampsOf(t, a), stampsOf(t, bb), "one page, rendered once")

		s := stranger.get("/")
		require.Equal(t, "HIT", xCache(s))
		require.Contains(t, s.Body.String(), "Hello, stranger<")

		// The greeting of pages not under CachePage reads the same cookie.
		require.Contains(t, bob.get("/stats").Body.String(), "Hello, Bob &lt;b&gt;<")

		// An empty name forgets it.
		bob.post("/name", url.Values{"name": {""}, "next": {"/"}})
		require.Contains(t, bob.get("/").Body.String(), "Hello, stranger<")
	})
}

func TestTheNameFormOnlyRedirectsWithinTheSite(t *testing.T) {
	for next, want := range map[string]string{
		"/posts/2":              "/posts/2",
		"":                      "/",
		"https://evil.example/": "/",
		"//evil.example/":       "/",
		`/\evil.example/`:       "/",
	} {
		t.Run(next+" redirects to "+want, func(t *testing.T) {
			h, _ := newTestHandler(t)
			require.Equal(t, want, newBrowser(t, h).post("/name", url.Values{"name": {"Ann"}, "next": {next}}))
		})
	}
}

func TestACommentUpdatesCountsWithoutInvalidatingTheHomePage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := newTestHandler(t)
		b := newBrowser(t, h)
		b.get("/")
		require.Contains(t, item(t, b.get("/"), 6), "0 comments")
		post := b.get("/posts/6")
		require.Contains(t, post.Body.String(), "No comments yet.")
		postStamps := stampsOf(t, post)

		b.post("/name", url.Values{"name": {"Dee"}, "next": {"/posts/6"}})
		require.Equal(t, "/posts/6#comments", b.post("/posts/6/comments", url.Values{"body": {"First!"}}))

		// Comment counts are phased sections: the home page is still the
		// cached one, but each hit computes the count anew.
		home := b.get("/")
		require.Equal(t, "HIT", xCache(home))
		require.Contains(t, item(t, home, 6), "1 comment<")

		post = b.get("/posts/6")
		require.Equal(t, "MISS", xCache(post), "its comments changed")
		body := post.Body.String()
		require.Contains(t, body, "<strong>Dee</strong>", "the author defaults to the visitor's name")
		require.Contains(t, body, "<p>First!</p>")
		require.Contains(t, body, `<a href="#comments">1 comment</a>`)
		after := stampsOf(t, post)
		requireRendered(t, postStamps, after, "post-comments:6")
		requireFromCache(t, postStamps, after, "post-body:6", "sidebar:categories", "sidebar:recent")
	})
}

func TestANewPostAppearsWhereItBelongs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := newTestHandler(t)
		b := newBrowser(t, h)
		home := stampsOf(t, b.get("/"))
		require.Contains(t, b.get("/posts/new").Body.String(), `action="/posts/new"`)

		loc := b.post("/posts/new", url.Values{"title": {"Fresh"}, "category": {"3"}, "body": {"Just written."}})
		require.Equal(t, "/posts/7", loc)
		require.Contains(t, b.get(loc).Body.String(), "<h1>Fresh</h1>")

		page := b.get("/")
		require.Equal(t, "MISS", xCache(page))
		after := stampsOf(t, page)
		require.Equal(t, 1, after["post-item:7"])
		require.Less(t, strings.Index(page.Body.String(), "Fresh"), strings.Index(page.Body.String(), "Cold starts"), "newest first")
		requireRendered(t, home, after, "home:posts", "post-item:3", "post-item:6") // its category's posts
		requireFromCache(t, home, after, "post-item:1", "post-item:2", "post-item:4", "post-item:5")
		require.Contains(t, b.get("/categories/3").Body.String(), "Fresh")
	})
}

func TestBadInputIsRejectedAndChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		form       url.Values
		code       int
		says       string
	}{
		{"an edit without a title", "/posts/1/edit",
			url.Values{"title": {" "}, "category": {"1"}, "body": {"kept body"}}, http.StatusUnprocessableEntity, "A post needs a title."},
		{"an edit to an unknown category", "/posts/1/edit",
			url.Values{"title": {"T"}, "category": {"9"}, "body": {"B"}}, http.StatusUnprocessableEntity, "Choose one of the categories."},
		{"an edit of a missing post", "/posts/99/edit",
			url.Values{"title": {"T"}, "category": {"1"}, "body": {"B"}}, http.StatusNotFound, ""},
		{"a new post without a body", "/posts/new",
			url.Values{"title": {"T"}, "category": {"1"}}, http.StatusUnprocessableEntity, "A post needs a body."},
		{"an empty comment", "/posts/1/comments",
			url.Values{"body": {""}}, http.StatusUnprocessableEntity, "A comment needs a text."},
		{"a comment on a missing post", "/posts/99/comments",
			url.Values{"body": {"hi"}}, http.StatusNotFound, ""},
	} {
		t.Run(tc.name+" is rejected", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h, cache := newTestHandler(t)
				b := newBrowser(t, h)
				b.get("/")
				w := b.submit(tc.path, tc.form)
				require.Equal(t, tc.code, w.Code, w.Body.String())
				require.Contains(t, w.Body.String(), tc.says)
				if tc.code == http.StatusUnprocessableEntity && tc.form.Has("title") {
					require.Contains(t, w.Body.String(), tc.form.Get("body"), "the form keeps what was typed")
				}
				require.Zero(t, cache.Stats().Invalidations)
				require.Equal(t, "HIT", xCache(b.get("/")))
			})
		})
	}
}

func TestMissingPagesAre404AndNotCached(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, cache := newTestHandler(t)
		b := newBrowser(t, h)
		for _, path := range []string{"/posts/99", "/posts/abc", "/posts/0", "/categories/9", "/posts/99/edit", "/nowhere"} {
			for range 2 {
				w := b.do(httptest.NewRequest(http.MethodGet, site+path, nil))
				require.Equal(t, http.StatusNotFound, w.Code, path)
				require.NotEqual(t, "HIT", xCache(w), path)
			}
		}
		require.Zero(t, cache.Stats().Stores)
	})
}

func TestStatsShowTheCounters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := newTestHandler(t)
		b := newBrowser(t, h)
		b.get("/")
		b.get("/")

		page := b.get("/stats")
		require.Empty(t, xCache(page), "not cached")
		require.Contains(t, page.Body.String(), "<th>Stores</th><td>")
		require.Contains(t, page.Body.String(), "<th>home:posts</th><td>1</td>")

		w := b.get("/stats?format=json")
		require.Equal(t, "application/json", w.Header().Get("Content-Type"))
		var got statsView
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
		require.EqualValues(t, 1, got.Cache.Hits, "the second visit: one read of the page")
		require.EqualValues(t, 10, got.Cache.Stores, "the page and its nine fragments")
		require.Contains(t, got.Renders, renderCount{"home:posts", 1})
	})
}
