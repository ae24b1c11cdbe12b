package hss

import (
	"encoding/hex"
	"fmt"
	"log/slog"
)

// Key is 128-bit key material: K, OP or OPc. It never prints itself: %v, %s, %#v
// and slog all render "[redacted]", so a stray log line cannot leak it.
type Key [16]byte

const redacted = "[redacted]"

// ParseKey decodes 32 hex digits.
func ParseKey(s string) (Key, error) {
	var k Key
	b, err := hex.DecodeString(s)
	if err != nil {
		return k, fmt.Errorf("hss: key is not hex: %w", ErrInvalidInput)
	}
	if len(b) != len(k) {
		return k, fmt.Errorf("hss: key must be 16 bytes (32 hex digits), got %d bytes: %w", len(b), ErrInvalidInput)
	}
	copy(k[:], b)
	return k, nil
}

// IsZero reports whether the key is all zero bytes (unset).
func (k Key) IsZero() bool { return k == Key{} }

// Hex returns the key's hex encoding. Only the store and tests call it, to write
// the key where it belongs; nothing that logs or answers an API may.
func (k Key) Hex() string { return hex.EncodeToString(k[:]) }

func (Key) String() string             { return redacted }
func (Key) GoString() string           { return redacted }
func (Key) LogValue() slog.Value       { return slog.StringValue(redacted) }
func (Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalJSON renders the key as "[redacted]", so that encoding/json (and
// slog's JSONHandler, which falls back to it for a logged struct such as a
// Subscriber) cannot print key bytes. Code that must write a key (stores,
// exports) encodes it explicitly with Hex.
func (Key) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
