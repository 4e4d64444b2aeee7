package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"villagesync/election"
	"villagesync/syncproto"
)

// Account is a person who logs in to the server's web pages: county staff,
// a township supervisor or an observer. Its password is never returned.
type Account struct {
	Username    string        `json:"username"`
	Name        string        `json:"name"` // display name
	Role        election.Role `json:"role"`
	Scope       string        `json:"scope"`
	Created     time.Time     `json:"created"`
	Disabled    bool          `json:"disabled"`
	LockedUntil time.Time     `json:"locked_until,omitzero"`
	LastLogin   time.Time     `json:"last_login,omitzero"`
}

// NewAccount is what CreateAccount needs.
type NewAccount struct {
	Username string
	Name     string
	Password string
	Role     election.Role
	Scope    string // "" means the county for county and observer
}

// Session is a person's logged-in session. Token is the secret the browser
// keeps in an HttpOnly cookie; CSRF is the token every state-changing form
// of the session must carry.
type Session struct {
	Token     string
	CSRF      string
	Principal Principal
	Account   Account
	// Expires is when the session ends at the latest (SessionLifetime after
	// login); unused for SessionIdleTimeout, it ends sooner.
	Expires time.Time
}

// Limits of accounts and the timings of logins and sessions.
const (
	MinUsernameLen    = 2
	MaxUsernameLen    = 32
	MaxAccountNameLen = 64 // characters
	MinPasswordLen    = 10 // bytes
	MaxPasswordLen    = 256

	// MaxLoginFailures consecutive failed logins lock an account for
	// LoginLockout.
	MaxLoginFailures = 5
	LoginLockout     = 15 * time.Minute

	// SessionLifetime is how long a session lasts at most;
	// SessionIdleTimeout ends it sooner when unused.
	SessionLifetime    = 12 * time.Hour
	SessionIdleTimeout = 30 * time.Minute
	// sessionTouchInterval is how stale a session's last use may get
	// before Session records a new one: page views do not write on every
	// request.
	sessionTouchInterval = time.Minute

	// sessionTokenBytes is the randomness of a session token.
	sessionTokenBytes = 32
)

// AlertLoginLocked is the alert kind raised when failed logins lock an
// account.
const AlertLoginLocked = "login_locked"

// Attribute keys of the account log records.
const (
	logAccount = "account"
	logUntil   = "until"
)

// Defaults of [Argon2Params]: RFC 9106's second recommended option,
// scaled to what a county server does a few times a minute.
const (
	DefaultArgon2Time      = 3
	DefaultArgon2MemoryKiB = 64 * 1024
	DefaultArgon2Threads   = 2
)

// Argon2Params are the argon2id cost parameters of new password hashes. A
// zero field means its default. Stored hashes carry their own parameters,
// so changing these affects new and (at their next login) existing
// passwords without locking anyone out.
type Argon2Params struct {
	Time      uint32 // passes, default DefaultArgon2Time
	MemoryKiB uint32 // default DefaultArgon2MemoryKiB
	Threads   uint8  // default DefaultArgon2Threads
}

// withDefaults fills in zero fields and checks what argon2 needs.
func (p Argon2Params) withDefaults() (Argon2Params, error) {
	if p.Time == 0 {
		p.Time = DefaultArgon2Time
	}
	if p.MemoryKiB == 0 {
		p.MemoryKiB = DefaultArgon2MemoryKiB
	}
	if p.Threads == 0 {
		p.Threads = DefaultArgon2Threads
	}
	if p.MemoryKiB < 8*uint32(p.Threads) {
		return p, fmt.Errorf("argon2 memory %d KiB: want at least 8 KiB per thread (%d threads)", p.MemoryKiB, p.Threads)
	}
	return p, nil
}

// StoredSession is a session as the store keeps it: by the SHA-256 of its
// token, never the token.
type StoredSession struct {
	Hash     []byte
	Username string
	Created  time.Time
	LastSeen time.Time
	Expires  time.Time // the absolute end; idleness is the service's to judge
}

// LoginAttempt is what AccountStore.BeginLogin found and did.
type LoginAttempt struct {
	Account      Account
	PasswordHash string
	// Counted reports that the attempt was counted as a failure in
	// advance, so that concurrent guesses cannot outrun the limit;
	// FinishLogin clears the count if the password was right. A disabled
	// account's attempts are not counted, nor are those refused because
	// the account is locked (Account.LockedUntil after the attempt's time).
	Counted bool
	// Locks reports that this attempt brought the failures to the limit
	// and locked the account until Account.LockedUntil (unless it turns
	// out to be right): it alone raises the alert.
	Locks bool
}

