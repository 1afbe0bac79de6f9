package process

import (
	"errors"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"

	"go.temporal.io/sdk/client"

	"github.com/workflow-backend/workflow-backend/internal/codec"
	"github.com/workflow-backend/workflow-backend/internal/config"
)

// RequirePayloadKeys is the production commands' check: with encryption on
// they need PAYLOAD_KEYS (a generated key file would differ per container
// and make every other process's payloads unreadable).
func RequirePayloadKeys(cfg config.Config) error {
	if !cfg.Encrypted() || strings.TrimSpace(cfg.PayloadKeys) != "" {
		return nil
	}
	return errors.New("PAYLOAD_ENCRYPTION is on and PAYLOAD_KEYS is empty: make a key with `openssl rand -base64 32` " +
		"and set PAYLOAD_KEYS=k1=<that key> on the api and every worker (the same keys everywhere), " +
		"or set PAYLOAD_ENCRYPTION=off to store payloads in Temporal in plain text")
}

// PayloadCodec returns the payload codec cfg asks for: nil with
// PAYLOAD_ENCRYPTION=off; the keys of PAYLOAD_KEYS; or, when it is empty
// (dev mode and tests: the production commands check RequirePayloadKeys
// first), the keys of DATA_DIR/payload-keys, generated there if missing.
// logger, when not nil, is told which keys are used (never their material).
func PayloadCodec(cfg config.Config, logger *slog.Logger) (*codec.Codec, error) {
	if !cfg.Encrypted() {
		if logger != nil {
			logger.Warn("PAYLOAD_ENCRYPTION=off: workflow inputs, results and errors are stored in Temporal in plain text")
		}
		return nil, nil
	}
	if strings.TrimSpace(cfg.PayloadKeys) != "" {
		return payloadKeysCodec(cfg)
	}
	path := filepath.Join(cfg.DataDir, codec.KeyFileName)
	ring, created, err := codec.LoadOrCreateKeyFile(path)
	if err != nil {
		return nil, err
	}
	if logger != nil {
		if created {
			logger.Info("PAYLOAD_KEYS is empty: generated a payload key for this DATA_DIR; keep the file to read these histories later", "file", path, "keyIds", ring.IDs())
		} else {
			logger.Info("PAYLOAD_KEYS is empty: using this DATA_DIR's payload keys", "file", path, "keyIds", ring.IDs())
		}
	}
	return codec.New(ring)
}

// ExistingPayloadCodec is PayloadCodec for a process that only reads
// histories (the replay command), which must not generate a key: a new key
// decrypts nothing. It returns nil with PAYLOAD_ENCRYPTION=off; the keys of
// PAYLOAD_KEYS; else those of an existing DATA_DIR/payload-keys; else nil
// (plain histories only).
func ExistingPayloadCodec(cfg config.Config) (*codec.Codec, error) {
	if !cfg.Encrypted() {
		return nil, nil
	}
	if strings.TrimSpace(cfg.PayloadKeys) != "" {
		return payloadKeysCodec(cfg)
	}
	ring, err := codec.LoadKeyFile(filepath.Join(cfg.DataDir, codec.KeyFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return codec.New(ring)
}

// payloadKeysCodec is the codec of PAYLOAD_KEYS.
func payloadKeysCodec(cfg config.Config) (*codec.Codec, error) {
	ring, err := codec.ParseKeys(cfg.PayloadKeys)
	if err != nil {
		return nil, err
	}
	return codec.New(ring)
}

// withCodec makes opts encrypt payloads with pc (nil: leave opts alone):
// a codec data converter, and a failure converter that moves error
// messages and stack traces into an encrypted payload too.
func withCodec(opts *client.Options, pc *codec.Codec) {
	if pc == nil {
		return
	}
	opts.DataConverter, opts.FailureConverter = pc.Converters()
}
