package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"villagesync/election"
	"villagesync/server"
	"villagesync/syncproto"
)

// EnrollCodes returns every enrollment code, newest first.
func (s *Store) EnrollCodes(ctx context.Context) ([]server.EnrollCode, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return nil, fmt.Errorf("enroll codes: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	codes, err := queryEnrollCodes(ctx, tx, `SELECT `+enrollCodeColumns+` FROM enroll_codes
		ORDER BY created DESC, rowid DESC`)
	if err != nil {
		return nil, fmt.Errorf("enroll codes: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("enroll codes: %w", err)
	}
	return codes, nil
}

// maxHashLen is the length of a hex SHA-256.
const maxHashLen = 64

// EnrollCodesByPrefix returns the enrollment codes whose hash starts with
// prefix (1 to 64 lowercase hex digits), newest first.
func (s *Store) EnrollCodesByPrefix(ctx context.Context, prefix string) ([]server.EnrollCode, error) {
	if !isLowerHex(prefix) || len(prefix) > maxHashLen {
		return nil, syncproto.Errorf(syncproto.CodeBadRequest, "enrollment code hash prefix must be 1-%d lowercase hex digits", maxHashLen)
	}
	tx, err := s.beginRead(ctx)
	if err != nil {
		return nil, fmt.Errorf("enroll codes by prefix: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// The prefix holds no GLOB metacharacters, and GLOB on the primary key
	// is a range search of its index.
	codes, err := queryEnrollCodes(ctx, tx, `SELECT `+enrollCodeColumns+` FROM enroll_codes
		WHERE hash GLOB ? ORDER BY created DESC, rowid DESC`, prefix+"*")
	if err != nil {
		return nil, fmt.Errorf("enroll codes by prefix: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("enroll codes by prefix: %w", err)
	}
	return codes, nil
}

func queryEnrollCodes(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]server.EnrollCode, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var codes []server.EnrollCode
	for rows.Next() {
		c, err := scanEnrollCode(rows)
		if err != nil {
			return nil, err
		}
		codes = append(codes, c)
	}
	return codes, rows.Err()
}

// isLowerHex reports whether s is non-empty and all lowercase hex digits.
func isLowerHex(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ExpireEnrollCode makes an unused enrollment code expire at at, unless it
// expires by then already, and returns it as stored. A used code is
// CodeConflict, an unknown one CodeNotFound.
func (s *Store) ExpireEnrollCode(ctx context.Context, hash string, at time.Time) (server.EnrollCode, error) {
	if at.IsZero() {
		return server.EnrollCode{}, syncproto.Errorf(syncproto.CodeBadRequest, "expiring an enrollment code needs a time")
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return server.EnrollCode{}, fmt.Errorf("expire enroll code: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	c, err := enrollCode(ctx, tx, hash)
	if err != nil {
		return server.EnrollCode{}, err
	}
	switch {
	case c.UsedBy != "":
		return server.EnrollCode{}, syncproto.Errorf(syncproto.CodeConflict, "enrollment code already used by device %s", c.UsedBy)
	case !at.Before(c.Expires):
		return c, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE enroll_codes SET expires = ? WHERE hash = ?`, at.UnixNano(), hash); err != nil {
		return server.EnrollCode{}, fmt.Errorf("expire enroll code: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return server.EnrollCode{}, fmt.Errorf("expire enroll code: %w", err)
	}
	c.Expires = at.UTC()
	return c, nil
}

// Devices returns every enrolled device with its contiguous head, read in
// one snapshot, by scope, then enrollment time.
func (s *Store) Devices(ctx context.Context) ([]server.DeviceInfo, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return nil, fmt.Errorf("devices: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, `SELECT d.id, d.role, d.scope, d.label, d.enrolled, d.revoked, d.revoked_after, COALESCE(h.seq, 0)
		FROM devices d LEFT JOIN device_heads h ON h.device = d.id
		ORDER BY d.scope, d.enrolled, d.id`)
	if err != nil {
		return nil, fmt.Errorf("devices: %w", err)
	}
	defer rows.Close()
	var devs []server.DeviceInfo
	for rows.Next() {
		var d server.DeviceInfo
		var role string
		var enrolled, revoked sql.NullInt64
		var revokedAfter, head int64
		if err := rows.Scan(&d.ID, &role, &d.Scope, &d.Label, &enrolled, &revoked, &revokedAfter, &head); err != nil {
			return nil, fmt.Errorf("devices: %w", err)
		}
		d.Role = election.Role(role)
		d.Enrolled, d.Revoked = fromNanos(enrolled), fromNanos(revoked)
		d.RevokedAfter, d.Head = uint64(revokedAfter), uint64(head)
		devs = append(devs, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("devices: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("devices: %w", err)
	}
	return devs, nil
}

// RotateSigningKeys stores newKey as the active signing key and retires at
// at every other active server key, in one transaction. The county
// authority's key (server.AuthorityKeyPrefix) signs changes, not tokens, and
// is left alone. It returns the key ids it retired, newest first.
func (s *Store) RotateSigningKeys(ctx context.Context, newKey server.SigningKey, at time.Time) ([]string, error) {
	if err := checkSigningKey(newKey); err != nil {
		return nil, err
	}
	switch {
	case !newKey.Retired.IsZero():
		return nil, syncproto.Errorf(syncproto.CodeBadRequest, "new signing key %s is already retired", newKey.KeyID)
	case strings.HasPrefix(newKey.KeyID, server.AuthorityKeyPrefix):
		return nil, syncproto.Errorf(syncproto.CodeBadRequest, "signing key id %s is reserved for the county authority", newKey.KeyID)
	case at.IsZero():
		return nil, syncproto.Errorf(syncproto.CodeBadRequest, "key rotation needs a time")
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return nil, fmt.Errorf("rotate signing keys: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	const active = `retired IS NULL AND substr(kid, 1, ?) <> ?`
	prefix := []any{len(server.AuthorityKeyPrefix), server.AuthorityKeyPrefix}
	rows, err := tx.QueryContext(ctx, `SELECT kid FROM signing_keys WHERE `+active+` ORDER BY created DESC, rowid DESC`, prefix...)
	if err != nil {
		return nil, fmt.Errorf("rotate signing keys: %w", err)
	}
	var retired []string
	for rows.Next() {
		var kid string
		if err := rows.Scan(&kid); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("rotate signing keys: %w", err)
		}
		retired = append(retired, kid)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rotate signing keys: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE signing_keys SET retired = ? WHERE `+active,
		append([]any{at.UnixNano()}, prefix...)...); err != nil {
		return nil, fmt.Errorf("rotate signing keys: %w", err)
	}
	if err := insertSigningKey(ctx, tx, newKey); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("rotate signing keys: %w", err)
	}
	return retired, nil
}