// AccountStore is the storage of accounts and sessions.
type AccountStore interface {
	// CreateAccount stores a new account with its password hash. A
	// username already taken is CodeConflict.
	CreateAccount(ctx context.Context, a Account, passwordHash string) error
	// Accounts returns every account, by username.
	Accounts(ctx context.Context) ([]Account, error)
	// SetPassword replaces an account's password hash, clears its failed
	// logins and lock and ends all its sessions. An unknown username is
	// CodeNotFound.
	SetPassword(ctx context.Context, username, passwordHash string) error
	// SetAccountDisabled disables or enables an account; disabling ends
	// all its sessions. An unknown username is CodeNotFound.
	SetAccountDisabled(ctx context.Context, username string, disabled bool) error

	// BeginLogin starts a login attempt at now and returns the account
	// with its password hash; an unknown username is CodeNotFound. Unless
	// the account is disabled or locked at now, it atomically counts the
	// attempt as a failure (after clearing a lock that has run out and the
	// failures that caused it), and the attempt that brings the count to
	// maxFailures locks the account until now+lockFor. See LoginAttempt.
	BeginLogin(ctx context.Context, username string, now time.Time, maxFailures int, lockFor time.Duration) (LoginAttempt, error)
	// FinishLogin records the success of an attempt whose password matched
	// passwordHash and stores its new session, in one transaction. It
	// refuses with CodeUnauthenticated if the account is gone, disabled or
	// no longer has that hash (reset meanwhile). It clears the failures and
	// lock, sets the last login to sess.Created, replaces the hash with
	// rehash unless that is "", and deletes every session that has expired
	// at sess.Created or was last seen at or before idleSince.
	FinishLogin(ctx context.Context, sess StoredSession, passwordHash, rehash string, idleSince time.Time) (Account, error)
	// Session returns a session, by its token's hash, and its account; an
	// unknown hash is CodeNotFound.
	Session(ctx context.Context, hash []byte) (StoredSession, Account, error)
	// TouchSession sets a session's last use to now if it was earlier. A
	// session that is gone is not an error.
	TouchSession(ctx context.Context, hash []byte, now time.Time) error
	// DeleteSession ends a session. A session that is gone is not an
	// error.
	DeleteSession(ctx context.Context, hash []byte) error
}

// authorizeAccounts checks that actor may manage accounts: the operator
// holding the data directory (nil) or a county principal.
func authorizeAccounts(actor *Principal) error {
	if actor != nil && actor.Scope.Role != election.RoleCounty {
		return syncproto.Errorf(syncproto.CodeForbidden, "only county staff manage accounts: ask the county")
	}
	return nil
}

// actorSubject names actor in the audit log.
func actorSubject(actor *Principal) string {
	if actor == nil {
		return "operator"
	}
	return actor.Subject
}

// normalizeUsername folds ASCII letters to lower case and checks the
// username's length and characters.
func normalizeUsername(username string) (string, error) {
	if len(username) < MinUsernameLen || len(username) > MaxUsernameLen {
		return "", syncproto.Errorf(syncproto.CodeBadRequest, "username must be %d-%d characters", MinUsernameLen, MaxUsernameLen)
	}
	b := []byte(username)
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return "", syncproto.Errorf(syncproto.CodeBadRequest, "username may only use letters a-z, digits and . _ -")
		}
	}
	return string(b), nil
}

// checkAccountName trims a display name and checks it.
func checkAccountName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if !utf8.ValidString(name) {
		return "", syncproto.Errorf(syncproto.CodeBadRequest, "name must be valid UTF-8 text")
	}
	if n := utf8.RuneCountInString(name); n > MaxAccountNameLen {
		return "", syncproto.Errorf(syncproto.CodeBadRequest, "name is %d characters: at most %d", n, MaxAccountNameLen)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return "", syncproto.Errorf(syncproto.CodeBadRequest, "name may only hold printable characters")
		}
	}
	return name, nil
}

