package main

import (
	"errors"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// reads runs the queries the pages show, with the request's context.
// Templates call its methods from inside their fragments, so a fragment
// served from the cache runs no query at all: that is the point of
// caching it.
type reads struct{ db *gorm.DB }

// newestFirst orders posts by creation, the newest first.
var newestFirst = []clause.OrderByColumn{
	{Column: clause.Column{Table: clause.CurrentTable, Name: "created_at"}, Desc: true},
	{Column: clause.Column{Table: clause.CurrentTable, Name: "id"}, Desc: true},
}

func (r reads) posts() *gorm.DB {
	return r.db.Joins("Category").Order(clause.OrderBy{Columns: newestFirst})
}

// Posts returns every post, newest first.
func (r reads) Posts() ([]Post, error) {
	var posts []Post
	return posts, r.posts().Find(&posts).Error
}

// PostsIn returns the posts of a category, newest first.
func (r reads) PostsIn(categoryID uint) ([]Post, error) {
	var posts []Post
	return posts, r.posts().Where(column("category_id", categoryID)).Find(&posts).Error
}

// Recent returns the n newest posts.
func (r reads) Recent(n int) ([]Post, error) {
	var posts []Post
	return posts, r.posts().Limit(n).Find(&posts).Error
}

// Post returns the post with the given ID, or ErrNotFound.
func (r reads) Post(id uint) (Post, error) {
	var p Post
	return p, notFound(r.db.Joins("Category").First(&p, id).Error)
}

// Category returns the category with the given ID, or ErrNotFound.
func (r reads) Category(id uint) (Category, error) {
	var c Category
	return c, notFound(r.db.First(&c, id).Error)
}

// Categories returns every category, by name, with its number of posts.
func (r reads) Categories() ([]CategoryCount, error) {
	var categories []Category
	if err := r.db.Order("name").Find(&categories).Error; err != nil {
		return nil, err
	}
	byID, err := r.countBy(&Post{}, "category_id")
	if err != nil {
		return nil, err
	}
	out := make([]CategoryCount, len(categories))
	for i, c := range categories {
		out[i] = CategoryCount{Category: c, Count: byID[c.ID]}
	}
	return out, nil
}

// Comments returns the comments on a post, oldest first.
func (r reads) Comments(postID uint) ([]Comment, error) {
	var comments []Comment
	return comments, r.db.Where(column("post_id", postID)).Order("created_at, id").Find(&comments).Error
}

// commentCounts returns the number of comments of every post that has any.
func (r reads) commentCounts() (map[uint]int64, error) { return r.countBy(&Comment{}, "post_id") }

// countBy returns the number of rows of model's table per value of col
// (an ID), for the values that have any.
func (r reads) countBy(model any, col string) (map[uint]int64, error) {
	var counts []struct {
		ID uint
		N  int64
	}
	if err := r.db.Model(model).Select(col + " AS id, count(*) AS n").Group(col).Scan(&counts).Error; err != nil {
		return nil, err
	}
	m := make(map[uint]int64, len(counts))
	for _, c := range counts {
		m[c.ID] = c.N
	}
	return m, nil
}

// column is the condition "column = value" on the query's own table. (A
// struct condition would drop a zero value, and match every row.)
func column(name string, value any) clause.Eq {
	return clause.Eq{Column: clause.Column{Table: clause.CurrentTable, Name: name}, Value: value}
}

// notFound turns GORM's "record not found" into ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}
