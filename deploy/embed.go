// Package deploy holds deployment files (Temporal dynamic config, the
// Dockerfile) and embeds the ones dev mode needs.
//
// It depends only on YAML parsing so that importing it stays cheap.
package deploy

import (
	_ "embed"
	"fmt"

	"gopkg.in/yaml.v3"
)

//go:embed temporal/dynamicconfig.yaml
var dynamicConfigYAML []byte

// DynamicConfigYAML returns a copy of deploy/temporal/dynamicconfig.yaml.
func DynamicConfigYAML() []byte {
	return append([]byte(nil), dynamicConfigYAML...)
}

// dynamicConfigEntry is one element of a key's list in Temporal's file-based
// dynamic config.
type dynamicConfigEntry struct {
	Value       any            `yaml:"value"`
	Constraints map[string]any `yaml:"constraints"`
}

// DynamicConfig parses the embedded Temporal dynamic config into key → value,
// keeping for each key the value that has no constraints (keys whose values
// are all constrained are left out). YAML integers come back as int, the type
// the server's dynamic config expects.
func DynamicConfig() (map[string]any, error) {
	return ParseDynamicConfig(dynamicConfigYAML)
}

// ParseDynamicConfig parses a file in Temporal's file-based dynamic config
// format the way DynamicConfig does.
func ParseDynamicConfig(data []byte) (map[string]any, error) {
	var raw map[string][]dynamicConfigEntry
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parse dynamic config: %w", err)
	}
	out := make(map[string]any, len(raw))
	for key, entries := range raw {
		found := false
		for _, e := range entries {
			if len(e.Constraints) != 0 {
				continue
			}
			if found {
				return nil, fmt.Errorf("parse dynamic config: key %q has more than one unconstrained value", key)
			}
			out[key] = e.Value
			found = true
		}
	}
	return out, nil
}