// checkPassword checks a new password for username (normalized).
func checkPassword(username, password string) error {
	switch {
	case len(password) < MinPasswordLen:
		return syncproto.Errorf(syncproto.CodeBadRequest, "password is too short: use at least %d characters (a few words make a good one)", MinPasswordLen)
	case len(password) > MaxPasswordLen:
		return syncproto.Errorf(syncproto.CodeBadRequest, "password is too long: at most %d bytes", MaxPasswordLen)
	case strings.EqualFold(password, username):
		return syncproto.Errorf(syncproto.CodeBadRequest, "password must not be the username")
	}
	return nil
}

// checkAccountScope checks a person's role and scope: station is a device
// role.
func (s *Service) checkAccountScope(ctx context.Context, role election.Role, scope string) (election.Scope, error) {
	if role == election.RoleStation {
		return election.Scope{}, syncproto.Errorf(syncproto.CodeBadRequest, "station is a device role: a person is county, supervisor or observer (enroll the station's laptop instead)")
	}
	return s.checkScope(ctx, role, scope)
}

// CreateAccount creates a person's account. actor nil is the operator
// holding the data directory; otherwise only county principals may.
func (s *Service) CreateAccount(ctx context.Context, actor *Principal, a NewAccount) (Account, error) {
	if err := authorizeAccounts(actor); err != nil {
		return Account{}, err
	}
	username, err := normalizeUsername(a.Username)
	if err != nil {
		return Account{}, err
	}
	name, err := checkAccountName(a.Name)
	if err != nil {
		return Account{}, err
	}
	if name == "" {
		name = username
	}
	if err := checkPassword(username, a.Password); err != nil {
		return Account{}, err
	}
	scope, err := s.checkAccountScope(ctx, a.Role, a.Scope)
	if err != nil {
		return Account{}, err
	}
	hash, err := s.hashPassword(ctx, a.Password)
	if err != nil {
		return Account{}, fmt.Errorf("create account: %w", err)
	}
	acct := Account{
		Username: username,
		Name:     name,
		Role:     scope.Role,
		Scope:    scope.Code,
		Created:  s.now().UTC(),
	}
	if err := s.store.CreateAccount(ctx, acct, hash); err != nil {
		return Account{}, clientOrWrap(err, "create account")
	}
	s.log.InfoContext(ctx, "account created", logSubject, actorSubject(actor), logAccount, username,
		logRole, string(acct.Role), logScope, acct.Scope)
	return acct, nil
}

// ResetPassword sets an account's password, unlocks it and ends its
// sessions.
func (s *Service) ResetPassword(ctx context.Context, actor *Principal, username, password string) error {
	if err := authorizeAccounts(actor); err != nil {
		return err
	}
	username, err := normalizeUsername(username)
	if err != nil {
		return err
	}
	if err := checkPassword(username, password); err != nil {
		return err
	}
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	if err := s.store.SetPassword(ctx, username, hash); err != nil {
		return clientOrWrap(err, "reset password")
	}
	s.log.InfoContext(ctx, "password reset", logSubject, actorSubject(actor), logAccount, username)
	return nil
}

// SetAccountDisabled disables (ending its sessions) or enables an account.
// A person cannot disable their own account.
func (s *Service) SetAccountDisabled(ctx context.Context, actor *Principal, username string, disabled bool) error {
	if err := authorizeAccounts(actor); err != nil {
		return err
	}
	username, err := normalizeUsername(username)
	if err != nil {
		return err
	}
	if disabled && actor != nil && actor.Account == username {
		return syncproto.Errorf(syncproto.CodeBadRequest, "you cannot disable your own account: ask another county account")
	}
	if err := s.store.SetAccountDisabled(ctx, username, disabled); err != nil {
		return clientOrWrap(err, "set account disabled")
	}
	msg := "account enabled"
	if disabled {
		msg = "account disabled"
	}
	s.log.InfoContext(ctx, msg, logSubject, actorSubject(actor), logAccount, username)
	return nil
}

// Accounts lists every account, by username. A lock that has run out is
// not shown.
func (s *Service) Accounts(ctx context.Context, actor *Principal) ([]Account, error) {
	if err := authorizeAccounts(actor); err != nil {
		return nil, err
	}
	accts, err := s.store.Accounts(ctx)
	if err != nil {
		return nil, clientOrWrap(err, "accounts")
	}
	now := s.now()
	for i := range accts {
		if !accts[i].LockedUntil.After(now) {
			accts[i].LockedUntil = time.Time{}
		}
	}
	return accts, nil
}

