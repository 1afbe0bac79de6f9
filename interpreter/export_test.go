package interpreter

// NewReversingForTest returns an interpreter that starts nodes that become
// ready together in reverse definition order: a scheduling change made
// without workflow.GetVersion, which the replay gate test must catch.
func NewReversingForTest(registry *Registry) *Interpreter {
	return &Interpreter{registry: registry, reverseReady: true}
}
