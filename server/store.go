package server

import (
	"context"
	"crypto/ed25519"
	"time"

	"villagesync/election"
	"villagesync/syncproto"
)

// Device is an enrolled device: a laptop (station, supervisor) or the
// server's own county authoring identity.
type Device struct {
	ID        string // syncproto.DeviceID(PublicKey)
	PublicKey ed25519.PublicKey
	Role      election.Role
	Scope     string // village, township or county code, per Role
	Label     string
	Enrolled  time.Time
	// Revoked is the zero time for an active device.
	Revoked time.Time
	// RevokedAfter is the highest seq the server held when the device was
	// revoked; changes above it go to review.
	RevokedAfter uint64
}

// ElectionScope is the device's scope in domain terms.
func (d *Device) ElectionScope() election.Scope {
	return election.Scope{Role: d.Role, Code: d.Scope}
}

// EnrollCode is a single-use, short-lived, scope-bound enrollment code. Only
// its hash is stored.
type EnrollCode struct {
	Hash    string // hex SHA-256 of the code as printed
	Role    election.Role
	Scope   string
	Created time.Time
	Expires time.Time
	UsedBy  string // device id once redeemed
	UsedAt  time.Time
}

// SigningKey is a server Ed25519 key used for access tokens and receipts.
type SigningKey struct {
	KeyID   string
	Private ed25519.PrivateKey
	Created time.Time
	Retired time.Time // zero while active
}

// Incoming is a change the service has fully verified (shape, chain,
// signature, schema, scope) and is ready to store.
type Incoming struct {
	Change syncproto.Change // Sig kept where the device sent one
	Hash   syncproto.Hash
	Prev   syncproto.Hash // hash of the device's seq-1 (zero for seq 1)
	Place  election.Place
}

// PushResult is what the store did with one device's pushed changes.
type PushResult struct {
	Through    uint64         // highest seq applied contiguously from 1
	Head       syncproto.Hash // hash of change Through
	Pos        uint64         // server log position after the push
	Applied    int            // changes newly applied to the log
	Duplicates int            // changes already held, identical
	Held       []uint64       // seqs stored beyond a gap, not yet applied
	Conflicts  int            // changes that collided with a record's state
}

// EquivocationError is returned by Store.Push when a device has signed two
// different changes for one seq. The push is not applied; the service stores
// both versions as evidence with RecordEquivocation.
type EquivocationError struct {
	Device   string
	Seq      uint64
	Stored   syncproto.Change // the version the server already holds (with its hash as Prev-check evidence)
	Incoming syncproto.Change
}

func (e *EquivocationError) Error() string {
	return "equivocation: device " + e.Device + " signed two different changes for one seq"
}

// Record is the current state of one record on the server.
type Record struct {
	Collection string
	ID         string
	Version    uint64 // number of accepted versions; editable records bump it
	Body       []byte
	Place      election.Place
	Device     string // author of the current version
	Seq        uint64
	Pos        uint64 // log position of the current version
}

// Alert is a security event kept for the county (equivocation, reused
// enrollment code, bad signature...).
type Alert struct {
	ID      int64
	Kind    string
	Device  string
	Detail  string
	Created time.Time
}

// Store is the server's storage. Every method is one transaction; ctx first.
// Errors a client should see are *syncproto.Error; anything else is internal.
type Store interface {
	// SigningKeys returns every key, newest first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	AddSigningKey(ctx context.Context, k SigningKey) error

	CreateEnrollCode(ctx context.Context, c EnrollCode) error
	// RedeemEnrollCode atomically checks the code is unused and unexpired at
	// now, marks it used by dev.ID and stores dev with the code's role and
	// scope (which it returns filled in). An unknown, used or expired code
	// is CodeEnrollCodeInvalid; a device id already enrolled is CodeConflict.
	RedeemEnrollCode(ctx context.Context, codeHash string, dev Device, now time.Time) (Device, error)
	// PutDevice stores a device directly (the server's own identity).
	PutDevice(ctx context.Context, dev Device) error
	// Device returns an enrolled device, or CodeNotFound.
	Device(ctx context.Context, id string) (Device, error)
	// RevokeDevice marks a device revoked at now, recording its current head.
	RevokeDevice(ctx context.Context, id string, now time.Time) (Device, error)

	// PutNonce stores a fresh single-use nonce; UseNonce consumes it, or
	// returns CodeNonceInvalid if unknown, used or expired at now.
	PutNonce(ctx context.Context, nonce string, expires time.Time) error
	UseNonce(ctx context.Context, nonce string, now time.Time) error

	// Place reports where a stored record is; ok is false if unknown.
	Place(ctx context.Context, collection, id string) (p election.Place, ok bool, err error)
	// Record returns a stored record, or CodeNotFound.
	Record(ctx context.Context, collection, id string) (Record, error)

	// Head returns a device's contiguous head (0 and zero hash if none) and
	// the seqs it holds beyond a gap.
	Head(ctx context.Context, device string) (seq uint64, head syncproto.Hash, held []uint64, err error)
	// Push stores one device's verified changes (ascending seq) durably in
	// one transaction: already-held identical changes are duplicates;
	// a different change for a held seq, or a prev that contradicts the held
	// chain, is an *EquivocationError and nothing is applied; changes beyond
	// a gap are held; contiguous ones (and held ones they unblock) are
	// appended to the log and applied to records.
	Push(ctx context.Context, device string, batch []Incoming, now time.Time) (PushResult, error)
	// RecordEquivocation keeps both versions as evidence and raises an alert.
	RecordEquivocation(ctx context.Context, e *EquivocationError, now time.Time) error
	// Pull returns changes after log position after that scope may read,
	// excluding those authored by exclude, in log order, stopping once their
	// encoded size passes maxBytes (at least one change is returned if any).
	// next is the position to resume from; more reports whether any remain.
	Pull(ctx context.Context, scope election.Scope, after uint64, maxBytes int, exclude string) (changes []syncproto.Change, next uint64, more bool, err error)

	AddAlert(ctx context.Context, a Alert) error
	Alerts(ctx context.Context) ([]Alert, error)

	Close() error
}
