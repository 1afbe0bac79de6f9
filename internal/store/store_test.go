package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workflow-backend/workflow-backend/internal/testenv"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

func openStore(t *testing.T, dsn string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func def(id, version, doc string) Definition {
	return Definition{ID: id, Version: version, Name: id + " name", Description: "d", Document: json.RawMessage(doc)}
}

func mustRegister(t *testing.T, s *Store, d Definition) {
	t.Helper()
	created, err := s.Register(context.Background(), d)
	if err != nil || !created {
		t.Fatalf("Register(%s@%s) = %v, %v; want true, nil", d.ID, d.Version, created, err)
	}
}

func TestStore(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Run("OpenAndPing", func(t *testing.T) {
				s := openStore(t, b.URL(t))
				if s.dialect != b.Name {
					t.Errorf("dialect = %q, want %q", s.dialect, b.Name)
				}
				if err := s.Ping(context.Background()); err != nil {
					t.Errorf("Ping: %v", err)
				}
				// Open migrated the schema: the tables are there and empty.
				var n int
				if err := s.DB().Get(&n, `SELECT COUNT(*) FROM definitions`); err != nil || n != 0 {
					t.Errorf("count definitions = %d, %v; want 0, nil", n, err)
				}
			})
			t.Run("Register", func(t *testing.T) { testRegister(t, openStore(t, b.URL(t))) })
			t.Run("RegisterLegacyRow", func(t *testing.T) { testRegisterLegacyRow(t, openStore(t, b.URL(t))) })
			t.Run("Get", func(t *testing.T) { testGet(t, openStore(t, b.URL(t))) })
			t.Run("ListAndVersions", func(t *testing.T) { testListAndVersions(t, openStore(t, b.URL(t))) })
			t.Run("ConcurrentRegister", func(t *testing.T) { testConcurrentRegister(t, openStore(t, b.URL(t))) })
			t.Run("ReopenKeepsData", func(t *testing.T) { testReopen(t, b.URL(t)) })
			t.Run("ConcurrentOpen", func(t *testing.T) { testConcurrentOpen(t, b.URL(t)) })
		})
	}
}

func testRegister(t *testing.T, s *Store) {
	ctx := context.Background()
	doc := `{"id":"flow","nodes":[{"id":"a","type":"fail"}],"version":"1.0.0"}`
	created, err := s.Register(ctx, def("flow", "1.0.0", doc))
	if err != nil || !created {
		t.Fatalf("first Register = %v, %v; want true, nil", created, err)
	}

	// The same document again: identical.
	created, err = s.Register(ctx, def("flow", "1.0.0", doc))
	if err != nil || created {
		t.Fatalf("identical Register = %v, %v; want false, nil", created, err)
	}

	// Different content under the same pair: conflict.
	changed := def("flow", "1.0.0", `{"id":"flow","nodes":[{"id":"b","type":"fail"}],"version":"1.0.0"}`)
	created, err = s.Register(ctx, changed)
	if !errors.Is(err, ErrConflict) || created {
		t.Fatalf("changed Register = %v, %v; want false, ErrConflict", created, err)
	}

	// The document is stored as given, with its hash.
	got, err := s.Get(ctx, "flow", "1.0.0")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if string(got.Document) != doc {
		t.Errorf("Document = %s, want %s", got.Document, doc)
	}
	var hash string
	if err := s.DB().GetContext(ctx, &hash, s.DB().Rebind(
		`SELECT hash FROM definitions WHERE id = ? AND version = ?`), "flow", "1.0.0"); err != nil {
		t.Fatalf("read hash: %v", err)
	}
	if hash != HashDocument([]byte(doc)) || len(hash) != 64 {
		t.Errorf("hash = %q", hash)
	}

	for name, bad := range map[string]Definition{
		"no id":      def("", "1", `{}`),
		"no version": def("x", "", `{}`),
		"not json":   def("x", "1", `{"a":`),
		"two values": def("x", "1", `{} {}`),
	} {
		if _, err := s.Register(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Register(%s) error = %v, want ErrInvalid", name, err)
		}
	}
}

