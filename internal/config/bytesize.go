package config

import (
	"fmt"
	"strconv"
	"strings"
)

// ByteSize is a number of bytes, written plain ("1073741824") or with a
// unit: KiB, MiB, GiB (powers of 1024) or KB, MB, GB (powers of 1000), as
// GOMEMLIMIT and Kubernetes spell them (Ki, Mi, Gi are accepted too).
type ByteSize uint64

var byteUnits = []struct {
	suffix string
	factor uint64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

// UnmarshalText parses a size for the environment decoder.
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	factor := uint64(1)
	for _, u := range byteUnits {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, factor = strings.TrimSpace(num), u.factor
			break
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > ^uint64(0)/factor {
		return fmt.Errorf("%q is not a size: write bytes, or a whole number with KiB, MiB or GiB", string(text))
	}
	*b = ByteSize(n * factor)
	return nil
}
