package gormtags

import (
	"errors"
	"reflect"
	"sync"

	"github.com/cachetagging/cachetagging/tmplcache"
	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// name is the plugin's name in gorm.Config.Plugins.
const name = "gormtags"

// TableTag returns the tag invalidated for a write whose rows the plugin
// could not resolve one by one (more than [WithMaxRows], a failed look-up):
// "table:" and the table's name. Tag the fragments that list rows of a
// table with it, or return it from the table's tag function, for such
// writes to reach them.
func TableTag(table string) string { return "table:" + table }

// plugin is the gorm.Plugin made by Plugin.
type plugin struct {
	reg   *tmplcache.Registry
	cache *tmplcache.Cache
	cfg   config
	err   error // configuration error, returned by Initialize
	stats counters

	unhookedOnce sync.Once
}

// Plugin returns a GORM plugin that invalidates, after every Create, Save,
// Update(s) and Delete of a type with tag functions in reg, the tags of the
// rows the write touched, as they were before and after it. Install it with
// db.Use before deriving sessions from db; see the package documentation
// for what happens inside transactions. Errors in reg or opts are returned
// by db.Use.
func Plugin(reg *tmplcache.Registry, opts ...Option) gorm.Plugin {
	p := &plugin{reg: reg}
	for _, opt := range opts {
		if opt != nil {
			opt(&p.cfg)
		}
	}
	var errs []error
	if reg == nil {
		errs = append(errs, ErrNoRegistry)
	} else {
		p.cache = reg.Cache()
		p.cfg.fill(p.cache.Logger())
	}
	p.err = errors.Join(append(errs, p.cfg.errs...)...)
	return p
}

// Name implements gorm.Plugin.
func (p *plugin) Name() string { return name }

// Initialize implements gorm.Plugin: it hooks db's connection pool (see
// hookPool) and registers the callbacks.
func (p *plugin) Initialize(db *gorm.DB) error {
	if p.err != nil {
		return p.err
	}
	p.hookPool(db)
	c, u, d := db.Callback().Create(), db.Callback().Update(), db.Callback().Delete()
	// The old rows are read inside the statement's own transaction, right
	// before the write; the invalidation comes after the write but before
	// the commit, so that it joins the transaction's cache transaction.
	return errors.Join(
		c.Before("gorm:create").Register("gormtags:before_create", p.before(create)),
		c.Before(commitCallback).Register("gormtags:after_create", p.after),
		c.After(commitCallback).Register("gormtags:after_commit_create", p.afterCommit),
		u.Before("gorm:update").Register("gormtags:before_update", p.before(update)),
		u.Before(commitCallback).Register("gormtags:after_update", p.after),
		u.After(commitCallback).Register("gormtags:after_commit_update", p.afterCommit),
		d.Before("gorm:delete").Register("gormtags:before_delete", p.before(deletion)),
		d.Before(commitCallback).Register("gormtags:after_delete", p.after),
		d.After(commitCallback).Register("gormtags:after_commit_delete", p.afterCommit),
	)
}

// StatsOf returns the counters of the plugin installed on db, and false if
// none is.
func StatsOf(db *gorm.DB) (Stats, bool) {
	p, ok := db.Config.Plugins[name].(*plugin)
	if !ok {
		return Stats{}, false
	}
	return p.stats.snapshot(), true
}

// registered reports whether the registry has tag functions for rows of s.
// A nil pointer asks without calling any of them.
func (p *plugin) registered(s *schema.Schema) bool {
	_, err := p.reg.Tags(reflect.Zero(reflect.PointerTo(s.ModelType)).Interface())
	return err == nil
}
