package main

import (
	"fmt"
	"time"
)

// seededBlog returns the blog the demo starts with: six posts in three
// categories, written in the last week, and a few comments.
func seededBlog() *Blog {
	b := NewBlog(
		Category{ID: 1, Name: "Go"},
		Category{ID: 2, Name: "Caching"},
		Category{ID: 3, Name: "Field notes"},
	)
	day := time.Now().Truncate(time.Hour).Add(-7 * 24 * time.Hour)
	posts := []PostInput{
		{
			Title: "Fragment caching in html/template", CategoryID: 1,
			Body: "Most of a page changes rarely, and a few parts change on every request.\n\n" +
				"Wrap the expensive parts in cache_tagging blocks, name what they depend on, and let the rest render as usual.",
		},
		{
			Title: "Tags are versions", CategoryID: 2,
			Body: "Invalidating a tag does not delete anything: it writes a new version of the tag.\n\n" +
				"Every entry remembers the versions it was built against, so one write invalidates a thousand entries.",
		},
		{
			Title: "A week without a CDN", CategoryID: 3,
			Body: "We turned the CDN off for a week to see what the origin could take.\n\n" +
				"With whole pages cached and purged by tag, it took everything.",
		},
		{
			Title: "Streaming templates", CategoryID: 1,
			Body: "html/template writes as it goes. The cache does too: output without holes reaches the client unbuffered.",
		},
		{
			Title: "The race every cache loses", CategoryID: 2,
			Body: "A render reads old data, the data changes, the tag is invalidated, and then the render stores what it built.\n\n" +
				"Unless the store checks the versions it started with.",
		},
		{
			Title: "Cold starts", CategoryID: 3,
			Body: "The first request after a deploy pays for everyone. Fragments shared between pages make the second one cheap.",
		},
	}
	for i, in := range posts {
		if _, err := b.CreatePost(in, day.Add(time.Duration(i)*24*time.Hour)); err != nil {
			panic(fmt.Sprintf("seed post %d: %v", i+1, err))
		}
	}
	for _, c := range []Comment{
		{PostID: 2, Author: "Ann", Body: "So a tag is just a counter?"},
		{PostID: 2, Author: "Bob", Body: "A counter with a timestamp, if I read the code right."},
		{PostID: 5, Author: "Ann", Body: "This bit us in production last year."},
	} {
		c.Created = day.Add(6*24*time.Hour + 3*time.Hour)
		if _, err := b.AddComment(c); err != nil {
			panic(fmt.Sprintf("seed comment: %v", err))
		}
	}
	return b
}
