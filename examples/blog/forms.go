package main

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// form is the data of the post and category forms.
type form struct {
	Action string // where the form posts to
	PostInput
	Name  string // a category's
	Error string
}

func (a *app) newPostForm(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "edit.html", page{Title: "New post", Form: form{Action: "/posts/new"}})
}

func (a *app) editPostForm(w http.ResponseWriter, r *http.Request) {
	p, err := a.pathPost(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	f := form{Action: r.URL.Path, PostInput: PostInput{p.Title, p.Body, p.CategoryID}}
	a.render(w, r, http.StatusOK, "edit.html", page{Title: "Edit: " + p.Title, Form: f})
}

func (a *app) submitNewPost(w http.ResponseWriter, r *http.Request) {
	in := postInput(r)
	id, err := a.createPost(r.Context(), in)
	if err != nil {
		a.formError(w, r, "edit.html", page{Title: "New post", Form: form{Action: r.URL.Path, PostInput: in}}, err)
		return
	}
	http.Redirect(w, r, "/posts/"+strconv.FormatUint(uint64(id), 10), http.StatusSeeOther)
}

func (a *app) submitPost(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		a.notFound(w, r)
		return
	}
	in := postInput(r)
	if err := a.updatePost(r.Context(), id, in); err != nil {
		a.formError(w, r, "edit.html", page{Title: "Edit post", Form: form{Action: r.URL.Path, PostInput: in}}, err)
		return
	}
	http.Redirect(w, r, "/posts/"+strconv.FormatUint(uint64(id), 10), http.StatusSeeOther)
}

func (a *app) editCategoryForm(w http.ResponseWriter, r *http.Request) {
	c, err := a.pathCategory(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	f := form{Action: r.URL.Path, Name: c.Name}
	a.render(w, r, http.StatusOK, "category_edit.html", page{Title: "Edit category: " + c.Name, Category: c, Form: f})
}

func (a *app) submitCategory(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		a.notFound(w, r)
		return
	}
	name := r.PostFormValue("name")
	if err := a.renameCategory(r.Context(), id, name); err != nil {
		f := form{Action: r.URL.Path, Name: name}
		a.formError(w, r, "category_edit.html", page{Title: "Edit category", Category: Category{ID: id}, Form: f}, err)
		return
	}
	http.Redirect(w, r, "/categories/"+strconv.FormatUint(uint64(id), 10), http.StatusSeeOther)
}

func (a *app) submitComment(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		a.notFound(w, r)
		return
	}
	author := r.PostFormValue("author")
	if author == "" {
		author = visitorName(r)
	}
	err := a.addComment(r.Context(), Comment{PostID: id, Author: author, Body: r.PostFormValue("body")})
	var inputErr *InputError
	switch {
	case errors.As(err, &inputErr):
		p := page{Title: "Comment not added", Status: http.StatusUnprocessableEntity, Form: form{Error: inputErr.Msg}}
		a.render(w, r, p.Status, "error.html", p)
		return
	case err != nil:
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/posts/"+strconv.FormatUint(uint64(id), 10)+"#comments", http.StatusSeeOther)
}

// formError shows the form again with what was wrong, or an error page.
func (a *app) formError(w http.ResponseWriter, r *http.Request, tmpl string, p page, err error) {
	var inputErr *InputError
	if !errors.As(err, &inputErr) {
		a.fail(w, r, err)
		return
	}
	p.Form.Error = inputErr.Msg
	a.render(w, r, http.StatusUnprocessableEntity, tmpl, p)
}

func postInput(r *http.Request) PostInput {
	id, _ := strconv.ParseUint(r.PostFormValue("category"), 10, 32)
	return PostInput{Title: r.PostFormValue("title"), Body: r.PostFormValue("body"), CategoryID: uint(id)}
}

const nameCookie = "name"

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

// visitorName returns the name the visitor set, or "".
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

// localPath returns p if it is a path on this site, else "/".
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, `/\`) {
		return "/"
	}
	return p
}
