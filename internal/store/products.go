package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Product is a row of the products table the order flow sells from.
type Product struct {
	ID         int64     `db:"id" json:"id"`
	Name       string    `db:"name" json:"name"`
	PriceCents int64     `db:"price_cents" json:"priceCents"`
	Currency   string    `db:"currency" json:"currency"`
	Stock      int64     `db:"stock" json:"stock"`
	UpdatedAt  time.Time `db:"updated_at" json:"updatedAt"`
}

const productColumns = `id, name, price_cents, currency, stock, updated_at`

// ListProducts returns every product by id. The catalogue is small (it is
// the demo of the order flow); a real one would page.
func (s *Store) ListProducts(ctx context.Context) ([]Product, error) {
	products := []Product{}
	if err := s.db.SelectContext(ctx, &products, `SELECT `+productColumns+` FROM products ORDER BY id`); err != nil {
		return nil, fmt.Errorf("store: list products: %w", err)
	}
	return products, nil
}

// GetProduct returns one product, or ErrNotFound.
func (s *Store) GetProduct(ctx context.Context, id int64) (Product, error) {
	var p Product
	err := s.db.GetContext(ctx, &p, s.db.Rebind(`SELECT `+productColumns+` FROM products WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("store: get product %d: %w", id, err)
	}
	return p, nil
}

// Demo data that dev mode seeds, so the README's curl examples work as
// written. The ids are those of the project's seed document (customer 123,
// product 456).
const (
	demoCustomerID    = 123
	demoCustomerEmail = "customer@example.com"
	demoProductID     = 456
)

// demoProducts are the products SeedDemo creates when they do not exist.
var demoProducts = []Product{
	{ID: demoProductID, Name: "Mechanical keyboard", PriceCents: 4999, Currency: "usd", Stock: 10},
	{ID: 457, Name: "USB-C cable", PriceCents: 999, Currency: "usd", Stock: 100},
	{ID: 458, Name: "Limited edition mouse", PriceCents: 2500, Currency: "usd", Stock: 1},
}

// SeedDemo inserts the demo customer and products unless rows with their
// ids exist; it never changes existing rows, so restarting dev mode keeps
// the stock that orders took. The customer's password hash is "!", which no
// bcrypt check accepts: the demo customer exists to place orders.
func (s *Store) SeedDemo(ctx context.Context) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: seed: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, s.db.Rebind(
		`INSERT INTO users (id, email, name, password_hash) VALUES (?, ?, ?, '!') ON CONFLICT DO NOTHING`),
		demoCustomerID, demoCustomerEmail, "Demo Customer"); err != nil {
		return fmt.Errorf("store: seed customer: %w", err)
	}
	for _, p := range demoProducts {
		if _, err := tx.ExecContext(ctx, s.db.Rebind(
			`INSERT INTO products (id, name, price_cents, currency, stock) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
			p.ID, p.Name, p.PriceCents, p.Currency, p.Stock); err != nil {
			return fmt.Errorf("store: seed product %d: %w", p.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: seed: %w", err)
	}
	return nil
}
