package main

import (
	"context"
	"html/template"
	"io"
	"net/http"
	"net/url"

	"github.com/cachetagging/cachetagging/nocache"
)

// live is the live data of a page's holes: {{ nocache }} handlers (as
// call.Live) and {{ phased }} sections (as .Live), which run on every
// request even when the page around them comes from the cache. app.withLive
// puts it in every request's context (cachetagging.WithLiveData), so the
// holes get it whether their page is under CachePage or not.
type live struct {
	req  *http.Request
	blog *Blog
}

// Visitor returns the name the visitor set (the "name" cookie), or "".
func (l live) Visitor() string { return visitorName(l.req) }

// CommentCount returns the number of comments on a post now. The ID is an
// int64 because a phased section's stash travels as JSON, and integers
// come back as int64.
func (l live) CommentCount(postID int64) int { return l.blog.CommentCount(int(postID)) }

// greeting is the {{ nocache "greeting" }} hole of every page's header:
// one cached page greets each visitor by name.
func greeting(_ context.Context, w io.Writer, call nocache.Call) error {
	name := "stranger"
	if v, ok := call.Live.(interface{ Visitor() string }); ok && v.Visitor() != "" {
		name = v.Visitor()
	}
	_, err := io.WriteString(w, "Hello, "+template.HTMLEscapeString(name))
	return err
}

const nameCookie = "name"

func visitorName(r *http.Request) string {
	c, err := r.Cookie(nameCookie)
	if err != nil {
		return ""
	}
	name, err := url.QueryUnescape(c.Value)
	if err != nil {
		return ""
	}
	return name
}
