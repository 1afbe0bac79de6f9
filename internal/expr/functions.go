package expr

import (
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// Functions this project adds to CEL:
//
//	sum(list)              the sum of a list of numbers: an int if every
//	                       element is an int, else a double; sum([]) is 0.
//	                       (CEL has no fold, and an order's total is a sum.)
//	hashPassword(string)   a bcrypt hash (cost BcryptCost) of the string, for
//	                       the registration flow; passwords over 72 bytes,
//	                       which bcrypt would silently truncate, are an error.
func functions() []cel.EnvOption {
	return []cel.EnvOption{
		cel.Function("sum",
			cel.Overload("sum_list", []*cel.Type{cel.ListType(cel.DynType)}, cel.DynType,
				cel.UnaryBinding(sum))),
		cel.Function(hashPasswordFunction,
			cel.Overload("hashPassword_string", []*cel.Type{cel.StringType}, cel.StringType,
				cel.UnaryBinding(unplannedHash))),
	}
}

func sum(v ref.Val) ref.Val {
	list, ok := v.(traits.Lister)
	if !ok {
		return types.NewErr("sum: expected a list, got %s", v.Type().TypeName())
	}
	var (
		ints    int64
		doubles float64
		isInt   = true
	)
	for it := list.Iterator(); it.HasNext() == types.True; {
		switch x := it.Next().(type) {
		case types.Int:
			ints += int64(x)
		case types.Double:
			isInt = false
			doubles += float64(x)
		default:
			// The type, not the value: an element may be a huge list.
			return types.NewErr("sum: element of type %s is not a number", x.Type().TypeName())
		}
	}
	if isInt {
		return types.Int(ints)
	}
	return types.Double(float64(ints) + doubles)
}

// BcryptCost is the work factor of hashPassword: about 210 ms of one core
// on the team's machines.
const BcryptCost = 12

// hashPasswordFunction is planned as a metered call that hashes with the
// evaluation's meter (meter.go): the meter bounds how many hashes one
// evaluation runs, and a cancelled evaluation stops waiting for a core.
const hashPasswordFunction = "hashPassword"

// unplannedHash is the implementation cel-go would call if the plan did not
// meter hashPassword; it never runs.
func unplannedHash(ref.Val) ref.Val {
	return types.NewErr("hashPassword: evaluated outside a metered plan")
}
