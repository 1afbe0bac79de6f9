-- The email node's outbox (internal/mail.Outbox): one row per (execution,
-- node). SendGrid has no idempotency key, so the row is marked 'sending'
-- before the provider is called and 'sent' after it answers; a retried
-- activity that finds 'sent' returns the recorded result instead of sending
-- again. 'failed' means the provider answered and refused the message, so
-- nothing was delivered and the next attempt is not a resend.

-- +goose Up
CREATE TABLE email_outbox (
    execution_id        TEXT      NOT NULL,
    node_id             TEXT      NOT NULL,
    to_address          TEXT      NOT NULL,
    from_address        TEXT      NOT NULL,
    subject             TEXT      NOT NULL DEFAULT '',
    template_id         TEXT      NOT NULL DEFAULT '',
    -- The content is kept only by the dev outbox provider, so a user can read
    -- what would have been sent; with SendGrid it stays empty (the provider
    -- keeps the message, and bodies may carry links with tokens).
    body_text           TEXT      NOT NULL DEFAULT '',
    body_html           TEXT      NOT NULL DEFAULT '',
    template_data       TEXT      NOT NULL DEFAULT '',
    status              TEXT      NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
    provider            TEXT      NOT NULL CHECK (provider IN ('sendgrid', 'outbox')),
    provider_message_id TEXT      NOT NULL DEFAULT '',
    -- Provider calls made for this row, the failed ones included.
    attempts            INTEGER   NOT NULL DEFAULT 0,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    PRIMARY KEY (execution_id, node_id)
);

-- +goose Down
DROP TABLE email_outbox;
