package cachetagging

import (
	"fmt"
	"html/template"
	"slices"
	"text/template/parse"

	"github.com/cachetagging/cachetagging/internal/sections"
)

// Prepare rewrites every cache_tagging … end_cache_tagging and phased …
// end_phased block in every template of t's set, so that a cache hit never
// executes a block's body while the body keeps its scope ($variables, dot,
// range variables), and each phased body becomes a section of the set run
// at phase 2. Constant block arguments are evaluated once, here (their
// errors are Prepare's), and each block's key gets a digest of its source
// and of the templates it invokes, so a deploy that changes a block never
// serves its old entries ([WithoutDigests] turns that off). Other
// arguments are evaluated when the block executes: once on a hit, twice on
// a miss (the hit path reads first, then the build reads again), so they
// should be free of side effects, as template expressions usually are.
//
// It reports, each as an [*Error] naming template and line: unbalanced
// blocks, blocks split across {{if}}/{{range}}/{{with}} boundaries, block
// and hole functions used inside other actions or pipelines, blocks and
// holes placed where html/template would not write their output as HTML
// text (attributes, URLs, scripts, styles, comments), phased sections that
// do not start and end in HTML text, and nocache handlers that are not
// registered ([Renderer.Nocache] comes first).
//
// Call it after every template of the set is parsed and before the first
// execution: html/template forbids changing a set that has executed
// ([ErrAfterExecute]). Calling it again is harmless; templates parsed into
// the set since are prepared then.
func (r *Renderer) Prepare(t *template.Template) error {
	if err := r.configErr(); err != nil {
		return err
	}
	if t == nil {
		return fmt.Errorf("%w: Prepare(nil)", ErrConfig)
	}
	r.mu.Lock()
	defer r.mu.Unlock()

	rw := rewriter{r: r, sources: map[string]string{}, calls: map[string][]string{}, funcs: template.FuncMap{}}
	var fresh []*template.Template
	for _, tt := range t.Templates() {
		if tt.Tree == nil || tt.Tree.Root == nil {
			continue
		}
		name := tt.Name()
		if src, ok := r.sources[name]; ok && r.prepared[tt.Tree] {
			rw.sources[name] = src // as it was before its rewriting
		} else {
			rw.sources[name] = tt.Tree.Root.String()
		}
		rw.calls[name] = invoked(tt.Tree.Root)
		if !r.prepared[tt.Tree] {
			fresh = append(fresh, tt)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	var changed []*parse.Tree
	for _, tt := range fresh {
		if !mentions(tt.Tree.Root, ownIdents) {
			continue
		}
		nt := tt.Tree.Copy()
		if err := rw.rewrite(nt); err != nil {
			return err
		}
		changed = append(changed, nt)
	}
	for id, d := range rw.descs {
		d.settle()
		rw.funcs[fnOpen+id] = bind(d, d.open)
		if d.fast {
			rw.funcs[fnHit+id] = bind(d, d.hit)
		}
	}
	t.Funcs(rw.funcs)
	for _, tree := range append(changed, rw.sections...) {
		if _, err := t.AddParseTree(tree.Name, tree); err != nil {
			return fmt.Errorf("%w: %v", ErrAfterExecute, err)
		}
	}
	for _, sec := range rw.sections {
		r.sections.Add(t.Lookup(sec.Name))
	}
	if err := checkContexts(t, rw.sectionLocs); err != nil {
		return err
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			r.prepared[tt.Tree] = true
		}
	}
	for name, src := range rw.sources {
		if _, isSection := rw.sectionLocs[name]; !isSection {
			r.sources[name] = src
		}
	}
	r.setPagePrefix(setDigestOf(r.sources))
	return nil
}

// ownIdents are the functions Prepare rewrites or checks: each must stand
// alone as the head of an action.
var ownIdents = []string{identBlock, identEndBlock, identPhased, identEndPhased, identAddTags, identPrevent, identNocache}

// rewriter rewrites the trees of one Prepare call.
type rewriter struct {
	r           *Renderer
	sources     map[string]string   // every template's source, before rewriting
	calls       map[string][]string // the templates each invokes
	funcs       template.FuncMap
	descs       map[string]*blockDesc // by block id: functions fnHit+id and fnOpen+id
	tree        *parse.Tree
	vars        int
	sections    []*parse.Tree
	sectionLocs map[string]string // section name → "template:line"
}

func (rw *rewriter) rewrite(tree *parse.Tree) error {
	rw.tree, rw.vars = tree, 0
	if rw.descs == nil {
		rw.descs, rw.sectionLocs = map[string]*blockDesc{}, map[string]string{}
	}
	// A block or hole function anywhere but at the head of its own action
	// (in a declaration, a condition, a pipeline, an argument) is an error
	// of its own, not an unbalanced block.
	standalone := map[parse.Node]bool{}
	walk(tree.Root, func(n parse.Node) {
		if k, a := classify(n); k != none {
			standalone[a.Pipe.Cmds[0].Args[0]] = true
		}
	})
	var err error
	walk(tree.Root, func(n parse.Node) {
		if err != nil {
			return
		}
		id, ok := n.(*parse.IdentifierNode)
		if !ok || !slices.Contains(ownIdents, id.Ident) {
			return
		}
		if !standalone[n] {
			err = rw.errAt(n, ErrMisplaced, "%s must stand alone, as {{ %s ... }}", id.Ident, id.Ident)
		}
	})
	if err != nil {
		return err
	}
	if err := rw.checkHandlers(tree.Root); err != nil {
		return err
	}
	return rw.list(tree.Root)
}

// checkHandlers reports {{ nocache "name" }} for a handler that is not
// registered: found now, not at the first request that shows it.
func (rw *rewriter) checkHandlers(root parse.Node) error {
	var err error
	walk(root, func(n parse.Node) {
		k, a := classify(n)
		if err != nil || k != hole {
			return
		}
		args := a.Pipe.Cmds[0].Args
		if len(args) < 2 {
			err = rw.errAt(a, ErrBadArgument, "nocache needs a handler name")
			return
		}
		if s, ok := args[1].(*parse.StringNode); ok && !rw.r.holes.Has(s.Text) {
			err = rw.errAt(a, ErrBadArgument, "nocache handler %q is not registered (register handlers with Renderer.Nocache before Prepare)", s.Text)
		}
	})
	return err
}

type kind int

const (
	none kind = iota
	startBlock
	endBlock
	startPhased
	endPhased
	addTags
	prevent
	hole
)

func classify(n parse.Node) (kind, *parse.ActionNode) {
	a, ok := n.(*parse.ActionNode)
	if !ok || len(a.Pipe.Decl) > 0 || len(a.Pipe.Cmds) != 1 {
		return none, nil
	}
	id, ok := a.Pipe.Cmds[0].Args[0].(*parse.IdentifierNode)
	if !ok {
		return none, nil
	}
	switch id.Ident {
	case identBlock:
		return startBlock, a
	case identEndBlock:
		return endBlock, a
	case identPhased:
		return startPhased, a
	case identEndPhased:
		return endPhased, a
	case identAddTags:
		return addTags, a
	case identPrevent:
		return prevent, a
	case identNocache:
		return hole, a
	}
	return none, nil
}

// list pairs the starts and ends of one list (blocks never span an
// {{if}}/{{range}}/{{with}} boundary) after rewriting the lists it holds.
func (rw *rewriter) list(l *parse.ListNode) error {
	if l == nil {
		return nil
	}
	for _, n := range l.Nodes {
		if b := branch(n); b != nil {
			if err := rw.list(b.List); err != nil {
				return err
			}
			if err := rw.list(b.ElseList); err != nil {
				return err
			}
		}
	}
	type open struct {
		kind kind
		at   int
		node *parse.ActionNode
	}
	var stack []open
	out := make([]parse.Node, 0, len(l.Nodes))
	for i, n := range l.Nodes {
		k, a := classify(n)
		switch k {
		case startBlock, startPhased:
			stack = append(stack, open{k, len(out), a})
			out = append(out, n)
		case endBlock, endPhased:
			if len(stack) == 0 || stack[len(stack)-1].kind != k-1 {
				return rw.errAt(a, ErrUnbalanced, "%s without a matching %s in the same block",
					blockName(k), blockName(k-1))
			}
			if len(a.Pipe.Cmds[0].Args) > 1 {
				return rw.errAt(a, ErrBadArgument, "%s takes no arguments", blockName(k))
			}
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			body := slices.Clone(out[top.at+1:])
			var repl []parse.Node
			var err error
			if err := rw.checkBodyScope(top.kind, body, l.Nodes[i+1:]); err != nil {
				return err
			}
			if top.kind == startBlock {
				repl, err = rw.cacheBlock(top.node, body)
			} else {
				repl, err = rw.phasedBlock(top.node, body)
			}
			if err != nil {
				return err
			}
			out = append(out[:top.at], repl...)
		case addTags, prevent:
			fn := fnAddTags
			if k == prevent {
				fn = fnPrevent
			}
			// The enclosing block, if the template has one, is filled in by
			// adopt; until then the handle is nil.
			args := append([]parse.Node{nilNode(a.Pos), str(a.Pos, rw.loc(a))}, a.Pipe.Cmds[0].Args[1:]...)
			out = append(out, action(a.Pos, a.Line, nil, fn, args...))
		default:
			out = append(out, n)
		}
	}
	if len(stack) > 0 {
		top := stack[len(stack)-1]
		return rw.errAt(top.node, ErrUnbalanced, "%s is never closed by %s in the same {{if}}/{{range}}/{{with}} block",
			blockName(top.kind), blockName(top.kind+1))
	}
	l.Nodes = out
	return nil
}

func blockName(k kind) string {
	return [...]string{"", identBlock, identEndBlock, identPhased, identEndPhased}[k]
}

// phasedBlock cuts BODY out into a section and leaves its hole:
// {{_cachetagging_phased "tmpl:line" "section" STASH...}}.
func (rw *rewriter) phasedBlock(start *parse.ActionNode, body []parse.Node) ([]parse.Node, error) {
	root := list(start.Pos, body...)
	if err := rw.checkSectionScope(start, root); err != nil {
		return nil, err
	}
	name := sections.Name(rw.tree.Name, root.String())
	rw.sections = append(rw.sections, &parse.Tree{Name: name, ParseName: rw.tree.ParseName, Root: root})
	rw.sectionLocs[name] = rw.loc(start)
	args := append([]parse.Node{str(start.Pos, rw.loc(start)), str(start.Pos, name)}, start.Pipe.Cmds[0].Args[1:]...)
	return []parse.Node{action(start.Pos, start.Line, nil, fnPhased, args...)}, nil
}

// checkSectionScope rejects variables of the enclosing scope in a phased
// body: it runs at phase 2, alone, with dot = stash + Live.
func (rw *rewriter) checkSectionScope(start *parse.ActionNode, root *parse.ListNode) error {
	declared := declaredIn(root)
	declared["$"] = true
	var err error
	walk(root, func(n parse.Node) {
		if v, ok := n.(*parse.VariableNode); ok && err == nil && !declared[v.Ident[0]] {
			err = rw.errAt(start, ErrBadArgument, "the phased section uses %s from the enclosing scope: "+
				"pass it in the stash ({{ phased \"name\" %s }}) and use .name", v.Ident[0], v.Ident[0])
		}
	})
	return err
}

// loc is "template:line" of n, as errors print it.
func (rw *rewriter) loc(n parse.Node) string { return location(rw.tree, n) }

func (rw *rewriter) errAt(n parse.Node, err error, format string, args ...any) *Error {
	return errAt(rw.loc(n), err, format, args...)
}
