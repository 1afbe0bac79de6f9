// Package testenv starts, for any test, the local stand-ins of the external
// services the activities call: Stripe's official stripe-mock, a fake Stripe
// for the errors stripe-mock cannot produce, and a fake SendGrid.
package testenv

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"
)

// StripeMockModule is the stripe-mock the tests run (the version pinned for this project).
const StripeMockModule = "github.com/stripe/stripe-mock@v0.203.0"

// StripeTestKey is a key stripe-mock and StripeServer accept.
const StripeTestKey = "sk_test_123"

// skipStripeMockEnv names the variable that lets tests skip, instead of
// fail, when stripe-mock can neither be found nor installed. CI leaves it
// unset, so a missing stripe-mock fails the build rather than hiding tests.
const skipStripeMockEnv = "SKIP_STRIPE_MOCK"

// StripeMock starts stripe-mock for the test and returns its base URL (for
// STRIPE_API_BASE); it is stopped when the test ends. The binary is taken
// from PATH or GOBIN / GOPATH/bin, or installed there with go install (a few
// minutes of compilation, once per machine). It takes about 4 s to load
// Stripe's spec: start one per test function and share it among subtests.
//
// stripe-mock validates requests against Stripe's OpenAPI spec and answers
// with fixtures: it checks the protocol, not the payment logic (it never
// declines, never fails, and answers a confirmed PaymentIntent with status
// requires_payment_method). StripeServer covers the rest.
func StripeMock(t testing.TB) string {
	t.Helper()
	base, stop, err := StartStripeMock()
	if errors.Is(err, errStripeMockMissing) && os.Getenv(skipStripeMockEnv) == "1" {
		t.Skipf("stripe-mock unavailable (%s=1): %v", skipStripeMockEnv, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return base
}

// errStripeMockMissing: stripe-mock can neither be found nor installed.
var errStripeMockMissing = errors.New("stripe-mock unavailable")

// StartStripeMock starts stripe-mock (found or installed as StripeMock
// says) and returns its base URL and a function that stops it: StripeMock
// for programs that are not tests (cmd/bench).
func StartStripeMock() (base string, stop func(), err error) {
	bin, err := stripeMockBinary()
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v (install it with `go install %s`, or set %s=1 to skip these tests)",
			errStripeMockMissing, err, StripeMockModule, skipStripeMockEnv)
	}
	// Both listeners on 127.0.0.1 port 0: the kernel picks free ports, so
	// parallel test processes never race for one, and nothing is exposed
	// beyond loopback. (-http-addr alone would also open HTTPS on the fixed
	// port 12112.) The chosen HTTP address is read from stripe-mock's output.
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:0", "-https-addr", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start stripe-mock: %w", err)
	}
	stop = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	addr, err := stripeMockAddress(out, 30*time.Second)
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("stripe-mock: %w", err)
	}
	base = "http://" + addr
	if err := waitForStripeMock(base, 10*time.Second); err != nil {
		stop()
		return "", nil, fmt.Errorf("stripe-mock at %s: %w", base, err)
	}
	return base, stop, nil
}

var listeningHTTP = regexp.MustCompile(`Listening for HTTP at address: (\S+)`)

// stripeMockAddress reads stripe-mock's output until it says where it
// listens, then keeps draining it (it logs every request, and a full pipe
// would block it).
func stripeMockAddress(out io.Reader, timeout time.Duration) (string, error) {
	found := make(chan string, 1)
	var seen bytes.Buffer // what it said, for the error message
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listeningHTTP.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
			mu.Lock()
			seen.WriteString(sc.Text() + "\n")
			mu.Unlock()
		}
		close(found)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case addr, ok := <-found:
		if ok {
			return addr, nil
		}
		mu.Lock()
		defer mu.Unlock()
		return "", fmt.Errorf("exited before listening:\n%s", seen.String())
	case <-time.After(timeout):
		mu.Lock()
		defer mu.Unlock()
		return "", fmt.Errorf("not listening after %v:\n%s", timeout, seen.String())
	}
}

