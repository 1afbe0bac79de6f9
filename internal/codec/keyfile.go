package codec

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeyFileName is the file under DATA_DIR that dev mode and tests keep
// their generated key in.
const KeyFileName = "payload-keys"

// LoadKeyFile reads the keys in path (PAYLOAD_KEYS' format) and never
// creates the file: when it does not exist the error wraps fs.ErrNotExist.
// Processes that only read histories (the replay command) use it, since a
// key they generated could decrypt nothing.
func LoadKeyFile(path string) (*Keyring, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading payload keys: %w", err)
	}
	ring, err := ParseKeys(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ring, nil
}

// LoadOrCreateKeyFile reads the keys in path (PAYLOAD_KEYS' format), or,
// when the file does not exist, generates one random key, writes it with
// mode 0600 and returns it. created says a new key was made. Dev mode and
// tests use it when PAYLOAD_KEYS is empty; reusing the file on restart keeps
// old histories readable.
func LoadOrCreateKeyFile(path string) (ring *Keyring, created bool, err error) {
	ring, err = LoadKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return ring, false, err
	}

	secret := make([]byte, KeySize)
	if _, err := rand.Read(secret); err != nil {
		return nil, false, fmt.Errorf("generating a payload key: %w", err)
	}
	line := "dev-" + rand.Text() + "=" + base64.StdEncoding.EncodeToString(secret) + "\n"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, false, fmt.Errorf("creating the payload key's directory: %w", err)
	}
	// Written to a temporary file and linked into place, which fails if the
	// file exists: two processes starting on one DATA_DIR must not overwrite
	// each other's key, nor read a half-written file; the loser reads the
	// winner's.
	tmp, err := os.CreateTemp(filepath.Dir(path), KeyFileName+".tmp-*")
	if err != nil {
		return nil, false, fmt.Errorf("writing payload keys: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return nil, false, fmt.Errorf("writing payload keys: %w", err)
	}
	if _, err := tmp.WriteString(line); err != nil {
		_ = tmp.Close()
		return nil, false, fmt.Errorf("writing payload keys: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, false, fmt.Errorf("writing payload keys: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return LoadOrCreateKeyFile(path)
		}
		return nil, false, fmt.Errorf("writing payload keys: %w", err)
	}
	ring, err = ParseKeys(strings.TrimSpace(line))
	return ring, err == nil, err
}
