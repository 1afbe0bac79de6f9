// Package codec encrypts Temporal payloads with AES-256-GCM, so
// that workflow inputs, results, memos, activity summaries and failure
// messages are ciphertext in Temporal's database, its history exports and
// its Web UI unless the reader has a key (the API's codec endpoints).
//
// An encrypted payload is
//
//	metadata: encoding=binary/encrypted, encryption-key-id=<id>, encryption-cipher=AES-256-GCM
//	data:     nonce (12 bytes) ‖ AES-GCM(key, nonce, proto(original payload), aad=key id)
//
// The key id in the metadata makes rotation work: Encode uses the first key
// of the Keyring, Decode the key the payload names. Payloads without the
// encrypted encoding pass through Decode unchanged, so histories recorded
// before encryption was switched on still replay.
package codec

import (
	"crypto/rand"
	"errors"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// Metadata of an encrypted payload.
const (
	// EncodingEncrypted is the "encoding" of an encrypted payload; the
	// Temporal CLI and UI show it when they cannot decode.
	EncodingEncrypted = "binary/encrypted"
	// MetadataKeyID names the key that encrypted the payload.
	MetadataKeyID = "encryption-key-id"
	// MetadataCipher names the cipher, for whoever reads the history later.
	MetadataCipher = "encryption-cipher"
	cipherName     = "AES-256-GCM"
)

// ErrUnknownKey is returned (wrapped) when a payload names a key id that
// is not in the Keyring.
var ErrUnknownKey = errors.New("unknown payload key id")

// ErrTampered is returned (wrapped) when a payload fails authentication:
// it was changed, or encrypted with another key under the same id.
var ErrTampered = errors.New("encrypted payload failed authentication")

// Codec is a converter.PayloadCodec that encrypts with a Keyring.
type Codec struct {
	ring *Keyring
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns a codec over ring, which must hold at least one key.
func New(ring *Keyring) (*Codec, error) {
	if ring == nil || len(ring.keys) == 0 {
		return nil, errors.New("codec: no payload keys (" + MakeKeyHint + ")")
	}
	return &Codec{ring: ring}, nil
}

// Encode encrypts every payload with the first key. Payloads that are
// already encrypted are left alone (a codec chain applied twice must not
// wrap them again).
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	k := c.ring.keys[0]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if isEncrypted(p) {
			out[i] = p
			continue
		}
		plain, err := proto.Marshal(p)
		if err != nil {
			return payloads, fmt.Errorf("codec: marshal payload: %w", err)
		}
		nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plain)+k.aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return payloads, fmt.Errorf("codec: nonce: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(EncodingEncrypted),
				MetadataKeyID:              []byte(k.id),
				MetadataCipher:             []byte(cipherName),
			},
			Data: k.aead.Seal(nonce, nonce, plain, []byte(k.id)),
		}
	}
	return out, nil
}

// Decode decrypts the payloads marked as encrypted with the key they name
// and passes the others through.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if !isEncrypted(p) {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		k, ok := c.ring.find(id)
		if !ok {
			return payloads, fmt.Errorf("codec: payload encrypted with key id %q, which PAYLOAD_KEYS does not hold (keys: %v): %w", id, c.ring.IDs(), ErrUnknownKey)
		}
		data := p.GetData()
		ns := k.aead.NonceSize()
		if len(data) < ns+k.aead.Overhead() {
			return payloads, fmt.Errorf("codec: payload under key id %q is too short: %w", id, ErrTampered)
		}
		plain, err := k.aead.Open(nil, data[:ns], data[ns:], []byte(id))
		if err != nil {
			return payloads, fmt.Errorf("codec: payload under key id %q: %w", id, ErrTampered)
		}
		var original commonpb.Payload
		if err := proto.Unmarshal(plain, &original); err != nil {
			return payloads, fmt.Errorf("codec: payload under key id %q: decrypted bytes are not a payload: %w", id, err)
		}
		out[i] = &original
	}
	return out, nil
}

func isEncrypted(p *commonpb.Payload) bool {
	return string(p.GetMetadata()[converter.MetadataEncoding]) == EncodingEncrypted
}

// DataConverter wraps the SDK's default data converter with c.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// PlainDataConverter is the SDK's default data converter for a reader
// without payload keys (the replay command without PAYLOAD_KEYS or a key
// file): plain payloads decode as usual, and an encrypted one fails with
// ErrUnknownKey naming its key id, where the SDK would only say that the
// encoding is not supported.
func PlainDataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), noKeys{})
}

// noKeys is the PayloadCodec of PlainDataConverter.
type noKeys struct{}

func (noKeys) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	return payloads, nil
}

func (noKeys) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	for _, p := range payloads {
		if isEncrypted(p) {
			return payloads, fmt.Errorf("codec: payload encrypted with key id %q, and no payload keys are given (PAYLOAD_KEYS, or DATA_DIR/%s): %w",
				string(p.GetMetadata()[MetadataKeyID]), KeyFileName, ErrUnknownKey)
		}
	}
	return payloads, nil
}

// Converters returns what a Temporal client, worker or replayer needs to
// encrypt with c: DataConverter, and FailureConverter over it, so that
// failure messages are encrypted too.
func (c *Codec) Converters() (converter.DataConverter, converter.FailureConverter) {
	dc := c.DataConverter()
	return dc, FailureConverter(dc)
}

// FailureConverter returns a failure converter that moves error messages
// and stack traces into an encoded payload (Failure.EncodedAttributes), so
// they are encrypted by dc too; history then shows "Encoded failure".
// Error types, non-retryable flags and details keep working: the types are
// not encrypted (they are codes, e.g. "ValidationError"), details are
// payloads and go through dc.
func FailureConverter(dc converter.DataConverter) converter.FailureConverter {
	return decodeOnCopy{temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          dc,
		EncodeCommonAttributes: true,
	})}
}

// decodeOnCopy works around SDK v1.50.0's DefaultFailureConverter, whose
// FailureToError decrypts the message into the Failure it is given. The
// SDK hands it the very Failure it has just put in a local activity's
// RecordMarker command, so the failure messages of local activities (the
// interpreter's validation and fail nodes) reached history in plain text.
// Decoding a copy leaves the command's Failure encrypted.
type decodeOnCopy struct {
	converter.FailureConverter
}

func (c decodeOnCopy) FailureToError(f *failurepb.Failure) error {
	if f == nil {
		return nil
	}
	return c.FailureConverter.FailureToError(proto.Clone(f).(*failurepb.Failure))
}
