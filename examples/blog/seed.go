package main

import (
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// seed writes the blog a new database starts with: six posts in three
// categories, one a day over the week before now, and a few comments.
func seed(tx *gorm.DB, now time.Time) error {
	categories := []Category{{Name: "Go"}, {Name: "Caching"}, {Name: "Field notes"}}
	if err := tx.Create(&categories).Error; err != nil {
		return err
	}
	day := now.Truncate(time.Hour).Add(-7 * 24 * time.Hour)
	posts := []Post{
		{
			Title: "Fragment caching in html/template", CategoryID: categories[0].ID,
			Body: "Most of a page changes rarely, and a few parts change on every request.\n\n" +
				"Wrap the expensive parts in cache_tagging blocks, name what they depend on, and let the rest render as usual.",
		},
		{
			Title: "Tags are versions", CategoryID: categories[1].ID,
			Body: "Invalidating a tag does not delete anything: it writes a new version of the tag.\n\n" +
				"Every entry remembers the versions it was built against, so one write invalidates a thousand entries.",
		},
		{
			Title: "A week without a CDN", CategoryID: categories[2].ID,
			Body: "We turned the CDN off for a week to see what the origin could take.\n\n" +
				"With whole pages cached and purged by tag, it took everything.",
		},
		{
			Title: "Streaming templates", CategoryID: categories[0].ID,
			Body: "html/template writes as it goes. The cache does too: output without holes reaches the client unbuffered.",
		},
		{
			Title: "The race every cache loses", CategoryID: categories[1].ID,
			Body: "A render reads old data, the data changes, the tag is invalidated, and then the render stores what it built.\n\n" +
				"Unless the store checks the versions it started with.",
		},
		{
			Title: "Cold starts", CategoryID: categories[2].ID,
			Body: "The first request after a deploy pays for everyone. Fragments shared between pages make the second one cheap.",
		},
	}
	for i := range posts {
		posts[i].CreatedAt = day.Add(time.Duration(i) * 24 * time.Hour)
	}
	if err := tx.Omit(clause.Associations).Create(&posts).Error; err != nil {
		return err
	}
	at := day.Add(6*24*time.Hour + 3*time.Hour)
	comments := []Comment{
		{PostID: posts[1].ID, Author: "Ann", Body: "So a tag is just a counter?", CreatedAt: at},
		{PostID: posts[1].ID, Author: "Bob", Body: "A counter with a timestamp, if I read the code right.", CreatedAt: at},
		{PostID: posts[4].ID, Author: "Ann", Body: "This bit us in production last year.", CreatedAt: at},
	}
	return tx.Create(&comments).Error
}
