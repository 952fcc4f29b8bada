// Package sections holds and runs the phased sections of prepared template
// sets (see package phased for what a template author sees): the part of a
// cached fragment between {{ phased }} and {{ end_phased }} becomes a
// section of its set, and the fragment keeps a nocache hole naming it.
package sections

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"reflect"
	"sync"

	"github.com/cachetagging/cachetagging/nocache"
	"github.com/cachetagging/cachetagging/phased"
)

// HandlerName is the nocache handler that runs sections.
const HandlerName = "cachetagging.phased"

const (
	// LiveKey is phased.LiveKey.
	LiveKey = phased.LiveKey
)

var (
	ErrUnknownSection = phased.ErrUnknownSection
	ErrBadStash       = phased.ErrBadStash
)

// Name returns the section name for a phased block of template tmpl whose
// body has the given source. It is the same in every process that parsed
// the same template text.
func Name(tmpl, source string) string {
	h := sha256.Sum256([]byte(tmpl + "\x00" + source))
	return "phased:" + tmpl + ":" + hex.EncodeToString(h[:8])
}

// Executor runs a section (a template of a prepared set) with data.
type Executor func(ctx context.Context, w io.Writer, t *template.Template, data any) error

// Sections are the sections of every prepared template set. The zero value
// is ready to use; it is safe for concurrent use.
type Sections struct {
	mu sync.RWMutex
	m  map[string]*template.Template
}

// Add makes section t known under its name.
func (s *Sections) Add(t *template.Template) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]*template.Template)
	}
	s.m[t.Name()] = t
}

// Lookup returns the section named name, or nil.
func (s *Sections) Lookup(name string) *template.Template {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m[name]
}

// Handler returns the nocache handler running sections with exec. Its call
// arguments are the section name and the stash ([Args]).
func (s *Sections) Handler(exec Executor) nocache.Func {
	return func(ctx context.Context, w io.Writer, call nocache.Call) error {
		if len(call.Args) != 2 {
			return fmt.Errorf("%w: %d arguments", ErrBadStash, len(call.Args))
		}
		name, _ := call.Args[0].(string)
		t := s.Lookup(name)
		if t == nil {
			return fmt.Errorf("%w: %q", ErrUnknownSection, name)
		}
		stash, _ := call.Args[1].(map[string]any)
		dot := make(map[string]any, len(stash)+1)
		for k, v := range stash {
			dot[k] = v
		}
		dot[LiveKey] = call.Live
		return exec(ctx, w, t, dot)
	}
}

// Args returns the nocache arguments for a section call.
func Args(section string, stash map[string]any) []any {
	if stash == nil {
		stash = map[string]any{}
	}
	return []any{section, stash}
}

// Stash builds a stash from the arguments of {{ phased ... }}: nothing, one
// map with string keys (a sprig dict), or KEY VALUE pairs.
func Stash(args ...any) (map[string]any, error) {
	switch {
	case len(args) == 0:
		return map[string]any{}, nil
	case len(args) == 1:
		rv := reflect.ValueOf(args[0])
		if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("%w: one argument must be a map with string keys (a dict), got %T", ErrBadStash, args[0])
		}
		m := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			m[it.Key().String()] = it.Value().Interface()
		}
		return checkKeys(m)
	case len(args)%2 != 0:
		return nil, fmt.Errorf("%w: %d arguments: give KEY VALUE pairs", ErrBadStash, len(args))
	}
	m := make(map[string]any, len(args)/2)
	for i := 0; i < len(args); i += 2 {
		k, ok := args[i].(string)
		if !ok {
			return nil, fmt.Errorf("%w: key %d is %T, not a string", ErrBadStash, i/2+1, args[i])
		}
		m[k] = args[i+1]
	}
	return checkKeys(m)
}

func checkKeys(m map[string]any) (map[string]any, error) {
	if _, ok := m[LiveKey]; ok {
		return nil, fmt.Errorf("%w: the key %q is reserved for the live data", ErrBadStash, LiveKey)
	}
	return m, nil
}
