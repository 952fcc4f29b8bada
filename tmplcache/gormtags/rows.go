package gormtags

import (
	"reflect"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// affected returns the conditions of the rows an update or delete touches:
// the statement's WHERE and the primary keys of its model value(s), as
// GORM's own update and delete callbacks add them (after this runs). Soft
// deletion's condition comes from the query mirroring stmt.Unscoped.
func affected(stmt *gorm.Statement, k kind) []clause.Expression {
	var conds []clause.Expression
	if c, ok := stmt.Clauses["WHERE"]; ok {
		if where, ok := c.Expression.(clause.Where); ok {
			conds = append(conds, where.Exprs...)
		}
	}
	conds = appendIdentity(conds, stmt, stmt.ReflectValue, stmt.Schema.PrimaryFields)
	if k == deletion && stmt.Model != nil && stmt.Dest != stmt.Model {
		conds = appendIdentity(conds, stmt, reflect.ValueOf(stmt.Model), stmt.Schema.PrimaryFields)
	}
	return conds
}

// appendIdentity appends "fields IN (their values in rv)", for the
// elements of rv whose fields are not all zero.
func appendIdentity(conds []clause.Expression, stmt *gorm.Statement, rv reflect.Value, fields []*schema.Field) []clause.Expression {
	if len(fields) == 0 || !rv.IsValid() {
		return conds
	}
	_, values := schema.GetIdentityFieldValuesMap(stmt.Context, rv, fields)
	if len(values) == 0 {
		return conds
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.DBName
	}
	column, vals := schema.ToQueryValues(stmt.Table, names, values)
	return append(conds, clause.IN{Column: column, Values: vals})
}

// identityConds returns the conditions that find rows again by primary
// key; false if the table has none.
func identityConds(stmt *gorm.Statement, rows reflect.Value) ([]clause.Expression, bool) {
	if len(stmt.Schema.PrimaryFields) == 0 {
		return nil, false
	}
	return appendIdentity(nil, stmt, rows, stmt.Schema.PrimaryFields), true
}

// conflictConds returns the conditions of the rows an upsert's values may
// collide with (its conflict columns; by default the primary key), and
// false when they cannot be told (a named constraint, an unknown column).
func conflictConds(stmt *gorm.Statement, oc clause.OnConflict) ([]clause.Expression, bool) {
	if oc.OnConstraint != "" {
		return nil, false
	}
	fields := stmt.Schema.PrimaryFields
	if len(oc.Columns) > 0 {
		fields = make([]*schema.Field, len(oc.Columns))
		for i, col := range oc.Columns {
			if fields[i] = stmt.Schema.LookUpField(col.Name); fields[i] == nil {
				return nil, false
			}
		}
	}
	if len(fields) == 0 {
		return nil, false
	}
	return appendIdentity(nil, stmt, stmt.ReflectValue, fields), true
}

// isFullSave reports an update that wrote every column of its value
// (db.Save): the value in memory is the new row, no second read needed.
func isFullSave(stmt *gorm.Statement) bool {
	return stmt.Dest == stmt.Model && len(stmt.Selects) == 1 && stmt.Selects[0] == "*" &&
		len(stmt.Omits) == 0 && stmt.ReflectValue.Kind() == reflect.Struct
}

// load reads the rows of stmt's table matching conds, on the statement's
// connection (inside its transaction), into a new *[]Model. limit 0 means
// no limit; lock takes row locks on databases that have them.
func (p *plugin) load(db *gorm.DB, conds []clause.Expression, limit int, lock, unscoped bool) (reflect.Value, error) {
	stmt := db.Statement
	rows := reflect.New(reflect.SliceOf(stmt.Schema.ModelType))
	q := db.Session(&gorm.Session{NewDB: true}).Model(rows.Interface())
	q.Statement.Table, q.Statement.TableExpr = stmt.Table, stmt.TableExpr
	q.Statement.Unscoped = unscoped
	if len(conds) > 0 {
		q = q.Clauses(clause.Where{Exprs: conds})
	}
	if limit > 0 {
		q = q.Limit(limit)
	}
	if lock && locksRows(db.Dialector.Name()) {
		q = q.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate})
	}
	return rows, q.Find(rows.Interface()).Error
}

// locksRows reports dialects known to take SELECT … FOR UPDATE (SQLite's
// drops it, and serialises writers anyway).
func locksRows(dialect string) bool {
	switch dialect {
	case "postgres", "mysql":
		return true
	}
	return false
}

// appendRows appends a pointer to each row of rows (a *[]Model).
func appendRows(values []any, rows reflect.Value) []any {
	if !rows.IsValid() {
		return values
	}
	s := rows.Elem()
	for i := range s.Len() {
		values = append(values, s.Index(i).Addr().Interface())
	}
	return values
}

// appendValues appends a pointer to each model value the statement wrote
// (a struct, a slice or array of them or of pointers to them, maps of
// column values). It reports false for a value it could not read.
func appendValues(values []any, stmt *gorm.Statement) ([]any, bool) {
	return appendValue(values, stmt, stmt.ReflectValue)
}

func appendValue(values []any, stmt *gorm.Statement, rv reflect.Value) ([]any, bool) {
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return values, true
		}
		rv = rv.Elem()
	}
	switch rv.Kind() {
	case reflect.Struct:
		if rv.Type() != stmt.Schema.ModelType {
			return values, false
		}
		if rv.CanAddr() {
			return append(values, rv.Addr().Interface()), true
		}
		v := reflect.New(rv.Type())
		v.Elem().Set(rv)
		return append(values, v.Interface()), true
	case reflect.Slice, reflect.Array:
		ok := true
		for i := range rv.Len() {
			var elemOK bool
			values, elemOK = appendValue(values, stmt, rv.Index(i))
			ok = ok && elemOK
		}
		return values, ok
	case reflect.Map:
		return appendMap(values, stmt, rv)
	}
	return values, false
}

// appendMap builds a model value from a map of field or column names, as
// GORM takes them in db.Model(&Post{}).Create(map[string]any{…}).
func appendMap(values []any, stmt *gorm.Statement, rv reflect.Value) ([]any, bool) {
	m, ok := rv.Interface().(map[string]any)
	if !ok {
		return values, false
	}
	v := reflect.New(stmt.Schema.ModelType)
	for k, x := range m {
		f := stmt.Schema.LookUpField(k)
		if f == nil {
			continue
		}
		if err := f.Set(stmt.Context, v.Elem(), x); err != nil {
			return values, false // an SQL expression, say: the value is not known here
		}
	}
	return append(values, v.Interface()), true
}
