package expr

import (
	"math"

	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// allocationCost charges a call that produces a string or bytes by the size of
// what it produced.
//
// cel-go's runtime cost tracker prices string concatenation by size only when
// the type checker pinned the overload (add_string). Our variables are dyn, so
// `input.s + input.s` is an ambiguous overload and costs 1, and a chain of
// doublings (cel.bind or nested comprehensions) could allocate gigabytes
// within the cost limit. Charging every string-producing call by its result
// closes that hole for concatenation, replace, join, format and the like.
type allocationCost struct{}

// CallCost implements interpreter.ActualCostEstimator. nil means "use cel-go's
// default cost".
func (allocationCost) CallCost(function, _ string, _ []ref.Val, result ref.Val) *uint64 {
	switch function {
	case operators.Index, operators.OptIndex:
		// Reading an element allocates nothing.
		return nil
	}
	var size int
	switch r := result.(type) {
	case types.String:
		size = len(r)
	case types.Bytes:
		size = len(r)
	default:
		return nil
	}
	cost := 1 + uint64(math.Ceil(float64(size)*common.StringTraversalCostFactor))
	return &cost
}
