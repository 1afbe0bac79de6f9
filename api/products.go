package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/workflow-backend/workflow-backend/internal/store"
)

// productStore holds the products the shipped order definition sells
// (*store.Store).
type productStore interface {
	ListProducts(ctx context.Context) ([]store.Product, error)
	// GetProduct returns store.ErrNotFound for an unknown id.
	GetProduct(ctx context.Context, id int64) (store.Product, error)
}

// listProducts is GET /api/products: price and stock of every product,
// {"products": […]} like the other lists.
func (s *Server) listProducts(c echo.Context) error {
	products, err := s.opts.Store.ListProducts(c.Request().Context())
	if err != nil {
		return storeError(err, "list products")
	}
	return ok(c, http.StatusOK, map[string]any{"products": products})
}

// getProduct is GET /api/products/{id}.
func (s *Server) getProduct(c echo.Context) error {
	notFound := newError(http.StatusNotFound, codeProductNotFound, "no product has this id")
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return notFound
	}
	p, err := s.opts.Store.GetProduct(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return storeError(err, "get product")
	}
	return ok(c, http.StatusOK, p)
}
