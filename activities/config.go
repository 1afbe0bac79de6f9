package activities

import (
	"bytes"
	"encoding/json"
	"sync"

	"github.com/workflow-backend/workflow-backend/internal/problem"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// compiling is what a config compiler works with: the list its problems go
// to (paths relative to the config), the expression checker, and whether a
// definition is being registered.
type compiling struct {
	*problem.List
	exprs interpreter.ExprChecker
	// registration is set while a definition is checked before it is stored
	// (the API's and the validator's registry): it holds the names I/O nodes
	// may use, as the API knows them. It is nil at run time, where the
	// worker's own connections decide: a definition registered earlier is
	// not refused again for a name that was checked then.
	registration *IOOptions
}

// expression checks that src is present and compiles.
func (c *compiling) expression(path, src string) { c.Expression(path, src, c.exprs) }

// expressions checks a map of field's {key: expression} (see
// problem.List.Expressions).
func (c *compiling) expressions(field, keyWord string, m map[string]string) {
	c.Expressions(field, keyWord, m, c.exprs)
}

// maxCompiledConfigs bounds the compiled configs an Activities keeps.
const maxCompiledConfigs = 1024

// configKey names one node of one definition version.
type configKey struct{ definitionID, version, nodeID string }

// compiledConfig is a cached compiled config and the raw config it was
// compiled from.
type compiledConfig struct {
	raw      json.RawMessage
	compiled any
}

// configCache keeps compiled configs by definition version and node, so a
// node's config is decoded and checked once per definition version instead
// of on every run. An entry is used only for the raw config it was compiled
// from: tests and tools may reuse an id and version with other content. It
// is safe for concurrent activities; past max entries the oldest goes.
type configCache struct {
	mu      sync.Mutex
	max     int
	entries map[configKey]compiledConfig
	order   []configKey // oldest first
}

func newConfigCache(max int) *configCache {
	return &configCache{max: max, entries: map[configKey]compiledConfig{}}
}

// get returns what raw compiled to under key, if that is cached.
func (c *configCache) get(key configKey, raw json.RawMessage) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !bytes.Equal(e.raw, raw) {
		return nil, false
	}
	return e.compiled, true
}

// put caches what raw compiled to under key.
func (c *configCache) put(key configKey, raw json.RawMessage, compiled any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok {
		if len(c.order) >= c.max {
			delete(c.entries, c.order[0])
			c.order = c.order[1:]
		}
		c.order = append(c.order, key)
	}
	c.entries[key] = compiledConfig{raw: bytes.Clone(raw), compiled: compiled}
}

// len counts the cached configs.
func (c *configCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// configs returns a's cache of compiled configs, made on first use (an
// Activities is built as a literal).
func (a *Activities) configs() *configCache {
	a.configsOnce.Do(func() {
		if a.compiledConfigs == nil {
			a.compiledConfigs = newConfigCache(maxCompiledConfigs)
		}
	})
	return a.compiledConfigs
}

// cachedConfig returns req's node's config compiled by compile: from the cache
// when this definition version's node was compiled before, else compiled now
// (and cached when the request names its definition version). A config with
// problems, normally refused at registration, is a configuration error.
func cachedConfig[C any](a *Activities, req interpreter.NodeRequest, compile func(json.RawMessage, *compiling) C) (C, error) {
	exec := req.Scope.Execution
	key := configKey{definitionID: exec.DefinitionID, version: exec.Version, nodeID: req.Node.ID}
	cacheable := key.definitionID != "" && key.version != ""
	if cacheable {
		if v, ok := a.configs().get(key, req.Node.Config); ok {
			if cfg, ok := v.(C); ok {
				return cfg, nil
			}
		}
	}
	var ps problem.List
	cfg := compile(req.Node.Config, &compiling{List: &ps, exprs: a.Expr})
	if ps.Failed() {
		return cfg, configError(req.Node, ps.All())
	}
	if cacheable {
		a.configs().put(key, req.Node.Config, cfg)
	}
	return cfg, nil
}
