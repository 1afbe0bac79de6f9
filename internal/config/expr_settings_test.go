package config

import (
	"slices"
	"testing"

	"github.com/workflow-backend/workflow-backend/internal/expr"
)

// Expression limit errors tell the operator which variable to raise; those
// names must be variables of this configuration.
func TestExprLimitSettingsAreVariables(t *testing.T) {
	for _, name := range []string{expr.CostLimitSetting, expr.MaxValueBytesSetting} {
		if !slices.Contains(Variables(), name) {
			t.Errorf("expr names %s, which is not a configuration variable", name)
		}
	}
	c, err := Load(map[string]string{"EXPR_COST_LIMIT": "10", "EXPR_MAX_VALUE_BYTES": "0"})
	if err == nil {
		t.Fatalf("Load accepted limits of 10 and 0: %+v", c)
	}
	c, err = Load(map[string]string{})
	if err != nil || c.ExprCostLimit != expr.DefaultLimits().CostLimit || uint64(c.ExprMaxValueBytes) != expr.DefaultLimits().MaxValueBytes {
		t.Fatalf("defaults: %d, %d, %v; want expr's", c.ExprCostLimit, c.ExprMaxValueBytes, err)
	}
}
