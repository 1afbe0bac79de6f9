package mail

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Statuses of an outbox row.
const (
	// StatusSending: a provider call was made or is under way, and its
	// outcome is not recorded.
	StatusSending = "sending"
	// StatusSent: the provider took the message; ProviderMessageID is its id.
	StatusSent = "sent"
	// StatusFailed: the provider answered and refused the message, so
	// nothing was delivered.
	StatusFailed = "failed"
)

// ErrNotFound is returned by Outbox.Get when no row has the key.
var ErrNotFound = errors.New("mail: no outbox row")

// recordTimeout bounds the database write that records a provider's answer.
const recordTimeout = 10 * time.Second

// Outbox sends each (execution, node)'s message through its Sender at most
// once, as far as a database can make it so, and records it in the
// email_outbox table (store migration 00003).
//
// SendGrid has no idempotency key, so the protocol is: insert the row, or
// read it if an earlier attempt did; if it is sent, return the recorded
// result without calling the provider; otherwise mark it sending (attempts
// + 1), call the provider, mark it sent with the provider's id. Only a crash
// between the provider's answer and the sent mark (or a database failure
// there) sends the message again: the next attempt finds the row sending and
// reports Result.Resent. Two attempts of one activity do not overlap, because
// Temporal starts a retry only after the previous attempt's timeout, which
// is also its context's deadline.
//
// Outbox is safe for concurrent use.
type Outbox struct {
	db     *sqlx.DB
	sender Sender
}

// NewOutbox returns an Outbox on db (SQLite or Postgres, migrated by
// store.Open; placeholders are rebound for the driver) that sends with sender.
func NewOutbox(db *sqlx.DB, sender Sender) *Outbox {
	return &Outbox{db: db, sender: sender}
}

// Result is the outcome of Outbox.Send.
type Result struct {
	Provider          string
	ProviderMessageID string
	// AlreadySent: an earlier attempt recorded the send; nothing was sent
	// now, and the fields above are the recorded ones.
	AlreadySent bool
	// Resent: this call sent the message after an earlier attempt had
	// called the provider without recording the outcome (it crashed in the
	// window described on Outbox), so the recipient may get it twice.
	// Always false with AlreadySent.
	Resent bool
}

// Record is one row of the outbox.
type Record struct {
	ExecutionID string `db:"execution_id"`
	NodeID      string `db:"node_id"`
	To          string `db:"to_address"`
	From        string `db:"from_address"`
	Subject     string `db:"subject"`
	TemplateID  string `db:"template_id"`
	// Text, HTML and TemplateData (JSON) are kept by the dev outbox
	// provider only; empty for SendGrid.
	Text              string    `db:"body_text"`
	HTML              string    `db:"body_html"`
	TemplateData      string    `db:"template_data"`
	Status            string    `db:"status"`
	Provider          string    `db:"provider"`
	ProviderMessageID string    `db:"provider_message_id"`
	Attempts          int       `db:"attempts"`
	CreatedAt         time.Time `db:"created_at"`
	UpdatedAt         time.Time `db:"updated_at"`
}

const recordColumns = `execution_id, node_id, to_address, from_address, subject, template_id,
	body_text, body_html, template_data, status, provider, provider_message_id, attempts, created_at, updated_at`

// Send sends msg as the message of node nodeID in execution executionID (the
// workflow id: stable across retries and resets), unless the outbox records
// it as sent already.
//
// Errors: one wrapping ErrInvalidMessage for a message that cannot be sent;
// the Sender's errors as they are (a *ProviderError when the provider
// refused the message); database errors wrapped.
func (o *Outbox) Send(ctx context.Context, executionID, nodeID string, msg Message) (Result, error) {
	if err := msg.Validate(); err != nil {
		return Result{}, err
	}
	provider := o.sender.Provider()
	inserted, err := o.insert(ctx, executionID, nodeID, provider, msg)
	if err != nil {
		return Result{}, err
	}
	resent := false
	if !inserted {
		rec, err := o.Get(ctx, executionID, nodeID)
		if err != nil {
			return Result{}, err
		}
		if rec.Status == StatusSent {
			return Result{Provider: rec.Provider, ProviderMessageID: rec.ProviderMessageID, AlreadySent: true}, nil
		}
		resent = rec.Status == StatusSending
		if err := o.markSending(ctx, executionID, nodeID, provider); err != nil {
			return Result{}, err
		}
	}

	id, sendErr := o.sender.Send(ctx, msg)
	if sendErr != nil {
		var refused *ProviderError
		if errors.As(sendErr, &refused) {
			err := o.record(ctx, `UPDATE email_outbox SET status = ?, updated_at = ?
				WHERE execution_id = ? AND node_id = ? AND status = ?`,
				StatusFailed, now(), executionID, nodeID, StatusSending)
			// Not recording the refusal only makes the next attempt report
			// a possible resend: the refusal is what the caller must see.
			return Result{}, errors.Join(sendErr, err)
		}
		return Result{}, sendErr
	}
	err = o.record(ctx, `UPDATE email_outbox SET status = ?, provider_message_id = ?, updated_at = ?
		WHERE execution_id = ? AND node_id = ?`,
		StatusSent, id, now(), executionID, nodeID)
	if err != nil {
		return Result{}, fmt.Errorf("mail: the provider took email %s/%s (id %q) but recording it failed, so a retry will send it again: %w",
			executionID, nodeID, id, err)
	}
	return Result{Provider: provider, ProviderMessageID: id, Resent: resent}, nil
}

