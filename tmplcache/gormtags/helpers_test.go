package gormtags_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cachetagging/cachetagging"
	"github.com/cachetagging/cachetagging/internal/testserver"
	"github.com/cachetagging/cachetagging/tmplcache"
	"github.com/cachetagging/cachetagging/tmplcache/gormtags"
	"github.com/glebarez/sqlite"
	"github.com/stretchr/testify/require"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	"gorm.io/gorm/schema"
)

var bg = context.Background()

// Post is the registered model.
type Post struct {
	ID         uint `gorm:"primaryKey"`
	Title      string
	CategoryID uint
}

// Comment is a model nobody registered.
type Comment struct {
	ID     uint `gorm:"primaryKey"`
	PostID uint
	Body   string
}

func postTags(p *Post) []string {
	return []string{fmt.Sprintf("post:%d", p.ID), fmt.Sprintf("category:%d", p.CategoryID)}
}

func randomName() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// A backend opens a fresh, empty database for one test.
type backend struct {
	name string
	open func(t testing.TB, cfg *gorm.Config) *gorm.DB
}

// backends are SQLite in memory (always) and PostgreSQL.
var backends = []backend{
	{"SQLite in memory", openSQLiteMemory},
	{"PostgreSQL", openPostgres},
}

// concurrentBackends can hold a write transaction open while other
// connections read: SQLite in memory cannot (a shared in-memory database
// locks whole tables), a WAL file can.
var concurrentBackends = []backend{
	{"SQLite WAL file", openSQLiteFile},
	{"PostgreSQL", openPostgres},
}

// gormConfig copies cfg: gorm.Open keeps and fills the config it is given.
func gormConfig(cfg *gorm.Config) *gorm.Config {
	var c gorm.Config
	if cfg != nil {
		c = *cfg
	}
	c.Logger = logger.Discard
	return &c
}

func openSQLiteMemory(t testing.TB, cfg *gorm.Config) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(sqlite.Open("file:"+randomName()+"?mode=memory&cache=shared"), gormConfig(cfg))
	require.NoError(t, err)
	sqlDB, err := db.DB()
	require.NoError(t, err)
	// One connection: a shared in-memory database must not be read by one
	// connection while another writes to it.
	sqlDB.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = sqlDB.Close() })
	migrate(t, db)
	return db
}

func openSQLiteFile(t testing.TB, cfg *gorm.Config) *gorm.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := gorm.Open(sqlite.Open("file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)"), gormConfig(cfg))
	require.NoError(t, err)
	sqlDB, err := db.DB()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sqlDB.Close() })
	migrate(t, db)
	return db
}

const postgresAddr = "127.0.0.1:5432"

// openPostgres opens the test database with tables unique to this test. A
// server that does not answer skips the test, unless CI=true, where it
// fails it (see internal/testserver).
func openPostgres(t testing.TB, cfg *gorm.Config) *gorm.DB {
	t.Helper()
	testserver.Require(t, "PostgreSQL", postgresAddr)
	// Tables unique to the test: other packages' tests may run at once.
	naming := schema.NamingStrategy{TablePrefix: "gormtags_" + randomName() + "_"}
	var errs []error
	for _, user := range []string{"postgres", "root"} {
		dsn := "host=127.0.0.1 port=5432 user=" + user + " dbname=test sslmode=disable"
		cfg := gormConfig(cfg)
		cfg.NamingStrategy = naming
		db, err := gorm.Open(postgres.Open(dsn), cfg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sqlDB, err := db.DB()
		require.NoError(t, err)
		t.Cleanup(func() {
			// Bounded: a transaction a failed test left open holds locks.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = db.WithContext(ctx).Migrator().DropTable(&Post{}, &Comment{})
			_ = sqlDB.Close()
		})
		migrate(t, db)
		return db
	}
	t.Fatalf("PostgreSQL answers at %s but no test user could connect: %v", postgresAddr, errors.Join(errs...))
	return nil
}

func migrate(t testing.TB, db *gorm.DB) {
	t.Helper()
	require.NoError(t, db.AutoMigrate(&Post{}, &Comment{}))
}

// forEach runs fn as a subtest on each backend.
func forEach(t *testing.T, backends []backend, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run("on "+b.name, func(t *testing.T) { fn(t, b) })
	}
}

// install puts the plugin on db, over a new cache (logging nowhere) and a
// registry with Post's tags, and returns both.
func install(t testing.TB, db *gorm.DB, opts ...gormtags.Option) (*tmplcache.Cache, *tmplcache.Registry) {
	t.Helper()
	c := tmplcache.New(nil, tmplcache.WithLogger(slog.New(slog.DiscardHandler)))
	reg := tmplcache.NewRegistry(c)
	tmplcache.Register(reg, postTags)
	require.NoError(t, db.Use(gormtags.Plugin(reg, opts...)))
	return c, reg
}

