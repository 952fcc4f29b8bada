package main

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Every edit runs in one database transaction, begun with the request's
// context. The GORM plugin invalidates the tags of the rows it writes and,
// since that context carries the request's cache transaction
// (cachetagging.TransactionMiddleware), keeps those tags locked until the
// request is done: a page rendered meanwhile from the rows as they were
// before the COMMIT (or after a ROLLBACK) is served but never stored.
// Nothing here invalidates by hand.

// PostInput is what the post forms submit.
type PostInput struct {
	Title      string
	Body       string
	CategoryID uint
}

// clean trims in and checks what can be checked without the database.
func (in PostInput) clean() (PostInput, error) {
	in.Title, in.Body = strings.TrimSpace(in.Title), strings.TrimSpace(in.Body)
	in.Body = strings.ReplaceAll(in.Body, "\r\n", "\n") // as browsers send textareas
	switch {
	case in.Title == "":
		return in, &InputError{"A post needs a title."}
	case utf8.RuneCountInString(in.Title) > 120:
		return in, &InputError{"The title is longer than 120 characters."}
	case in.Body == "":
		return in, &InputError{"A post needs a body."}
	}
	return in, nil
}

// createPost adds a post and returns its ID.
func (a *app) createPost(ctx context.Context, in PostInput) (uint, error) {
	in, err := in.clean()
	if err != nil {
		return 0, err
	}
	p := Post{Title: in.Title, Body: in.Body, CategoryID: in.CategoryID}
	err = a.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := requireCategory(tx, in.CategoryID); err != nil {
			return err
		}
		return tx.Omit(clause.Associations).Create(&p).Error
	})
	return p.ID, err
}

// updatePost changes a post, possibly moving it to another category.
func (a *app) updatePost(ctx context.Context, id uint, in PostInput) error {
	in, err := in.clean()
	if err != nil {
		return err
	}
	return a.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var p Post
		if err := tx.First(&p, id).Error; err != nil {
			return notFound(err)
		}
		if err := requireCategory(tx, in.CategoryID); err != nil {
			return err
		}
		return tx.Model(&p).Select("title", "body", "category_id").
			Updates(Post{Title: in.Title, Body: in.Body, CategoryID: in.CategoryID}).Error
	})
}

// requireCategory checks, inside the write's transaction, that the post's
// category exists. The foreign key checks it again at the write.
func requireCategory(tx *gorm.DB, id uint) error {
	err := tx.Select("id").First(&Category{}, id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return &InputError{"Choose one of the categories."}
	}
	return err
}

// cleanCategoryName trims name and checks it.
func cleanCategoryName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return name, &InputError{"A category needs a name."}
	case utf8.RuneCountInString(name) > 40:
		return name, &InputError{"The name is longer than 40 characters."}
	}
	return name, nil
}

// renameCategory renames a category. A name another category has is
// refused by the database (a unique index): the transaction rolls back.
func (a *app) renameCategory(ctx context.Context, id uint, name string) error {
	name, err := cleanCategoryName(name)
	if err != nil {
		return err
	}
	err = a.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var c Category
		if err := tx.First(&c, id).Error; err != nil {
			return notFound(err)
		}
		return tx.Model(&c).Update("name", name).Error
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return &InputError{"Another category is called " + name + "."}
	}
	return err
}

// cleanComment trims a comment and checks it.
func cleanComment(c Comment) (Comment, error) {
	c.Author, c.Body = strings.TrimSpace(c.Author), strings.TrimSpace(c.Body)
	if c.Author == "" {
		c.Author = "anonymous"
	}
	switch {
	case c.Body == "":
		return c, &InputError{"A comment needs a text."}
	case utf8.RuneCountInString(c.Author) > 40 || utf8.RuneCountInString(c.Body) > 2000:
		return c, &InputError{"The comment is too long."}
	}
	return c, nil
}

// addComment adds a comment to a post.
func (a *app) addComment(ctx context.Context, c Comment) error {
	c, err := cleanComment(c)
	if err != nil {
		return err
	}
	c.CreatedAt = time.Now()
	return a.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Select("id").First(&Post{}, c.PostID).Error; err != nil {
			return notFound(err)
		}
		return tx.Create(&c).Error
	})
}
