package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"
)

// The seeded posts, by category: Go (1) has posts 1 and 4, Caching (2)
// posts 2 and 5, Field notes (3) posts 3 and 6, the newest.
var seededTitles = []string{
	"Fragment caching in html/template", "Tags are versions", "A week without a CDN",
	"Streaming templates", "The race every cache loses", "Cold starts",
}

var (
	allItems = []string{"post-item:1", "post-item:2", "post-item:3", "post-item:4", "post-item:5", "post-item:6"}
	sidebar  = []string{"sidebar:categories", "sidebar:recent"}
)

func TestTheHomePageIsCachedWhole(t *testing.T) {
	s := newTestSite(t)
	b := newBrowser(t, s.h)

	first := b.get("/")
	require.Equal(t, "MISS", xCache(first))
	a := annotations(t, first.Body.String())
	require.Equal(t, "MISS", a.page)
	requireStates(t, a, states("MISS", append(append([]string{"home:posts"}, sidebar...), allItems...)...))
	for _, title := range seededTitles {
		require.Contains(t, a.text, title)
	}
	keys := strings.Fields(first.Header().Get("Surrogate-Key"))
	require.Subset(t, keys, []string{"home", "posts", "post:6", "category:3", "categories"},
		"the page's tags and those of every fragment in it, for a CDN")

	second := b.get("/")
	require.Equal(t, "HIT", xCache(second))
	again := annotations(t, second.Body.String())
	require.Equal(t, "HIT", again.page)
	require.Empty(t, again.fragments, "a page hit opens no fragment")
	require.GreaterOrEqual(t, len(again.holes), 2)
	require.Equal(t, []string{"greeting", "overlay-toggle"}, again.holes[:2], "holes run on every hit")
	require.Equal(t, a.text, again.text)
	require.Equal(t, first.Header().Get("Surrogate-Key"), second.Header().Get("Surrogate-Key"))
}

func TestPagesShareFragments(t *testing.T) {
	s := newTestSite(t)
	b := newBrowser(t, s.h)
	b.get("/")

	category := b.get("/categories/3")
	require.Equal(t, "MISS", xCache(category), "a page of its own")
	a := annotations(t, category.Body.String())
	require.Contains(t, a.text, "<h1>Field notes</h1>")
	requireStates(t, a, merge(
		states("MISS", "category-posts:3"),
		states("HIT", "post-item:3", "post-item:6", "sidebar:categories", "sidebar:recent"), // rendered for the home page
	), "post-item:1")
}

func TestEditingAPostRefreshesExactlyWhatShowsIt(t *testing.T) {
	s := newTestSite(t)
	b := newBrowser(t, s.h)
	for _, path := range []string{"/", "/posts/1", "/categories/1", "/categories/2"} {
		b.get(path)
		require.Equal(t, "HIT", xCache(b.get(path)), path)
	}

	edit := b.get("/posts/1/edit")
	require.Contains(t, edit.Body.String(), `value="Fragment caching in html/template"`, "the form shows the post")
	require.Contains(t, edit.Body.String(), `<option value="1" selected>Go</option>`)

	// A new title, and a move from Go to Caching.
	require.Equal(t, "/posts/1", b.post("/posts/1/edit", url.Values{
		"title": {"Fragments, revised"}, "category": {"2"}, "body": {"New body.\r\n\r\nTwo paragraphs."},
	}))

	// The change shows at once, everywhere: nothing stale is served, and
	// only what shows the post is rendered again.
	post := b.get("/posts/1")
	require.Equal(t, "MISS", xCache(post))
	a := annotations(t, post.Body.String())
	require.Contains(t, a.text, "<h1>Fragments, revised</h1>")
	require.Contains(t, a.text, `in <a href="/categories/2">Caching</a>`)
	require.Contains(t, a.text, "<p>New body.</p>\n<p>Two paragraphs.</p>")
	requireStates(t, a, merge(
		states("MISS", "post-body:1", "sidebar:categories", "sidebar:recent"),
		states("HIT", "post-comments:1"),
	))

	home := b.get("/")
	require.Equal(t, "MISS", xCache(home))
	a = annotations(t, home.Body.String())
	require.Contains(t, a.text, "Fragments, revised")
	require.NotContains(t, a.text, "Fragment caching in html/template")
	require.Contains(t, a.text, `<a href="/categories/1">Go</a> <span class="meta">(1)</span>`)
	require.Contains(t, a.text, `<a href="/categories/2">Caching</a> <span class="meta">(3)</span>`)
	require.Contains(t, a.text, `<a href="/categories/3">Field notes</a> <span class="meta">(2)</span>`)
	requireStates(t, a, merge(
		states("MISS", "home:posts", "post-item:1"),
		// Not even the posts of the categories it left and joined: their
		// fragments show nothing of post 1.
		states("HIT", "post-item:2", "post-item:3", "post-item:4", "post-item:5", "post-item:6"),
	))

	left := annotations(t, b.get("/categories/1").Body.String())
	require.NotContains(t, left.text, "Fragments, revised")
	requireStates(t, left, merge(states("MISS", "category-posts:1"), states("HIT", "post-item:4")), "post-item:1")
	joined := annotations(t, b.get("/categories/2").Body.String())
	require.Contains(t, joined.text, "Fragments, revised")
	requireStates(t, joined, merge(states("MISS", "category-posts:2"), states("HIT", "post-item:1", "post-item:2", "post-item:5")))

	// The store's clock orders the edit and the renders exactly: what was
	// rendered right after the edit was stored.
	require.Equal(t, "HIT", xCache(b.get("/")))
}

func TestRenamingACategoryRefreshesItsPostsOnly(t *testing.T) {
	s := newTestSite(t)
	b := newBrowser(t, s.h)
	for _, path := range []string{"/", "/categories/3", "/posts/2"} {
		b.get(path)
	}
	require.Contains(t, b.get("/categories/3/edit").Body.String(), `value="Field notes"`)

	require.Equal(t, "/categories/3", b.post("/categories/3/edit", url.Values{"name": {"Notes from the field"}}))

	home := b.get("/")
	require.Equal(t, "MISS", xCache(home))
	a := annotations(t, home.Body.String())
	require.NotContains(t, a.text, "Field notes")
	require.Contains(t, item(t, a.text, 6), `<a href="/categories/3">Notes from the field</a>`)
	requireStates(t, a, merge(
		states("MISS", "home:posts", "post-item:3", "post-item:6", "sidebar:categories"),
		states("HIT", "post-item:1", "post-item:2", "post-item:4", "post-item:5", "sidebar:recent"),
	))

	category := annotations(t, b.get("/categories/3").Body.String())
	require.Contains(t, category.text, "<h1>Notes from the field</h1>")
	require.Contains(t, category.text, "<title>Notes from the field · cachetagging blog</title>")
	post := annotations(t, b.get("/posts/2").Body.String())
	require.Equal(t, "MISS", post.page, "its sidebar lists the category")
	// sidebar:categories was rendered again for the home page just before.
	requireStates(t, post, states("HIT", "post-body:2", "post-comments:2", "sidebar:recent", "sidebar:categories"))
}

func TestVisitorsSeeTheirOwnNameOnOneCachedPage(t *testing.T) {
	s := newTestSite(t)
	ann, bob, stranger := newBrowser(t, s.h), newBrowser(t, s.h), newBrowser(t, s.h)
	require.Equal(t, "/", ann.post("/name", url.Values{"name": {"Ann"}, "next": {"/"}}))
	require.Equal(t, "/posts/2", bob.post("/name", url.Values{"name": {"Bob <b>"}, "next": {"/posts/2"}}))

	a := ann.get("/")
	require.Equal(t, "MISS", xCache(a))
	require.Contains(t, a.Body.String(), "Hello, Ann<")

	bb := bob.get("/")
	require.Equal(t, "HIT", xCache(bb), "the page Ann's visit cached")
	require.Contains(t, bb.Body.String(), "Hello, Bob &lt;b&gt;<", "escaped")
	require.NotContains(t, bb.Body.String(), "Ann<")

	st := stranger.get("/")
	require.Equal(t, "HIT", xCache(st))
	require.Contains(t, st.Body.String(), "Hello, stranger<")

	// The greeting of pages not under CachePage reads the same cookie.
	require.Contains(t, bob.get("/stats").Body.String(), "Hello, Bob &lt;b&gt;<")

	// An empty name forgets it.
	bob.post("/name", url.Values{"name": {""}, "next": {"/"}})
	require.Contains(t, bob.get("/").Body.String(), "Hello, stranger<")
}

