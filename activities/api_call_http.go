package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/workflow-backend/workflow-backend/internal/expr"
	"github.com/workflow-backend/workflow-backend/internal/outbound"
	"github.com/workflow-backend/workflow-backend/interpreter"
)

// What the HTTP node types (api_call, notification) share: their
// dependencies, how a request is sent and how its failures are classified.

// Error types of the HTTP node types (the Type of their application errors).
const (
	// ErrHTTPStatus: the server answered with a status the node does not
	// accept. Retried for 408, 429 and 5xx (after the server's Retry-After
	// when it sends one), never for other statuses. Details: HTTPFailure.
	ErrHTTPStatus = "HTTPError"
	// ErrNetwork: no status arrived (connection, TLS, timeout); retried.
	ErrNetwork = "NetworkError"
	// ErrDestinationRefused: the outbound host policy refused the
	// destination; never retried.
	ErrDestinationRefused = "DestinationRefused"
)

// HTTPFailure is the detail of an ErrHTTPStatus error.
type HTTPFailure struct {
	Status int    `json:"status"`
	Body   string `json:"body,omitempty"` // the start of the response body, for diagnosis
}

// failureBodyBytes bounds HTTPFailure.Body: enough for an API's error message,
// small enough for every failed attempt's record in the history.
const failureBodyBytes = 1 << 10

// HTTPNodes runs the node types that call HTTP endpoints: api_call and
// notification. Build it with NewHTTPNodes.
type HTTPNodes struct {
	*Activities
	// Client sends every request. Build it with outbound.NewClient: the
	// outbound host policy lives in it.
	Client *http.Client
	// webhooks are the notification connections: name -> webhook URL,
	// parsed once by NewHTTPNodes. The URLs are secrets (a Slack webhook URL
	// is its own credential), so no message, output or history entry ever
	// shows one.
	webhooks map[string]*url.URL
}

// NewHTTPNodes checks the dependencies of the HTTP node types: a client (never
// http.DefaultClient: it has no host policy) and absolute webhook URLs.
func NewHTTPNodes(a *Activities, client *http.Client, webhooks map[string]string) (*HTTPNodes, error) {
	if client == nil || client == http.DefaultClient {
		return nil, errors.New("http nodes: a client built by outbound.NewClient is required")
	}
	parsed := make(map[string]*url.URL, len(webhooks))
	for _, name := range slices.Sorted(maps.Keys(webhooks)) {
		u, err := parseTargetURL(webhooks[name])
		if err != nil {
			// Not the URL itself: it is a secret.
			return nil, fmt.Errorf("http nodes: webhook %q: %v", name, err)
		}
		parsed[name] = u
	}
	return &HTTPNodes{Activities: a, Client: client, webhooks: parsed}, nil
}

// parseTargetURL parses the URL of a request. Its errors never quote the URL,
// which may be a secret. Scheme and host are the outbound policy's to judge,
// so that "file:///etc/passwd" reads as a refused destination.
func parseTargetURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() {
		return nil, errors.New("not an absolute URL (such as https://example.com/path)")
	}
	return u, nil
}

// evalURL evaluates a url expression into an absolute URL.
func (h *HTTPNodes) evalURL(ctx context.Context, subject, field, src string, vars map[string]any) (*url.URL, error) {
	s, err := h.Expr.EvalString(ctx, src, vars)
	if err != nil {
		return nil, exprError(subject, field, err)
	}
	u, err := parseTargetURL(s)
	if err != nil {
		return nil, exprError(subject, field, &expr.EvalError{Expr: src, Err: fmt.Errorf("result %v", err)})
	}
	return u, nil
}

// httpCall is one request of an HTTP node.
type httpCall struct {
	subject string // `node "id"`: how messages start
	target  string // names the destination in messages; never a secret
	method  string
	url     *url.URL
	header  http.Header
	body    []byte
	timeout time.Duration // 0: only the client's and the activity's bounds
	success []int         // accepted statuses; empty: any 2xx
}

// httpReply is an accepted response.
type httpReply struct {
	status int
	header http.Header
	body   any // decoded JSON, text, or nil when empty
}

// origin names a URL's destination in messages: scheme and host only, for
// URLs whose path may carry a secret (a webhook's token).
func origin(u *url.URL) string {
	return u.Scheme + "://" + u.Host
}

// withPath names an api_call's destination in messages: scheme, host and
// path, so that a failure says which endpoint failed. Never the query, nor
// user info: they may carry secrets (API keys, passwords).
func withPath(u *url.URL) string {
	return origin(u) + u.EscapedPath()
}

