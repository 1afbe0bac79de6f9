package interpreter

import (
	"fmt"
	"strings"
	"time"
)

// CachePolicy opts a definition into the API's result cache: an execute
// whose Key evaluates to a value seen within TTL is answered with that
// earlier execution's output, and no execution starts. The interpreter
// never reads it; registration checks it (checkCache) and the API applies
// it (api/cache.go).
type CachePolicy struct {
	// Key is a CEL expression over `input`; its value (any JSON) tells
	// requests apart.
	Key string `json:"key"`
	// TTL is how long a result is reused (Go duration, 1s to 24h).
	TTL string `json:"ttl"`
	// ReadOnly says the definition's I/O nodes (and the definitions its
	// call nodes run) only read: without it, registration refuses a cached
	// definition with any, since a cached answer skips their effects.
	ReadOnly bool `json:"readOnly,omitempty"`
}

// maxCacheTTL bounds CachePolicy.TTL: a cached answer is a copy of data
// that may change; a day is long enough to matter and short enough to
// notice.
const maxCacheTTL = 24 * time.Hour

// TTLDuration is the policy's TTL, which registration checked.
func (p *CachePolicy) TTLDuration() time.Duration {
	d, _ := time.ParseDuration(p.TTL)
	return d
}

// checkCache checks the definition's cache policy, if any.
func (v *validator) checkCache() {
	p := v.def.Cache
	if p == nil {
		return
	}
	at := v.problems.Under("cache")
	if p.Key == "" {
		at.Add("key", CodeRequired, "a cached definition names the key its results are reused by (a CEL expression over input, e.g. input.sku)")
	} else {
		at.Expression("key", p.Key, v.exprs)
	}
	switch d := at.Duration("ttl", p.TTL); {
	case p.TTL == "":
		at.Add("ttl", CodeRequired, "a cached definition says how long a result is reused (ttl, e.g. \"5m\")")
	case d != 0 && (d < time.Second || d > maxCacheTTL):
		at.Add("ttl", CodeInvalidDuration, "ttl must be between 1s and %s", maxCacheTTL)
	}
	if HasRespond(v.def) {
		at.Add("", CodeInvalidConfig, "a definition with a respond node answers before it ends: its answer is not an output the cache could keep")
	}
	if p.ReadOnly {
		return
	}
	var effects []string
	for _, n := range v.def.Nodes {
		nt, ok := v.reg.Lookup(n.Type)
		if ok && (nt.Kind == KindIO || n.Type == CallNodeType) {
			effects = append(effects, fmt.Sprintf("%s (%s)", n.ID, n.Type))
		}
	}
	if len(effects) > 0 {
		at.Add("readOnly", CodeInvalidConfig,
			"a cached answer skips every node, and %s may write: cache only definitions whose I/O nodes read, and say so with \"readOnly\": true",
			strings.Join(effects, ", "))
	}
}
