package main

import (
	"cmp"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Category groups posts. Categories never change in this demo.
type Category struct {
	ID   int
	Name string
}

// Post is a blog post. Its Category is a copy (categories never change).
type Post struct {
	ID       int
	Title    string
	Body     string // paragraphs separated by blank lines
	Category Category
	Created  time.Time
}

// Comment is a reader's comment on a post.
type Comment struct {
	PostID  int
	Author  string
	Body    string
	Created time.Time
}

// CategoryCount is a category with the number of its posts.
type CategoryCount struct {
	Category
	Count int
}

// PostInput is what the post forms submit.
type PostInput struct {
	Title      string
	Body       string
	CategoryID int
}

// ErrNotFound reports a post or category that does not exist.
var ErrNotFound = errors.New("not found")

// InputError is a problem with what a form submitted, fit to show its author.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// Blog is the blog's data, in memory. It is safe for concurrent use; its
// methods return copies.
type Blog struct {
	mu         sync.Mutex
	categories []Category
	posts      map[int]Post
	comments   map[int][]Comment // by post ID, oldest first
	lastID     int
}

// NewBlog returns a blog holding categories and no posts.
func NewBlog(categories ...Category) *Blog {
	return &Blog{categories: categories, posts: map[int]Post{}, comments: map[int][]Comment{}}
}

// Posts returns every post, newest first.
func (b *Blog) Posts() []Post {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sorted(func(Post) bool { return true })
}

// PostsIn returns the posts of a category, newest first.
func (b *Blog) PostsIn(categoryID int) []Post {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sorted(func(p Post) bool { return p.Category.ID == categoryID })
}

// Recent returns the n newest posts.
func (b *Blog) Recent(n int) []Post {
	posts := b.Posts()
	return posts[:min(n, len(posts))]
}

func (b *Blog) sorted(keep func(Post) bool) []Post {
	var posts []Post
	for _, p := range b.posts {
		if keep(p) {
			posts = append(posts, p)
		}
	}
	slices.SortFunc(posts, func(x, y Post) int {
		return cmp.Or(y.Created.Compare(x.Created), cmp.Compare(y.ID, x.ID))
	})
	return posts
}

// Post returns the post with the given ID.
func (b *Blog) Post(id int) (Post, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.posts[id]
	return p, ok
}

// Categories returns every category with its number of posts.
func (b *Blog) Categories() []CategoryCount {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]CategoryCount, len(b.categories))
	for i, c := range b.categories {
		out[i].Category = c
	}
	for _, p := range b.posts {
		if i := b.categoryIndex(p.Category.ID); i >= 0 {
			out[i].Count++
		}
	}
	return out
}

// Category returns the category with the given ID.
func (b *Blog) Category(id int) (Category, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i := b.categoryIndex(id); i >= 0 {
		return b.categories[i], true
	}
	return Category{}, false
}

func (b *Blog) categoryIndex(id int) int {
	return slices.IndexFunc(b.categories, func(c Category) bool { return c.ID == id })
}

// Comments returns the comments on a post, oldest first.
func (b *Blog) Comments(postID int) []Comment {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.comments[postID])
}

// CommentCount returns the number of comments on a post.
func (b *Blog) CommentCount(postID int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.comments[postID])
}

// CreatePost adds a post created at the given time.
func (b *Blog) CreatePost(in PostInput, created time.Time) (Post, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, err := b.fill(Post{Created: created}, in)
	if err != nil {
		return Post{}, err
	}
	b.lastID++
	p.ID = b.lastID
	b.posts[p.ID] = p
	return p, nil
}

// UpdatePost changes a post and returns it as it was and as it is now: a
// change may concern both (a post moved to another category leaves one
// and joins the other).
func (b *Blog) UpdatePost(id int, in PostInput) (old, updated Post, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	old, ok := b.posts[id]
	if !ok {
		return Post{}, Post{}, ErrNotFound
	}
	if updated, err = b.fill(old, in); err != nil {
		return Post{}, Post{}, err
	}
	b.posts[id] = updated
	return old, updated, nil
}

// fill validates in and copies it into p. b.mu must be held.
func (b *Blog) fill(p Post, in PostInput) (Post, error) {
	p.Title, p.Body = strings.TrimSpace(in.Title), strings.TrimSpace(in.Body)
	i := b.categoryIndex(in.CategoryID)
	switch {
	case p.Title == "":
		return Post{}, &InputError{"A post needs a title."}
	case utf8.RuneCountInString(p.Title) > 120:
		return Post{}, &InputError{"The title is longer than 120 characters."}
	case p.Body == "":
		return Post{}, &InputError{"A post needs a body."}
	case i < 0:
		return Post{}, &InputError{"Choose one of the categories."}
	}
	p.Body = strings.ReplaceAll(p.Body, "\r\n", "\n") // as browsers send textareas
	p.Category = b.categories[i]
	return p, nil
}

// AddComment adds a comment to a post.
func (b *Blog) AddComment(c Comment) (Comment, error) {
	c.Author, c.Body = strings.TrimSpace(c.Author), strings.TrimSpace(c.Body)
	if c.Author == "" {
		c.Author = "anonymous"
	}
	switch {
	case c.Body == "":
		return Comment{}, &InputError{"A comment needs a text."}
	case utf8.RuneCountInString(c.Author) > 40 || utf8.RuneCountInString(c.Body) > 2000:
		return Comment{}, &InputError{"The comment is too long."}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.posts[c.PostID]; !ok {
		return Comment{}, ErrNotFound
	}
	b.comments[c.PostID] = append(b.comments[c.PostID], c)
	return c, nil
}
