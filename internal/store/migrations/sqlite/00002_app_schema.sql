-- The tables of the two pre-configured flows; see the Postgres migration of
-- the same number for why they look as they do.

-- +goose Up
CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    email           TEXT      NOT NULL,
    name            TEXT      NOT NULL DEFAULT '',
    password_hash   TEXT      NOT NULL,
    registration_id TEXT      UNIQUE,
    created_at      TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT users_email_key UNIQUE (email)
);
-- Ids of registered users start at 1000, as on Postgres.
INSERT INTO sqlite_sequence (name, seq) VALUES ('users', 999);

CREATE TABLE products (
    id          INTEGER   PRIMARY KEY,
    name        TEXT      NOT NULL,
    price_cents INTEGER   NOT NULL CHECK (price_cents >= 0),
    currency    TEXT      NOT NULL DEFAULT 'usd',
    stock       INTEGER   NOT NULL CONSTRAINT products_stock_check CHECK (stock >= 0),
    updated_at  TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE stock_reservations (
    execution_id TEXT      NOT NULL,
    product_id   INTEGER   NOT NULL REFERENCES products (id),
    quantity     INTEGER   NOT NULL CHECK (quantity > 0),
    created_at   TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (execution_id, product_id)
);

-- +goose StatementBegin
CREATE TRIGGER stock_reservations_take AFTER INSERT ON stock_reservations
BEGIN
    UPDATE products SET stock = stock - NEW.quantity, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE id = NEW.product_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER stock_reservations_release AFTER DELETE ON stock_reservations
BEGIN
    UPDATE products SET stock = stock + OLD.quantity, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE id = OLD.product_id;
END;
-- +goose StatementEnd

CREATE TABLE orders (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id      TEXT      NOT NULL UNIQUE,
    customer_id       INTEGER   NOT NULL REFERENCES users (id),
    total_cents       INTEGER   NOT NULL CHECK (total_cents >= 0),
    currency          TEXT      NOT NULL,
    status            TEXT      NOT NULL,
    payment_intent_id TEXT,
    created_at        TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
INSERT INTO sqlite_sequence (name, seq) VALUES ('orders', 999);

CREATE TABLE order_items (
    order_id         INTEGER NOT NULL REFERENCES orders (id),
    product_id       INTEGER NOT NULL REFERENCES products (id),
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0),
    PRIMARY KEY (order_id, product_id)
);

CREATE TABLE payments (
    execution_id      TEXT      PRIMARY KEY,
    payment_intent_id TEXT      NOT NULL,
    amount_cents      INTEGER   NOT NULL,
    currency          TEXT      NOT NULL,
    status            TEXT      NOT NULL CHECK (status IN ('charged', 'refunded')),
    order_id          INTEGER   REFERENCES orders (id),
    created_at        TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at        TIMESTAMP NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- +goose Down
DROP TABLE payments;
DROP TABLE order_items;
DROP TABLE orders;
DROP TRIGGER stock_reservations_release;
DROP TRIGGER stock_reservations_take;
DROP TABLE stock_reservations;
DROP TABLE products;
DROP TABLE users;
