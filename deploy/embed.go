// Package deploy holds deployment files (Temporal dynamic config, the
// Dockerfile) and embeds the ones dev mode needs.
//
// It has no dependencies, so that importing it stays cheap.
package deploy

import (
	_ "embed"
)

//go:embed temporal/dynamicconfig.yaml
var dynamicConfigYAML []byte

// DynamicConfigYAML returns a copy of deploy/temporal/dynamicconfig.yaml.
func DynamicConfigYAML() []byte {
	return append([]byte(nil), dynamicConfigYAML...)
}
