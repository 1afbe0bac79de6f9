package resultcache

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := New(3, 1000)
	c.now = func() time.Time { return now }

	if _, ok := c.Get("a"); ok {
		t.Fatal("hit on an empty cache")
	}
	c.Put("a", Entry{Output: []byte(`{"x":1}`), ExecutionID: "e-a"}, time.Minute)
	if e, ok := c.Get("a"); !ok || string(e.Output) != `{"x":1}` || e.ExecutionID != "e-a" || !e.Stored.Equal(now) {
		t.Fatalf("Get a = %+v, %v", e, ok)
	}

	// Expiry: per entry.
	c.Put("short", Entry{Output: []byte(`1`)}, time.Second)
	now = now.Add(2 * time.Second)
	if _, ok := c.Get("short"); ok {
		t.Error("an expired entry was returned")
	}
	if _, ok := c.Get("a"); !ok {
		t.Error("a live entry expired with another one")
	}

	// Entries bound: least recently used goes first.
	c.Put("b", Entry{Output: []byte(`2`)}, time.Minute)
	c.Put("c", Entry{Output: []byte(`3`)}, time.Minute)
	c.Get("a") // a is now the most recent
	c.Put("d", Entry{Output: []byte(`4`)}, time.Minute)
	if _, ok := c.Get("b"); ok {
		t.Error("b should have been evicted (least recently used)")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := c.Get(k); !ok {
			t.Errorf("%s was evicted", k)
		}
	}

	// Bytes bound: an output over a tenth of it is not kept; the total
	// stays under it.
	c2 := New(100, 100)
	c2.Put("big", Entry{Output: make([]byte, 20)}, time.Minute)
	if _, ok := c2.Get("big"); ok {
		t.Error("an output over a tenth of the byte bound was kept")
	}
	for i := range 20 {
		c2.Put(fmt.Sprint("k", i), Entry{Output: make([]byte, 7)}, time.Minute)
	}
	if st := c2.Stats(); st.Bytes > 100 || st.Entries != 10 {
		t.Errorf("stats %+v: want at most 100 bytes (the last 10 entries, 10 bytes each)", st)
	}

	st := c.Stats()
	if st.Hits == 0 || st.Misses == 0 || st.HitRate() <= 0 || st.HitRate() >= 1 || st.Entries != 3 {
		t.Errorf("stats %+v, hit rate %v", st, st.HitRate())
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := New(50, 1<<20)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				k := fmt.Sprint((g * i) % 80)
				c.Put(k, Entry{Output: []byte(k)}, time.Minute)
				c.Get(k)
			}
		})
	}
	wg.Wait()
	if st := c.Stats(); st.Entries > 50 {
		t.Errorf("%d entries, bound 50", st.Entries)
	}
}