// waitForStripeMock polls an authenticated endpoint until it answers 200.
func waitForStripeMock(base string, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		req, err := http.NewRequest(http.MethodGet, base+"/v1/balance", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+StripeTestKey)
		resp, err := client.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /v1/balance: %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stripeMockBinary finds or installs stripe-mock once per test process.
var stripeMockBinary = sync.OnceValues(func() (string, error) {
	if path, err := exec.LookPath("stripe-mock"); err == nil {
		return path, nil
	}
	bin, err := goBin()
	if err != nil {
		return "", err
	}
	path := filepath.Join(bin, "stripe-mock")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	// Concurrent installs by parallel test processes are safe: the go
	// command renames the finished binary into place.
	cmd := exec.Command("go", "install", StripeMockModule)
	cmd.Env = append(os.Environ(), "GOBIN="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s: %v\n%s", StripeMockModule, err, out)
	}
	return path, nil
})

// goBin is where go install puts binaries: GOBIN, or the first GOPATH's bin.
func goBin() (string, error) {
	out, err := exec.Command("go", "env", "-json", "GOBIN", "GOPATH").Output()
	if err != nil {
		return "", fmt.Errorf("go env: %v", err)
	}
	var env struct{ GOBIN, GOPATH string }
	if err := json.Unmarshal(out, &env); err != nil {
		return "", fmt.Errorf("go env: %v", err)
	}
	switch {
	case env.GOBIN != "":
		return env.GOBIN, nil
	case env.GOPATH != "":
		return filepath.Join(filepath.SplitList(env.GOPATH)[0], "bin"), nil
	}
	return "", errors.New("go env: neither GOBIN nor GOPATH is set")
}

// StripeServer is a fake Stripe API for what stripe-mock cannot simulate:
// declines, server errors, an error then a success. Each request gets the
// next scripted reply (the last one repeats once the script is used up),
// and every request is recorded with its Idempotency-Key.
type StripeServer struct {
	// URL is the server's base URL (STRIPE_API_BASE).
	URL string

	mu       sync.Mutex
	replies  []StripeReply
	requests []StripeRequest

	// Idempotent mode (see Idempotent): the objects created by key, the
	// delay of a new PaymentIntent, and faults to apply after the next
	// PaymentIntents were created.
	idempotent  bool
	created     map[string]*createdReply
	chargeDelay time.Duration
	faults      []ChargeFault
}

// createdReply is what a POST with an Idempotency-Key created; done is
// closed once the first request's answer is final, so that a concurrent
// retry waits for it, as Stripe makes it wait (or fail) rather than run it
// twice.
type createdReply struct {
	body string
	done chan struct{}
}

// ChargeFault is what goes wrong after a PaymentIntent was created: the
// charge is taken, but the client does not learn it.
type ChargeFault int

const (
	// ChargeFault500 answers 500 api_error after taking the charge.
	ChargeFault500 ChargeFault = iota + 1
	// ChargeFaultDrop closes the connection without an answer after taking
	// the charge (a network failure or a crash on Stripe's side).
	ChargeFaultDrop
	// ChargeFaultHang takes the charge and answers only after the client
	// gave up (its timeout), as a request lost in the network.
	ChargeFaultHang
)

// StripeReply answers one request.
type StripeReply struct {
	Status int
	// Body is the JSON answered. Empty: the object the request created (a
	// succeeded PaymentIntent or Refund with the amount and currency asked).
	Body string
}

// StripeRequest is a request the server received and what it answered.
type StripeRequest struct {
	Method, Path   string
	IdempotencyKey string
	Form           url.Values
	Status         int // the status answered
	// Created says this request created the object (a charge taken, a
	// refund made), whatever it answered; Replayed that it got the answer
	// of an earlier request with its Idempotency-Key (Idempotent mode).
	Created, Replayed bool
	// ClientGone says the client went away before the answer (a killed
	// worker, a timeout).
	ClientGone bool
	// ObjectID is the id of the object created (Created requests).
	ObjectID string
}

// StripeOK answers with the object the request created.
var StripeOK = StripeReply{Status: http.StatusOK}

// StripeDecline is Stripe's answer to a declined card.
func StripeDecline(declineCode, message string) StripeReply {
	return StripeError(http.StatusPaymentRequired, "card_error", "card_declined", declineCode, message)
}

// StripeError is Stripe's error JSON with the given status and fields.
func StripeError(status int, errType, code, declineCode, message string) StripeReply {
	e := map[string]string{"type": errType, "message": message}
	if code != "" {
		e["code"] = code
	}
	if declineCode != "" {
		e["decline_code"] = declineCode
	}
	body, _ := json.Marshal(map[string]any{"error": e})
	return StripeReply{Status: status, Body: string(body)}
}

// NewStripeServer starts a fake Stripe API answering with replies in order;
// it is closed when the test ends. A request without StripeTestKey gets a
// 401, as from Stripe, and leaves the script where it was.
func NewStripeServer(t testing.TB, replies ...StripeReply) *StripeServer {
	t.Helper()
	if len(replies) == 0 {
		replies = []StripeReply{StripeOK}
	}
	s := &StripeServer{replies: replies}
	s.URL = serveHTTP(t, s.serve)
	return s
}

// Requests returns the requests received so far.
func (s *StripeServer) Requests() []StripeRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]StripeRequest(nil), s.requests...)
}

// Idempotent makes the server keep Stripe's idempotency promise: the first
// POST with an Idempotency-Key creates the object (with the scripted reply)
// and every later POST with that key gets the same answer without creating
// anything, as Stripe does for 24 hours. A retry that arrives while the
// first request is still running waits for it. Call it before the first
// request.
func (s *StripeServer) Idempotent() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idempotent = true
	s.created = map[string]*createdReply{}
}

// SetChargeDelay makes every new PaymentIntent take d before its answer
// (Idempotent mode): a slow provider, to catch a worker inside the call.
// The charge is taken when the request arrives.
func (s *StripeServer) SetChargeDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chargeDelay = d
}

