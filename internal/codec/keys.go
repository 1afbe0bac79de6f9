package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// KeySize is the length of a payload key: AES-256.
const KeySize = 32

// MakeKeyHint says how to make a key; every error about a missing or bad key
// ends with it.
const MakeKeyHint = "make a key with `openssl rand -base64 32` and set PAYLOAD_KEYS=<id>=<that key>"

// keyIDPattern is what a key id may look like: it is stored in every
// payload's metadata and shown in errors, so keep it short and plain. At
// most 32 characters, so that a key pasted in the id's place (44 base64
// characters) is never taken for an id and printed.
var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)

// key is one named AES-256-GCM key. It has no exported fields and no
// String method that could print the secret.
type key struct {
	id   string
	aead cipher.AEAD
}

// Keyring is an ordered set of payload keys: the first encrypts, every key
// decrypts the payloads that name it. Rotation: put a new key first and keep
// the old ones until no history that needs them is retained.
type Keyring struct {
	keys []key
}

// ParseKeys parses PAYLOAD_KEYS: comma-separated id=base64(32 bytes), e.g.
// "2026-11=q0v…=,2026-05=Zm9…=". Errors name the entry by position and id,
// never by its key material.
func ParseKeys(spec string) (*Keyring, error) {
	var ring Keyring
	var errs []error
	seen := map[string]bool{}
	for i, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		id, encoded, ok := strings.Cut(entry, "=")
		id = strings.TrimSpace(id)
		if !ok || strings.TrimSpace(encoded) == "" {
			errs = append(errs, fmt.Errorf("entry %d: not of the form id=base64key", i+1))
			continue
		}
		if !keyIDPattern.MatchString(id) {
			errs = append(errs, fmt.Errorf("entry %d: key id must be 1 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit", i+1))
			continue
		}
		if seen[id] {
			errs = append(errs, fmt.Errorf("entry %d: key id %q appears twice", i+1, id))
			continue
		}
		seen[id] = true
		secret, err := decodeSecret(strings.TrimSpace(encoded))
		if err != nil {
			errs = append(errs, fmt.Errorf("entry %d (key id %q): %w", i+1, id, err))
			continue
		}
		k, err := newKey(id, secret)
		if err != nil {
			errs = append(errs, fmt.Errorf("entry %d (key id %q): %w", i+1, id, err))
			continue
		}
		ring.keys = append(ring.keys, k)
	}
	if len(errs) == 0 && len(ring.keys) == 0 {
		errs = append(errs, errors.New("no keys"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("PAYLOAD_KEYS: %w (%s)", errors.Join(errs...), MakeKeyHint)
	}
	return &ring, nil
}

// decodeSecret reads standard base64 (what openssl prints), with or without
// padding, and checks the length. Its errors never quote the input.
func decodeSecret(encoded string) ([]byte, error) {
	if encoded == "" {
		return nil, errors.New("empty key")
	}
	secret, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		secret, err = base64.RawStdEncoding.DecodeString(encoded)
	}
	if err != nil {
		return nil, errors.New("key is not valid base64")
	}
	if len(secret) != KeySize {
		return nil, fmt.Errorf("key is %d bytes, want %d", len(secret), KeySize)
	}
	return secret, nil
}

func newKey(id string, secret []byte) (key, error) {
	block, err := aes.NewCipher(secret)
	if err != nil {
		return key{}, fmt.Errorf("key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return key{}, fmt.Errorf("key: %w", err)
	}
	return key{id: id, aead: aead}, nil
}

// IDs lists the key ids in order; the first one encrypts.
func (r *Keyring) IDs() []string {
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.id
	}
	return ids
}

// find returns the key named id.
func (r *Keyring) find(id string) (key, bool) {
	for _, k := range r.keys {
		if k.id == id {
			return k, true
		}
	}
	return key{}, false
}

// String names the keys, never their material.
func (r *Keyring) String() string {
	return "Keyring[" + strings.Join(r.IDs(), ",") + "]"
}