// insert creates the row of a first attempt, already marked sending with one
// attempt. It returns false if the row exists.
func (o *Outbox) insert(ctx context.Context, executionID, nodeID, provider string, msg Message) (bool, error) {
	var text, html, data string
	if provider == ProviderOutbox {
		text, html = msg.Text, msg.HTML
		if msg.TemplateData != nil {
			b, err := json.Marshal(msg.TemplateData)
			if err != nil {
				return false, fmt.Errorf("%w: %v", ErrInvalidMessage, err)
			}
			data = string(b)
		}
	}
	at := now()
	res, err := o.db.ExecContext(ctx, o.db.Rebind(`
		INSERT INTO email_outbox (`+recordColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', 1, ?, ?)
		ON CONFLICT (execution_id, node_id) DO NOTHING`),
		executionID, nodeID, msg.To.Email, msg.From.Email, msg.Subject, msg.TemplateID,
		text, html, data, StatusSending, provider, at, at)
	if err != nil {
		return false, fmt.Errorf("mail: insert email %s/%s: %w", executionID, nodeID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("mail: insert email %s/%s: %w", executionID, nodeID, err)
	}
	return n == 1, nil
}

// markSending claims an existing row that is not sent for one more provider
// call.
func (o *Outbox) markSending(ctx context.Context, executionID, nodeID, provider string) error {
	res, err := o.db.ExecContext(ctx, o.db.Rebind(`
		UPDATE email_outbox SET status = ?, provider = ?, attempts = attempts + 1, updated_at = ?
		WHERE execution_id = ? AND node_id = ? AND status <> ?`),
		StatusSending, provider, now(), executionID, nodeID, StatusSent)
	if err != nil {
		return fmt.Errorf("mail: mark email %s/%s sending: %w", executionID, nodeID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("mail: mark email %s/%s sending: %w", executionID, nodeID, err)
	}
	if n == 0 {
		// The row turned sent after it was read, which takes an overlapping
		// attempt. The retry of this error finds it sent.
		return fmt.Errorf("mail: email %s/%s was sent by another attempt meanwhile", executionID, nodeID)
	}
	return nil
}

// record writes the provider's answer. Once the provider has answered, the
// write must happen even if the activity's context was just cancelled: the
// context is detached, with its own bound.
func (o *Outbox) record(ctx context.Context, query string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if _, err := o.db.ExecContext(ctx, o.db.Rebind(query), args...); err != nil {
		return fmt.Errorf("mail: record the provider's answer: %w", err)
	}
	return nil
}

// Get returns the row of (executionID, nodeID), or ErrNotFound.
func (o *Outbox) Get(ctx context.Context, executionID, nodeID string) (Record, error) {
	var rec Record
	err := o.db.GetContext(ctx, &rec, o.db.Rebind(`SELECT `+recordColumns+`
		FROM email_outbox WHERE execution_id = ? AND node_id = ?`), executionID, nodeID)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, ErrNotFound
	}
	if err != nil {
		return Record{}, fmt.Errorf("mail: read email %s/%s: %w", executionID, nodeID, err)
	}
	rec.CreatedAt, rec.UpdatedAt = rec.CreatedAt.UTC(), rec.UpdatedAt.UTC()
	return rec, nil
}

// now is the time written to the rows: UTC to the microsecond, which both
// databases store exactly.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