func TestTheNameFormOnlyRedirectsWithinTheSite(t *testing.T) {
	s := newTestSite(t)
	for next, want := range map[string]string{
		"/posts/2":              "/posts/2",
		"":                      "/",
		"https://evil.example/": "/",
		"//evil.example/":       "/",
		`/\evil.example/`:       "/",
	} {
		t.Run(next+" redirects to "+want, func(t *testing.T) {
			require.Equal(t, want, newBrowser(t, s.h).post("/name", url.Values{"name": {"Ann"}, "next": {next}}))
		})
	}
}

func TestTheOverlayIsPerVisitor(t *testing.T) {
	s := newTestSite(t)
	curious := newBrowser(t, s.h)
	plain := newBrowser(t, s.h)
	require.Equal(t, "/posts/2", plain.post("/overlay", url.Values{"overlay": {"off"}, "next": {"/posts/2"}}))

	annotated := curious.get("/posts/2")
	require.Equal(t, "MISS", annotations(t, annotated.Body.String()).page)
	require.Contains(t, annotated.Body.String(), `<button name="overlay" value="off">Hide the cache</button>`)

	page := plain.get("/posts/2")
	require.Equal(t, "HIT", xCache(page), "the same page, cached for both")
	require.NotContains(t, page.Body.String(), "<!--ct:", "no annotations without the overlay")
	require.Contains(t, page.Body.String(), `<button name="overlay" value="on">Show the cache</button>`)
	require.Equal(t, annotations(t, annotated.Body.String()).text,
		strings.Replace(page.Body.String(), `value="on">Show`, `value="off">Hide`, 1))

	for path, typ := range map[string]string{"/static/overlay.js": "text/javascript", "/static/overlay.css": "text/css"} {
		w := plain.get(path)
		require.Contains(t, w.Header().Get("Content-Type"), typ, path)
		require.NotEmpty(t, w.Body.String())
	}
}

func TestACommentUpdatesCountsWithoutInvalidatingTheHomePage(t *testing.T) {
	s := newTestSite(t)
	b := newBrowser(t, s.h)
	b.get("/")
	require.Contains(t, item(t, b.get("/").Body.String(), 6), "0 comments")
	require.Contains(t, b.get("/posts/6").Body.String(), "No comments yet.")

	b.post("/name", url.Values{"name": {"Dee"}, "next": {"/posts/6"}})
	require.Equal(t, "/posts/6#comments", b.post("/posts/6/comments", url.Values{"body": {"First!"}}))

	// Comment counts are phased sections: the home page is still the
	// cached one, but each hit computes the count anew.
	home := b.get("/")
	require.Equal(t, "HIT", xCache(home))
	require.Contains(t, item(t, home.Body.String(), 6), "1 comment<")

	post := b.get("/posts/6")
	require.Equal(t, "MISS", xCache(post), "its comments changed")
	a := annotations(t, post.Body.String())
	require.Contains(t, a.text, "<strong>Dee</strong>", "the author defaults to the visitor's name")
	require.Contains(t, a.text, "<p>First!</p>")
	require.Contains(t, a.text, `<a href="#comments">1 comment</a>`)
	requireStates(t, a, merge(states("MISS", "post-comments:6"), states("HIT", "post-body:6", "sidebar:categories", "sidebar:recent")))
}

