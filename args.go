package cachetagging

import (
	"fmt"
	"reflect"
	"strconv"
	"time"
)

// timeout is what {{ cache_timeout T }} returns: seconds or a duration.
type timeout time.Duration

func cacheTimeout(v any) (timeout, error) {
	var d time.Duration
	switch x := v.(type) {
	case string:
		var err error
		if d, err = time.ParseDuration(x); err != nil {
			n, nerr := strconv.Atoi(x)
			if nerr != nil {
				return 0, fmt.Errorf("%w: cache_timeout %q: want seconds or a duration like \"90s\"", ErrBadArgument, x)
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
			return 0, fmt.Errorf("%w: cache_timeout %v (%T): want seconds or a duration like \"90s\"", ErrBadArgument, v, v)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%w: cache_timeout %v: must be positive", ErrBadArgument, v)
	}
	return timeout(d), nil
}

// blockArgs are the arguments of {{ cache_tagging KEY ... }}.
type blockArgs struct {
	key  string
	tags []string
	ttl  time.Duration
}

func parseBlockArgs(key any, args []any) (blockArgs, error) {
	var a blockArgs
	k, ok := stringOf(key)
	if !ok || k == "" {
		return a, fmt.Errorf("%w: the key must be a non-empty string, got %#v", ErrBadArgument, key)
	}
	a.key = k
	for _, v := range args {
		if t, ok := v.(timeout); ok {
			if a.ttl != 0 {
				return a, fmt.Errorf("%w: cache_timeout given twice", ErrBadArgument)
			}
			a.ttl = time.Duration(t)
			continue
		}
		var err error
		if a.tags, err = appendTags(a.tags, v); err != nil {
			return a, err
		}
	}
	return a, nil
}

// appendTags flattens a tag, or a list ([]string, []any, any slice) of
// tags and lists, onto tags.
func appendTags(tags []string, v any) ([]string, error) {
	if s, ok := stringOf(v); ok {
		if s == "" {
			return nil, fmt.Errorf("%w: empty tag", ErrBadArgument)
		}
		return append(tags, s), nil
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
