package gormtags_test

import (
	"context"
	"fmt"

	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/gormtags"
	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

func Example() {
	type Article struct {
		ID         uint
		Title      string
		CategoryID uint
	}
	db, err := gorm.Open(sqlite.Open("file:example?mode=memory&cache=shared"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		panic(err)
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close() // the in-memory database goes with its last connection
	if err := db.AutoMigrate(&Article{}); err != nil {
		panic(err)
	}

	cache := tmplcache.New(nil)
	reg := tmplcache.NewRegistry(cache)
	tmplcache.Register(reg, func(a *Article) []string {
		return []string{fmt.Sprint("article:", a.ID), fmt.Sprint("category:", a.CategoryID)}
	})
	if err := db.Use(gormtags.Plugin(reg)); err != nil {
		panic(err)
	}

	// A request: track it before loading data, then build what it shows.
	list := func(category uint) string {
		ctx, scope := cache.Track(context.Background())
		defer scope.End(ctx, nil)
		v, err := cache.Fetch(ctx, fmt.Sprint("list:", category), func(ctx context.Context) ([]byte, error) {
			var titles []string
			err := db.WithContext(ctx).Model(&Article{}).Where("category_id = ?", category).Pluck("title", &titles).Error
			return fmt.Append(nil, titles), err
		}, tmplcache.Tags(fmt.Sprint("category:", category)))
		if err != nil {
			panic(err)
		}
		return string(v)
	}

	a := Article{Title: "Hello", CategoryID: 1}
	db.Create(&a)
	fmt.Println(list(1), list(2))

	a.CategoryID = 2
	db.Save(&a) // invalidates category:1 (the row before) and category:2 (after)
	fmt.Println(list(1), list(2))

	stats, _ := gormtags.StatsOf(db)
	fmt.Println("writes:", stats.Writes)
	// Output:
	// [Hello] []
	// [] [Hello]
	// writes: 2
}
