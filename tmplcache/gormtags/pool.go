package gormtags

import (
	"context"
	"database/sql"
	"reflect"
	"sync"

	"github.com/cachetagging/cachetagging/tmplcache"
	"gorm.io/gorm"
)

// GORM has no end-of-transaction callback, but every transaction it begins
// — db.Transaction, db.Begin, and the implicit one around each write — is
// begun through the connection pool's BeginTx and ended through the
// returned connection's Commit or Rollback. Wrapping the pool is therefore
// a hook on exactly those two moments, whoever calls them.

var (
	_ gorm.ConnPoolBeginner = (*poolConn)(nil)
	_ gorm.GetDBConnector   = (*poolConn)(nil)
	_ gorm.Tx               = (*txConn)(nil)
	_ gorm.GetDBConnector   = (*txConn)(nil)
)

// hookPool wraps db's connection pool, if it can begin transactions, so
// that each transaction begun on it ends its cache transaction right after
// COMMIT or ROLLBACK.
func (p *plugin) hookPool(db *gorm.DB) {
	if prepared, ok := db.ConnPool.(*gorm.PreparedStmtDB); ok {
		// Wrap inside it: GORM recognises *PreparedStmtDB and *PreparedStmtTX
		// by their types (savepoints, statement resets).
		if hookable(prepared.ConnPool) {
			prepared.ConnPool = &poolConn{ConnPool: prepared.ConnPool, p: p}
		}
		return
	}
	pool := db.ConnPool
	if !hookable(pool) {
		return
	}
	hooked := &poolConn{ConnPool: pool, p: p}
	if db.Statement != nil && sameConn(db.Statement.ConnPool, pool) {
		db.Statement.ConnPool = hooked
	}
	db.ConnPool = hooked
}

// hookable reports a pool that begins transactions and is not one itself
// (a DB opened on a *sql.Tx runs everything inside a transaction GORM never
// ends).
func hookable(pool gorm.ConnPool) bool {
	switch pool.(type) {
	case *poolConn, gorm.TxCommitter:
		return false
	case gorm.TxBeginner, gorm.ConnPoolBeginner:
		return true
	}
	return false
}

func sameConn(a, b gorm.ConnPool) bool {
	if a == nil || b == nil || reflect.TypeOf(a) != reflect.TypeOf(b) || !reflect.TypeOf(a).Comparable() {
		return false
	}
	return a == b
}

// poolConn is the hooked connection pool.
type poolConn struct {
	gorm.ConnPool
	p *plugin
}

// BeginTx implements gorm.ConnPoolBeginner.
func (c *poolConn) BeginTx(ctx context.Context, opts *sql.TxOptions) (gorm.ConnPool, error) {
	var conn gorm.ConnPool
	switch b := c.ConnPool.(type) {
	case gorm.TxBeginner:
		tx, err := b.BeginTx(ctx, opts)
		if err != nil {
			return nil, err
		}
		conn = tx
	case gorm.ConnPoolBeginner:
		tx, err := b.BeginTx(ctx, opts)
		if err != nil {
			return nil, err
		}
		conn = tx
	default:
		return nil, gorm.ErrInvalidTransaction
	}
	committer, ok := conn.(gorm.TxCommitter)
	if !ok {
		return conn, nil
	}
	return &txConn{ConnPool: conn, committer: committer, pool: c, begin: ctx}, nil
}

// GetDBConn implements gorm.GetDBConnector, for gorm.DB.DB.
func (c *poolConn) GetDBConn() (*sql.DB, error) {
	switch pool := c.ConnPool.(type) {
	case *sql.DB:
		return pool, nil
	case gorm.GetDBConnector:
		return pool.GetDBConn()
	}
	return nil, gorm.ErrInvalidDB
}

// Ping keeps the pool's Ping reachable through the wrapper.
func (c *poolConn) Ping() error {
	db, err := c.GetDBConn()
	if err != nil {
		return err
	}
	return db.Ping()
}

// txConn is a database transaction begun on the hooked pool. It begins a
// cache transaction with the first invalidation made in it and ends it
// after COMMIT or ROLLBACK: the tags stay locked while the database holds
// changes others cannot see yet, and are invalidated again once they can
// (Django cache-tagging's cache.transaction around commit_on_success).
type txConn struct {
	gorm.ConnPool
	committer gorm.TxCommitter
	pool      *poolConn
	begin     context.Context // the transaction's context: its cache scope

	mu    sync.Mutex
	ctx   context.Context // carries tx
	tx    *tmplcache.Tx
	ended bool
}

// hooked returns the hooked transaction a statement runs in, or nil.
// Prepared-statement mode wraps it, once per prepared layer (a
// PrepareStmt session of a DB opened with PrepareStmt has two).
func hooked(conn gorm.ConnPool) *txConn {
	for {
		switch c := conn.(type) {
		case *txConn:
			return c
		case *gorm.PreparedStmtTX:
			conn = c.Tx
		default:
			return nil
		}
	}
}

// scope returns the context invalidations made in the transaction use. The
// cache transaction is begun lazily, so transactions that change nothing
// registered cost nothing.
func (t *txConn) scope() context.Context {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return t.begin // a write after the end fails in the database anyway
	}
	if t.tx == nil {
		t.ctx, t.tx = t.pool.p.cache.BeginTx(t.begin)
	}
	return t.ctx
}

// Commit implements gorm.TxCommitter.
func (t *txConn) Commit() error {
	err := t.committer.Commit()
	t.end() // a failed COMMIT rolled back: the tags are re-applied all the same
	return err
}

// Rollback implements gorm.TxCommitter.
func (t *txConn) Rollback() error {
	err := t.committer.Rollback()
	t.end()
	return err
}

func (t *txConn) end() {
	t.mu.Lock()
	tx, ctx := t.tx, t.ctx
	t.tx, t.ended = nil, true
	t.mu.Unlock()
	if tx == nil {
		return
	}
	// The caller's context may be done by now (a request that ended); the
	// second pass must run regardless.
	if err := tx.End(context.WithoutCancel(ctx)); err != nil {
		t.pool.p.fail("re-applying a transaction's invalidations after it ended", err)
	}
}

// StmtContext implements gorm.Tx, for prepared-statement mode.
func (t *txConn) StmtContext(ctx context.Context, stmt *sql.Stmt) *sql.Stmt {
	if s, ok := t.ConnPool.(interface {
		StmtContext(context.Context, *sql.Stmt) *sql.Stmt
	}); ok {
		return s.StmtContext(ctx, stmt)
	}
	return stmt
}

// GetDBConn implements gorm.GetDBConnector, for gorm.DB.DB inside a
// transaction.
func (t *txConn) GetDBConn() (*sql.DB, error) { return t.pool.GetDBConn() }
