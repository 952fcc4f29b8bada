package tmplcache_test

import (
	"context"
	"fmt"

	"github.com/cachetagging/cachetagging/tmplcache"
)

func Example() {
	ctx := context.Background()
	c := tmplcache.New(tmplcache.NewMemoryStore())

	renders := 0
	sidebar := func(ctx context.Context) ([]byte, error) {
		renders++
		return []byte("<ul>…categories…</ul>"), nil
	}
	v, _ := c.Fetch(ctx, "sidebar", sidebar, tmplcache.Tags("categories"))
	v, _ = c.Fetch(ctx, "sidebar", sidebar, tmplcache.Tags("categories"))
	fmt.Println(string(v), renders)

	_ = c.InvalidateTags(ctx, "categories") // a category was edited
	_, _ = c.Fetch(ctx, "sidebar", sidebar, tmplcache.Tags("categories"))
	fmt.Println(renders)
	// Output:
	// <ul>…categories…</ul> 1
	// 2
}

// Nested values pass their tags up: the page depends on the post's tag
// although it never named it.
func ExampleCache_Fetch_nested() {
	ctx := context.Background()
	c := tmplcache.New(nil)
	page := func(ctx context.Context) ([]byte, error) {
		post, err := c.Fetch(ctx, "post:1", func(ctx context.Context) ([]byte, error) {
			return []byte("<article>Hello</article>"), nil
		}, tmplcache.Tags("post:1"))
		return append([]byte("<main>"), append(post, "</main>"...)...), err
	}
	_, _ = c.Fetch(ctx, "home", page, tmplcache.Tags("home"))

	_ = c.InvalidateTags(ctx, "post:1")
	_, ok, _ := c.Get(ctx, "home")
	fmt.Println("home still cached:", ok)
	// Output: home still cached: false
}

func ExampleCache_Transaction() {
	ctx := context.Background()
	c := tmplcache.New(nil)
	err := c.Transaction(ctx, func(ctx context.Context) error {
		// ... update post 1 in the database transaction ...
		return c.InvalidateTags(ctx, "post:1")
		// Until this function returns, no concurrent build stores an entry
		// tagged post:1; when it returns, post:1 is invalidated again.
	})
	fmt.Println(err)
	// Output: <nil>
}

func ExampleRegister() {
	type Post struct{ ID, Category int }
	c := tmplcache.New(nil)
	reg := tmplcache.NewRegistry(c)
	tmplcache.Register(reg, func(p Post) []string {
		return []string{"posts", fmt.Sprint("post:", p.ID), fmt.Sprint("category:", p.Category)}
	})
	tags, _ := reg.Tags(Post{ID: 3, Category: 9})
	fmt.Println(tags)
	_ = reg.Changed(context.Background(), Post{ID: 3, Category: 9})
	// Output: [category:9 post:3 posts]
}