func TestANewPostAppearsWhereItBelongs(t *testing.T) {
	s := newTestSite(t)
	b := newBrowser(t, s.h)
	b.get("/")
	require.Contains(t, b.get("/posts/new").Body.String(), `action="/posts/new"`)

	loc := b.post("/posts/new", url.Values{"title": {"Fresh"}, "category": {"3"}, "body": {"Just written."}})
	require.Equal(t, "/posts/7", loc)
	require.Contains(t, b.get(loc).Body.String(), "<h1>Fresh</h1>")

	page := b.get("/")
	require.Equal(t, "MISS", xCache(page))
	a := annotations(t, page.Body.String())
	require.Less(t, strings.Index(a.text, "Fresh"), strings.Index(a.text, "Cold starts"), "newest first")
	require.Contains(t, a.text, `<a href="/categories/3">Field notes</a> <span class="meta">(3)</span>`)
	requireStates(t, a, merge(states("MISS", "home:posts", "post-item:7"), states("HIT", allItems...)))
	require.Contains(t, b.get("/categories/3").Body.String(), "Fresh")
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
			url.Values{"title": {"T"}, "category": {"9"}, "body": {"kept body"}}, http.StatusUnprocessableEntity, "Choose one of the categories."},
		{"an edit of a missing post", "/posts/99/edit",
			url.Values{"title": {"T"}, "category": {"1"}, "body": {"B"}}, http.StatusNotFound, "There is no such page here."},
		{"a new post without a body", "/posts/new",
			url.Values{"title": {"T"}, "category": {"1"}}, http.StatusUnprocessableEntity, "A post needs a body."},
		{"an empty comment", "/posts/1/comments",
			url.Values{"body": {""}}, http.StatusUnprocessableEntity, "A comment needs a text."},
		{"a comment on a missing post", "/posts/99/comments",
			url.Values{"body": {"hi"}}, http.StatusNotFound, "There is no such page here."},
		{"a category without a name", "/categories/1/edit",
			url.Values{"name": {"  "}}, http.StatusUnprocessableEntity, "A category needs a name."},
		// The database refuses this one (a unique index): the transaction
		// rolls back, and the plugin invalidates nothing for a failed write.
		{"a category renamed to another's name", "/categories/1/edit",
			url.Values{"name": {"Caching"}}, http.StatusUnprocessableEntity, "Another category is called Caching."},
		{"a missing category", "/categories/9/edit",
			url.Values{"name": {"Nine"}}, http.StatusNotFound, "There is no such page here."},
	} {
		t.Run(tc.name+" is rejected", func(t *testing.T) {
			s := newTestSite(t)
			b := newBrowser(t, s.h)
			b.get("/")
			before := s.cache.Stats().Invalidations
			w := b.submit(tc.path, tc.form)
			require.Equal(t, tc.code, w.Code, w.Body.String())
			require.Contains(t, w.Body.String(), tc.says)
			require.Contains(t, w.Body.String(), "<header>", "in the site's layout")
			if tc.code == http.StatusUnprocessableEntity && tc.form.Has("title") {
				require.Contains(t, w.Body.String(), tc.form.Get("body"), "the form keeps what was typed")
			}
			require.Equal(t, before, s.cache.Stats().Invalidations)
			require.Equal(t, "HIT", xCache(b.get("/")))
		})
	}
}

// A reader that renders a post while an edit of it is being committed
// reads the row as it was: what it renders is served, but must never be
// stored (the classic race). The edit's cache transaction locks the post's
// tags from its write until the request is done, commit or rollback.
func TestAPageRenderedDuringAnEditIsNeverCached(t *testing.T) {
	for _, commit := range []bool{true, false} {
		name := map[bool]string{true: "committed", false: "rolled back"}[commit]
		t.Run("while the edit is "+name, func(t *testing.T) {
			s := newTestSite(t)
			editor, reader := newBrowser(t, s.h), newBrowser(t, s.h)
			reader.get("/posts/1")
			require.Equal(t, "HIT", xCache(reader.get("/posts/1")))

			var meanwhile string
			// After the UPDATE and the plugin's invalidation, before the
			// COMMIT: another visitor reads the post.
			require.NoError(t, s.db.Callback().Update().After("gormtags:after_update").Register("test:meanwhile", func(tx *gorm.DB) {
				if tx.Statement.Table != "posts" || meanwhile != "" {
					return
				}
				w := reader.get("/posts/1")
				meanwhile = xCache(w) + " " + annotations(t, w.Body.String()).text
				if !commit {
					_ = tx.AddError(errors.New("the disk is on fire"))
				}
			}))
			locked := s.cache.Stats().SkippedLocked

			w := editor.submit("/posts/1/edit", url.Values{"title": {"Fragments, revised"}, "category": {"1"}, "body": {"B"}})
			require.True(t, strings.HasPrefix(meanwhile, "MISS "), "invalidated before the commit")
			require.Contains(t, meanwhile, "<h1>Fragment caching in html/template</h1>", "the row as committed so far")
			require.Greater(t, s.cache.Stats().SkippedLocked, locked, "and not stored: the tags were locked")

			title := "Fragments, revised"
			if !commit {
				require.Equal(t, http.StatusInternalServerError, w.Code)
				require.Contains(t, w.Body.String(), "Something went wrong")
				title = "Fragment caching in html/template"
			} else {
				require.Equal(t, http.StatusSeeOther, w.Code)
			}
			after := reader.get("/posts/1")
			require.Equal(t, "MISS", xCache(after))
			require.Contains(t, after.Body.String(), "<h1>"+title+"</h1>")
			require.Equal(t, "HIT", xCache(reader.get("/posts/1")))
		})
	}
}

