package cachetagging

import (
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/cachetagging/cachetagging/tmplcache"
)

// The values of {{ cache_timeout T }}, {{ cache_grace T }} and
// {{ cache_digest false }}: block options, told apart from tags by type.
type (
	timeout   time.Duration
	grace     time.Duration
	digestOpt bool
)

// seconds reads T: seconds (an integer) or a Go duration string ("90s").
func seconds(fn string, v any, zeroOK bool) (time.Duration, error) {
	var d time.Duration
	switch x := v.(type) {
	case string:
		var err error
		if d, err = time.ParseDuration(x); err != nil {
			n, nerr := strconv.Atoi(x)
			if nerr != nil {
				return 0, fmt.Errorf("%w: %s %q: want seconds or a duration like \"90s\"", ErrBadArgument, fn, x)
			}
			d = time.Duration(n) * time.Second
		}
	case time.Duration:
		d = x
	default:
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			d = time.Duration(rv.Int()) * time.Second
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			d = time.Duration(rv.Uint()) * time.Second
		default:
			return 0, fmt.Errorf("%w: %s %v (%T): want seconds or a duration like \"90s\"", ErrBadArgument, fn, v, v)
		}
	}
	if d < 0 || (d == 0 && !zeroOK) {
		return 0, fmt.Errorf("%w: %s %v: must be positive", ErrBadArgument, fn, v)
	}
	return d, nil
}

func cacheTimeout(v any) (timeout, error) {
	d, err := seconds("cache_timeout", v, false)
	return timeout(d), err
}

func cacheGrace(v any) (grace, error) {
	d, err := seconds("cache_grace", v, true)
	return grace(d), err
}

func cacheDigest(on bool) digestOpt { return digestOpt(on) }

// blockArgs are the arguments of {{ cache_tagging KEY ... }}.
type blockArgs struct {
	key      string
	hasKey   bool
	tags     []string
	ttl      time.Duration
	grace    time.Duration
	noDigest bool
}

// add takes the next argument: the key first, then tags, lists of tags and
// options.
func (a *blockArgs) add(v any) error {
	if !a.hasKey {
		return a.setKey(v)
	}
	switch x := v.(type) {
	case timeout:
		if a.ttl != 0 {
			return fmt.Errorf("%w: cache_timeout given twice", ErrBadArgument)
		}
		a.ttl = time.Duration(x)
	case grace:
		a.grace = time.Duration(x)
	case digestOpt:
		a.noDigest = !bool(x)
	default:
		var err error
		a.tags, err = appendTags(a.tags, v)
		return err
	}
	return nil
}

// setKey takes the key.
func (a *blockArgs) setKey(v any) error {
	k, ok := stringOf(v)
	if !ok || k == "" {
		return fmt.Errorf("%w: the key must be a non-empty string, got %#v", ErrBadArgument, v)
	}
	a.key, a.hasKey = k, true
	return nil
}

// appendTags flattens a tag, or a list ([]string, []any, any slice) of
// tags and lists, onto tags.
func appendTags(tags []string, v any) ([]string, error) {
	if s, ok := stringOf(v); ok {
		if err := checkTag(s); err != nil {
			return nil, err
		}
		return append(tags, s), nil
	}
	if ss, ok := v.([]string); ok {
		for _, s := range ss {
			if err := checkTag(s); err != nil {
				return nil, err
			}
		}
		return append(tags, ss...), nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, fmt.Errorf("%w: a tag must be a string or a list of strings, got %#v (%T)", ErrBadArgument, v, v)
	}
	for i := range rv.Len() {
		var err error
		if tags, err = appendTags(tags, rv.Index(i).Interface()); err != nil {
			return nil, err
		}
	}
	return tags, nil
}

func checkTag(s string) error {
	if err := tmplcache.CheckTag(s); err != nil {
		return fmt.Errorf("%w: %w", ErrBadArgument, err)
	}
	return nil
}

// stringOf accepts strings and named string types (type Slug string).
func stringOf(v any) (string, bool) {
	if s, ok := v.(string); ok {
		return s, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.String {
		return rv.String(), true
	}
	return "", false
}
