package cachetagging

import (
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/template/parse"
)

// emitting are the functions whose output is a marker: it must reach the
// stream as HTML text, which html/template writes verbatim only there (in
// an attribute it would be escaped, in a comment dropped...).
var emitting = []string{hitMarker, markField, fnEnd, fnPhased, identNocache, fnAddTags, fnPrevent}

// markField stands for the block marker a rewritten block prints as a
// field of its variable: {{$__cachetagging1.Mark}}; hitMarker for the Hit
// marker of its fast path, its variable: {{$__cachetagging1_hit}}.
const (
	markField = "Mark"
	hitMarker = "$hit"
)

// escaperContexts names the context each html/template escaper stands for.
var escaperContexts = map[string]string{
	"_html_template_attrescaper":      "an attribute value",
	"_html_template_nospaceescaper":   "an unquoted attribute value",
	"_html_template_htmlnamefilter":   "a tag or attribute name",
	"_html_template_urlfilter":        "a URL",
	"_html_template_urlescaper":       "a URL",
	"_html_template_urlnormalizer":    "a URL",
	"_html_template_srcsetescaper":    "a srcset attribute",
	"_html_template_jsvalescaper":     "JavaScript",
	"_html_template_jsstrescaper":     "a JavaScript string",
	"_html_template_jstmpllitescaper": "a JavaScript template literal",
	"_html_template_jsregexpescaper":  "a JavaScript regexp",
	"_html_template_cssvaluefilter":   "CSS",
	"_html_template_cssescaper":       "CSS",
	"_html_template_rcdataescaper":    "<title> or <textarea> text",
	"_html_template_commentescaper":   "an HTML comment",
}

// checkContexts finds marker functions placed outside HTML text, and
// phased sections (named in sections, with their location) that do not
// start and end in it. It lets html/template compute every context on a
// clone of the set (a probe that names every template inside {{if false}},
// so nothing runs) and reads the escapers it chose. The set itself stays
// unexecuted.
func checkContexts(t *template.Template, sections map[string]string) error {
	for name, loc := range sections {
		if _, ok := probe(t, []string{name}); !ok {
			return errAt(loc, ErrMisplaced, "the phased section must start and end in HTML text "+
				"(it would leave the page inside a tag, script, style or comment)")
		}
	}
	users := emittingTemplates(t)
	if len(users) == 0 {
		return nil
	}
	var names []string
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			names = append(names, tt.Name())
		}
	}
	slices.Sort(names)
	if clone, ok := probe(t, names); ok {
		return inspect(clone, users)
	}
	// One template cannot be probed from text context (it ends in another
	// context): probe each alone, skipping those.
	for _, name := range names {
		if clone, ok := probe(t, []string{name}); ok {
			if err := inspect(clone, users); err != nil {
				return err
			}
		}
	}
	return nil
}

const probeName = "_cachetagging_probe"

func probe(t *template.Template, names []string) (*template.Template, bool) {
	clone, err := t.Clone()
	if err != nil {
		return nil, false // executed already: nothing can be checked
	}
	var b strings.Builder
	for _, n := range names {
		b.WriteString("{{if false}}{{template " + strconv.Quote(n) + " .}}{{end}}")
	}
	p, err := clone.New(probeName).Parse(b.String())
	if err != nil {
		return nil, false
	}
	if err := p.Execute(io.Discard, nil); err != nil {
		return nil, false
	}
	return clone, true
}

// inspect reads the escaped clone: every marker function must have got the
// plain HTML-text escaper, and no template holding one may be called from
// another context.
func inspect(clone *template.Template, users map[string]bool) error {
	var err error
	for _, tt := range clone.Templates() {
		tree := tt.Tree
		if tree == nil || tt.Name() == probeName {
			continue
		}
		walk(tree.Root, func(n parse.Node) {
			if err != nil {
				return
			}
			switch n := n.(type) {
			case *parse.ActionNode:
				fn := firstIdent(n.Pipe)
				if !slices.Contains(emitting, fn) {
					return
				}
				if ctx := escapedContext(n.Pipe); ctx != "" {
					err = errAt(location(tree, n), ErrMisplaced,
						"%s in %s: blocks and holes only work in HTML text", userName(fn), ctx)
				}
			case *parse.TemplateNode:
				base, derived, _ := strings.Cut(n.Name, "$htmltemplate_")
				if derived != "" && users[base] {
					err = errAt(location(tree, n), ErrMisplaced,
						"template %q holds blocks or holes but is called outside HTML text", base)
				}
			}
		})
	}
	return err
}

// firstIdent names the function a pipeline starts with, or markField or
// hitMarker for a block's marker.
func firstIdent(p *parse.PipeNode) string {
	if p == nil || len(p.Cmds) == 0 {
		return ""
	}
	switch a := p.Cmds[0].Args[0].(type) {
	case *parse.IdentifierNode:
		return a.Ident
	case *parse.VariableNode:
		switch {
		case !strings.HasPrefix(a.Ident[0], varPrefix):
		case len(a.Ident) == 2 && a.Ident[1] == markField:
			return markField
		case len(a.Ident) == 1 && strings.HasSuffix(a.Ident[0], hitSuffix):
			return hitMarker
		}
	}
	return ""
}

// escapedContext returns "" when html/template wrote the pipeline's output
// as HTML text, else the context it was in.
func escapedContext(p *parse.PipeNode) string {
	var escapers []string
	for _, c := range p.Cmds {
		if id, ok := c.Args[0].(*parse.IdentifierNode); ok && strings.HasPrefix(id.Ident, "_html_template_") {
			escapers = append(escapers, id.Ident)
		}
	}
	if len(escapers) == 1 && escapers[0] == "_html_template_htmlescaper" {
		return ""
	}
	for _, e := range escapers {
		if ctx, ok := escaperContexts[e]; ok {
			return ctx
		}
	}
	return "a context other than HTML text"
}

// userName is what the template author wrote for an internal function.
func userName(fn string) string {
	switch fn {
	case markField, hitMarker, fnEnd:
		return identBlock
	case fnPhased:
		return identPhased
	case fnAddTags:
		return identAddTags
	case fnPrevent:
		return identPrevent
	}
	return fn
}

func location(tree *parse.Tree, n parse.Node) string {
	where, _ := tree.ErrorContext(n)
	if i := strings.LastIndexByte(where, ':'); i >= 0 {
		where = where[:i]
	}
	return where
}

// emittingTemplates returns the templates that write markers, directly or
// through the templates they call.
func emittingTemplates(t *template.Template) map[string]bool {
	calls := map[string][]string{}
	users := map[string]bool{}
	for _, tt := range t.Templates() {
		if tt.Tree == nil {
			continue
		}
		name := tt.Name()
		walk(tt.Tree.Root, func(n parse.Node) {
			switch n := n.(type) {
			case *parse.ActionNode:
				if slices.Contains(emitting, firstIdent(n.Pipe)) {
					users[name] = true
				}
			case *parse.TemplateNode:
				calls[name] = append(calls[name], n.Name)
			}
		})
	}
	for changed := true; changed; {
		changed = false
		for caller, callees := range calls {
			if users[caller] {
				continue
			}
			for _, c := range callees {
				if users[c] {
					users[caller], changed = true, true
					break
				}
			}
		}
	}
	return users
}
