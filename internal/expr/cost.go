package expr

import (
	"math"

	"github.com/google/cel-go/common"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// maxHashesPerEvaluation is how many hashPassword calls fit in one
// evaluation's cost limit: each costs CostLimit/4, about 0.2 s of a core
// (bcrypt cost 12), so an evaluation holds a core for about a second at
// most, and a cancelled one stops within that.
const maxHashesPerEvaluation = 4

// allocationCost charges a call by what it made, and hashPassword by its
// work.
//
// cel-go's runtime cost tracker prices string concatenation by size only when
// the type checker pinned the overload (add_string). Our variables are dyn, so
// `input.s + input.s` is an ambiguous overload and costs 1, and a chain of
// calls could allocate a lot within the cost limit. Charging every call that
// returns a string or bytes by its length, and one that returns a new list by
// its elements, makes the cost limit bound what an evaluation allocates in
// all; guard.go bounds what a single call may make.
type allocationCost struct {
	hashCost uint64
}

// CallCost implements interpreter.ActualCostEstimator. nil means "use cel-go's
// default cost".
func (c allocationCost) CallCost(function, _ string, args []ref.Val, result ref.Val) *uint64 {
	switch function {
	case operators.Index, operators.OptIndex:
		// Reading an element allocates nothing.
		return nil
	case "hashPassword":
		cost := c.hashCost
		return &cost
	}
	var size float64
	switch r := result.(type) {
	case types.String:
		size = float64(len(r)) * common.StringTraversalCostFactor
	case types.Bytes:
		size = float64(len(r)) * common.StringTraversalCostFactor
	case traits.MutableLister:
		// A comprehension's accumulator, appended in place.
		return nil
	case traits.Lister:
		if len(args) > 0 && args[0] == result {
			return nil // the argument itself (optional.orValue, dyn…)
		}
		n, _ := r.Size().(types.Int)
		size = float64(n)
	default:
		return nil
	}
	cost := 1 + uint64(math.Ceil(size))
	return &cost
}
