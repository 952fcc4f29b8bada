package main

import (
	"errors"
	"time"
)

// Category groups posts.
type Category struct {
	ID   uint
	Name string `gorm:"size:40;not null;uniqueIndex"`
}

// Post is a blog post. Category is read with it (Joins) and never written
// through it: writes omit associations.
type Post struct {
	ID         uint
	Title      string `gorm:"size:120;not null"`
	Body       string `gorm:"not null"` // paragraphs separated by blank lines
	CategoryID uint   `gorm:"not null;index"`
	Category   Category
	CreatedAt  time.Time `gorm:"index"`
	UpdatedAt  time.Time
}

// Comment is a reader's comment on a post.
type Comment struct {
	ID        uint
	PostID    uint   `gorm:"not null;index"`
	Author    string `gorm:"size:40;not null"`
	Body      string `gorm:"size:2000;not null"`
	CreatedAt time.Time
}

// CategoryCount is a category with the number of its posts.
type CategoryCount struct {
	Category
	Count int64
}

// models are the tables AutoMigrate creates.
var models = []any{&Category{}, &Post{}, &Comment{}}

// ErrNotFound reports a post or category that does not exist.
var ErrNotFound = errors.New("not found")

// InputError is a problem with what a form submitted, fit to show its author.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }
