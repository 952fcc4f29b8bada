package redisstore_test

import (
	"context"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/redisstore"
	"github.com/redis/go-redis/v9"
)

func Example() {
	srv, err := miniredis.Run() // any Redis: one server, Sentinel or Cluster
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{srv.Addr()}})
	defer rdb.Close()

	cache := tmplcache.New(redisstore.New(rdb), tmplcache.WithNamespace("blog"))
	ctx := context.Background()
	render := func(ctx context.Context) ([]byte, error) {
		fmt.Println("rendering post 1")
		return []byte("<h1>Hello</h1>"), nil
	}

	v, _ := cache.Fetch(ctx, "post:1:body", render, tmplcache.Tags("post:1"))
	fmt.Printf("%s\n", v)
	v, _ = cache.Fetch(ctx, "post:1:body", render, tmplcache.Tags("post:1")) // a hit
	fmt.Printf("%s\n", v)

	_ = cache.InvalidateTags(ctx, "post:1") // the post was edited
	_, ok, _ := cache.Get(ctx, "post:1:body")
	fmt.Println("cached after the edit:", ok)
	// Output:
	// rendering post 1
	// <h1>Hello</h1>
	// <h1>Hello</h1>
	// cached after the edit: false
}
