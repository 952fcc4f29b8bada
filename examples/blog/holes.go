package main

import (
	"context"
	"html/template"
	"io"
	"net/http"
	"sync"

	"github.com/cachetagging/cachetagging/nocache"
)

// live is the live data of a page's holes: {{ nocache }} handlers (as
// call.Live) and {{ phased }} sections (as .Live), which run on every
// request even when the page around them comes from the cache.
// app.perRequest puts it in every request's context
// (cachetagging.WithLiveData), so the holes get it whether their page is
// under CachePage or not.
type live struct {
	req   *http.Request
	reads reads

	countsOnce sync.Once
	counts     map[uint]int64
	countsErr  error
}

// CommentCount returns the number of comments on a post now. The ID is an
// int64 because a phased section's stash travels as JSON, and integers
// come back as int64. The first call of a request counts the comments of
// every post in one query.
func (l *live) CommentCount(postID int64) (int64, error) {
	l.countsOnce.Do(func() { l.counts, l.countsErr = l.reads.commentCounts() })
	return l.counts[uint(postID)], l.countsErr
}

// requestOf returns the request a hole runs for, or nil. Under CachePage,
// call.Live is the *http.Request unless live data was set: both are
// accepted, so a route left out of app.perRequest still greets by name,
// and nothing here can panic on an unexpected type.
func requestOf(call nocache.Call) *http.Request {
	switch v := call.Live.(type) {
	case *live:
		return v.req
	case *http.Request:
		return v
	}
	return nil
}

// holeTemplates write the holes' HTML, escaped by html/template like the
// rest of the page. They run on every request, outside the cache.
var holeTemplates = template.Must(template.New("holes").Parse(`
{{- define "greeting" }}Hello, {{ . }}{{ end -}}
{{- define "overlay-toggle" -}}
<form method="post" action="/overlay" class="overlay-toggle">
<input type="hidden" name="next" value="{{ .Next }}">
<button name="overlay" value="{{ if .On }}off{{ else }}on{{ end }}">{{ if .On }}Hide{{ else }}Show{{ end }} the cache</button>
</form>
{{- end }}`))

// greeting is the {{ nocache "greeting" }} hole of every page's header:
// one cached page greets each visitor by the name they set.
func greeting(_ context.Context, w io.Writer, call nocache.Call) error {
	name := ""
	if r := requestOf(call); r != nil {
		name = visitorName(r)
	}
	if name == "" {
		name = "stranger"
	}
	return holeTemplates.ExecuteTemplate(w, "greeting", name)
}

// overlayToggle is the {{ nocache "overlay-toggle" }} hole: the button
// turning the cache overlay on or off for this visitor, on a page cached
// for everyone.
func overlayToggle(ctx context.Context, w io.Writer, call nocache.Call) error {
	next := "/"
	if r := requestOf(call); r != nil {
		next = r.URL.Path
	}
	return holeTemplates.ExecuteTemplate(w, "overlay-toggle", struct {
		Next string
		On   bool
	}{next, overlayOn(ctx)})
}
