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
	// CreatedBy is who issued the code: a token's or session's subject,
	// or "cli" for the operator holding the data directory.
	CreatedBy string
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
	// Slot is the logical slot a fact claims (election.Collection.Slot),
	// "" for facts that merge by set union and for reference records.
	Slot string
}

// DeviceHead is how far the server holds a device's chain.
type DeviceHead struct {
	Seq  uint64         // contiguous head: every seq 1..Seq is in the log
	Hash syncproto.Hash // hash of change Seq (zero if none)
	Held []uint64       // seqs stored beyond a gap, ascending
	Pos  uint64         // the server log's position when read
}

// PushResult is what the store did with one device's pushed changes.
type PushResult struct {
	Through    uint64         // highest seq applied contiguously from 1
	Head       syncproto.Hash // hash of change Through
	Pos        uint64         // server log position after the push
	Applied    int            // changes newly applied to the log
	Duplicates int            // changes already held, identical
	Held       []uint64       // seqs stored beyond a gap, not yet applied
	Conflicts  int            // changes that opened or joined a conflict (record or slot)
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
	Slot       string // the slot the current version claims, "" for none
	// Superseded is the id of the resolution that set the record aside in
	// favour of another claim on its slot; "" if it stands.
	Superseded string
	// Conflict is the id of the open conflict the record is part of, if
	// any (filled by Store.Record only).
	Conflict string
}

// Conflict is a conflict the store detected, with every version. Its ID is
// ConflictID of its kind, collection, subject and versions, the same on
// every replica.
//
//   - A record conflict (Kind election.ConflictRecord): a record id holds
//     versions that are not one edit after another — a fact rewritten, a
//     reference edit on a stale base. Subject is the record id.
//   - A slot conflict (election.ConflictSlot): records with different ids
//     claim one slot with at least two different bodies. Subject is the
//     slot; the versions are the current versions of every record claiming
//     it that no resolution superseded.
//
// A conflict that gains a version is superseded by a new one holding them
// all (SupersededBy names it). Nothing is overwritten: every version stays
// in the log.
type Conflict struct {
	ID         string
	Kind       string
	Collection string
	Subject    string
	Place      election.Place
	Versions   []ConflictVersion // by Ref
	Pos        uint64            // log position of the change that raised it
	Created    time.Time
	// Resolved is set once a resolution record (Resolution, its id)
	// settled it.
	Resolved     time.Time
	Resolution   string
	SupersededBy string
}

// Conflict statuses.
const (
	ConflictOpen       = "open"
	ConflictResolved   = "resolved"
	ConflictSuperseded = "superseded"
)

// Status is ConflictOpen, ConflictResolved or ConflictSuperseded.
func (c *Conflict) Status() string {
	switch {
	case c.Resolution != "":
		return ConflictResolved
	case c.SupersededBy != "":
		return ConflictSuperseded
	}
	return ConflictOpen
}

// Version returns the version whose ref is ref.
func (c *Conflict) Version(ref string) (ConflictVersion, bool) {
	for _, v := range c.Versions {
		if v.Ref() == ref {
			return v, true
		}
	}
	return ConflictVersion{}, false
}

// ConflictVersion is one version of a conflict: the logged change that
// introduced it.
type ConflictVersion struct {
	RecordID string
	Device   string
	Seq      uint64
	Base     uint64
	Pos      uint64
	Body     []byte
	HLC      syncproto.HLC
	At       int64 // raw device clock at capture, Unix ms
	Offset   int64 // learned clock offset at capture, ms
	Place    election.Place
	Received time.Time
}

// Ref is the version's <device>/<seq>.
func (v ConflictVersion) Ref() string { return VersionRef(v.Device, v.Seq) }

// Audit is one entry of the county's audit trail: a conflict resolved or a
// rule violation acknowledged, by whom, when and why.
type Audit struct {
	ID      int64
	Action  string // AuditResolve or AuditAcknowledge
	Subject string // who: the token's subject
	Target  string // the conflict or violation id
	Keep    string // the version kept, or "accept"
	Reason  string
	Change  string // the resolution change, <device>/<seq>; "" for acknowledgements
	Created time.Time
}

// Audit actions.
const (
	AuditResolve     = "resolve"
	AuditAcknowledge = "acknowledge"
)

