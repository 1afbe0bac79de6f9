package interpreter

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A schema whose every level references the next twice is refused; its
// checking would double with every level, for every execution. Recursive
// schemas, which recurse along the input, are accepted.
func TestSchemaExpansion(t *testing.T) {
	fanOut := func(levels int) string {
		defs := []string{}
		for i := 0; i < levels; i++ {
			defs = append(defs, fmt.Sprintf(`"l%d": {"allOf": [{"$ref": "#/$defs/l%d"}, {"$ref": "#/$defs/l%d"}]}`, i, i+1, i+1))
		}
		defs = append(defs, fmt.Sprintf(`"l%d": {"type": "object"}`, levels))
		return `{"$ref": "#/$defs/l0", "$defs": {` + strings.Join(defs, ", ") + `}}`
	}
	start := time.Now()
	if _, err := CompileSchema(json.RawMessage(fanOut(18))); err == nil || !strings.Contains(err.Error(), "references followed") {
		t.Errorf("fan-out of 18 levels: %v, want refused", err)
	}
	t.Logf("refused in %v", time.Since(start))
	if _, err := CompileSchema(json.RawMessage(fanOut(8))); err != nil {
		t.Errorf("fan-out of 8 levels (256 parts): %v", err)
	}
	tree := `{"$defs": {"node": {"type": "object", "properties": {"value": {"type": "number"},
		"left": {"$ref": "#/$defs/node"}, "right": {"$ref": "#/$defs/node"}}}}, "$ref": "#/$defs/node"}`
	s, err := CompileSchema(json.RawMessage(tree))
	if err != nil {
		t.Fatalf("a recursive tree schema: %v", err)
	}
	var input any
	_ = json.Unmarshal([]byte(`{"value": 1, "left": {"value": 2}, "right": {"value": "x"}}`), &input)
	if s.Validate(input) == nil {
		t.Error("the tree schema accepted a string value")
	}
}