// errWrongLogin is the one answer to an unknown username, a wrong password
// and a disabled account.
func errWrongLogin() error {
	return syncproto.Errorf(syncproto.CodeUnauthenticated, "wrong username or password")
}

// errLocked is the answer to any login of a locked account, right password
// or not.
func errLocked(until time.Time) error {
	return syncproto.Errorf(syncproto.CodeRateLimited,
		"too many failed logins: the account is locked until %s; try again then, or ask the county to reset the password",
		until.Local().Format(time.RFC3339))
}

// Login checks a person's username and password and starts a session.
// An unknown username, a wrong password and a disabled account get the same
// answer after the same work; MaxLoginFailures failures in a row lock the
// account for LoginLockout.
func (s *Service) Login(ctx context.Context, username, password string) (*Session, error) {
	if len(password) > MaxPasswordLen {
		return nil, errWrongLogin()
	}
	user, err := normalizeUsername(username)
	if err != nil {
		s.verifyDummy(ctx, password)
		return nil, errWrongLogin()
	}
	now := s.now()
	att, err := s.store.BeginLogin(ctx, user, now, MaxLoginFailures, LoginLockout)
	if isCode(err, syncproto.CodeNotFound) {
		s.verifyDummy(ctx, password)
		s.log.InfoContext(ctx, "login failed: unknown username")
		return nil, errWrongLogin()
	}
	if err != nil {
		return nil, clientOrWrap(err, "login")
	}
	if !att.Counted && !att.Account.Disabled {
		s.log.InfoContext(ctx, "login refused: account locked", logAccount, user, logUntil, att.Account.LockedUntil)
		return nil, errLocked(att.Account.LockedUntil)
	}
	ok, stale, err := s.verifyPassword(ctx, password, att.PasswordHash, false)
	if err != nil {
		return nil, fmt.Errorf("login %s: %w", user, err)
	}
	if att.Account.Disabled {
		s.log.InfoContext(ctx, "login refused: account disabled", logAccount, user)
		return nil, errWrongLogin()
	}
	if !ok {
		if att.Locks {
			s.lockedOut(ctx, user, att.Account.LockedUntil, now)
		} else {
			s.log.InfoContext(ctx, "login failed: wrong password", logAccount, user)
		}
		return nil, errWrongLogin()
	}

	var rehash string
	if stale {
		if rehash, err = s.hashPassword(ctx, password); err != nil {
			return nil, fmt.Errorf("login %s: rehash: %w", user, err)
		}
	}
	token, err := randomString(sessionTokenBytes)
	if err != nil {
		return nil, fmt.Errorf("login %s: %w", user, err)
	}
	sum := sha256.Sum256([]byte(token))
	stored := StoredSession{
		Hash:     sum[:],
		Username: user,
		Created:  now,
		LastSeen: now,
		Expires:  now.Add(SessionLifetime),
	}
	acct, err := s.store.FinishLogin(ctx, stored, att.PasswordHash, rehash, now.Add(-SessionIdleTimeout))
	if err != nil {
		return nil, clientOrWrap(err, "login")
	}
	s.log.InfoContext(ctx, "login", logAccount, user, logRole, string(acct.Role), logScope, acct.Scope)
	return s.session(ctx, token, stored, acct)
}

// lockedOut logs and alerts that failed logins locked an account.
func (s *Service) lockedOut(ctx context.Context, username string, until, now time.Time) {
	s.log.WarnContext(ctx, "account locked after failed logins", logAccount, username, logCount, MaxLoginFailures, logUntil, until)
	alert := Alert{
		Kind:    AlertLoginLocked,
		Detail:  fmt.Sprintf("account %s locked until %s after %d failed logins", username, until.UTC().Format(time.RFC3339), MaxLoginFailures),
		Created: now,
	}
	if err := s.store.AddAlert(ctx, alert); err != nil {
		// The lock holds; only the alert is lost. The login's answer stays
		// the same whatever the store does.
		s.log.ErrorContext(ctx, "login locked: add alert", logAccount, username, logErr, err)
	}
}

// errNoSession is the one answer to a session token that does not work.
func errNoSession() error {
	return syncproto.Errorf(syncproto.CodeUnauthenticated, "not logged in, or the session has ended: log in again")
}

