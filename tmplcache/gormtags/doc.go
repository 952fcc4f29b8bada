// Package gormtags invalidates cache tags when GORM writes rows: the GORM
// counterpart of Django cache-tagging's registry, which hooks model signals
// so that saving or deleting a Post invalidates its tags with no call in
// the view.
//
// Register tag functions in a [tmplcache.Registry] and install the plugin:
//
//	reg := tmplcache.NewRegistry(cache)
//	tmplcache.Register(reg, func(p *Post) []string {
//		return []string{fmt.Sprint("post:", p.ID), fmt.Sprint("category:", p.CategoryID)}
//	})
//	if err := db.Use(gormtags.Plugin(reg)); err != nil { … }
//
// From then on every Create, Save, Update(s) and Delete of a registered type
// (registered as Post or as *Post) invalidates the tags of the rows it
// touched, as they were before the write and as they are after it: a post
// moved to another category invalidates both categories. Writes of other
// types cost one registry look-up and nothing else.
//
// # What each write costs
//
// The rows before the write are read inside the write's own transaction,
// just before it, with its own conditions (its WHERE and its model's
// primary key), and locked on PostgreSQL and MySQL (SELECT … FOR UPDATE) so
// that a concurrent move cannot slip between the read and the write:
//
//   - Create: no read; the tags come from the values written (a slice of
//     them, or maps of column values).
//   - Save of an existing row: one SELECT by primary key; the new row is the
//     value saved.
//   - Update, Updates, UpdateColumn(s): one SELECT before, one by primary key
//     after (the values in memory may be partial: db.Model(&Post{ID: 1})).
//   - Delete: one SELECT before (soft deletes too).
//   - Upserts (Save of a slice, OnConflict): one SELECT of the rows the
//     values may collide with; a second after when only some columns are
//     overwritten.
//
// A write without a model instance, db.Model(&Post{}).Where(…).Updates(…),
// is resolved the same way, up to [WithMaxRows] rows. Beyond that, or when
// the rows cannot all be read (a failed look-up, a named conflict
// constraint, values given as SQL expressions, a tag function returning an
// empty tag), the plugin invalidates the table's [TableTag] besides the
// tags it does know, logs why and counts it ([Stats.Unresolved]): tag the
// fragments that list many rows of a table with it. Raw SQL
// (db.Exec, db.Raw) and writes through db.Table without a model are not
// seen: report those with [tmplcache.Registry.Changed].
//
// # Transactions
//
// Invalidating before the COMMIT is not enough: between the invalidation
// and the commit a reader still reads the old row, and would store a
// fragment built from it under the new tag version. So inside a database
// transaction the invalidations join a cache transaction
// ([tmplcache.Cache.BeginTx]): their tags are locked — no build stores them
// — until the database transaction ends, and are invalidated again right
// after its COMMIT or ROLLBACK (Django cache-tagging's cache.transaction
// around commit_on_success).
//
// GORM has no end-of-transaction callback, so the plugin wraps the
// connection pool of the DB it is installed on: every transaction GORM
// begins there — the implicit one around each write, db.Transaction,
// db.Begin … Commit or Rollback, CreateInBatches, prepared-statement mode —
// is seen to end, with nothing to call by hand. Nested db.Transaction calls
// are savepoints of one database transaction and share its cache
// transaction. The cache transaction takes the context the database
// transaction was begun with (db.WithContext(ctx).Transaction(…)): if ctx
// already carries one ([tmplcache.Cache.Transaction],
// cachetagging.TransactionMiddleware), the tags stay locked until that one
// ends.
//
// The hook cannot see transactions begun outside the wrapped pool: on a DB
// derived from db before db.Use (db.WithContext(ctx) and the like keep the
// pool they were made with), inside db.Connection (a pinned *sql.Conn), or
// on a DB opened on a *sql.Tx. There, GORM's implicit transaction around a
// single write is still handled (a callback after GORM's commit ends it),
// but a write inside an explicit transaction invalidates its tags at once
// and, on its own, never again: a reader may store the old row between that
// and the COMMIT, and keep it until the tags change again. The plugin
// counts such writes ([Stats.Unhooked]) and logs a warning once. Run such
// transactions inside [tmplcache.Cache.Transaction], which locks the tags
// and re-applies them when it returns, after the commit:
//
//	err := cache.Transaction(ctx, func(ctx context.Context) error {
//		return db.WithContext(ctx).Connection(func(tx *gorm.DB) error { … })
//	})
//
// A transaction that is never committed nor rolled back keeps its tags
// locked until the cache's lock TTL ([tmplcache.WithLockTTL]).
//
// # Readers
//
// The invalidation guarantees hold for builds that know when their data was
// read: begin tracking ([tmplcache.Cache.Track], or a middleware that does)
// before loading the rows a page renders.
//
// # Failures
//
// The cache is an optimisation: its errors never fail a write. They are
// logged (log/slog; the cache's logger unless [WithLogger]) and counted
// ([StatsOf]); an invalidation the store refused is remembered by the cache,
// which serves nothing until it has re-applied it. The plugin's own reads
// run in the write's transaction: on PostgreSQL one that fails aborts that
// transaction, as any failed statement does.
package gormtags