// send sends c and returns the response if its status is accepted. Failures
// are classified: ErrDestinationRefused (not retried), ErrHTTPStatus (see
// there), ErrNetwork (retried), ErrPayloadTooBig for an accepted response
// whose body is over the node output cap (not retried), or the context's
// error when the activity itself is cancelled or out of time.
func (h *HTTPNodes) send(ctx context.Context, c httpCall) (httpReply, error) {
	reqCtx := ctx
	if c.timeout > 0 {
		var cancel context.CancelFunc
		reqCtx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(reqCtx, c.method, c.url.String(), bytes.NewReader(c.body))
	if err != nil {
		// The method and URL were checked already; err would quote the URL.
		return httpReply{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: cannot build a %s request to %s", c.subject, c.method, c.target), interpreter.ErrConfiguration, nil)
	}
	req.Header = c.header
	resp, err := h.Client.Do(req)
	if err != nil {
		return httpReply{}, c.transportError(ctx, err)
	}
	defer resp.Body.Close()

	limit := h.maxOutputBytes()
	data, err := io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1))
	if err != nil {
		return httpReply{}, c.transportError(ctx, err)
	}
	if !c.accepts(resp.StatusCode) {
		return httpReply{}, c.statusError(resp, data)
	}
	if len(data) > limit {
		return httpReply{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: %s %s: the response body is over %d bytes, the node output limit",
				c.subject, c.method, c.target, limit),
			interpreter.ErrPayloadTooBig, nil)
	}
	return httpReply{status: resp.StatusCode, header: resp.Header, body: decodeBody(resp.Header, data)}, nil
}

func (c httpCall) accepts(status int) bool {
	if len(c.success) == 0 {
		return status >= 200 && status <= 299
	}
	return slices.Contains(c.success, status)
}

// transportError classifies a request that got no status. The errors carry
// no cause: the interpreter reports the innermost message of a chain, and the
// message here says it all.
func (c httpCall) transportError(ctx context.Context, err error) error {
	var refused *outbound.RefusedError
	if errors.As(err, &refused) {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s: %s %s: %v", c.subject, c.method, c.target, refused), ErrDestinationRefused, nil)
	}
	if ctx.Err() != nil {
		// The activity was cancelled or ran out of time: the SDK reports it.
		return ctx.Err()
	}
	// A *url.Error's message repeats the whole URL, which may carry a secret.
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		err = urlErr.Err
	}
	// The error's text (resolver and dialled addresses, library wording)
	// goes to the log and the history's failure details, never into the
	// message the API shows.
	activity.GetLogger(ctx).Warn("outbound request failed", "target", c.target, "error", err)
	reason := outbound.Describe(err)
	if errors.Is(err, context.DeadlineExceeded) {
		reason = fmt.Sprintf("no response within the node's timeout (%s)", c.timeout)
	}
	return temporal.NewApplicationErrorWithOptions(fmt.Sprintf("%s: %s %s: %s", c.subject, c.method, c.target, reason), ErrNetwork,
		temporal.ApplicationErrorOptions{Details: []any{err.Error()}})
}

// statusError classifies a status that is not accepted: 408, 429 and 5xx may
// succeed later (after Retry-After when the server sends one); any other
// status would be answered again.
func (c httpCall) statusError(resp *http.Response, body []byte) error {
	status := resp.StatusCode
	retryable := status == http.StatusRequestTimeout || status == http.StatusTooManyRequests ||
		(status >= 500 && status <= 599)
	if len(body) > failureBodyBytes {
		body = body[:failureBodyBytes]
	}
	opts := temporal.ApplicationErrorOptions{
		NonRetryable: !retryable,
		Details:      []any{HTTPFailure{Status: status, Body: strings.ToValidUTF8(string(body), "")}},
	}
	if retryable {
		opts.NextRetryDelay = outbound.RetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	msg := fmt.Sprintf("%s: %s %s answered %d %s", c.subject, c.method, c.target, status, http.StatusText(status))
	return temporal.NewApplicationErrorWithOptions(msg, ErrHTTPStatus, opts)
}

// decodeBody returns a response body as a node sees it: decoded JSON when the
// response says it is JSON and it parses, otherwise text; nil when empty.
func decodeBody(header http.Header, data []byte) any {
	if len(data) == 0 {
		return nil
	}
	if mediaType, _, err := mime.ParseMediaType(header.Get("Content-Type")); err == nil &&
		(mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")) {
		var v any
		if json.Unmarshal(data, &v) == nil {
			return v
		}
	}
	return string(data)
}
