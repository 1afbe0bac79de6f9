-- +goose Up
CREATE TABLE definitions (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT      NOT NULL,
    version     TEXT      NOT NULL,
    name        TEXT      NOT NULL DEFAULT '',
    description TEXT      NOT NULL DEFAULT '',
    document    TEXT      NOT NULL,
    hash        TEXT      NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    UNIQUE (id, version)
);

CREATE INDEX definitions_id_seq ON definitions (id, seq);

-- +goose Down
DROP TABLE definitions;
