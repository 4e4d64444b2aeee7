package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"villagesync/election"
	"villagesync/syncproto"
)

// Defaults and limits of [Config] and of the service's credentials.
const (
	DefaultIssuer   = "villagesync"
	DefaultAudience = "villagesync-api"
	DefaultTokenTTL = 15 * time.Minute // also the maximum device token lifetime
	MaxMintTTL      = 24 * time.Hour   // the longest token MintToken issues
	// DefaultNonceTTL outlives a device token, so that the nonce a device
	// kept from its last sync still gets it a new token once the old one
	// has expired.
	DefaultNonceTTL      = syncproto.NonceLifetime
	DefaultEnrollCodeTTL = 24 * time.Hour
	MaxEnrollCodeTTL     = 7 * 24 * time.Hour
	// TokenLeeway is the clock leeway allowed when checking exp, nbf and iat.
	// Only the server's clock matters, so it is small.
	TokenLeeway = 30 * time.Second

	// AuthorityKeyPrefix starts the KeyID of the stored key of the server's
	// own county authoring identity. Such keys sign changes, never tokens or
	// receipts, and are never published in the JWKS.
	AuthorityKeyPrefix = "authority-"
	// AuthorityLabel is the label of the county authority's device row.
	AuthorityLabel = "county-authority"
)

// Attribute keys of the service's log records.
const (
	logDevice  = "device"
	logRole    = "role"
	logScope   = "scope"
	logSeq     = "seq"
	logKeyID   = "kid"
	logErr     = "err"
	logKind    = "kind"
	logCount   = "count"
	logExpires = "expires"
	logDetail  = "detail"
	logSubject = "subject"

	logPushed     = "pushed"
	logApplied    = "applied"
	logDuplicates = "duplicates"
	logHeld       = "held"
	logPulled     = "pulled"
)

// Config configures a [Service]. The zero value of every field means its
// default.
type Config struct {
	Issuer     string           // JWT iss, default DefaultIssuer
	Audience   string           // JWT aud, default DefaultAudience
	TokenTTL   time.Duration    // device token lifetime, default and maximum DefaultTokenTTL
	NonceTTL   time.Duration    // default DefaultNonceTTL
	CountyCode string           // the county this server serves, default election.DongliaoCode
	Now        func() time.Time // injectable clock; nil = time.Now
	Logger     *slog.Logger     // nil = slog.Default()
	Argon2     Argon2Params     // cost of people's password hashes; zero fields = defaults

	// verifyHook, if set, is called after every password check; dummy
	// reports a check against the dummy hash of an unknown username. For
	// tests.
	verifyHook func(dummy bool)
}

// Principal is who a request acts for, derived from a verified access token
// only.
type Principal struct {
	Subject string // device id, or the person or script MintToken named
	Device  string // the device id; "" for tokens not issued to a device
	Account string // the username of a person's web session; "" otherwise
	Scope   election.Scope
}

// Service is the central villagesync service. It is safe for concurrent use.
type Service struct {
	store   Store
	cfg     Config
	log     *slog.Logger
	parser  *jwt.Parser
	metrics *metrics

	keys      atomic.Pointer[keyset]
	keysMu    sync.Mutex   // serialises reloads of keys
	kidReload atomic.Int64 // when a token's unknown kid last caused a reload, Unix ns
	authorMu  sync.Mutex   // serialises Seed and Resolve, which extend one device chain
	authority *authority   // guarded by authorMu

	nonceMAC atomic.Pointer[[]byte] // the nonce MAC key, once loaded
	nonceMu  sync.Mutex             // serialises loading it

	review reviewCache

	checking chan struct{} // a slot per push being checked (see acquireCheck)
}

// New returns a service over store. It makes sure a server signing key
// exists, creating an Ed25519 key with a random key id if the store has no
// active one, and loads (or creates, once) the nonce MAC key.
func New(ctx context.Context, store Store, cfg Config) (*Service, error) {
	if store == nil {
		return nil, errors.New("new service: nil store")
	}
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	switch {
	case cfg.TokenTTL == 0:
		cfg.TokenTTL = DefaultTokenTTL
	case cfg.TokenTTL < 0 || cfg.TokenTTL > DefaultTokenTTL:
		return nil, fmt.Errorf("new service: token ttl %v: want between 0 and %v", cfg.TokenTTL, DefaultTokenTTL)
	}
	switch {
	case cfg.NonceTTL == 0:
		cfg.NonceTTL = DefaultNonceTTL
	case cfg.NonceTTL < 0:
		return nil, fmt.Errorf("new service: nonce ttl %v: want positive", cfg.NonceTTL)
	}
	if cfg.CountyCode == "" {
		cfg.CountyCode = election.DongliaoCode
	}
	if err := (election.Scope{Role: election.RoleCounty, Code: cfg.CountyCode}).Validate(); err != nil {
		return nil, fmt.Errorf("new service: county code: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	argon, err := cfg.Argon2.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("new service: %w", err)
	}
	cfg.Argon2 = argon
	s := &Service{
		store:   store,
		cfg:     cfg,
		log:     cfg.Logger,
		metrics: newMetrics(),
		// One core is left to the store's single commit goroutine.
		checking: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)-1)),
	}
	s.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(TokenLeeway),
		jwt.WithTimeFunc(cfg.Now),
	)
	if _, err := s.reloadKeys(ctx, nil); err != nil {
		return nil, fmt.Errorf("new service: %w", err)
	}
	// The nonce key too, so that issuing a nonce never writes.
	if _, err := s.nonceKey(ctx); err != nil {
		return nil, fmt.Errorf("new service: %w", err)
	}
	return s, nil
}

// now is the service clock.
func (s *Service) now() time.Time { return s.cfg.Now() }

// randomString returns n random bytes as unpadded base64url.
func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Nonce issues a fresh single-use nonce for a token request. It writes
// nothing: see nonce.go.
func (s *Service) Nonce(ctx context.Context) (*syncproto.NonceResponse, error) {
	nonce, expires, err := s.newNonce(ctx)
	if err != nil {
		return nil, err
	}
	return &syncproto.NonceResponse{Nonce: nonce, Expires: expires.UnixMilli()}, nil
}

// clientOrWrap returns err unchanged if it is a *syncproto.Error meant for
// the client, and wraps it with context otherwise.
func clientOrWrap(err error, context string) error {
	if _, ok := errors.AsType[*syncproto.Error](err); ok {
		return err
	}
	return fmt.Errorf("%s: %w", context, err)
}

// isCode reports whether err carries the syncproto code c.
func isCode(err error, c syncproto.Code) bool {
	e, ok := errors.AsType[*syncproto.Error](err)
	return ok && e.Code == c
}
