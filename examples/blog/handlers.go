package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cachetagging/cachetagging/tmplcache"
)

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "home.html", page{Title: "Latest posts"})
}

func (a *app) post(w http.ResponseWriter, r *http.Request) {
	p, ok := a.pathPost(r)
	if !ok {
		http.NotFound(w, r) // not cached: only 200s are
		return
	}
	a.render(w, r, http.StatusOK, "post.html", page{Title: p.Title, Post: p})
}

func (a *app) category(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	c, found := a.blog.Category(id)
	if !ok || !found {
		http.NotFound(w, r)
		return
	}
	a.render(w, r, http.StatusOK, "category.html", page{Title: c.Name, Category: c})
}

// postForm is the data of the new and edit forms.
type postForm struct {
	Action string // where the form posts to
	PostInput
	Error string
}

func (a *app) newPostForm(w http.ResponseWriter, r *http.Request) {
	form := postForm{Action: "/posts/new"}
	a.render(w, r, http.StatusOK, "edit.html", page{Title: "New post", Form: form})
}

func (a *app) editPostForm(w http.ResponseWriter, r *http.Request) {
	p, ok := a.pathPost(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	form := postForm{Action: r.URL.Path, PostInput: PostInput{p.Title, p.Body, p.Category.ID}}
	a.render(w, r, http.StatusOK, "edit.html", page{Title: "Edit: " + p.Title, Form: form})
}

func (a *app) createPost(w http.ResponseWriter, r *http.Request) {
	in := postInput(r)
	p, err := a.blog.CreatePost(in, time.Now())
	if err != nil {
		a.formError(w, r, "New post", postForm{Action: r.URL.Path, PostInput: in}, err)
		return
	}
	a.changed(r.Context(), p)
	http.Redirect(w, r, "/posts/"+strconv.Itoa(p.ID), http.StatusSeeOther)
}

func (a *app) updatePost(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	in := postInput(r)
	old, updated, err := a.blog.UpdatePost(id, in)
	if err != nil {
		a.formError(w, r, "Edit post", postForm{Action: r.URL.Path, PostInput: in}, err)
		return
	}
	// Both versions: a post moved to another category changes both.
	a.changed(r.Context(), old, updated)
	http.Redirect(w, r, "/posts/"+strconv.Itoa(id), http.StatusSeeOther)
}

func (a *app) addComment(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	author := r.PostFormValue("author")
	if author == "" {
		author = visitorName(r)
	}
	c, err := a.blog.AddComment(Comment{PostID: id, Author: author, Body: r.PostFormValue("body"), Created: time.Now()})
	var inputErr *InputError
	switch {
	case errors.Is(err, ErrNotFound):
		http.NotFound(w, r)
		return
	case errors.As(err, &inputErr):
		http.Error(w, inputErr.Msg, http.StatusUnprocessableEntity)
		return
	}
	a.changed(r.Context(), c)
	http.Redirect(w, r, "/posts/"+strconv.Itoa(id)+"#comments", http.StatusSeeOther)
}

// changed invalidates what shows values. Run inside the request's cache
// transaction (TransactionMiddleware), the tags stay locked until the
// handler returns and are invalidated again then.
func (a *app) changed(ctx context.Context, values ...any) {
	if err := a.reg.Changed(ctx, values...); err != nil {
		// The data changed anyway. The cache remembers the tags and serves
		// nothing until it could invalidate them.
		a.log.WarnContext(ctx, "invalidation failed", "err", err)
	}
}

// formError shows the form again with what was wrong, or 404.
func (a *app) formError(w http.ResponseWriter, r *http.Request, title string, form postForm, err error) {
	var inputErr *InputError
	switch {
	case errors.Is(err, ErrNotFound):
		http.NotFound(w, r)
	case errors.As(err, &inputErr):
		form.Error = inputErr.Msg
		a.render(w, r, http.StatusUnprocessableEntity, "edit.html", page{Title: title, Form: form})
	default:
		a.log.ErrorContext(r.Context(), "saving a post failed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

// setName remembers the visitor's name in a cookie: the greeting hole of
// every page reads it, cached page or not.
func (a *app) setName(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if utf8.RuneCountInString(name) > 40 {
		name = string([]rune(name)[:40])
	}
	c := &http.Cookie{Name: nameCookie, Value: url.QueryEscape(name), Path: "/",
		MaxAge: 365 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if name == "" {
		c.MaxAge = -1 // forget it
	}
	http.SetCookie(w, c)
	http.Redirect(w, r, localPath(r.PostFormValue("next")), http.StatusSeeOther)
}

// localPath returns p if it is a path on this site, else "/".
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, `/\`) {
		return "/"
	}
	return p
}

func (a *app) stats(w http.ResponseWriter, r *http.Request) {
	v := statsView{Cache: a.cache.Stats(), Renders: a.stamps.counts()}
	if r.URL.Query().Get("format") == "json" {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			a.log.WarnContext(r.Context(), "writing stats", "err", err)
		}
		return
	}
	v.Rows = statRows(v.Cache)
	a.render(w, r, http.StatusOK, "stats.html", page{Title: "Cache stats", Stats: v})
}

// statsView is the data of /stats.
type statsView struct {
	Cache   tmplcache.Stats `json:"cache"`
	Renders []renderCount   `json:"renders"`
	Rows    []statRow       `json:"-"`
}

type statRow struct {
	Name  string
	Value any
	Help  string
}

func statRows(s tmplcache.Stats) []statRow {
	return []statRow{
		{"Hits", s.Hits, "reads that returned a valid entry (fragments and pages)"},
		{"Misses", s.Misses, "reads that found no valid entry"},
		{"Stores", s.Stores, "entries written"},
		{"Invalidations", s.Invalidations, "tags invalidated"},
		{"SkippedStale", s.SkippedStale, "builds not stored: a tag changed while they were built (or just before)"},
		{"SkippedLocked", s.SkippedLocked, "builds not stored: a transaction held one of their tags"},
		{"SkippedUnsure", s.SkippedUnsure, "builds not stored: their tags could not be checked (store errors)"},
		{"Prevented", s.Prevented, "builds not stored because of cache_tagging_prevent"},
		{"FlightWaits", s.FlightWaits, "misses that waited for a concurrent render of the same key"},
		{"StoreErrors", s.StoreErrors, "store calls that failed (timeouts included)"},
		{"Timeouts", s.Timeouts, "store calls that ran out of time"},
		{"ShortCircuits", s.ShortCircuits, "store calls refused while the circuit breaker was open"},
		{"BreakerOpens", s.BreakerOpens, "times the circuit breaker opened"},
		{"BreakerOpen", s.BreakerOpen, "whether the store is being short-circuited now"},
		{"PendingTags", s.PendingTags, "failed invalidations waiting to be re-applied"},
	}
}

// pathID returns the {id} of the request's path.
func pathID(r *http.Request) (int, bool) {
	id, err := strconv.Atoi(r.PathValue("id"))
	return id, err == nil && id > 0
}

func (a *app) pathPost(r *http.Request) (Post, bool) {
	id, ok := pathID(r)
	if !ok {
		return Post{}, false
	}
	return a.blog.Post(id)
}

func postInput(r *http.Request) PostInput {
	id, _ := strconv.Atoi(r.PostFormValue("category"))
	return PostInput{Title: r.PostFormValue("title"), Body: r.PostFormValue("body"), CategoryID: id}
}