func TestMissingPagesAre404InTheLayoutAndNotCached(t *testing.T) {
	s := newTestSite(t)
	b := newBrowser(t, s.h)
	stores := s.cache.Stats().Stores
	for _, path := range []string{"/posts/99", "/posts/abc", "/posts/0", "/categories/9", "/posts/99/edit", "/categories/9/edit", "/nowhere"} {
		for range 2 {
			w := b.do(httptest.NewRequest(http.MethodGet, site+path, nil))
			require.Equal(t, http.StatusNotFound, w.Code, path)
			require.NotEqual(t, "HIT", xCache(w), path)
			require.Contains(t, w.Body.String(), "<title>Not Found · cachetagging blog</title>", path)
			require.Contains(t, w.Body.String(), "Hello, stranger", "the layout's holes run")
		}
	}
	require.Equal(t, stores, s.cache.Stats().Stores)
}

func TestADatabaseFailureIsA500PageAndNotCached(t *testing.T) {
	s := newTestSite(t)
	b := newBrowser(t, s.h)
	require.NoError(t, closeDB(s.db))
	for range 2 {
		w := b.do(httptest.NewRequest(http.MethodGet, site+"/posts/1", nil))
		require.Equal(t, http.StatusInternalServerError, w.Code)
		require.Equal(t, "BYPASS", xCache(w))
		require.Contains(t, w.Body.String(), "<title>Internal Server Error · cachetagging blog</title>")
		require.Contains(t, w.Body.String(), "Something went wrong")
		require.NotContains(t, w.Body.String(), "database is closed", "no internals shown")
	}
}

func TestStatsAndMetricsShowTheCounters(t *testing.T) {
	s := newTestSite(t)
	b := newBrowser(t, s.h)
	b.get("/")
	b.get("/")
	b.post("/posts/1/edit", url.Values{"title": {"T"}, "category": {"1"}, "body": {"B"}})

	page := b.get("/stats")
	require.Empty(t, xCache(page), "not cached")
	require.Contains(t, page.Body.String(), "<th>Stores</th><td>")
	require.Contains(t, page.Body.String(), "<th>GORM Writes</th><td>")

	w := b.get("/stats?format=json")
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	var got statsView
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	require.EqualValues(t, 1, got.Cache.Hits, "the second visit: one read of the page")
	require.EqualValues(t, 10, got.Cache.Stores, "the page and its nine fragments")
	require.Positive(t, got.Writes.Writes, "the seed and the edit")
	require.Zero(t, got.Writes.Unhooked, "the plugin saw every transaction end")
	require.Zero(t, got.Writes.Unresolved, "and knew every row it wrote")

	metrics := b.get("/metrics").Body.String()
	require.Contains(t, metrics, "\ntmplcache_hits_total 1\n")
	require.Contains(t, metrics, "\ntmplcache_stores_total 10\n")
}

func TestTheDataOutlivesTheProcessAndIsSeededOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blog.db")
	s := openTestSite(t, path)
	newBrowser(t, s.h).post("/posts/3/edit", url.Values{"title": {"A month without a CDN"}, "category": {"3"}, "body": {"B"}})
	require.NoError(t, closeDB(s.db))

	s = openTestSite(t, path)
	var posts int64
	require.NoError(t, s.db.Model(&Post{}).Count(&posts).Error)
	require.EqualValues(t, 6, posts, "a database with data is not seeded again")
	require.Contains(t, newBrowser(t, s.h).get("/").Body.String(), "A month without a CDN")
}
