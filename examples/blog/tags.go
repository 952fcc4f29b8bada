package main

import (
	"strconv"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// Tags name what cached content depends on. The templates take them from
// the methods below and the handlers invalidate them through the registry,
// so both sides spell them the same way.
const (
	tagPosts = "posts" // every list or count of posts
	tagHome  = "home"  // the home page as a whole (to purge it by hand)
)

func postTag(id int) string         { return "post:" + strconv.Itoa(id) }
func categoryTag(id int) string     { return "category:" + strconv.Itoa(id) }
func commentsTag(postID int) string { return "comments:" + strconv.Itoa(postID) }

// Tag returns the tag of what shows the category: "category:ID".
func (c Category) Tag() string { return categoryTag(c.ID) }

// Tags returns the tags of what shows the post: "post:ID", and
// "category:ID" since the post shows its category.
func (p Post) Tags() []string { return []string{postTag(p.ID), categoryTag(p.Category.ID)} }

// CommentsTag returns the tag of what shows the post's comments.
func (p Post) CommentsTag() string { return commentsTag(p.ID) }

// newRegistry says what each change invalidates; handlers report changes
// with reg.Changed(ctx, old, new).
func newRegistry(c *tmplcache.Cache) *tmplcache.Registry {
	reg := tmplcache.NewRegistry(c)
	// A post shows in its own fragments, in its category's list, and in
	// every list and count of posts. Given the post before and after a
	// change, both of its categories are invalidated.
	tmplcache.Register(reg, func(p Post) []string { return append(p.Tags(), tagPosts) })
	// A comment only changes its post's comment list: comment counts are
	// phased sections, computed on every request (see holes.go).
	tmplcache.Register(reg, func(c Comment) []string { return []string{commentsTag(c.PostID)} })
	return reg
}
