package main

import (
	"errors"
	"net/http"
	"strconv"
)

// page is the data of every template.
type page struct {
	Title string // the <title>
	Path  string // where the forms in the header come back to
	// Data runs the queries the templates show, from inside their
	// fragments: a fragment served from the cache queries nothing.
	Data     reads
	Post     Post
	Category Category
	Form     form
	Status   int // of an error page
	Stats    statsView
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "home.html", page{Title: "Latest posts"})
}

func (a *app) post(w http.ResponseWriter, r *http.Request) {
	p, err := a.pathPost(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "post.html", page{Title: p.Title, Post: p})
}

func (a *app) category(w http.ResponseWriter, r *http.Request) {
	c, err := a.pathCategory(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "category.html", page{Title: c.Name, Category: c})
}

// render executes a page template into w. It streams: CachePage takes the
// output as it comes, holes in, so a template error cannot change the
// status any more. Such a page is logged and never cached; loading what
// decides the status (the post, the category) before rendering keeps
// database errors on the error page.
func (a *app) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	p.Path, p.Data = r.URL.Path, a.reads(r)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := a.r.ExecuteTemplate(r.Context(), w, a.tmpl, name, p); err != nil {
		a.log.ErrorContext(r.Context(), "rendering failed", "template", name, "err", err)
	}
}

func (a *app) reads(r *http.Request) reads { return reads{a.db.WithContext(r.Context())} }

// pathID returns the {id} of the request's path.
func pathID(r *http.Request) (uint, bool) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 32)
	return uint(id), err == nil && id > 0
}

func (a *app) pathPost(r *http.Request) (Post, error) {
	id, ok := pathID(r)
	if !ok {
		return Post{}, ErrNotFound
	}
	return a.reads(r).Post(id)
}

func (a *app) pathCategory(r *http.Request) (Category, error) {
	id, ok := pathID(r)
	if !ok {
		return Category{}, ErrNotFound
	}
	return a.reads(r).Category(id)
}

// fail shows the error page err calls for: 404 for ErrNotFound, else 500.
func (a *app) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrNotFound) {
		a.notFound(w, r)
		return
	}
	a.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	a.errorPage(w, r, http.StatusInternalServerError)
}

// notFound is the 404 page, in the site's layout.
func (a *app) notFound(w http.ResponseWriter, r *http.Request) {
	a.errorPage(w, r, http.StatusNotFound)
}

// errorPage renders an error page. Under CachePage it is never stored:
// only 200s are.
func (a *app) errorPage(w http.ResponseWriter, r *http.Request, status int) {
	a.render(w, r, status, "error.html", page{Title: http.StatusText(status), Status: status})
}