// Rows written before the store stopped canonicalising hold the output of
// interpreter.Canonical (HTML-escaping json.Marshal) re-encoded by the store
// without HTML escaping. interpreter.Canonical now produces those bytes
// directly, so re-registering such a definition is not a conflict.
func testRegisterLegacyRow(t *testing.T, s *Store) {
	ctx := context.Background()
	legacy := `{"edges":[],"id":"legacy","nodes":[{"config":{"mapping":{"n":12345678901234567890}},"id":"a","type":"transform"}],"output":{"ok":"x < 1 && y > 2"},"startNode":"a","version":"1"}`
	mustRegister(t, s, def("legacy", "1", legacy))

	canonical, err := interpreter.Canonical(interpreter.Definition{
		ID: "legacy", Version: "1", StartNode: "a",
		Output: map[string]string{"ok": "x < 1 && y > 2"},
		Nodes:  []interpreter.Node{{ID: "a", Type: "transform", Config: json.RawMessage(`{ "mapping" : { "n" : 12345678901234567890 } }`)}},
		Edges:  []interpreter.Edge{},
	})
	if err != nil {
		t.Fatal(err)
	}
	if created, err := s.Register(ctx, def("legacy", "1", string(canonical))); err != nil || created {
		t.Fatalf("re-register legacy row = %v, %v; want false, nil (canonical %s)", created, err, canonical)
	}
}

func testGet(t *testing.T, s *Store) {
	ctx := context.Background()
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 3600))
	d := def("flow", "1.0.0", `{"n":1}`)
	d.CreatedAt = at
	mustRegister(t, s, d)
	mustRegister(t, s, def("flow", "0.9.0", `{"n":0.9}`)) // registered later: it is the latest
	mustRegister(t, s, def("other", "1", `{"big":12345678901234567890,"html":"<a&b>"}`))

	got, err := s.Get(ctx, "flow", "1.0.0")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.ID != "flow" || got.Version != "1.0.0" || got.Name != "flow name" || got.Description != "d" {
		t.Errorf("Get = %+v", got)
	}
	if !got.CreatedAt.Equal(at.Truncate(time.Microsecond)) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want %v in UTC", got.CreatedAt, at.Truncate(time.Microsecond))
	}

	latest, err := s.Get(ctx, "flow", "")
	if err != nil || latest.Version != "0.9.0" {
		t.Errorf("Get latest = %v, %v; want 0.9.0", latest.Version, err)
	}
	if time.Since(latest.CreatedAt) > time.Minute {
		t.Errorf("default CreatedAt = %v, want about now", latest.CreatedAt)
	}

	other, err := s.Get(ctx, "other", "1")
	if err != nil || string(other.Document) != `{"big":12345678901234567890,"html":"<a&b>"}` {
		t.Errorf("Get other = %s, %v", other.Document, err)
	}

	for _, c := range [][2]string{{"flow", "2.0.0"}, {"missing", ""}, {"missing", "1"}} {
		if _, err := s.Get(ctx, c[0], c[1]); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q, %q) error = %v, want ErrNotFound", c[0], c[1], err)
		}
	}
}

func testListAndVersions(t *testing.T, s *Store) {
	ctx := context.Background()
	list, err := s.List(ctx)
	if err != nil || len(list) != 0 {
		t.Fatalf("List on empty store = %v, %v", list, err)
	}
	mustRegister(t, s, def("b-flow", "1", `{"v":1}`))
	mustRegister(t, s, def("a-flow", "1", `{"v":1}`))
	mustRegister(t, s, def("b-flow", "2", `{"v":2}`))
	mustRegister(t, s, def("b-flow", "1.5", `{"v":1.5}`))

	list, err = s.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var got []string
	for _, d := range list {
		got = append(got, d.ID+"@"+d.Version)
	}
	if strings.Join(got, ",") != "a-flow@1,b-flow@1.5" {
		t.Errorf("List = %v, want [a-flow@1 b-flow@1.5]", got)
	}

	versions, err := s.Versions(ctx, "b-flow")
	if err != nil {
		t.Fatalf("Versions: %v", err)
	}
	got = got[:0]
	for _, d := range versions {
		got = append(got, d.Version)
	}
	if strings.Join(got, ",") != "1,2,1.5" {
		t.Errorf("Versions = %v, want [1 2 1.5]", got)
	}
	if _, err := s.Versions(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Versions(missing) error = %v, want ErrNotFound", err)
	}
}

