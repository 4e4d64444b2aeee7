package sqlite

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"villagesync/election"
	"villagesync/server"
	"villagesync/syncproto"
)

// SigningKeys returns every server signing key, newest first.
func (s *Store) SigningKeys(ctx context.Context) ([]server.SigningKey, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	keys, err := signingKeys(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return keys, nil
}

func signingKeys(ctx context.Context, tx *sql.Tx) ([]server.SigningKey, error) {
	rows, err := tx.QueryContext(ctx, `SELECT kid, private_key, created, retired
		FROM signing_keys ORDER BY created DESC, rowid DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []server.SigningKey
	for rows.Next() {
		var k server.SigningKey
		var priv []byte
		var created, retired sql.NullInt64
		if err := rows.Scan(&k.KeyID, &priv, &created, &retired); err != nil {
			return nil, err
		}
		if len(priv) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("signing key %s: stored private key is %d bytes, want %d", k.KeyID, len(priv), ed25519.PrivateKeySize)
		}
		k.Private = ed25519.PrivateKey(priv)
		k.Created = fromNanos(created)
		k.Retired = fromNanos(retired)
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// AddSigningKey stores a new server signing key. A key id already stored is
// CodeConflict.
func (s *Store) AddSigningKey(ctx context.Context, k server.SigningKey) error {
	if err := checkSigningKey(k); err != nil {
		return err
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("add signing key: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := insertSigningKey(ctx, tx, k); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add signing key: %w", err)
	}
	return nil
}

func checkSigningKey(k server.SigningKey) error {
	switch {
	case k.KeyID == "":
		return syncproto.Errorf(syncproto.CodeBadRequest, "signing key needs a key id")
	case len(k.Private) != ed25519.PrivateKeySize:
		return syncproto.Errorf(syncproto.CodeBadRequest, "signing key %s is %d bytes, want an Ed25519 private key of %d", k.KeyID, len(k.Private), ed25519.PrivateKeySize)
	case k.Created.IsZero():
		return syncproto.Errorf(syncproto.CodeBadRequest, "signing key %s needs a creation time", k.KeyID)
	}
	return nil
}

func insertSigningKey(ctx context.Context, tx *sql.Tx, k server.SigningKey) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (kid, private_key, created, retired) VALUES (?, ?, ?, ?)`,
		k.KeyID, []byte(k.Private), nanos(k.Created), nanos(k.Retired))
	if isUniqueViolation(err) {
		return syncproto.Errorf(syncproto.CodeConflict, "signing key %s already exists", k.KeyID)
	}
	if err != nil {
		return fmt.Errorf("insert signing key: %w", err)
	}
	return nil
}

// CreateEnrollCode stores a new enrollment code by its hash. A hash already
// stored is CodeConflict.
func (s *Store) CreateEnrollCode(ctx context.Context, c server.EnrollCode) error {
	if c.Hash == "" {
		return syncproto.Errorf(syncproto.CodeBadRequest, "enrollment code needs a hash")
	}
	if err := (election.Scope{Role: c.Role, Code: c.Scope}).Validate(); err != nil {
		return syncproto.Errorf(syncproto.CodeBadRequest, "enrollment code: %v", err)
	}
	if !c.Expires.After(c.Created) {
		return syncproto.Errorf(syncproto.CodeBadRequest, "enrollment code must expire after it is created")
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("create enroll code: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	_, err = tx.ExecContext(ctx, `INSERT INTO enroll_codes (hash, role, scope, created, expires, created_by) VALUES (?, ?, ?, ?, ?, ?)`,
		c.Hash, string(c.Role), c.Scope, nanos(c.Created), nanos(c.Expires), c.CreatedBy)
	if isUniqueViolation(err) {
		return syncproto.Errorf(syncproto.CodeConflict, "enrollment code already exists")
	}
	if err != nil {
		return fmt.Errorf("create enroll code: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create enroll code: %w", err)
	}
	return nil
}

// EnrollCode returns an enrollment code by its hash, used or not, or
// CodeNotFound.
func (s *Store) EnrollCode(ctx context.Context, hash string) (server.EnrollCode, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return server.EnrollCode{}, fmt.Errorf("enroll code: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	c, err := enrollCode(ctx, tx, hash)
	if err != nil {
		return server.EnrollCode{}, err
	}
	if err := tx.Commit(); err != nil {
		return server.EnrollCode{}, fmt.Errorf("enroll code: %w", err)
	}
	return c, nil
}

// enrollCodeColumns are the columns scanEnrollCode reads, in its order.
const enrollCodeColumns = `hash, role, scope, created, expires, used_by, used_at, created_by`

// scanEnrollCode reads one row of enrollCodeColumns.
func scanEnrollCode(row interface{ Scan(...any) error }) (server.EnrollCode, error) {
	var c server.EnrollCode
	var role string
	var created, expires, usedAt sql.NullInt64
	var usedBy sql.NullString
	if err := row.Scan(&c.Hash, &role, &c.Scope, &created, &expires, &usedBy, &usedAt, &c.CreatedBy); err != nil {
		return server.EnrollCode{}, err
	}
	c.Role = election.Role(role)
	c.Created, c.Expires = fromNanos(created), fromNanos(expires)
	c.UsedBy, c.UsedAt = usedBy.String, fromNanos(usedAt)
	return c, nil
}

// enrollCode reads one enrollment code by its hash, or CodeNotFound.
func enrollCode(ctx context.Context, tx *sql.Tx, hash string) (server.EnrollCode, error) {
	c, err := scanEnrollCode(tx.QueryRowContext(ctx, `SELECT `+enrollCodeColumns+` FROM enroll_codes WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return server.EnrollCode{}, syncproto.Errorf(syncproto.CodeNotFound, "no such enrollment code")
	}
	if err != nil {
		return server.EnrollCode{}, fmt.Errorf("read enroll code: %w", err)
	}
	return c, nil
}

// RedeemEnrollCode burns an unused, unexpired code and enrolls dev with the
// code's role and scope. See server.Store.
func (s *Store) RedeemEnrollCode(ctx context.Context, codeHash string, dev server.Device, now time.Time) (server.Device, error) {
	if err := checkNewDevice(dev); err != nil {
		return server.Device{}, err
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return server.Device{}, fmt.Errorf("redeem enroll code: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	var role, scope string
	var expires int64
	var usedBy sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT role, scope, expires, used_by FROM enroll_codes WHERE hash = ?`, codeHash).
		Scan(&role, &scope, &expires, &usedBy)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return server.Device{}, syncproto.Errorf(syncproto.CodeEnrollCodeInvalid, "unknown enrollment code: ask the county for a new one")
	case err != nil:
		return server.Device{}, fmt.Errorf("redeem enroll code: %w", err)
	case usedBy.Valid:
		return server.Device{}, syncproto.Errorf(syncproto.CodeEnrollCodeInvalid, "enrollment code already used: ask the county for a new one")
	case now.UnixNano() >= expires:
		return server.Device{}, syncproto.Errorf(syncproto.CodeEnrollCodeInvalid, "enrollment code expired: ask the county for a new one")
	}

	dev.Role = election.Role(role)
	dev.Scope = scope
	if dev.Enrolled.IsZero() {
		dev.Enrolled = now
	}
	dev.Revoked = time.Time{}
	dev.RevokedAfter = 0
	if err := insertDevice(ctx, tx, dev); err != nil {
		return server.Device{}, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE enroll_codes SET used_by = ?, used_at = ? WHERE hash = ?`,
		dev.ID, now.UnixNano(), codeHash); err != nil {
		return server.Device{}, fmt.Errorf("redeem enroll code: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return server.Device{}, fmt.Errorf("redeem enroll code: %w", err)
	}
	dev.Enrolled = dev.Enrolled.UTC()
	return dev, nil
}

// PutDevice stores a device directly, with its own role and scope. A device
// id already stored is CodeConflict.
func (s *Store) PutDevice(ctx context.Context, dev server.Device) error {
	if err := checkNewDevice(dev); err != nil {
		return err
	}
	if err := dev.ElectionScope().Validate(); err != nil {
		return syncproto.Errorf(syncproto.CodeBadRequest, "device %s: %v", dev.ID, err)
	}
	if dev.Enrolled.IsZero() {
		return syncproto.Errorf(syncproto.CodeBadRequest, "device %s needs an enrollment time", dev.ID)
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("put device: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := insertDevice(ctx, tx, dev); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("put device: %w", err)
	}
	return nil
}

func checkNewDevice(dev server.Device) error {
	switch {
	case dev.ID == "" || len(dev.ID) > syncproto.MaxDeviceBytes:
		return syncproto.Errorf(syncproto.CodeBadRequest, "device id must be 1-%d bytes", syncproto.MaxDeviceBytes)
	case len(dev.PublicKey) != ed25519.PublicKeySize:
		return syncproto.Errorf(syncproto.CodeBadRequest, "device public key is %d bytes, want %d", len(dev.PublicKey), ed25519.PublicKeySize)
	}
	return nil
}

func insertDevice(ctx context.Context, tx *sql.Tx, dev server.Device) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO devices (id, public_key, role, scope, label, enrolled, revoked, revoked_after)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		dev.ID, []byte(dev.PublicKey), string(dev.Role), dev.Scope, dev.Label, nanos(dev.Enrolled), nanos(dev.Revoked), int64(dev.RevokedAfter))
	if isUniqueViolation(err) {
		return syncproto.Errorf(syncproto.CodeConflict, "device %s is already enrolled", dev.ID)
	}
	if err != nil {
		return fmt.Errorf("insert device: %w", err)
	}
	return nil
}

// Device returns an enrolled device, or CodeNotFound. It is one statement,
// prepared on the read pool: every sync and token check runs it.
func (s *Store) Device(ctx context.Context, id string) (server.Device, error) {
	return scanDevice(s.readStmts[sqlDevice].QueryRowContext(ctx, id), id)
}

// sqlDevice reads one device by id.
const sqlDevice = `SELECT id, public_key, role, scope, label, enrolled, revoked, revoked_after
		FROM devices WHERE id = ?`

func device(ctx context.Context, tx *sql.Tx, id string) (server.Device, error) {
	return scanDevice(tx.QueryRowContext(ctx, sqlDevice, id), id)
}

// scanDevice reads the row of sqlDevice for device id.
func scanDevice(row *sql.Row, id string) (server.Device, error) {
	var dev server.Device
	var pub []byte
	var role string
	var enrolled, revoked sql.NullInt64
	var revokedAfter int64
	err := row.Scan(&dev.ID, &pub, &role, &dev.Scope, &dev.Label, &enrolled, &revoked, &revokedAfter)
	if errors.Is(err, sql.ErrNoRows) {
		return server.Device{}, syncproto.Errorf(syncproto.CodeNotFound, "device %s is not enrolled", id)
	}
	if err != nil {
		return server.Device{}, fmt.Errorf("read device: %w", err)
	}
	dev.PublicKey = ed25519.PublicKey(pub)
	dev.Role = election.Role(role)
	dev.Enrolled = fromNanos(enrolled)
	dev.Revoked = fromNanos(revoked)
	dev.RevokedAfter = uint64(revokedAfter)
	return dev, nil
}

// RevokeDevice marks a device revoked at now and records its contiguous
// head as the revocation point. Revoking a revoked device changes nothing
// and returns it as it is.
func (s *Store) RevokeDevice(ctx context.Context, id string, now time.Time) (server.Device, error) {
	dev, _, err := s.RevokeDeviceOnce(ctx, id, now)
	return dev, err
}

// RevokeDeviceOnce is RevokeDevice that also reports whether this call
// revoked the device: false if it already was, and nothing changed.
func (s *Store) RevokeDeviceOnce(ctx context.Context, id string, now time.Time) (server.Device, bool, error) {
	if now.IsZero() {
		return server.Device{}, false, syncproto.Errorf(syncproto.CodeBadRequest, "revocation needs a time")
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return server.Device{}, false, fmt.Errorf("revoke device: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	dev, err := device(ctx, tx, id)
	if err != nil {
		return server.Device{}, false, err
	}
	if !dev.Revoked.IsZero() {
		return dev, false, nil
	}
	head, _, err := loadHead(ctx, tx, id)
	if err != nil {
		return server.Device{}, false, fmt.Errorf("revoke device: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE devices SET revoked = ?, revoked_after = ? WHERE id = ?`,
		now.UnixNano(), int64(head), id); err != nil {
		return server.Device{}, false, fmt.Errorf("revoke device: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return server.Device{}, false, fmt.Errorf("revoke device: %w", err)
	}
	dev.Revoked = now.UTC()
	dev.RevokedAfter = head
	return dev, true, nil
}

// nonceKeyName is the server_secrets row of the nonce MAC key.
const nonceKeyName = "nonce_mac"

// nonceKeyLen is the length of a nonce MAC key.
const nonceKeyLen = 32

// nonceGCInterval is how often UseNonce forgets expired nonce hashes.
const nonceGCInterval = time.Minute

// NonceKey returns the nonce MAC key, storing fresh first if there is none.
func (s *Store) NonceKey(ctx context.Context, fresh []byte) ([]byte, error) {
	if len(fresh) != nonceKeyLen {
		return nil, syncproto.Errorf(syncproto.CodeBadRequest, "a nonce key is %d bytes, want %d", len(fresh), nonceKeyLen)
	}
	if key, ok, err := s.secret(ctx, nonceKeyName); err != nil || ok {
		return key, err
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return nil, fmt.Errorf("nonce key: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `INSERT INTO server_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`,
		nonceKeyName, fresh); err != nil {
		return nil, fmt.Errorf("nonce key: %w", err)
	}
	var key []byte
	if err := tx.QueryRowContext(ctx, `SELECT value FROM server_secrets WHERE name = ?`, nonceKeyName).Scan(&key); err != nil {
		return nil, fmt.Errorf("nonce key: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("nonce key: %w", err)
	}
	return key, nil
}

// secret reads a stored secret.
func (s *Store) secret(ctx context.Context, name string) ([]byte, bool, error) {
	var v []byte
	err := s.read.QueryRowContext(ctx, `SELECT value FROM server_secrets WHERE name = ?`, name).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("read secret %s: %w", name, err)
	}
	return v, true, nil
}

// UseNonce marks a nonce used until it expires; one already used is
// CodeNonceInvalid. At most once per nonceGCInterval (of now) it also
// forgets the hashes expired at now.
func (s *Store) UseNonce(ctx context.Context, hash []byte, expires, now time.Time) error {
	if len(hash) == 0 || expires.IsZero() || now.IsZero() {
		return syncproto.Errorf(syncproto.CodeBadRequest, "a used nonce needs a hash, an expiry and a time")
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("use nonce: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	last := s.nonceGC.Load()
	gc := now.UnixNano()-last >= int64(nonceGCInterval)
	if gc {
		if _, err := tx.ExecContext(ctx, `DELETE FROM used_nonces WHERE expires <= ?`, now.UnixNano()); err != nil {
			return fmt.Errorf("use nonce: expire: %w", err)
		}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO used_nonces (hash, expires) VALUES (?, ?)`, hash, expires.UnixNano())
	if isUniqueViolation(err) {
		return syncproto.Errorf(syncproto.CodeNonceInvalid, "nonce already used: request a new one")
	}
	if err != nil {
		return fmt.Errorf("use nonce: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("use nonce: %w", err)
	}
	if gc {
		s.nonceGC.CompareAndSwap(last, now.UnixNano())
	}
	return nil
}

// AddAlert stores a security alert. Its ID is assigned by the store.
func (s *Store) AddAlert(ctx context.Context, a server.Alert) error {
	if a.Kind == "" || a.Created.IsZero() {
		return syncproto.Errorf(syncproto.CodeBadRequest, "an alert needs a kind and a time")
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("add alert: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := insertAlert(ctx, tx, a); err != nil {
		return fmt.Errorf("add alert: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add alert: %w", err)
	}
	return nil
}

func insertAlert(ctx context.Context, tx *sql.Tx, a server.Alert) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO alerts (kind, device, detail, created) VALUES (?, ?, ?, ?)`,
		a.Kind, a.Device, a.Detail, a.Created.UnixNano())
	return err
}

// Alerts returns every alert, newest first.
func (s *Store) Alerts(ctx context.Context) ([]server.Alert, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, `SELECT id, kind, device, detail, created FROM alerts ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	defer rows.Close()
	var alerts []server.Alert
	for rows.Next() {
		var a server.Alert
		var created sql.NullInt64
		if err := rows.Scan(&a.ID, &a.Kind, &a.Device, &a.Detail, &created); err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		a.Created = fromNanos(created)
		alerts = append(alerts, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	return alerts, nil
}
