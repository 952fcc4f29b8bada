package cachetagging

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors. Errors about a template wrap one of these in an [*Error]
// naming the template and line; check them with [errors.Is].
var (
	// ErrNotPrepared: a block runs in a template that Renderer.Prepare did
	// not rewrite.
	ErrNotPrepared = errors.New("template not prepared: call Renderer.Prepare after parsing, before executing")
	// ErrNotRenderer: a prepared template was executed some other way than
	// with Renderer.ExecuteTemplate (Template.Execute, say), which would
	// write the renderer's markers into the page. The function that found
	// out fails before writing any.
	ErrNotRenderer = errors.New("a prepared template runs only through Renderer.ExecuteTemplate, not Template.Execute or Template.ExecuteTemplate")
	// ErrUnbalanced: a block's start and end do not match.
	ErrUnbalanced = errors.New("unbalanced block")
	// ErrMisplaced: a block or marker function is used where its output
	// would not reach the page as HTML text (an attribute, URL, script,
	// style or comment), inside another action, or outside
	// Renderer.ExecuteTemplate.
	ErrMisplaced = errors.New("misplaced block")
	// ErrBadArgument: a template function got an argument it cannot use.
	ErrBadArgument = errors.New("bad argument")
	// ErrConfig: the Renderer was configured wrongly (see the message).
	ErrConfig = errors.New("cachetagging: bad configuration")
	// ErrAfterExecute: Prepare was called on a template set that already
	// executed (html/template forbids changing it then).
	ErrAfterExecute = errors.New("cachetagging: Prepare called after the template set executed")
)

// Error is a problem with a template, located like html/template's errors.
type Error struct {
	Name   string // template name
	Line   int    // line in the template source, 0 if unknown
	Action string // the action as written, e.g. {{cache_tagging "k" .Tags}}, if known
	Err    error  // one of the sentinel errors, possibly wrapped with detail
}

// Error formats the problem as "cachetagging: template:line: action: what".
func (e *Error) Error() string {
	where := e.Name
	if e.Line > 0 {
		where = fmt.Sprintf("%s:%d", e.Name, e.Line)
	}
	if e.Action != "" {
		return fmt.Sprintf("cachetagging: %s: %s: %v", where, e.Action, e.Err)
	}
	return fmt.Sprintf("cachetagging: %s: %v", where, e.Err)
}

// Unwrap returns the underlying error, for [errors.Is].
func (e *Error) Unwrap() error { return e.Err }

// errAt makes an *Error at loc ("name:line", as Prepare writes it).
func errAt(loc string, err error, format string, args ...any) *Error {
	e := &Error{Name: loc}
	if i := strings.LastIndexByte(loc, ':'); i >= 0 {
		if n, convErr := strconv.Atoi(loc[i+1:]); convErr == nil {
			e.Name, e.Line = loc[:i], n
		}
	}
	e.Err = err
	if format != "" {
		e.Err = fmt.Errorf("%w: "+format, append([]any{err}, args...)...)
	}
	return e
}
