package syncproto

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Version is the protocol version, sent in the Villagesync-Protocol header.
const Version = 1

// HTTP headers and media types of the protocol.
const (
	HeaderProtocol = "Villagesync-Protocol"
	MediaType      = "application/json"
)

// SyncRequest is the body of POST /v1/sync: the device's unsent changes and
// where its pull left off, so one round trip both pushes and pulls.
type SyncRequest struct {
	// Changes are the device's own changes in ascending seq, as runs of
	// consecutive seqs: the first change of each run carries Prev (unless its
	// seq is 1) and the last carries Sig.
	Changes []Change `json:"changes,omitempty"`
	// Relay carries other devices' changes (imported from bundles) toward
	// the server: grouped by device, each group runs as in Changes. The
	// server verifies them against each original device's key and scope.
	Relay []Change `json:"relay,omitempty"`
	// Cursor is the opaque cursor of the last pull response ("" = start).
	Cursor string `json:"cursor,omitempty"`
	// PullMax bounds the pulled changes' encoded size; 0 = DefaultPullBytes.
	// The server caps it at MaxPullBytes. -1 = do not pull.
	PullMax int `json:"pull_max,omitempty"`
	// Now is the device clock when it sent the request, Unix ms.
	Now int64 `json:"now"`
}

// SyncResponse is the body of a successful POST /v1/sync.
type SyncResponse struct {
	// Receipt covers every change of the device the server holds durably
	// and contiguously from seq 1. Nil only when the device has pushed nothing
	// yet.
	Receipt *Receipt `json:"receipt,omitempty"`
	// Held lists seqs the server stores but cannot apply yet because an
	// earlier seq is missing (a gap); they are applied once it arrives.
	Held []uint64 `json:"held,omitempty"`
	// Changes are pulled changes of other authors visible in the device's
	// scope, in server log order.
	Changes []Change `json:"changes,omitempty"`
	// Cursor is where the next pull starts.
	Cursor string `json:"cursor,omitempty"`
	// More is set when more changes are waiting beyond this page.
	More bool `json:"more,omitempty"`
	// Now is the server clock when it built the response, Unix ms.
	Now int64 `json:"now"`
	// Relayed has one receipt per device whose changes were relayed in the
	// request, covering what the server now holds of that device.
	Relayed []Receipt `json:"relayed,omitempty"`
	// Nonce is a fresh single-use nonce for the device's next token request,
	// saving it a round trip. It expires NonceLifetime after it is issued.
	Nonce string `json:"nonce,omitempty"`
}

// NonceLifetime is how long a server nonce stays usable (protocol §5.3):
// longer than an access token lives, so the nonce a device kept from its
// last sync gets it a new token after that token has expired.
const NonceLifetime = 30 * time.Minute

// ServerKey is a server public key, used to verify receipts.
type ServerKey struct {
	KeyID     string `json:"kid"`
	PublicKey Bytes  `json:"public_key"`
}

// EnrollRequest is the body of POST /v1/enroll.
type EnrollRequest struct {
	Code      string `json:"code"`
	PublicKey Bytes  `json:"public_key"` // Ed25519, 32 bytes
	Label     string `json:"label,omitempty"`
}

// EnrollResponse is the body of a successful POST /v1/enroll.
type EnrollResponse struct {
	Device     string      `json:"device"` // DeviceID(public key)
	Role       string      `json:"role"`
	Scope      string      `json:"scope"`
	ServerKeys []ServerKey `json:"server_keys"`
}

// NonceResponse is the body of GET /v1/nonce.
type NonceResponse struct {
	Nonce   string `json:"nonce"`
	Expires int64  `json:"expires"` // Unix ms
}

// TokenRequest is the body of POST /v1/token: proof that the caller holds the
// device key, as a signature over TokenProof(Device, Nonce).
type TokenRequest struct {
	Device string `json:"device"`
	Nonce  string `json:"nonce"`
	Sig    Bytes  `json:"sig"`
}

// TokenResponse is the body of a successful POST /v1/token.
type TokenResponse struct {
	Token   string `json:"token"`
	Expires int64  `json:"expires"` // Unix ms
}

// Marshal encodes v as the protocol's JSON: compact, without HTML escaping,
// so that record bodies are re-emitted byte for byte.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Unmarshal decodes one JSON value from data into v, refusing trailing data.
// Unknown fields are ignored so that newer peers stay compatible.
func Unmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return Errorf(CodeBadRequest, "invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Errorf(CodeBadRequest, "invalid JSON: trailing data after the value")
	}
	return nil
}

// DecodeSyncRequest decodes and shape-checks a sync request for device: every
// change must be that device's, shaped correctly, in ascending seq order.
func DecodeSyncRequest(data []byte, device string) (*SyncRequest, error) {
	if len(data) > MaxPushBytes {
		return nil, Errorf(CodeTooLarge, "sync request is %d bytes, over the %d limit", len(data), MaxPushBytes)
	}
	var req SyncRequest
	if err := Unmarshal(data, &req); err != nil {
		return nil, err
	}
	if n := len(req.Changes) + len(req.Relay); n > MaxPushChanges {
		return nil, Errorf(CodeTooLarge, "%d changes in one request, over the %d limit", n, MaxPushChanges)
	}
	for i := range req.Changes {
		c := &req.Changes[i]
		if err := c.CheckShape(); err != nil {
			return nil, err
		}
		if c.Device != device {
			return nil, &Error{Code: CodeForbidden, Message: fmt.Sprintf("change is authored by %q, not by the token's device", c.Device), Seq: c.Seq}
		}
	}
	if _, err := SplitRuns(req.Changes); err != nil {
		return nil, err
	}
	if err := CheckRelay(req.Relay); err != nil {
		return nil, err
	}
	for i := range req.Relay {
		if req.Relay[i].Device == device {
			return nil, &Error{Code: CodeBadRequest, Message: "a device's own changes go in changes, not relay", Seq: req.Relay[i].Seq}
		}
	}
	if _, err := DecodeCursor(req.Cursor); err != nil {
		return nil, err
	}
	return &req, nil
}

const cursorPrefix = "c1."

// EncodeCursor makes the opaque pull cursor for a server log position.
func EncodeCursor(pos uint64) string {
	if pos == 0 {
		return ""
	}
	return cursorPrefix + b64.EncodeToString(binary.BigEndian.AppendUint64(nil, pos))
}

// DecodeCursor parses a pull cursor; "" is the start of the log.
func DecodeCursor(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	if len(s) != len(cursorPrefix)+11 || s[:len(cursorPrefix)] != cursorPrefix {
		return 0, Errorf(CodeBadRequest, "invalid cursor: pass back the cursor of the last response unchanged, or none to start over")
	}
	var b [8]byte
	n, err := b64.Decode(b[:], []byte(s[len(cursorPrefix):]))
	if err != nil || n != 8 {
		return 0, Errorf(CodeBadRequest, "invalid cursor: pass back the cursor of the last response unchanged, or none to start over")
	}
	return binary.BigEndian.Uint64(b[:]), nil
}
