package cachetagging

import (
	"slices"
	"strconv"
	"text/template/parse"
)

// The nodes Prepare writes into rewritten trees, and walks over trees.

// action is {{ DECL := FN ARGS }}, or {{ FN ARGS }} with decl nil.
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
