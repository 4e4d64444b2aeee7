package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"villagesync/syncproto"
)

// Key cache policy. Authenticate runs on every request, so it reads keys from
// an in-memory snapshot; the snapshot is reloaded from the store when it is
// older than keysMaxAge (another replica or the admin CLI may have rotated
// keys) or, at most once per keysUnknownKIDBackoff, when a token names a kid
// the snapshot does not hold.
const (
	keysMaxAge            = time.Minute
	keysUnknownKIDBackoff = 5 * time.Second
)

// keyRetention is how long a retired key still verifies tokens and stays in
// the JWKS: the longest token lifetime, plus the key cache's lifetime (a
// replica that has not reloaded yet still signs with a key retired up to
// keysMaxAge ago), plus leeway. Receipts outlive it, so ServerKeys lists
// every server key.
const keyRetention = MaxMintTTL + keysMaxAge + TokenLeeway

// keyset is an immutable snapshot of the server's signing keys.
type keyset struct {
	signing SigningKey                   // newest active key: signs tokens and receipts
	verify  map[string]ed25519.PublicKey // kid → key that still verifies tokens
	server  []syncproto.ServerKey        // every server key, newest first
	jwks    []byte
	loaded  time.Time
}

// currentKeys returns the key snapshot, reloading it when it is stale.
func (s *Service) currentKeys(ctx context.Context) (*keyset, error) {
	ks := s.keys.Load()
	if ks != nil && s.now().Sub(ks.loaded) < keysMaxAge {
		return ks, nil
	}
	return s.reloadKeys(ctx, ks)
}

// reloadKeys replaces the key snapshot seen by the caller (nil for none) with
// one loaded from the store, unless another goroutine already did. It adds a
// fresh signing key when the store holds no active one.
func (s *Service) reloadKeys(ctx context.Context, seen *keyset) (*keyset, error) {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	if current := s.keys.Load(); current != nil && current != seen {
		return current, nil
	}
	return s.loadKeysLocked(ctx)
}

// loadKeysLocked loads the key snapshot from the store, adding a fresh
// signing key when the store holds no active one. The caller holds keysMu.
func (s *Service) loadKeysLocked(ctx context.Context) (*keyset, error) {
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	now := s.now()
	ks, err := s.buildKeyset(ctx, keys, now)
	if err != nil {
		return nil, err
	}
	if ks.signing.KeyID == "" {
		k, err := newSigningKey(now)
		if err != nil {
			return nil, err
		}
		if err := s.store.AddSigningKey(ctx, k); err != nil {
			return nil, fmt.Errorf("add signing key: %w", err)
		}
		s.log.InfoContext(ctx, "created server signing key", logKeyID, k.KeyID)
		if ks, err = s.buildKeyset(ctx, append([]SigningKey{k}, keys...), now); err != nil {
			return nil, err
		}
	}
	s.keys.Store(ks)
	return ks, nil
}

// RotateSigningKey adds a new Ed25519 signing key and retires every active
// server key, in one store transaction, then reloads this service's keys:
// it signs tokens and receipts with the new key at once. Retired keys still
// verify tokens, and stay in the JWKS, for keyRetention; ServerKeys keeps
// listing them. Another service on the same store (a running server while
// the CLI rotates) accepts tokens of the new key as soon as it sees one,
// unless it reloaded for another unknown kid less than
// keysUnknownKIDBackoff ago (see verifyKey), and signs with it within
// keysMaxAge. It returns the new key
// id and the retired ones.
func (s *Service) RotateSigningKey(ctx context.Context) (newKID string, retired []string, err error) {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	now := s.now()
	k, err := newSigningKey(now)
	if err != nil {
		return "", nil, err
	}
	retired, err = s.store.RotateSigningKeys(ctx, k, now)
	if err != nil {
		return "", nil, clientOrWrap(err, "rotate signing key")
	}
	s.log.InfoContext(ctx, "rotated server signing key", logKeyID, k.KeyID, logRetired, retired)
	if _, err := s.loadKeysLocked(ctx); err != nil {
		// The rotation is stored: drop the snapshot so that the next use
		// loads it.
		s.keys.Store(nil)
		s.log.ErrorContext(ctx, "reload keys after rotation", logErr, err)
	}
	return k.KeyID, retired, nil
}