// sessionHash returns the stored hash of a session token, or false if it
// cannot be one.
func sessionHash(token string) ([]byte, bool) {
	if len(token) != base64.RawURLEncoding.EncodedLen(sessionTokenBytes) {
		return nil, false
	}
	if b, err := base64.RawURLEncoding.Strict().DecodeString(token); err != nil || len(b) != sessionTokenBytes {
		return nil, false
	}
	sum := sha256.Sum256([]byte(token))
	return sum[:], true
}

// Session returns the live session of token, recording its use. An unknown,
// expired or logged-out token, or one whose account is disabled, is
// CodeUnauthenticated.
func (s *Service) Session(ctx context.Context, token string) (*Session, error) {
	hash, ok := sessionHash(token)
	if !ok {
		return nil, errNoSession()
	}
	stored, acct, err := s.store.Session(ctx, hash)
	if isCode(err, syncproto.CodeNotFound) {
		return nil, errNoSession()
	}
	if err != nil {
		return nil, clientOrWrap(err, "session")
	}
	now := s.now()
	if !now.Before(stored.Expires) || now.Sub(stored.LastSeen) >= SessionIdleTimeout {
		if err := s.store.DeleteSession(ctx, hash); err != nil {
			return nil, fmt.Errorf("session: delete expired: %w", err)
		}
		return nil, errNoSession()
	}
	if acct.Disabled {
		return nil, errNoSession()
	}
	if now.Sub(stored.LastSeen) >= sessionTouchInterval {
		if err := s.store.TouchSession(ctx, hash, now); err != nil {
			return nil, fmt.Errorf("session: touch: %w", err)
		}
		stored.LastSeen = now
	}
	return s.session(ctx, token, stored, acct)
}

// session builds the Session of token.
func (s *Service) session(ctx context.Context, token string, stored StoredSession, acct Account) (*Session, error) {
	csrf, err := s.csrfToken(ctx, token)
	if err != nil {
		return nil, err
	}
	return &Session{
		Token: token,
		CSRF:  csrf,
		Principal: Principal{
			Subject: "account:" + acct.Username,
			Account: acct.Username,
			Scope:   election.Scope{Role: acct.Role, Code: acct.Scope},
		},
		Account: acct,
		Expires: stored.Expires,
	}, nil
}

// Logout ends the session of token. A token that does not work is not an
// error: the session is over either way.
func (s *Service) Logout(ctx context.Context, token string) error {
	hash, ok := sessionHash(token)
	if !ok {
		return nil
	}
	if err := s.store.DeleteSession(ctx, hash); err != nil {
		return clientOrWrap(err, "logout")
	}
	return nil
}

// Domains of the keys and MACs derived from the nonce MAC key.
const (
	csrfKeyDomain = "villagesync/csrf-key/v1"
	csrfDomain    = "villagesync/csrf\x00"
)

// csrfToken is the CSRF token of a session: an HMAC of the session token
// under a key derived from the nonce MAC key, so that it is the same on
// every request of the session and on every server sharing the store, and
// worthless for any other session.
func (s *Service) csrfToken(ctx context.Context, token string) (string, error) {
	root, err := s.nonceKey(ctx)
	if err != nil {
		return "", fmt.Errorf("csrf token: %w", err)
	}
	kdf := hmac.New(sha256.New, root)
	kdf.Write([]byte(csrfKeyDomain))
	m := hmac.New(sha256.New, kdf.Sum(nil))
	m.Write([]byte(csrfDomain))
	m.Write([]byte(token))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)), nil
}

// CheckCSRF reports, in constant time, whether got is sess's CSRF token.
func CheckCSRF(sess *Session, got string) bool {
	if sess == nil || sess.CSRF == "" || got == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(sess.CSRF), []byte(got)) == 1
}

// Password hashes are argon2id in the PHC string format:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<threads>$<salt>$<key>, salt and key
// in unpadded standard base64.
const (
	argon2SaltLen = 16
	argon2KeyLen  = 32
	phcPrefix     = "$argon2id$v=19$"
	// maxArgon2MemoryKiB bounds the memory a stored hash can make a login
	// spend: 4 GiB.
	maxArgon2MemoryKiB = 4 << 20
	maxArgon2Time      = 1 << 10
)

// argon2Slots bounds the argon2 derivations under way in the process: each
// holds MemoryKiB of memory, so a burst of logins must queue rather than
// exhaust it.
var argon2Slots = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))

