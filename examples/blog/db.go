package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// defaultDBPath is where the blog keeps its SQLite database when -db is
// not given: under the user's cache directory, so that it survives
// restarts and can be deleted without a second thought.
func defaultDBPath() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "cachetagging-blog", "blog.db")
}

// isPostgres reports whether -db names a PostgreSQL server rather than a
// SQLite file.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// openDB opens the database -db names. name describes it for the startup
// line, without a password.
func openDB(dsn string, log *slog.Logger) (db *gorm.DB, name string, err error) {
	cfg := &gorm.Config{
		// Constraint violations come back as gorm.ErrDuplicatedKey and
		// gorm.ErrForeignKeyViolated on both databases.
		TranslateError: true,
		Logger: logger.NewSlogLogger(log, logger.Config{
			SlowThreshold: 200 * time.Millisecond, LogLevel: logger.Warn, IgnoreRecordNotFoundError: true,
		}),
	}
	if isPostgres(dsn) {
		u, err := url.Parse(dsn)
		if err != nil {
			return nil, "", fmt.Errorf("-db: %w", err)
		}
		db, err = gorm.Open(postgres.Open(dsn), cfg)
		if err != nil {
			return nil, "", fmt.Errorf("-db: %w", err)
		}
		return db, "postgres " + u.Redacted(), nil
	}
	if err := os.MkdirAll(filepath.Dir(dsn), 0o755); err != nil {
		return nil, "", fmt.Errorf("-db: %w", err)
	}
	// WAL lets pages read while an edit writes, from several processes.
	// Transactions take the write lock when they begin (_txlock=immediate):
	// the cache plugin reads the rows a write will change inside the
	// write's transaction, and a read that later upgrades to a write can
	// fail at once with SQLITE_BUSY, whatever the busy timeout.
	params := url.Values{"_pragma": {"foreign_keys(1)", "journal_mode(WAL)", "synchronous(NORMAL)", "busy_timeout(10000)"},
		"_txlock": {"immediate"}}
	db, err = gorm.Open(sqlite.Open(dsn+"?"+params.Encode()), cfg)
	if err != nil {
		return nil, "", fmt.Errorf("-db: %w", err)
	}
	return db, "sqlite " + dsn, nil
}

// closeDB closes db's connections.
func closeDB(db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// setUpLock is the PostgreSQL advisory lock that makes schema creation and
// seeding one step: two processes started at once on an empty database
// would otherwise both seed it. SQLite needs none: its transactions begin
// with the write lock.
const setUpLock = 0x626c6f67 // "blog"

// setUp creates the schema and, in an empty database, the seed data. Run
// it after installing the cache plugin: the seed's writes then invalidate
// whatever a cache sharing this namespace kept of an earlier database.
func setUp(ctx context.Context, db *gorm.DB) error {
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if tx.Dialector.Name() == "postgres" {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", setUpLock).Error; err != nil {
				return err
			}
		}
		if err := tx.AutoMigrate(models...); err != nil {
			return fmt.Errorf("creating the schema: %w", err)
		}
		var n int64
		if err := tx.Model(&Category{}).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		return seed(tx, time.Now())
	})
}
