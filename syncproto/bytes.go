package syncproto

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// b64 is the encoding of every binary value on the wire: unpadded base64url.
var b64 = base64.RawURLEncoding.Strict()

// Hash is a SHA-256 digest. On the wire it is unpadded base64url.
type Hash [sha256.Size]byte

// IsZero reports whether h is the all-zero hash, the "prev" of seq 1.
func (h Hash) IsZero() bool { return h == Hash{} }

// String returns the wire form of h.
func (h Hash) String() string { return b64.EncodeToString(h[:]) }

// MarshalText implements encoding.TextMarshaler.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *Hash) UnmarshalText(b []byte) error {
	if b64.DecodedLen(len(b)) != len(h) {
		return errors.New("hash: want 43 base64url characters")
	}
	_, err := b64.Decode(h[:], b)
	if err != nil {
		return fmt.Errorf("hash: %w", err)
	}
	return nil
}

// ParseHash parses the wire form of a hash.
func ParseHash(s string) (Hash, error) {
	var h Hash
	err := h.UnmarshalText([]byte(s))
	return h, err
}

// Bytes is a binary value (signature, public key) carried as unpadded base64url.
type Bytes []byte

// MarshalText implements encoding.TextMarshaler.
func (b Bytes) MarshalText() ([]byte, error) {
	out := make([]byte, b64.EncodedLen(len(b)))
	b64.Encode(out, b)
	return out, nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *Bytes) UnmarshalText(t []byte) error {
	out := make([]byte, b64.DecodedLen(len(t)))
	n, err := b64.Decode(out, t)
	if err != nil {
		return fmt.Errorf("bytes: %w", err)
	}
	*b = out[:n]
	return nil
}