// FailAfterCharge applies faults, in order, to the next new PaymentIntents
// (Idempotent mode): each takes the charge, then fails to tell the client.
func (s *StripeServer) FailAfterCharge(faults ...ChargeFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, faults...)
}

// Created returns the requests to path that created an object (for
// "/v1/payment_intents": the charges taken), replays excluded.
func (s *StripeServer) Created(path string) []StripeRequest {
	var out []StripeRequest
	for _, r := range s.Requests() {
		if r.Created && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func (s *StripeServer) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	rec := StripeRequest{Method: r.Method, Path: r.URL.Path, IdempotencyKey: r.Header.Get("Idempotency-Key"), Form: r.PostForm}
	authorized := r.Header.Get("Authorization") == "Bearer "+StripeTestKey

	s.mu.Lock()
	if s.idempotent && authorized && r.Method == http.MethodPost && rec.IdempotencyKey != "" {
		s.serveIdempotent(w, r, rec) // unlocks
		return
	}
	n := len(s.requests)
	reply := StripeError(http.StatusUnauthorized, "invalid_request_error", "", "", "Invalid API Key provided: sk_test_****")
	if authorized {
		reply = s.nextReply(n, rec.Path, rec.Form)
	}
	rec.Status = reply.Status
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
	writeStripeJSON(w, n, reply.Status, reply.Body)
}

// nextReply takes the next scripted reply (the last one repeats) for the
// n-th request, to path with form, filling in the created object when the
// reply has no body. s.mu must be held.
func (s *StripeServer) nextReply(n int, path string, form url.Values) StripeReply {
	reply := s.replies[0]
	if len(s.replies) > 1 {
		s.replies = s.replies[1:]
	}
	if reply.Body == "" {
		reply.Body = createdObject(n, path, form)
	}
	return reply
}

// serveIdempotent answers a keyed POST in Idempotent mode; it is called with
// s.mu held and releases it.
func (s *StripeServer) serveIdempotent(w http.ResponseWriter, r *http.Request, rec StripeRequest) {
	key := rec.Path + " " + rec.IdempotencyKey
	if earlier, ok := s.created[key]; ok {
		rec.Replayed, rec.Status = true, http.StatusOK
		n := len(s.requests)
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
		select {
		case <-earlier.done:
		case <-r.Context().Done():
			s.markGone(n)
			return
		}
		writeStripeJSON(w, n, http.StatusOK, earlier.body)
		return
	}

	n := len(s.requests)
	reply := s.nextReply(n, rec.Path, rec.Form)
	body := reply.Body
	rec.Status = reply.Status
	var delay time.Duration
	var fault ChargeFault
	if reply.Status == http.StatusOK && rec.Path == "/v1/payment_intents" {
		delay = s.chargeDelay
		if len(s.faults) > 0 {
			fault, s.faults = s.faults[0], s.faults[1:]
		}
	}
	var done chan struct{}
	if reply.Status == http.StatusOK {
		rec.Created = true
		var obj struct{ ID string }
		_ = json.Unmarshal([]byte(body), &obj)
		rec.ObjectID = obj.ID
		done = make(chan struct{})
		s.created[key] = &createdReply{body: body, done: done}
	}
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
	if done != nil {
		defer close(done)
	}

	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			s.markGone(n)
			return
		}
	}
	switch fault {
	case ChargeFault500:
		s.setStatus(n, http.StatusInternalServerError)
		writeStripeJSON(w, n, http.StatusInternalServerError,
			StripeError(http.StatusInternalServerError, "api_error", "", "", "An unknown error occurred").Body)
		return
	case ChargeFaultDrop:
		s.setStatus(n, 0)
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		}
		return
	case ChargeFaultHang:
		s.setStatus(n, 0)
		select {
		case <-r.Context().Done():
			s.markGone(n)
		case <-time.After(time.Minute): // a bound, so Close never waits forever
		}
		return
	}
	writeStripeJSON(w, n, reply.Status, body)
}

func (s *StripeServer) markGone(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[n].ClientGone = true
}

func (s *StripeServer) setStatus(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[n].Status = status
}

func writeStripeJSON(w http.ResponseWriter, n, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", fmt.Sprintf("req_test_%d", n))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// createdObject is the succeeded object a POST to path creates, with the
// amount and currency asked for; n makes ids distinct.
func createdObject(n int, path string, form url.Values) string {
	obj := map[string]any{"status": "succeeded", "currency": form.Get("currency")}
	var amount int64
	_, _ = fmt.Sscan(form.Get("amount"), &amount)
	obj["amount"] = amount
	switch path {
	case "/v1/refunds":
		obj["object"], obj["id"] = "refund", fmt.Sprintf("re_test_%d", n)
		obj["payment_intent"] = form.Get("payment_intent")
	default:
		obj["object"], obj["id"] = "payment_intent", fmt.Sprintf("pi_test_%d", n)
	}
	body, _ := json.Marshal(obj)
	return string(body)
}
