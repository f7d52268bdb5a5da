package spec

import (
	"go.yaml.in/yaml/v3"
)

// MaxAliasNodes bounds how many nodes YAML aliases may add to a spec once
// expanded. Substitution and decoding copy what an alias points to, so ten
// nested levels of `&a [*b, *b, ...]` (an "alias bomb") would otherwise
// make a few hundred bytes of YAML grow past any memory. Specs that share
// steps or artifacts through anchors add thousands at most.
const MaxAliasNodes = 100_000

// checkAliases reports an alias bomb at the outermost alias whose expansion
// is too large, before anything expands it.
func checkAliases(d *Decoder, root *yaml.Node) ErrorList {
	size := map[*yaml.Node]int{}
	distinct := map[*yaml.Node]bool{}
	total := expandedSize(root, size, distinct, map[*yaml.Node]bool{})
	if total-len(distinct) <= MaxAliasNodes {
		return nil
	}
	at := heaviestAlias(root, size)
	return d.Errorf(at, "", "YAML aliases expand to over %d nodes (%d written); share less through anchors", MaxAliasNodes, len(distinct))
}

// limit caps the memoised sizes so that they cannot overflow.
const limit = 1 << 40

// expandedSize counts the nodes of n with every alias expanded, memoised per
// node so the walk is linear in the nodes written. An alias cycle (which
// yaml.v3 refuses to build, but a hand-made tree could hold) counts once.
func expandedSize(n *yaml.Node, size map[*yaml.Node]int, distinct, onPath map[*yaml.Node]bool) int {
	if n == nil {
		return 0
	}
	if s, ok := size[n]; ok {
		return s
	}
	if onPath[n] {
		return 1
	}
	onPath[n] = true
	defer delete(onPath, n)
	distinct[n] = true
	s := 1
	if n.Kind == yaml.AliasNode {
		s = expandedSize(n.Alias, size, distinct, onPath)
	}
	for _, c := range n.Content {
		s = min(s+expandedSize(c, size, distinct, onPath), limit)
	}
	size[n] = s
	return s
}

// heaviestAlias follows the largest child from root and returns the first
// alias on that path: the place a person would shorten.
func heaviestAlias(n *yaml.Node, size map[*yaml.Node]int) *yaml.Node {
	for n != nil {
		if n.Kind == yaml.AliasNode {
			return n
		}
		var next *yaml.Node
		for _, c := range n.Content {
			if next == nil || size[c] > size[next] {
				next = c
			}
		}
		if next == nil {
			return n
		}
		n = next
	}
	return nil
}
