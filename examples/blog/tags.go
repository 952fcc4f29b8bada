package main

import (
	"strconv"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// Tags name what cached content depends on. Templates take them from the
// methods below; the registry (newRegistry) maps each written row to the
// tags it invalidates, and the GORM plugin applies it on every write, so
// both sides spell them the same way and no handler invalidates by hand.
const (
	tagPosts      = "posts"      // every list of all posts (the home page, recent posts)
	tagCategories = "categories" // every list of categories
	tagHome       = "home"       // the home page as a whole (to purge it by hand)
)

func postTag(id uint) string          { return "post:" + strconv.FormatUint(uint64(id), 10) }
func categoryTag(id uint) string      { return "category:" + strconv.FormatUint(uint64(id), 10) }
func categoryPostsTag(id uint) string { return "category-posts:" + strconv.FormatUint(uint64(id), 10) }
func commentsTag(postID uint) string  { return "comments:" + strconv.FormatUint(uint64(postID), 10) }

// Tag returns the tag of what shows the category's name: "category:ID".
func (c Category) Tag() string { return categoryTag(c.ID) }

// PostsTag returns the tag of what lists or counts the category's posts.
func (c Category) PostsTag() string { return categoryPostsTag(c.ID) }

// Tags returns the tags of what shows the post: "post:ID", and
// "category:ID", since the post shows its category's name.
func (p Post) Tags() []string { return []string{postTag(p.ID), categoryTag(p.CategoryID)} }

// CommentsTag returns the tag of what shows the post's comments.
func (p Post) CommentsTag() string { return commentsTag(p.ID) }

// newRegistry says what each written row invalidates (Django cache-tagging's
// registry.register). The GORM plugin calls it with every row a write
// touched, as it was before and as it is after: a post moved to another
// category invalidates the lists of both.
func newRegistry(c *tmplcache.Cache) *tmplcache.Registry {
	reg := tmplcache.NewRegistry(c)
	// A post shows in its own fragments, in its category's list, and in
	// the lists of all posts. Not in "category:ID": the other posts of its
	// category show the category's name, which did not change.
	tmplcache.Register(reg, func(p Post) []string {
		return []string{postTag(p.ID), categoryPostsTag(p.CategoryID), tagPosts}
	})
	// A category's name shows on its page, in the lists of categories, and
	// in every fragment of its posts.
	tmplcache.Register(reg, func(c Category) []string { return []string{c.Tag(), tagCategories} })
	// A comment only changes its post's comment list: comment counts are
	// phased sections, computed on every request (see holes.go).
	tmplcache.Register(reg, func(c Comment) []string { return []string{commentsTag(c.PostID)} })
	return reg
}
