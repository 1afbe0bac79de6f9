// Package resultcache keeps the outputs of completed executions of
// definitions that opt in ("cache": {"key", "ttl"}), so that an execute
// with the same key answers from memory without starting an execution.
//
// The cache is per API process: each replica warms its own. A shared cache
// (the app database) would cost a round trip per execute, a few
// milliseconds on a 12 ms request, and a cached definition reads only
// (registration refuses one that may write unless it says its I/O nodes
// only read), so two replicas answering from their own entries give the
// same answers as one.
package resultcache

import (
	"container/list"
	"sync"
	"time"
)

// Entry is one cached result.
type Entry struct {
	Output      []byte // the execution's output, JSON
	ExecutionID string // the execution that produced it
	RunID       string
	Stored      time.Time
	expires     time.Time
	key         string
}

// Cache is an LRU of results bounded in entries and in bytes of output,
// each entry expiring after its own TTL. Safe for concurrent use.
type Cache struct {
	maxEntries int
	maxBytes   int64
	now        func() time.Time

	mu      sync.Mutex
	order   *list.List // front: most recently used
	entries map[string]*list.Element
	bytes   int64
	hits    uint64
	misses  uint64
}

// New returns a cache of at most maxEntries results and maxBytes of output.
func New(maxEntries int, maxBytes int64) *Cache {
	return &Cache{maxEntries: maxEntries, maxBytes: maxBytes, now: time.Now, order: list.New(), entries: map[string]*list.Element{}}
}

// Get returns the live entry under key.
func (c *Cache) Get(key string) (Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if ok && c.now().After(el.Value.(*Entry).expires) {
		c.remove(el)
		ok = false
	}
	if !ok {
		c.misses++
		return Entry{}, false
	}
	c.hits++
	c.order.MoveToFront(el)
	return *el.Value.(*Entry), true
}

// Put stores e under key for ttl. An output larger than a tenth of the
// byte bound is not kept: one result must not flush the others.
func (c *Cache) Put(key string, e Entry, ttl time.Duration) {
	size := int64(len(e.Output) + len(key))
	if ttl <= 0 || size > c.maxBytes/10 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.remove(el)
	}
	e.key, e.Stored, e.expires = key, c.now(), c.now().Add(ttl)
	c.entries[key] = c.order.PushFront(&e)
	c.bytes += size
	for c.order.Len() > c.maxEntries || c.bytes > c.maxBytes {
		c.remove(c.order.Back())
	}
}

func (c *Cache) remove(el *list.Element) {
	e := el.Value.(*Entry)
	c.order.Remove(el)
	delete(c.entries, e.key)
	c.bytes -= int64(len(e.Output) + len(e.key))
}

// Stats is what GET /api/workflows/statistics reports.
type Stats struct {
	Hits, Misses uint64
	Entries      int
	Bytes        int64 // keys and outputs held
	MaxEntries   int
	MaxBytes     int64
}

// HitRate is hits over lookups; 0 before any.
func (s Stats) HitRate() float64 {
	if s.Hits+s.Misses == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Hits+s.Misses)
}

// Stats returns the counters and the current size.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Hits: c.hits, Misses: c.misses, Entries: c.order.Len(), Bytes: c.bytes, MaxEntries: c.maxEntries, MaxBytes: c.maxBytes}
}
