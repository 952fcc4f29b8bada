package cachetagging

import (
	"fmt"
	"hash/fnv"
	"html/template"
	"slices"
	"strconv"
	"strings"
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
		rw.funcs[fnOpen+id] = d.fn()
		if d.fast {
			rw.funcs[fnHit+id] = d.hitFn()
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
	for _, n := range l.Nodes {
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

// cacheBlock turns {{cache_tagging ARGS}}BODY{{end_cache_tagging}} into
//
//	{{$h := _cachetagging_open_ID PARENT DYNAMIC_ARGS}}{{$h.Mark}}{{if $h.Miss}}BODY{{_cachetagging_end $h}}{{end}}
//
// so BODY runs, in place and in scope, only on a miss. The block's
// functions are its own, bound to its descriptor (constant arguments
// evaluated once); PARENT is the enclosing block of the same template, or
// nil. $h.Mark is the Hit marker, or the Begin marker of a miss: a field,
// printed without a function call.
//
// When the store is in this process, where a read costs a microsecond, a
// fast path comes first:
//
//	{{if $hit := _cachetagging_hit_ID PARENT DYNAMIC_ARGS}}{{$hit}}{{else}}OPENED{{end}}
//
// A hit on a fresh entry costs one call and one print there (the hit
// function returns the Hit marker); anything else (a miss, an entry within
// its grace or near its expiry) goes on to the open function, OPENED being
// the form above, which reads again. A shared store has no fast path: each
// read is a round trip, and a miss would make two.
func (rw *rewriter) cacheBlock(start *parse.ActionNode, body []parse.Node) ([]parse.Node, error) {
	args := start.Pipe.Cmds[0].Args[1:]
	if len(args) == 0 {
		return nil, rw.errAt(start, ErrBadArgument, "cache_tagging needs a key")
	}
	loc := rw.loc(start)
	d := &blockDesc{r: rw.r, loc: loc, action: start.String()}
	if rw.r.digests {
		d.digest = blockDigest(body, rw.sources, rw.calls)
	}
	var dyn []parse.Node
	for _, a := range args {
		v, ok, err := constant(a)
		if err != nil {
			return nil, d.fail(err)
		}
		if ok {
			d.slots = append(d.slots, slot{value: v})
			continue
		}
		d.slots = append(d.slots, slot{dynamic: true})
		dyn = append(dyn, a)
	}
	d.nDyn = len(dyn)
	if err := d.finish(); err != nil {
		return nil, err
	}
	id := rw.blockID(start)
	rw.descs[id] = d

	rw.vars++
	name := varPrefix + strconv.Itoa(rw.vars)
	pos, line := start.Pos, start.Line
	v := func(field ...string) *parse.VariableNode {
		return &parse.VariableNode{NodeType: parse.NodeVariable, Pos: pos, Ident: append([]string{name}, field...)}
	}
	rw.adopt(body, func() *parse.VariableNode { return v() })
	miss := append(body, action(pos, line, nil, fnEnd, v()))
	callArgs := func() []parse.Node { // each call its own nodes
		args := []parse.Node{nilNode(pos)}
		for _, n := range dyn {
			args = append(args, n.Copy())
		}
		return args
	}
	open := action(pos, line, v(), fnOpen+id, callArgs()...)
	d.calls = []*parse.CommandNode{open.Pipe.Cmds[0]}
	opened := []parse.Node{
		open,
		&parse.ActionNode{NodeType: parse.NodeAction, Pos: pos, Line: line, Pipe: pipe(pos, line, nil, v("Mark"))},
		&parse.IfNode{BranchNode: parse.BranchNode{NodeType: parse.NodeIf, Pos: pos, Line: line,
			Pipe: pipe(pos, line, nil, v("Miss")), List: list(pos, miss...)}},
	}
	if rw.r.c.Shared() {
		// A read is a round trip: a miss must not make two.
		return opened, nil
	}
	hitVar := &parse.VariableNode{NodeType: parse.NodeVariable, Pos: pos, Ident: []string{name + hitSuffix}}
	hit := action(pos, line, hitVar, fnHit+id, callArgs()...).Pipe
	d.calls = append(d.calls, hit.Cmds[0])
	d.fast = true
	return []parse.Node{
		&parse.IfNode{BranchNode: parse.BranchNode{NodeType: parse.NodeIf, Pos: pos, Line: line, Pipe: hit,
			List: list(pos, &parse.ActionNode{NodeType: parse.NodeAction, Pos: pos, Line: line,
				Pipe: pipe(pos, line, nil, hitVar.Copy())}),
			ElseList: list(pos, opened...),
		}},
	}, nil
}

// varPrefix names the variables the rewriting declares: $__cachetagging1...,
// and $__cachetagging1_hit for the Hit marker of the block's fast path.
const (
	varPrefix = "$__cachetagging"
	hitSuffix = "_hit"
)

// blockID names a block's open function: the same in every process that
// parsed the same template (its digest depends on it when blocks nest).
func (rw *rewriter) blockID(n parse.Node) string {
	h := fnv.New64a()
	h.Write([]byte(rw.tree.Name))
	return strconv.FormatUint(h.Sum64(), 36) + "_" + strconv.Itoa(int(n.Position()))
}

// adopt makes the block whose handle v names the parent of the calls in
// body that have none yet: nested blocks' open functions, added tags and
// prevention. Those of blocks nested deeper were adopted by their own block.
func (rw *rewriter) adopt(body []parse.Node, v func() *parse.VariableNode) {
	for _, n := range body {
		walk(n, func(n parse.Node) {
			c, ok := n.(*parse.CommandNode)
			if !ok || len(c.Args) < 2 {
				return
			}
			id, ok := c.Args[0].(*parse.IdentifierNode)
			if !ok {
				return
			}
			d := rw.descOf(id.Ident)
			if id.Ident != fnAddTags && id.Ident != fnPrevent && d == nil {
				return
			}
			if _, unset := c.Args[1].(*parse.NilNode); unset {
				c.Args[1] = v()
				if d != nil {
					d.nested = true
				}
			}
		})
	}
}

// descOf returns the block whose function fn is, or nil.
func (rw *rewriter) descOf(fn string) *blockDesc {
	if id, ok := strings.CutPrefix(fn, fnHit); ok {
		return rw.descs[id]
	}
	if id, ok := strings.CutPrefix(fn, fnOpen); ok {
		return rw.descs[id]
	}
	return nil
}

// constant evaluates an argument whose value Prepare knows: a literal, or
// cache_timeout, cache_grace or cache_digest of a literal. Its error is
// Prepare's.
func constant(n parse.Node) (any, bool, error) {
	switch n := n.(type) {
	case *parse.StringNode:
		return n.Text, true, nil
	case *parse.BoolNode:
		return n.True, true, nil
	case *parse.NumberNode:
		if n.IsInt {
			return n.Int64, true, nil
		}
		if n.IsFloat {
			return n.Float64, true, nil
		}
	case *parse.PipeNode:
		if len(n.Decl) > 0 || len(n.Cmds) != 1 || len(n.Cmds[0].Args) != 2 {
			return nil, false, nil
		}
		id, ok := n.Cmds[0].Args[0].(*parse.IdentifierNode)
		if !ok {
			return nil, false, nil
		}
		v, ok, err := constant(n.Cmds[0].Args[1])
		if !ok || err != nil {
			return nil, false, err
		}
		switch id.Ident {
		case "cache_timeout":
			return evaluated(cacheTimeout(v))
		case "cache_grace":
			return evaluated(cacheGrace(v))
		case "cache_digest":
			if b, isBool := v.(bool); isBool {
				return cacheDigest(b), true, nil
			}
		}
	}
	return nil, false, nil
}

func evaluated[T any](v T, err error) (any, bool, error) { return v, err == nil, err }

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
	declared := map[string]bool{"$": true}
	walk(root, func(n parse.Node) {
		if p, ok := n.(*parse.PipeNode); ok {
			for _, d := range p.Decl {
				declared[d.Ident[0]] = true
			}
		}
	})
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

func action(pos parse.Pos, line int, decl *parse.VariableNode, fn string, args ...parse.Node) *parse.ActionNode {
	p := pipe(pos, line, decl, append([]parse.Node{parse.NewIdentifier(fn).SetPos(pos)}, args...)...)
	return &parse.ActionNode{NodeType: parse.NodeAction, Pos: pos, Line: line, Pipe: p}
}

// pipe is a pipeline of one command, declaring decl if not nil.
func pipe(pos parse.Pos, line int, decl *parse.VariableNode, args ...parse.Node) *parse.PipeNode {
	p := &parse.PipeNode{NodeType: parse.NodePipe, Pos: pos, Line: line,
		Cmds: []*parse.CommandNode{{NodeType: parse.NodeCommand, Pos: pos, Args: args}}}
	if decl != nil {
		p.Decl = []*parse.VariableNode{decl}
	}
	return p
}

func str(pos parse.Pos, s string) *parse.StringNode {
	return &parse.StringNode{NodeType: parse.NodeString, Pos: pos, Quoted: strconv.Quote(s), Text: s}
}

func nilNode(pos parse.Pos) *parse.NilNode {
	return &parse.NilNode{NodeType: parse.NodeNil, Pos: pos}
}

func list(pos parse.Pos, nodes ...parse.Node) *parse.ListNode {
	return &parse.ListNode{NodeType: parse.NodeList, Pos: pos, Nodes: nodes}
}

// branch returns the branches of an if, range or with node.
func branch(n parse.Node) *parse.BranchNode {
	switch n := n.(type) {
	case *parse.IfNode:
		return &n.BranchNode
	case *parse.RangeNode:
		return &n.BranchNode
	case *parse.WithNode:
		return &n.BranchNode
	}
	return nil
}

// walk calls fn for n and every node below it.
func walk(n parse.Node, fn func(parse.Node)) {
	switch n := n.(type) {
	case nil:
	case *parse.ListNode:
		if n != nil {
			fn(n)
			for _, c := range n.Nodes {
				walk(c, fn)
			}
		}
	case *parse.PipeNode:
		if n != nil {
			fn(n)
			for _, d := range n.Decl {
				walk(d, fn)
			}
			for _, c := range n.Cmds {
				walk(c, fn)
			}
		}
	case *parse.ActionNode:
		fn(n)
		walk(n.Pipe, fn)
	case *parse.CommandNode:
		fn(n)
		for _, a := range n.Args {
			walk(a, fn)
		}
	case *parse.ChainNode:
		fn(n)
		walk(n.Node, fn)
	case *parse.TemplateNode:
		fn(n)
		walk(n.Pipe, fn)
	case *parse.IfNode, *parse.RangeNode, *parse.WithNode:
		fn(n)
		b := branch(n)
		walk(b.Pipe, fn)
		walk(b.List, fn)
		walk(b.ElseList, fn)
	default:
		fn(n)
	}
}

// mentions reports whether any identifier below n is one of names.
func mentions(n parse.Node, names []string) bool {
	found := false
	walk(n, func(n parse.Node) {
		if id, ok := n.(*parse.IdentifierNode); ok && slices.Contains(names, id.Ident) {
			found = true
		}
	})
	return found
}