func tableOf(t testing.TB, db *gorm.DB, model any) string {
	t.Helper()
	stmt := &gorm.Statement{DB: db}
	require.NoError(t, stmt.Parse(model))
	return stmt.Schema.Table
}

// site renders a post and the lists of categories 1 and 2 through the real
// template layer, counting how often each fragment's body runs.
type site struct {
	t     testing.TB
	db    *gorm.DB
	cache *tmplcache.Cache
	r     *cachetagging.Renderer
	tmpl  *template.Template

	mu     sync.Mutex
	builds map[string]int
}

const siteTemplates = `
{{ define "post" }}{{ cache_tagging (printf "post:%d" .ID) (printf "post:%d" .ID) }}<h1>{{ .Title }}</h1><p>in {{ .CategoryID }}</p>{{ built (printf "post:%d" .ID) }}{{ end_cache_tagging }}{{ end }}
{{ define "category" }}{{ cache_tagging (printf "category:%d" .ID) (printf "category:%d" .ID) }}<ul>{{ range .Posts }}<li>{{ .ID }} {{ .Title }}</li>{{ end }}</ul>{{ built (printf "category:%d" .ID) }}{{ end_cache_tagging }}{{ end }}
`

type categoryPage struct {
	ID    uint
	Posts []Post
}

func newSite(t testing.TB, db *gorm.DB, c *tmplcache.Cache) *site {
	t.Helper()
	s := &site{t: t, db: db, cache: c, r: cachetagging.New(c), builds: map[string]int{}}
	s.tmpl = template.Must(template.New("site").Funcs(s.r.FuncMap()).Funcs(template.FuncMap{
		"built": func(key string) string {
			s.mu.Lock()
			s.builds[key]++
			s.mu.Unlock()
			return ""
		},
	}).Parse(siteTemplates))
	require.NoError(t, s.r.Prepare(s.tmpl))
	return s
}

// view is what one request saw: the rendered fragments and the rows they
// were rendered from.
type view struct {
	post       Post
	categories [2][]Post
	html       map[string]string // fragment key -> output
}

// load reads the rows a page shows; the zero Post if it is gone.
func load(ctx context.Context, db *gorm.DB, postID uint) (Post, [2][]Post, error) {
	var post Post
	if err := db.WithContext(ctx).Limit(1).Find(&post, postID).Error; err != nil {
		return Post{}, [2][]Post{}, err
	}
	if post.ID == 0 {
		post.ID = postID
	}
	var cats [2][]Post
	for i := range cats {
		if err := db.WithContext(ctx).Where("category_id = ?", i+1).Order("id").Find(&cats[i]).Error; err != nil {
			return Post{}, [2][]Post{}, err
		}
	}
	return post, cats, nil
}

// visit is a request: it tracks, loads the rows, renders the fragments.
func (s *site) visit(ctx context.Context, postID uint) (view, error) {
	ctx, scope := s.cache.Track(ctx)
	defer func() { _ = scope.End(ctx, nil) }()
	post, cats, err := load(ctx, s.db, postID)
	if err != nil {
		return view{}, err
	}
	v := view{post: post, categories: cats, html: map[string]string{}}
	if v.html[fmt.Sprintf("post:%d", postID)], err = s.exec(ctx, "post", post); err != nil {
		return view{}, err
	}
	for i, posts := range cats {
		key := fmt.Sprintf("category:%d", i+1)
		if v.html[key], err = s.exec(ctx, "category", categoryPage{ID: uint(i + 1), Posts: posts}); err != nil {
			return view{}, err
		}
	}
	return v, nil
}

func (s *site) exec(ctx context.Context, name string, data any) (string, error) {
	var b bytes.Buffer
	err := s.r.ExecuteTemplate(ctx, &b, s.tmpl, name, data)
	return b.String(), err
}

// want is each fragment rendered straight from v's rows.
func (v view) want() map[string]string {
	w := map[string]string{
		fmt.Sprintf("post:%d", v.post.ID): fmt.Sprintf("<h1>%s</h1><p>in %d</p>", v.post.Title, v.post.CategoryID),
	}
	for i, posts := range v.categories {
		var b bytes.Buffer
		b.WriteString("<ul>")
		for _, p := range posts {
			fmt.Fprintf(&b, "<li>%d %s</li>", p.ID, p.Title)
		}
		b.WriteString("</ul>")
		w[fmt.Sprintf("category:%d", i+1)] = b.String()
	}
	return w
}

// builtSince returns the fragments whose bodies ran since before.
func (s *site) builtSince(before map[string]int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k, n := range s.builds {
		if n > before[k] {
			keys = append(keys, k)
		}
	}
	return keys
}

func (s *site) snapshot() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int, len(s.builds))
	for k, n := range s.builds {
		m[k] = n
	}
	return m
}
