package store

import (
	"context"
	"errors"
	"testing"

	"github.com/workflow-backend/workflow-backend/internal/testenv"
)

func TestProducts(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			s := openStore(t, b.URL(t))
			if _, err := s.GetProduct(ctx, demoProductID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("GetProduct before seeding: %v, want ErrNotFound", err)
			}
			for range 2 { // seeding twice changes nothing
				if err := s.SeedDemo(ctx); err != nil {
					t.Fatalf("SeedDemo: %v", err)
				}
			}
			list, err := s.ListProducts(ctx)
			if err != nil || len(list) != len(demoProducts) {
				t.Fatalf("ListProducts = %d products, %v", len(list), err)
			}
			p, err := s.GetProduct(ctx, demoProductID)
			if err != nil || p.PriceCents != 4999 || p.Stock != 10 || p.UpdatedAt.IsZero() {
				t.Fatalf("GetProduct = %+v, %v", p, err)
			}
			testReservations(t, s)
		})
	}
}

// Reservations take and give back stock through triggers, idempotently, and
// the stock never goes below zero.
func testReservations(t *testing.T, s *Store) {
	ctx := context.Background()
	db := s.DB()
	reserve := db.Rebind(`INSERT INTO stock_reservations (execution_id, product_id, quantity) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`)
	stock := func() int64 {
		t.Helper()
		p, err := s.GetProduct(ctx, demoProductID)
		if err != nil {
			t.Fatal(err)
		}
		return p.Stock
	}
	for range 2 { // the retry of an insert finds the row and takes nothing
		if _, err := db.ExecContext(ctx, reserve, "order-1", demoProductID, 4); err != nil {
			t.Fatalf("reserve: %v", err)
		}
	}
	if got := stock(); got != 6 {
		t.Fatalf("stock after reserving 4 of 10 = %d, want 6", got)
	}
	if _, err := db.ExecContext(ctx, reserve, "order-2", demoProductID, 7); err == nil {
		t.Fatal("reserving 7 of 6 succeeded")
	}
	if got := stock(); got != 6 {
		t.Fatalf("stock after a refused reservation = %d, want 6", got)
	}
	release := db.Rebind(`DELETE FROM stock_reservations WHERE execution_id = ?`)
	for range 2 {
		if _, err := db.ExecContext(ctx, release, "order-1"); err != nil {
			t.Fatalf("release: %v", err)
		}
	}
	if got := stock(); got != 10 {
		t.Fatalf("stock after release = %d, want 10", got)
	}
}
