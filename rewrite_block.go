package cachetagging

import (
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"text/template/parse"
)

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

// checkBodyScope rejects what would make a block (kind startBlock or
// startPhased) change the page through variables, which html/template
// allows as the block functions are plain calls to it:
//
//   - in a cache block, an assignment to a variable declared outside it: a
//     hit skips the body, so the assignment would happen on misses only (a
//     phased section sees no enclosing variable at all: checkSectionScope);
//   - a variable declared at the top of the body and used after the block
//     (in after, the rest of its list): a hit never declares it, nor does a
//     phased section, which runs on its own at phase 2;
//   - a {{break}} or {{continue}} of a {{range}} around the block.
func (rw *rewriter) checkBodyScope(k kind, body, after []parse.Node) error {
	start, end := blockName(k), blockName(k+1)
	why := "a hit skips the body"
	if k == startPhased {
		why = "the section runs on its own at phase 2"
	}
	if n := leavesLoop(body...); n != nil {
		return rw.errAt(n, ErrMisplaced, "%s inside %s … %s ends a {{range}} around the block: "+
			"%s, so put the condition outside the block", n, start, end, why)
	}
	declared := declaredIn(body...)
	if k == startBlock {
		var err error
		for _, n := range body {
			walk(n, func(n parse.Node) {
				p, ok := n.(*parse.PipeNode)
				if !ok || !p.IsAssign || err != nil {
					return
				}
				for _, d := range p.Decl {
					if !declared[d.Ident[0]] {
						err = rw.errAt(p, ErrMisplaced, "%s is assigned inside %s … %s but declared outside it: "+
							"a hit skips the body, so the assignment would happen on a miss only; "+
							"compute the value before the block", d.Ident[0], start, end)
					}
				}
			})
		}
		if err != nil {
			return err
		}
	}
	for _, n := range body {
		a, ok := n.(*parse.ActionNode)
		if !ok || a.Pipe.IsAssign {
			continue
		}
		for _, d := range a.Pipe.Decl {
			if name := d.Ident[0]; !strings.HasPrefix(name, varPrefix) {
				if use := usedAfter(name, after); use != nil {
					return rw.errAt(use, ErrMisplaced, "%s is declared inside %s … %s and used after it: "+
						"%s, so declare %s before the block", name, start, end, why, name)
				}
			}
		}
	}
	return nil
}

// leavesLoop returns the first {{break}} or {{continue}} in nodes that
// belongs to a {{range}} outside them, or nil.
func leavesLoop(nodes ...parse.Node) parse.Node {
	for _, n := range nodes {
		var found parse.Node
		switch n := n.(type) {
		case *parse.BreakNode, *parse.ContinueNode:
			found = n
		case *parse.RangeNode:
			found = leavesLoop(n.ElseList) // its list's belong to it
		case *parse.IfNode, *parse.WithNode:
			b := branch(n)
			found = leavesLoop(b.List, b.ElseList)
		case *parse.ListNode:
			if n != nil {
				found = leavesLoop(n.Nodes...)
			}
		}
		if found != nil {
			return found
		}
	}
	return nil
}

// declaredIn returns the variables declared (not assigned) in nodes.
func declaredIn(nodes ...parse.Node) map[string]bool {
	declared := map[string]bool{}
	for _, n := range nodes {
		walk(n, func(n parse.Node) {
			if p, ok := n.(*parse.PipeNode); ok && !p.IsAssign {
				for _, d := range p.Decl {
					declared[d.Ident[0]] = true
				}
			}
		})
	}
	return declared
}

// usedAfter returns the first node of after that uses variable name,
// before any redeclaration of it at the same level, or nil.
func usedAfter(name string, after []parse.Node) parse.Node {
	for _, n := range after {
		if a, ok := n.(*parse.ActionNode); ok && !a.Pipe.IsAssign &&
			slices.ContainsFunc(a.Pipe.Decl, func(d *parse.VariableNode) bool { return d.Ident[0] == name }) &&
			!slices.ContainsFunc(a.Pipe.Cmds, func(c *parse.CommandNode) bool { return usesVar(c, name) }) {
			return nil // redeclared: uses from here on are of the new one
		}
		if usesVar(n, name) {
			return n
		}
	}
	return nil
}

// usesVar reports whether variable name appears anywhere below n.
func usesVar(n parse.Node, name string) bool {
	found := false
	walk(n, func(m parse.Node) {
		if v, ok := m.(*parse.VariableNode); ok && v.Ident[0] == name {
			found = true
		}
	})
	return found
}
