package main

import (
	"context"
	"embed"
	"net/http"
)

// The cache overlay: with it on, the renderer annotates its output with
// HTML comments (cachetagging.WithDebug) around every fragment, every hole
// and the page, and static/overlay.js draws them over the page. It is
// turned on per visitor, by a cookie, never for everyone: the annotations
// show keys and tags. They are written for this request only, never into
// the cache, so a page cached for everyone is annotated for one visitor.

const overlayCookie = "ct-overlay"

type overlayKey struct{}

// overlayWanted reports whether the request asks for the overlay.
func overlayWanted(r *http.Request) bool {
	c, err := r.Cookie(overlayCookie)
	return err == nil && c.Value == "on"
}

// withOverlay returns ctx recording whether the overlay is on: the
// renderer's debug switch sees only a context.
func withOverlay(ctx context.Context, on bool) context.Context {
	return context.WithValue(ctx, overlayKey{}, on)
}

// overlayOn is the renderer's debug switch (cachetagging.WithDebug).
func overlayOn(ctx context.Context) bool {
	on, _ := ctx.Value(overlayKey{}).(bool)
	return on
}

// setOverlay turns the overlay on or off for this visitor.
func (a *app) setOverlay(w http.ResponseWriter, r *http.Request) {
	c := &http.Cookie{Name: overlayCookie, Value: "on", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if r.PostFormValue("overlay") != "on" {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
	http.Redirect(w, r, localPath(r.PostFormValue("next")), http.StatusSeeOther)
}

//go:embed static
var staticFS embed.FS

// staticFiles serves the overlay's script and style sheet under /static/.
func staticFiles() http.Handler {
	files := http.FileServerFS(staticFS) // /static/x is static/x in staticFS
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache") // a rebuilt demo is picked up at once
		files.ServeHTTP(w, r)
	})
}
