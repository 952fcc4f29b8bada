package cachetagging

import (
	"fmt"
	"html/template"
	"slices"
	"strconv"
	"text/template/parse"

	"github.com/cachetagging/cachetagging/phased"
)

// Prepare rewrites every cache_tagging … end_cache_tagging and phased …
// end_phased block in every template of t's set, so that a cache hit never
// executes a block's body while the body keeps its scope ($variables, dot,
// range variables), and each phased body becomes a section of the set run
// at phase 2. It reports unbalanced blocks, blocks split across
// {{if}}/{{range}}/{{with}} boundaries, blocks used inside other actions,
// and blocks or hole functions placed where html/template would not write
// their output as HTML text (attributes, URLs, scripts, styles, comments),
// each as an [*Error] naming template and line.
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

	rw := rewriter{}
	var changed []*parse.Tree
	var fresh []*template.Template
	for _, tt := range t.Templates() {
		if tt.Tree == nil || r.prepared[tt.Tree] {
			continue
		}
		fresh = append(fresh, tt)
		if !mentions(tt.Tree.Root, blockIdents) {
			continue
		}
		nt := tt.Tree.Copy()
		if err := rw.rewrite(nt); err != nil {
			return err
		}
		changed = append(changed, nt)
	}
	if len(fresh) == 0 {
		return nil
	}
	for _, tree := range append(changed, rw.sections...) {
		if _, err := t.AddParseTree(tree.Name, tree); err != nil {
			return fmt.Errorf("%w: %v", ErrAfterExecute, err)
		}
	}
	for _, sec := range rw.sections {
		r.sections.Add(t.Lookup(sec.Name))
	}
	if err := checkContexts(t); err != nil {
		return err
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			r.prepared[tt.Tree] = true
		}
	}
	return nil
}

var blockIdents = []string{identBlock, identEndBlock, identPhased, identEndPhased}

// rewriter rewrites the trees of one Prepare call.
type rewriter struct {
	tree     *parse.Tree
	vars     int
	sections []*parse.Tree
}

func (rw *rewriter) rewrite(tree *parse.Tree) error {
	rw.tree, rw.vars = tree, 0
	// A block function anywhere but at the head of its own action (in a
	// declaration, a condition, a pipeline) is an error of its own, not an
	// unbalanced block.
	standalone := map[parse.Node]bool{}
	walk(tree.Root, func(n parse.Node) {
		if k, a := classify(n); k != none {
			standalone[a.Pipe.Cmds[0].Args[0]] = true
		}
	})
	var err error
	walk(tree.Root, func(n parse.Node) {
		if id, ok := n.(*parse.IdentifierNode); ok && err == nil && slices.Contains(blockIdents, id.Ident) && !standalone[n] {
			err = rw.errAt(n, ErrMisplaced, "%s must stand alone, as {{ %s ... }}", id.Ident, id.Ident)
		}
	})
	if err != nil {
		return err
	}
	return rw.list(tree.Root)
}

type kind int

const (
	none kind = iota
	startBlock
	endBlock
	startPhased
	endPhased
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
			var repl parse.Node
			var err error
			if top.kind == startBlock {
				repl, err = rw.cacheBlock(top.node, body)
			} else {
				repl, err = rw.phasedBlock(top.node, body)
			}
			if err != nil {
				return err
			}
			out = append(out[:top.at], repl)
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
//	{{if $h := _cachetagging_open "tmpl:line" ARGS}}{{_cachetagging_begin $h}}BODY{{_cachetagging_end $h}}
//	{{else}}{{_cachetagging_hit $h}}{{end}}
//
// so BODY runs, in place and in scope, only on a miss.
func (rw *rewriter) cacheBlock(start *parse.ActionNode, body []parse.Node) (parse.Node, error) {
	args := start.Pipe.Cmds[0].Args[1:]
	if len(args) == 0 {
		return nil, rw.errAt(start, ErrBadArgument, "cache_tagging needs a key")
	}
	rw.vars++
	name := "$__cachetagging" + strconv.Itoa(rw.vars)
	pos, line := start.Pos, start.Line
	v := func() *parse.VariableNode {
		return &parse.VariableNode{NodeType: parse.NodeVariable, Pos: pos, Ident: []string{name}}
	}
	call := func(fn string, args ...parse.Node) *parse.ActionNode {
		return action(pos, line, nil, fn, args...)
	}
	open := append([]parse.Node{str(pos, rw.loc(start))}, args...)
	miss := append([]parse.Node{call(fnBegin, v())}, body...)
	miss = append(miss, call(fnEnd, v()))
	return &parse.IfNode{BranchNode: parse.BranchNode{
		NodeType: parse.NodeIf, Pos: pos, Line: line,
		Pipe:     action(pos, line, v(), fnOpen, open...).Pipe,
		List:     list(pos, miss...),
		ElseList: list(pos, call(fnHit, v())),
	}}, nil
}

// phasedBlock cuts BODY out into a section and leaves its hole:
// {{_cachetagging_phased "tmpl:line" "section" STASH...}}.
func (rw *rewriter) phasedBlock(start *parse.ActionNode, body []parse.Node) (parse.Node, error) {
	root := list(start.Pos, body...)
	if err := rw.checkSectionScope(start, root); err != nil {
		return nil, err
	}
	name := phased.Name(rw.tree.Name, root.String())
	rw.sections = append(rw.sections, &parse.Tree{Name: name, ParseName: rw.tree.ParseName, Root: root})
	args := append([]parse.Node{str(start.Pos, rw.loc(start)), str(start.Pos, name)}, start.Pipe.Cmds[0].Args[1:]...)
	return action(start.Pos, start.Line, nil, fnPhased, args...), nil
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
	cmd := &parse.CommandNode{NodeType: parse.NodeCommand, Pos: pos,
		Args: append([]parse.Node{parse.NewIdentifier(fn).SetPos(pos)}, args...)}
	pipe := &parse.PipeNode{NodeType: parse.NodePipe, Pos: pos, Line: line, Cmds: []*parse.CommandNode{cmd}}
	if decl != nil {
		pipe.Decl = []*parse.VariableNode{decl}
	}
	return &parse.ActionNode{NodeType: parse.NodeAction, Pos: pos, Line: line, Pipe: pipe}
}

func str(pos parse.Pos, s string) *parse.StringNode {
	return &parse.StringNode{NodeType: parse.NodeString, Pos: pos, Quoted: strconv.Quote(s), Text: s}
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
