package expr

import (
	"errors"
	"runtime"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"golang.org/x/crypto/bcrypt"
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
		cel.Function("hashPassword",
			cel.Overload("hashPassword_string", []*cel.Type{cel.StringType}, cel.StringType,
				cel.UnaryBinding(hashPassword))),
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
			return types.NewErr("sum: element %v is not a number", x)
		}
	}
	if isInt {
		return types.Int(ints)
	}
	return types.Double(float64(ints) + doubles)
}

// BcryptCost is the work factor of hashPassword: about 210 ms of one core
// on the team's machines (DESIGN §2).
const BcryptCost = 12

// bcryptSlots bounds concurrent hashing to the number of cores, so a burst of
// registrations queues instead of starving every other activity of CPU.
var bcryptSlots = make(chan struct{}, runtime.GOMAXPROCS(0))

func hashPassword(v ref.Val) ref.Val {
	s, ok := v.(types.String)
	if !ok {
		return types.NewErr("hashPassword: expected a string")
	}
	bcryptSlots <- struct{}{}
	defer func() { <-bcryptSlots }()
	hash, err := bcrypt.GenerateFromPassword([]byte(s), BcryptCost)
	if errors.Is(err, bcrypt.ErrPasswordTooLong) {
		return types.NewErr("hashPassword: the password is longer than 72 bytes")
	}
	if err != nil {
		// The error never carries the password.
		return types.NewErr("hashPassword: %v", err)
	}
	return types.String(hash)
}
