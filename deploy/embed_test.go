package deploy

import (
	"testing"
)

func TestDynamicConfigYAMLIsACopy(t *testing.T) {
	b := DynamicConfigYAML()
	b[0] = 'X'
	if DynamicConfigYAML()[0] == 'X' {
		t.Error("DynamicConfigYAML returned the embedded slice")
	}
}