// deriveKey runs argon2id once a slot is free.
func deriveKey(ctx context.Context, password, salt []byte, p Argon2Params, keyLen uint32) ([]byte, error) {
	select {
	case argon2Slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait to hash password: %w", ctx.Err())
	}
	defer func() { <-argon2Slots }()
	return argon2.IDKey(password, salt, p.Time, p.MemoryKiB, p.Threads, keyLen), nil
}

// formatPHC writes an argon2id hash in PHC form.
func formatPHC(p Argon2Params, salt, key []byte) string {
	return fmt.Sprintf("%sm=%d,t=%d,p=%d$%s$%s", phcPrefix, p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// parsePHC reads an argon2id hash in PHC form.
func parsePHC(phc string) (p Argon2Params, salt, key []byte, err error) {
	rest, ok := strings.CutPrefix(phc, phcPrefix)
	if !ok {
		return p, nil, nil, errors.New("password hash is not argon2id v=19")
	}
	parts := strings.Split(rest, "$")
	if len(parts) != 3 {
		return p, nil, nil, errors.New("password hash: want params$salt$key")
	}
	fields := strings.Split(parts[0], ",")
	if len(fields) != 3 {
		return p, nil, nil, fmt.Errorf("password hash params %q: want m=,t=,p=", parts[0])
	}
	var vals [3]uint64
	for i, name := range [...]string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(fields[i], name+"=")
		if !ok {
			return p, nil, nil, fmt.Errorf("password hash params %q: want m=,t=,p=", parts[0])
		}
		bits := 32
		if name == "p" {
			bits = 8
		}
		if vals[i], err = strconv.ParseUint(v, 10, bits); err != nil {
			return p, nil, nil, fmt.Errorf("password hash param %s: %w", name, err)
		}
	}
	m, t, th := vals[0], vals[1], vals[2]
	p = Argon2Params{Time: uint32(t), MemoryKiB: uint32(m), Threads: uint8(th)}
	switch {
	case p.Time < 1 || p.Time > maxArgon2Time:
		return p, nil, nil, fmt.Errorf("password hash: t=%d out of range", p.Time)
	case p.Threads < 1:
		return p, nil, nil, errors.New("password hash: p=0")
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxArgon2MemoryKiB:
		return p, nil, nil, fmt.Errorf("password hash: m=%d out of range", p.MemoryKiB)
	}
	if salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[1]); err != nil || len(salt) < 8 {
		return p, nil, nil, errors.New("password hash: bad salt")
	}
	if key, err = base64.RawStdEncoding.Strict().DecodeString(parts[2]); err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errors.New("password hash: bad key")
	}
	return p, salt, key, nil
}

// hashPassword hashes a password with the configured parameters and a
// fresh salt.
func (s *Service) hashPassword(ctx context.Context, password string) (string, error) {
	salt := make([]byte, argon2SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	key, err := deriveKey(ctx, []byte(password), salt, s.cfg.Argon2, argon2KeyLen)
	if err != nil {
		return "", err
	}
	return formatPHC(s.cfg.Argon2, salt, key), nil
}

// verifyPassword reports whether password matches the PHC hash, and
// whether the hash should be redone with the configured parameters.
func (s *Service) verifyPassword(ctx context.Context, password, phc string, dummy bool) (ok, stale bool, err error) {
	p, salt, key, err := parsePHC(phc)
	if err != nil {
		return false, false, err
	}
	got, err := deriveKey(ctx, []byte(password), salt, p, uint32(len(key)))
	if err != nil {
		return false, false, err
	}
	ok = subtle.ConstantTimeCompare(got, key) == 1
	if s.cfg.verifyHook != nil {
		s.cfg.verifyHook(dummy)
	}
	stale = p != s.cfg.Argon2 || len(salt) != argon2SaltLen || len(key) != argon2KeyLen
	return ok, stale, nil
}

// dummySalt is the salt of the hash unknown usernames are checked against.
var dummySalt = make([]byte, argon2SaltLen)

// verifyDummy spends on password the work of checking a real account's
// password, so that an unknown username takes as long as a wrong password.
// No password matches the dummy's all-zero key (short of breaking argon2).
func (s *Service) verifyDummy(ctx context.Context, password string) {
	phc := formatPHC(s.cfg.Argon2, dummySalt, make([]byte, argon2KeyLen))
	if _, _, err := s.verifyPassword(ctx, password, phc, true); err != nil {
		s.log.DebugContext(ctx, "dummy password check", logErr, err)
	}
}
