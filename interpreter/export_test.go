package interpreter

import "slices"

// NewReversingForTest returns an interpreter that starts nodes that become
// ready together in reverse definition order: a scheduling change made
// without workflow.GetVersion, which the replay gate test must catch.
func NewReversingForTest(registry *Registry) *Interpreter {
	i := New(registry)
	i.reorderReady = slices.Reverse[[]int]
	return i
}
