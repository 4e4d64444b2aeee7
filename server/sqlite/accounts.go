package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"villagesync/election"
	"villagesync/server"
	"villagesync/syncproto"
)

// accountColumns are the columns scanAccount reads, in its order.
const accountColumns = `username, name, role, scope, created, disabled, locked_until, last_login`

// scanAccount reads the accountColumns of a row, then extra.
func scanAccount(row interface{ Scan(...any) error }, extra ...any) (server.Account, error) {
	var a server.Account
	var role string
	var created, lockedUntil, lastLogin sql.NullInt64
	var disabled int64
	dst := append([]any{&a.Username, &a.Name, &role, &a.Scope, &created, &disabled, &lockedUntil, &lastLogin}, extra...)
	if err := row.Scan(dst...); err != nil {
		return server.Account{}, err
	}
	a.Role = election.Role(role)
	a.Created = fromNanos(created)
	a.Disabled = disabled != 0
	a.LockedUntil = fromNanos(lockedUntil)
	a.LastLogin = fromNanos(lastLogin)
	return a, nil
}

// errNoAccount is the store's answer to an unknown username.
func errNoAccount(username string) error {
	return syncproto.Errorf(syncproto.CodeNotFound, "no account %q", username)
}

// CreateAccount stores a new account with its password hash. A username
// already taken is CodeConflict.
func (s *Store) CreateAccount(ctx context.Context, a server.Account, passwordHash string) error {
	switch {
	case a.Username == "":
		return syncproto.Errorf(syncproto.CodeBadRequest, "an account needs a username")
	case passwordHash == "":
		return syncproto.Errorf(syncproto.CodeBadRequest, "account %s needs a password hash", a.Username)
	case a.Created.IsZero():
		return syncproto.Errorf(syncproto.CodeBadRequest, "account %s needs a creation time", a.Username)
	}
	if err := (election.Scope{Role: a.Role, Code: a.Scope}).Validate(); err != nil {
		return syncproto.Errorf(syncproto.CodeBadRequest, "account %s: %v", a.Username, err)
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	_, err = tx.ExecContext(ctx, `INSERT INTO accounts (username, name, role, scope, password_hash, created, disabled, last_login)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		a.Username, a.Name, string(a.Role), a.Scope, passwordHash, nanos(a.Created), boolInt(a.Disabled), nanos(a.LastLogin))
	if isUniqueViolation(err) {
		return syncproto.Errorf(syncproto.CodeConflict, "username %s is taken: choose another", a.Username)
	}
	if err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	return nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Accounts returns every account, by username.
func (s *Store) Accounts(ctx context.Context) ([]server.Account, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	defer rows.Close()
	var accts []server.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("accounts: %w", err)
		}
		accts = append(accts, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	return accts, nil
}

// SetPassword replaces an account's password hash, clears its failed logins
// and lock and deletes its sessions.
func (s *Store) SetPassword(ctx context.Context, username, passwordHash string) error {
	if passwordHash == "" {
		return syncproto.Errorf(syncproto.CodeBadRequest, "a password hash must not be empty")
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, `UPDATE accounts SET password_hash = ?, failures = 0, locked_until = NULL WHERE username = ?`,
		passwordHash, username)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if err := oneRow(res, username); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE username = ?`, username); err != nil {
		return fmt.Errorf("set password: end sessions: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return nil
}

// oneRow checks that an update of username's account found it.
func oneRow(res sql.Result, username string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("rows affected: %w", err)
	}
	if n == 0 {
		return errNoAccount(username)
	}
	return nil
}

// SetAccountDisabled disables or enables an account; disabling deletes its
// sessions.
func (s *Store) SetAccountDisabled(ctx context.Context, username string, disabled bool) error {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("set account disabled: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, `UPDATE accounts SET disabled = ? WHERE username = ?`, boolInt(disabled), username)
	if err != nil {
		return fmt.Errorf("set account disabled: %w", err)
	}
	if err := oneRow(res, username); err != nil {
		return err
	}
	if disabled {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE username = ?`, username); err != nil {
			return fmt.Errorf("set account disabled: end sessions: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("set account disabled: %w", err)
	}
	return nil
}

// BeginLogin starts a login attempt at now: see server.AccountStore. The
// count and the lock are read and written in one write transaction, so
// concurrent attempts are counted one after another.
func (s *Store) BeginLogin(ctx context.Context, username string, now time.Time, maxFailures int, lockFor time.Duration) (server.LoginAttempt, error) {
	if now.IsZero() || maxFailures < 1 || lockFor <= 0 {
		return server.LoginAttempt{}, syncproto.Errorf(syncproto.CodeBadRequest, "a login attempt needs a time, a failure limit and a lock duration")
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return server.LoginAttempt{}, fmt.Errorf("begin login: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var att server.LoginAttempt
	var failures int
	att.Account, err = scanAccount(tx.QueryRowContext(ctx, `SELECT `+accountColumns+`, password_hash, failures
		FROM accounts WHERE username = ?`, username), &att.PasswordHash, &failures)
	if errors.Is(err, sql.ErrNoRows) {
		return server.LoginAttempt{}, errNoAccount(username)
	}
	if err != nil {
		return server.LoginAttempt{}, fmt.Errorf("begin login: %w", err)
	}
	switch {
	case att.Account.Disabled, att.Account.LockedUntil.After(now):
		// Nothing to count: the answer does not depend on the password.
		return att, nil
	case !att.Account.LockedUntil.IsZero():
		// The lock ran out: the failures that caused it are forgiven.
		failures = 0
		att.Account.LockedUntil = time.Time{}
	}
	failures++
	att.Counted = true
	if failures >= maxFailures {
		att.Locks = true
		att.Account.LockedUntil = now.Add(lockFor).UTC()
	}
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET failures = ?, locked_until = ? WHERE username = ?`,
		failures, nanos(att.Account.LockedUntil), username); err != nil {
		return server.LoginAttempt{}, fmt.Errorf("begin login: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return server.LoginAttempt{}, fmt.Errorf("begin login: %w", err)
	}
	return att, nil
}

// FinishLogin records a successful login and stores its session: see
// server.AccountStore.
func (s *Store) FinishLogin(ctx context.Context, sess server.StoredSession, passwordHash, rehash string, idleSince time.Time) (server.Account, error) {
	if len(sess.Hash) == 0 || sess.Created.IsZero() || sess.LastSeen.IsZero() || !sess.Expires.After(sess.Created) {
		return server.Account{}, syncproto.Errorf(syncproto.CodeBadRequest, "a session needs a hash, a creation and last-seen time and a later expiry")
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return server.Account{}, fmt.Errorf("finish login: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var stored string
	acct, err := scanAccount(tx.QueryRowContext(ctx, `SELECT `+accountColumns+`, password_hash
		FROM accounts WHERE username = ?`, sess.Username), &stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return server.Account{}, syncproto.Errorf(syncproto.CodeUnauthenticated, "wrong username or password")
	case err != nil:
		return server.Account{}, fmt.Errorf("finish login: %w", err)
	case acct.Disabled || stored != passwordHash:
		return server.Account{}, syncproto.Errorf(syncproto.CodeUnauthenticated, "wrong username or password")
	}
	if rehash == "" {
		rehash = stored
	}
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET failures = 0, locked_until = NULL, last_login = ?, password_hash = ?
		WHERE username = ?`, nanos(sess.Created), rehash, sess.Username); err != nil {
		return server.Account{}, fmt.Errorf("finish login: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires <= ? OR last_seen <= ?`,
		sess.Created.UnixNano(), idleSince.UnixNano()); err != nil {
		return server.Account{}, fmt.Errorf("finish login: forget expired sessions: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO sessions (hash, username, created, last_seen, expires) VALUES (?, ?, ?, ?, ?)`,
		sess.Hash, sess.Username, nanos(sess.Created), nanos(sess.LastSeen), nanos(sess.Expires))
	if isUniqueViolation(err) {
		return server.Account{}, syncproto.Errorf(syncproto.CodeConflict, "session already exists")
	}
	if err != nil {
		return server.Account{}, fmt.Errorf("finish login: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return server.Account{}, fmt.Errorf("finish login: %w", err)
	}
	acct.LockedUntil = time.Time{}
	acct.LastLogin = sess.Created.UTC()
	return acct, nil
}

// Session returns a session by its token's hash, with its account, or
// CodeNotFound.
func (s *Store) Session(ctx context.Context, hash []byte) (server.StoredSession, server.Account, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return server.StoredSession{}, server.Account{}, fmt.Errorf("session: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	ss := server.StoredSession{Hash: hash}
	var created, lastSeen, expires sql.NullInt64
	acct, err := scanAccount(tx.QueryRowContext(ctx, `SELECT a.username, a.name, a.role, a.scope, a.created, a.disabled,
			a.locked_until, a.last_login, s.created, s.last_seen, s.expires
		FROM sessions s JOIN accounts a ON a.username = s.username
		WHERE s.hash = ?`, hash), &created, &lastSeen, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return server.StoredSession{}, server.Account{}, syncproto.Errorf(syncproto.CodeNotFound, "no such session")
	}
	if err != nil {
		return server.StoredSession{}, server.Account{}, fmt.Errorf("session: %w", err)
	}
	ss.Username = acct.Username
	ss.Created, ss.LastSeen, ss.Expires = fromNanos(created), fromNanos(lastSeen), fromNanos(expires)
	if err := tx.Commit(); err != nil {
		return server.StoredSession{}, server.Account{}, fmt.Errorf("session: %w", err)
	}
	return ss, acct, nil
}

// TouchSession moves a session's last use forward to now.
func (s *Store) TouchSession(ctx context.Context, hash []byte, now time.Time) error {
	if now.IsZero() {
		return syncproto.Errorf(syncproto.CodeBadRequest, "touching a session needs a time")
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `UPDATE sessions SET last_seen = ? WHERE hash = ? AND last_seen < ?`,
		now.UnixNano(), hash, now.UnixNano()); err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession deletes a session, if it exists.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}