func newSigningKey(now time.Time) (SigningKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return SigningKey{}, fmt.Errorf("generate signing key: %w", err)
	}
	id, err := randomString(12)
	if err != nil {
		return SigningKey{}, err
	}
	return SigningKey{KeyID: "srv-" + id, Private: priv, Created: now}, nil
}

// jwk is one RFC 8037 Ed25519 public key in a JWK set.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

func (s *Service) buildKeyset(ctx context.Context, keys []SigningKey, now time.Time) (*keyset, error) {
	ks := &keyset{verify: make(map[string]ed25519.PublicKey), loaded: now}
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, k := range keys {
		if strings.HasPrefix(k.KeyID, AuthorityKeyPrefix) {
			continue
		}
		if k.KeyID == "" || len(k.Private) != ed25519.PrivateKeySize {
			s.log.ErrorContext(ctx, "skipping malformed server signing key", logKeyID, k.KeyID)
			continue
		}
		pub := k.Private.Public().(ed25519.PublicKey)
		ks.server = append(ks.server, syncproto.ServerKey{KeyID: k.KeyID, PublicKey: syncproto.Bytes(pub)})
		if k.Retired.IsZero() && ks.signing.KeyID == "" {
			ks.signing = k
		}
		if k.Retired.IsZero() || now.Before(k.Retired.Add(keyRetention)) {
			ks.verify[k.KeyID] = pub
			set.Keys = append(set.Keys, jwk{
				Kty: "OKP",
				Crv: "Ed25519",
				X:   base64.RawURLEncoding.EncodeToString(pub),
				Kid: k.KeyID,
				Alg: "EdDSA",
				Use: "sig",
			})
		}
	}
	b, err := syncproto.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("encode jwks: %w", err)
	}
	ks.jwks = b
	return ks, nil
}

// verifyKey returns the public key that verifies tokens signed under kid.
func (s *Service) verifyKey(ctx context.Context, kid string) (ed25519.PublicKey, bool) {
	ks, err := s.currentKeys(ctx)
	if err != nil {
		s.log.ErrorContext(ctx, "load keys", logErr, err)
		return nil, false
	}
	if pub, ok := ks.verify[kid]; ok {
		return pub, true
	}
	// Reload for an unknown kid at most once per backoff, however fresh
	// the snapshot: a key rotated in a second after a periodic reload is
	// still found at once, and forged kids cost one read per backoff.
	now := s.now()
	if last := s.kidReload.Load(); last != 0 && now.Sub(time.Unix(0, last)) < keysUnknownKIDBackoff {
		return nil, false
	}
	s.kidReload.Store(now.UnixNano())
	ks, err = s.reloadKeys(ctx, ks)
	if err != nil {
		s.log.ErrorContext(ctx, "reload keys", logErr, err)
		return nil, false
	}
	pub, ok := ks.verify[kid]
	return pub, ok
}

// JWKS returns the RFC 7517 JSON Web Key Set of the keys that verify access
// tokens: the active key and retired keys whose tokens may not have expired.
func (s *Service) JWKS(ctx context.Context) ([]byte, error) {
	ks, err := s.currentKeys(ctx)
	if err != nil {
		return nil, err
	}
	return ks.jwks, nil
}

// ServerKeys returns every server public key, newest first. Devices keep
// them to verify receipts, which outlive the keys' use for tokens. The
// county authority's key is not among them.
func (s *Service) ServerKeys(ctx context.Context) ([]syncproto.ServerKey, error) {
	ks, err := s.currentKeys(ctx)
	if err != nil {
		return nil, err
	}
	return append([]syncproto.ServerKey(nil), ks.server...), nil
}
