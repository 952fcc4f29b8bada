package cachetagging

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"text/template/parse"
)

// Digests make a deploy safe: a block's key carries a digest of its
// source — its body (blocks and phased sections inside it included) and,
// transitively, every template it invokes with {{ template }} or
// {{ block }} — so a changed block is a new key, never an old entry, while
// an unchanged one keeps hitting across the deploy. Pages carry the digest
// of every template the renderer prepared: CachePage cannot know which of
// them a handler used.

// digestVersion changes when the rewriting changes what a block's source
// produces: entries of an older rewrite are then missed, not misread.
const digestVersion = "cachetagging/1\x00"

// digestOf hashes parts (already ordered) into 16 hex digits.
func digestOf(parts []string) string {
	h := sha256.New()
	h.Write([]byte(digestVersion))
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:8])
}

// blockDigest digests a block's body and the source of every template it
// invokes, directly or through others. sources and calls hold each
// template's source as parsed, before any rewriting, and the templates it
// invokes.
func blockDigest(body []parse.Node, sources map[string]string, calls map[string][]string) string {
	parts := []string{}
	var queue []string
	for _, n := range body {
		parts = append(parts, n.String())
		queue = append(queue, invoked(n)...)
	}
	seen := map[string]bool{}
	var called []string
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		called = append(called, name)
		queue = append(queue, calls[name]...)
	}
	slices.Sort(called)
	for _, name := range called {
		parts = append(parts, "template "+name, sources[name])
	}
	return digestOf(parts)
}

// invoked returns the names of the templates n invokes.
func invoked(n parse.Node) []string {
	var names []string
	walk(n, func(n parse.Node) {
		if t, ok := n.(*parse.TemplateNode); ok {
			names = append(names, t.Name)
		}
	})
	return names
}

// setDigestOf digests every source, by name.
func setDigestOf(sources map[string]string) string {
	names := make([]string, 0, len(sources))
	for n := range sources {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, 0, 2*len(names))
	for _, n := range names {
		parts = append(parts, n, sources[n])
	}
	return digestOf(parts)
}