func testConcurrentRegister(t *testing.T, s *Store) {
	const n = 16
	for round := range 3 {
		id := "race-" + string(rune('a'+round))
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			created int
			errs    []error
		)
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				ok, err := s.Register(context.Background(), def(id, "1", `{"same":true}`))
				mu.Lock()
				defer mu.Unlock()
				if ok {
					created++
				}
				if err != nil {
					errs = append(errs, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if created != 1 || len(errs) != 0 {
			t.Errorf("round %d: created %d times, errors %v; want exactly one creation and no error", round, created, errs)
		}
	}
}

func testReopen(t *testing.T, dsn string) {
	s := openStore(t, dsn)
	mustRegister(t, s, def("kept", "1", `{}`))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s2 := openStore(t, dsn) // migrations already applied: a no-op
	if _, err := s2.Get(context.Background(), "kept", "1"); err != nil {
		t.Errorf("Get after reopen: %v", err)
	}
}

func testConcurrentOpen(t *testing.T, dsn string) {
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	stores := make([]*Store, n)
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			stores[i], errs[i] = Open(ctx, dsn)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d: %v", i, err)
			continue
		}
		_ = stores[i].Close()
	}
}

func TestSQLiteDSN(t *testing.T) {
	for _, c := range []struct {
		in, path string
		memory   bool
		has      []string
		hasNot   []string
	}{
		{in: "data/app.db", path: "data/app.db",
			has: []string{"_pragma=journal_mode%28WAL%29", "_pragma=busy_timeout%285000%29", "_pragma=foreign_keys%281%29", "_pragma=synchronous%28NORMAL%29", "_txlock=immediate"}},
		{in: "sqlite://./x.db", path: "./x.db"},
		{in: "sqlite:/abs/x.db", path: "/abs/x.db"},
		{in: "file:x.db?_pragma=journal_mode(DELETE)", path: "x.db",
			has: []string{"journal_mode%28DELETE%29"}, hasNot: []string{"journal_mode%28WAL%29"}},
		{in: ":memory:", path: ":memory:", memory: true},
		{in: "file:x?mode=memory&cache=shared", path: "x", memory: true},
	} {
		path, query, memory, err := sqliteDSN(c.in)
		if err != nil {
			t.Errorf("sqliteDSN(%q): %v", c.in, err)
			continue
		}
		if path != c.path || memory != c.memory {
			t.Errorf("sqliteDSN(%q) = %q, memory %v; want %q, %v", c.in, path, memory, c.path, c.memory)
		}
		for _, h := range c.has {
			if !strings.Contains(query, h) {
				t.Errorf("sqliteDSN(%q) query %q lacks %q", c.in, query, h)
			}
		}
		for _, h := range c.hasNot {
			if strings.Contains(query, h) {
				t.Errorf("sqliteDSN(%q) query %q has %q", c.in, query, h)
			}
		}
	}
	if _, _, _, err := sqliteDSN("sqlite://"); err == nil {
		t.Error("sqliteDSN(sqlite://) succeeded, want error")
	}
}

func TestOpenMemory(t *testing.T) {
	s := openStore(t, ":memory:")
	mustRegister(t, s, def("m", "1", `{}`))
	if _, err := s.Get(context.Background(), "m", ""); err != nil {
		t.Errorf("Get: %v", err)
	}
}
