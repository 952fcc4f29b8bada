package gormtags

import (
	"context"
	"reflect"

	"github.com/cachetagging/cachetagging/tmplcache"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// commitCallback ends the implicit transaction GORM wraps each write in.
const commitCallback = "gorm:commit_or_rollback_transaction"

type kind uint8

const (
	create kind = iota
	update
	deletion
)

// write is what the plugin keeps about one statement, from the callback
// before the write to the one after the commit.
type write struct {
	kind       kind
	old        reflect.Value       // *[]Model: the rows before the write; zero if none were read
	reload     []clause.Expression // read the rows again after the write with these; nil: do not
	fullSave   bool                // an update that wrote the whole value (Save)
	unresolved bool                // the rows are not all known: invalidate the TableTag too

	// The cache transaction of the statement's own database transaction,
	// when the pool it was begun on is not hooked.
	tx    *tmplcache.Tx
	txCtx context.Context
}

// writeKey keys a statement's write in its Settings. Settings are copied
// into cloned statements; the statement's address keeps a clone (Save's
// fallback to an upsert) from taking its parent's write for its own.
type writeKey struct{ stmt *gorm.Statement }

func stateOf(db *gorm.DB) *write {
	v, ok := db.Statement.Settings.Load(writeKey{db.Statement})
	if !ok {
		return nil
	}
	return v.(*write)
}

// before reads, inside the statement's transaction, the rows the write is
// about to change.
func (p *plugin) before(k kind) func(*gorm.DB) {
	return func(db *gorm.DB) {
		stmt := db.Statement
		if db.Error != nil || db.DryRun || stmt.Schema == nil || !p.registered(stmt.Schema) {
			return
		}
		w := &write{kind: k}
		if k == create {
			p.beforeCreate(db, w)
		} else {
			p.beforeChange(db, w)
		}
		stmt.Settings.Store(writeKey{stmt}, w)
	}
}

// beforeCreate reads the rows an upsert may overwrite. A plain insert
// overwrites nothing: it costs no read.
func (p *plugin) beforeCreate(db *gorm.DB, w *write) {
	stmt := db.Statement
	c, ok := stmt.Clauses["ON CONFLICT"]
	if !ok {
		return
	}
	onConflict, _ := c.Expression.(clause.OnConflict)
	conds, ok := conflictConds(stmt, onConflict)
	if !ok {
		w.unresolved = true
		return
	}
	if len(conds) == 0 {
		return // every value is new
	}
	rows, err := p.load(db, conds, 0, true, true)
	if err != nil {
		p.fail("reading the rows an upsert may overwrite", err, "table", stmt.Table)
		w.unresolved = true
		return
	}
	w.old = rows
	if !onConflict.UpdateAll && !onConflict.DoNothing {
		// Only some columns are overwritten: the new rows mix old and new.
		w.reload = conds
	}
}

// beforeChange reads the rows an update or delete will touch, with the
// write's own conditions, and locks them where the database can: a
// concurrent write that moves a row must not slip between this read and
// the write.
func (p *plugin) beforeChange(db *gorm.DB, w *write) {
	stmt := db.Statement
	conds := affected(stmt, w.kind)
	if len(conds) == 0 && !db.AllowGlobalUpdate {
		return // GORM refuses a write without conditions (ErrMissingWhereClause)
	}
	rows, err := p.load(db, conds, p.cfg.maxRows+1, true, stmt.Unscoped)
	if err != nil {
		p.fail("reading the rows a write will change", err, "table", stmt.Table)
		w.unresolved = true
		return
	}
	if n := rows.Elem().Len(); n > p.cfg.maxRows {
		p.cfg.logger.Warn("gormtags: a write touches more rows than WithMaxRows: invalidating its TableTag instead of each row's tags",
			"table", stmt.Table, "max_rows", p.cfg.maxRows, "tag", TableTag(stmt.Table))
		w.unresolved = true
		return
	}
	w.old = rows
	if w.kind != update || rows.Elem().Len() == 0 {
		return
	}
	w.fullSave = isFullSave(stmt)
	if !w.fullSave {
		var ok bool
		if w.reload, ok = identityConds(stmt, rows); !ok {
			w.unresolved = true // no primary key to find the rows again by
		}
	}
}

// after invalidates the tags of the rows before and after the write. In a
// transaction it runs before the commit, so the invalidation joins the
// transaction's cache transaction and locks its tags until the end.
func (p *plugin) after(db *gorm.DB) {
	w := stateOf(db)
	if w == nil || db.Error != nil {
		return // a failed write changed nothing
	}
	stmt := db.Statement
	values := appendRows(nil, w.old)
	switch {
	case w.kind == create:
		var ok bool
		if values, ok = appendValues(values, stmt); !ok {
			w.unresolved = true
		}
	case w.fullSave:
		values, _ = appendValues(values, stmt)
	}
	if w.reload != nil {
		rows, err := p.load(db, w.reload, 0, false, true)
		switch {
		case err != nil:
			p.fail("reading the rows a write changed", err, "table", stmt.Table)
			w.unresolved = true
		case w.kind == update && rows.Elem().Len() < w.old.Elem().Len():
			w.unresolved = true // the write changed a primary key
		}
		values = appendRows(values, rows)
	}
	tags, err := p.reg.Tags(values...)
	if err != nil {
		p.fail("computing the tags of a write", err, "table", stmt.Table)
		w.unresolved = true
	}
	tags = p.usable(tags, w, stmt.Table)
	if w.unresolved {
		p.stats.unresolved.Add(1)
		tags = append(tags, TableTag(stmt.Table))
	}
	if len(tags) == 0 {
		return
	}
	p.stats.writes.Add(1)
	p.stats.tags.Add(uint64(len(tags)))
	if err := p.cache.InvalidateTags(p.scope(db, w), tags...); err != nil {
		// The cache remembers a failed invalidation and serves nothing
		// until it has re-applied it: the write stands.
		p.fail("invalidating the tags of a write", err, "table", stmt.Table, "tags", len(tags))
	}
}

// usable drops the tags the cache would refuse (empty, too long): the
// cache refuses a call with one of them as a whole, and the other tags of
// the write must not pay for it. The TableTag stands in for those dropped.
func (p *plugin) usable(tags []string, w *write, table string) []string {
	out := tags[:0]
	for _, t := range tags {
		if err := tmplcache.CheckTag(t); err != nil {
			p.fail("a tag function returned an unusable tag", err, "table", table)
			w.unresolved = true
			continue
		}
		out = append(out, t)
	}
	return out
}

// scope returns the context a statement's invalidation is made with: the
// cache transaction of the database transaction it runs in, if there is one
// the plugin sees end.
func (p *plugin) scope(db *gorm.DB, w *write) context.Context {
	stmt := db.Statement
	if t := hooked(stmt.ConnPool); t != nil {
		return t.scope()
	}
	if _, own := db.InstanceGet("gorm:started_transaction"); own {
		// The statement's implicit transaction, on a connection the pool
		// hook did not see: afterCommit ends it.
		w.txCtx, w.tx = p.cache.BeginTx(stmt.Context)
		return w.txCtx
	}
	if _, inTx := stmt.ConnPool.(gorm.TxCommitter); inTx && !tmplcache.InTransaction(stmt.Context) {
		p.stats.unhooked.Add(1)
		p.unhookedOnce.Do(func() {
			p.cfg.logger.Warn("gormtags: a write ran in a database transaction the plugin did not begin " +
				"(a DB derived before db.Use, db.Connection, or a DB opened on a *sql.Tx): " +
				"its tags are invalidated now, and after the commit only if it runs inside tmplcache.Cache.Transaction")
		})
	}
	return stmt.Context
}

// afterCommit ends the cache transaction of a statement's own database
// transaction when the pool hook could not, and forgets the statement.
func (p *plugin) afterCommit(db *gorm.DB) {
	w := stateOf(db)
	if w == nil {
		return
	}
	db.Statement.Settings.Delete(writeKey{db.Statement})
	if w.tx != nil {
		if err := w.tx.End(context.WithoutCancel(w.txCtx)); err != nil {
			p.fail("re-applying a write's invalidations after its commit", err, "table", db.Statement.Table)
		}
	}
}

func (p *plugin) fail(what string, err error, args ...any) {
	p.stats.errors.Add(1)
	p.cfg.logger.Warn("gormtags: "+what+" failed", append(args, "err", err)...)
}
