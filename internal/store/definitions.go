package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors of the definition store. Compare with errors.Is.
var (
	// ErrNotFound: no such definition, definition version or product.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: the (id, version) pair is registered with other content.
	ErrConflict = errors.New("store: definition version already registered with different content")
	// ErrInvalid: the definition lacks an id or version, or its document is
	// not a single JSON value. The interpreter's validation runs before the
	// store, so this signals a caller bug.
	ErrInvalid = errors.New("store: invalid definition")
)

// Definition is one registered (id, version) of a graph definition.
type Definition struct {
	ID          string
	Version     string
	Name        string
	Description string
	// Document is the whole definition as canonical JSON
	// (interpreter.Canonical: object keys sorted, no insignificant
	// whitespace, numbers as written). Register stores it as given.
	Document json.RawMessage
	// CreatedAt is when the pair was first registered (UTC, microseconds).
	CreatedAt time.Time
}

type definitionRow struct {
	Seq         int64     `db:"seq"`
	ID          string    `db:"id"`
	Version     string    `db:"version"`
	Name        string    `db:"name"`
	Description string    `db:"description"`
	Document    string    `db:"document"`
	CreatedAt   time.Time `db:"created_at"`
}

func (r definitionRow) definition() Definition {
	return Definition{
		ID:          r.ID,
		Version:     r.Version,
		Name:        r.Name,
		Description: r.Description,
		Document:    json.RawMessage(r.Document),
		CreatedAt:   r.CreatedAt.UTC(),
	}
}

const definitionColumns = `seq, id, version, name, description, document, created_at`

// HashDocument returns the lower-case hex SHA-256 of a canonical document
// (the api package hashes idempotent execute requests with it too).
func HashDocument(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:])
}

// Register stores d unless its (ID, Version) is already registered. The
// document is stored and hashed as given: the caller passes it in canonical
// form (interpreter.Canonical), so that formatting never makes two equal
// definitions differ. A zero CreatedAt is set to now.
//
// It returns created=true when this call inserted the row, (false, nil) when
// the pair already holds the same document, and ErrConflict when it holds a
// different one. Concurrent calls for the same pair are safe: exactly one of
// them creates it.
func (s *Store) Register(ctx context.Context, d Definition) (created bool, err error) {
	if d.ID == "" || d.Version == "" {
		return false, fmt.Errorf("%w: id and version are required", ErrInvalid)
	}
	doc := d.Document
	if !json.Valid(doc) {
		return false, fmt.Errorf("%w: document is not a single JSON value", ErrInvalid)
	}
	hash := HashDocument(doc)
	createdAt := d.CreatedAt
	if createdAt.IsZero() {
		createdAt = time.Now()
	}
	createdAt = createdAt.UTC().Truncate(time.Microsecond)

	res, err := s.db.ExecContext(ctx, s.db.Rebind(`
		INSERT INTO definitions (id, version, name, description, document, hash, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id, version) DO NOTHING`),
		d.ID, d.Version, d.Name, d.Description, string(doc), hash, createdAt)
	if err != nil {
		return false, fmt.Errorf("store: insert definition %s@%s: %w", d.ID, d.Version, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: insert definition %s@%s: %w", d.ID, d.Version, err)
	}
	if n == 1 {
		return true, nil
	}

	var existing string
	err = s.db.GetContext(ctx, &existing, s.db.Rebind(
		`SELECT hash FROM definitions WHERE id = ? AND version = ?`), d.ID, d.Version)
	if err != nil {
		return false, fmt.Errorf("store: read definition %s@%s after conflict: %w", d.ID, d.Version, err)
	}
	if existing != hash {
		return false, ErrConflict
	}
	return false, nil
}

// Get returns one version of definition id; version "" means the latest
// registered one. It returns ErrNotFound if there is none.
func (s *Store) Get(ctx context.Context, id, version string) (Definition, error) {
	var (
		row definitionRow
		err error
	)
	if version == "" {
		err = s.db.GetContext(ctx, &row, s.db.Rebind(`
			SELECT `+definitionColumns+` FROM definitions
			WHERE id = ? ORDER BY seq DESC LIMIT 1`), id)
	} else {
		err = s.db.GetContext(ctx, &row, s.db.Rebind(`
			SELECT `+definitionColumns+` FROM definitions
			WHERE id = ? AND version = ?`), id, version)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return Definition{}, ErrNotFound
	}
	if err != nil {
		return Definition{}, fmt.Errorf("store: get definition %s@%s: %w", id, version, err)
	}
	return row.definition(), nil
}

// List returns the latest version of every definition, ordered by id.
func (s *Store) List(ctx context.Context) ([]Definition, error) {
	var rows []definitionRow
	err := s.db.SelectContext(ctx, &rows, `
		SELECT `+definitionColumns+` FROM definitions d
		WHERE d.seq = (SELECT MAX(l.seq) FROM definitions l WHERE l.id = d.id)
		ORDER BY d.id`)
	if err != nil {
		return nil, fmt.Errorf("store: list definitions: %w", err)
	}
	return definitions(rows), nil
}

// Versions returns every registered version of definition id, oldest first.
// It returns ErrNotFound if there is none.
func (s *Store) Versions(ctx context.Context, id string) ([]Definition, error) {
	var rows []definitionRow
	err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`
		SELECT `+definitionColumns+` FROM definitions
		WHERE id = ? ORDER BY seq`), id)
	if err != nil {
		return nil, fmt.Errorf("store: list versions of %s: %w", id, err)
	}
	if len(rows) == 0 {
		return nil, ErrNotFound
	}
	return definitions(rows), nil
}

func definitions(rows []definitionRow) []Definition {
	out := make([]Definition, len(rows))
	for i, r := range rows {
		out[i] = r.definition()
	}
	return out
}