// Snapshot is the current state of every record (bodies and the clocks of
// the changes that carried them) and every conflict, read at one log
// position: the input of the review queue and the county report.
type Snapshot struct {
	Pos       uint64
	Records   []election.StoredRecord
	Conflicts []Conflict
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
	AccountStore
	AdminStore
	QuarantineStore

	// SigningKeys returns every key, newest first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	AddSigningKey(ctx context.Context, k SigningKey) error

	CreateEnrollCode(ctx context.Context, c EnrollCode) error
	// EnrollCode returns a code by its hash, used or not, or CodeNotFound.
	EnrollCode(ctx context.Context, hash string) (EnrollCode, error)
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

	// NonceKey returns the server's nonce MAC key, storing fresh as the key
	// first if the store has none: every replica sharing the store gets the
	// same key.
	NonceKey(ctx context.Context, fresh []byte) ([]byte, error)
	// UseNonce marks a nonce (by its hash) used until it expires: a hash
	// already marked is CodeNonceInvalid. It forgets, now and then, the
	// hashes expired at now.
	UseNonce(ctx context.Context, hash []byte, expires, now time.Time) error

	// Place reports where a stored record is; ok is false if unknown.
	Place(ctx context.Context, collection, id string) (p election.Place, ok bool, err error)
	// Record returns a stored record, or CodeNotFound.
	Record(ctx context.Context, collection, id string) (Record, error)

	// Head returns a device's contiguous head, the seqs held beyond a gap
	// and the log position, from one snapshot.
	Head(ctx context.Context, device string) (DeviceHead, error)
	// Push stores one device's verified changes (ascending seq) durably in
	// one transaction: already-held identical changes are duplicates;
	// a different change for a held seq, or a prev that contradicts the held
	// chain, is an *EquivocationError and nothing is applied; changes beyond
	// a gap are held; contiguous ones (and held ones they unblock) are
	// appended to the log and applied to records.
	//
	// Applying a change to its record: a new record is created at version
	// 1, and if it is a fact claiming a slot that other records claim with
	// a different body, the slot is in conflict. An identical body changes
	// nothing, nor does the body of a version already in the record's open
	// conflict. A reference (election.Collection.Editable) edit based on
	// the current version bumps it. Anything else — a fact rewritten, a
	// stale base — is a record conflict and the record keeps its body.
	// A resolution record settles the open conflict it names: a record
	// conflict's record takes the kept version (its version number becomes
	// the highest base+1 of the versions, for reference records); a slot
	// conflict's other records are superseded. A resolution of a conflict
	// that is unknown or no longer open is refused with CodeConflict.
	Push(ctx context.Context, device string, batch []Incoming, now time.Time) (PushResult, error)
	// PushAudited is Push with an audit entry written in the same
	// transaction: how the county authority's resolutions are stored.
	PushAudited(ctx context.Context, device string, batch []Incoming, audit Audit, now time.Time) (PushResult, error)
	// RecordEquivocation keeps both versions as evidence and raises an alert.
	RecordEquivocation(ctx context.Context, e *EquivocationError, now time.Time) error
	// Pull returns changes after log position after that scope may read,
	// excluding those authored by exclude, in log order, stopping once their
	// encoded size passes maxBytes (at least one change is returned if any).
	// next is the position to resume from; more reports whether any remain.
	Pull(ctx context.Context, scope election.Scope, after uint64, maxBytes int, exclude string) (changes []syncproto.Change, next uint64, more bool, err error)

	// Position returns the server log's last position.
	Position(ctx context.Context) (uint64, error)
	// Conflict returns one conflict with its versions, or CodeNotFound.
	Conflict(ctx context.Context, id string) (Conflict, error)
	// Snapshot reads every record and conflict at one log position.
	Snapshot(ctx context.Context) (Snapshot, error)
	// Acknowledge records the county's acknowledgement of a rule violation
	// (audit.Target) with its audit entry; one already acknowledged is
	// CodeConflict.
	Acknowledge(ctx context.Context, audit Audit) error
	// Acknowledgements returns the audit entries of the acknowledged
	// violations, by violation id.
	Acknowledgements(ctx context.Context) (map[string]Audit, error)
	// AuditTrail returns every audit entry, oldest first.
	AuditTrail(ctx context.Context) ([]Audit, error)

	AddAlert(ctx context.Context, a Alert) error
	Alerts(ctx context.Context) ([]Alert, error)

	Close() error
}
