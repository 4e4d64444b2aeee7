package server

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"villagesync/election"
	"villagesync/syncproto"
)

// tokenType is the JWT "typ" header of access tokens (RFC 9068).
const tokenType = "at+jwt"

// maxTokenLen bounds what Authenticate is willing to parse.
const maxTokenLen = 4096

// maxSubjectLen bounds the subject of a minted token.
const maxSubjectLen = 128

// tokenClaims are the claims of a villagesync access token.
type tokenClaims struct {
	jwt.RegisteredClaims
	Role  string `json:"role"`
	Scope string `json:"scope"`
	Dev   string `json:"dev,omitempty"` // device id, only in device tokens
}

// Token issues an access token to a device that proves it holds its key by
// signing syncproto.TokenProof(device, nonce) over a single-use nonce this
// server issued and that has not expired. A nonce that passes those checks
// is consumed whatever the outcome, so a proof cannot be replayed.
func (s *Service) Token(ctx context.Context, req syncproto.TokenRequest) (*syncproto.TokenResponse, error) {
	switch {
	case req.Device == "" || len(req.Device) > syncproto.MaxDeviceBytes:
		return nil, syncproto.Errorf(syncproto.CodeBadRequest, "device must be 1-%d characters", syncproto.MaxDeviceBytes)
	case len(req.Nonce) != nonceLen:
		return nil, errNonceInvalid()
	case len(req.Sig) != ed25519.SignatureSize:
		return nil, syncproto.Errorf(syncproto.CodeBadSignature, "sig must be a %d-byte Ed25519 signature", ed25519.SignatureSize)
	}
	if err := s.useNonce(ctx, req.Nonce, s.now()); err != nil {
		return nil, err
	}
	dev, err := s.store.Device(ctx, req.Device)
	switch {
	case isCode(err, syncproto.CodeNotFound):
		return nil, syncproto.Errorf(syncproto.CodeUnauthenticated, "device %s is not enrolled: enroll it with a code from the county", req.Device)
	case err != nil:
		return nil, fmt.Errorf("token: %w", err)
	}
	if !ed25519.Verify(dev.PublicKey, syncproto.TokenProof(dev.ID, req.Nonce), req.Sig) {
		s.log.WarnContext(ctx, "token proof signature does not verify", logDevice, dev.ID)
		return nil, syncproto.Errorf(syncproto.CodeBadSignature, "token proof signature does not verify with the device's enrolled key")
	}
	if !dev.Revoked.IsZero() {
		s.log.WarnContext(ctx, "token refused to revoked device", logDevice, dev.ID)
		return nil, errRevoked(dev)
	}
	tok, exp, err := s.mint(ctx, dev.ID, dev.ID, dev.ElectionScope(), s.cfg.TokenTTL)
	if err != nil {
		return nil, err
	}
	return &syncproto.TokenResponse{Token: tok, Expires: exp.UnixMilli()}, nil
}

// MintToken issues an access token to a person or script (not a device),
// for `villagesync admin token`. ttl 0 means the device token lifetime; it
// is capped at MaxMintTTL. The scope is validated like an enrollment code's.
func (s *Service) MintToken(ctx context.Context, subject string, scope election.Scope, ttl time.Duration) (string, time.Time, error) {
	if subject == "" || len(subject) > maxSubjectLen || !printableText(subject) {
		return "", time.Time{}, syncproto.Errorf(syncproto.CodeBadRequest, "subject must be 1-%d printable characters", maxSubjectLen)
	}
	switch {
	case ttl < 0:
		return "", time.Time{}, syncproto.Errorf(syncproto.CodeBadRequest, "token ttl %v: want positive", ttl)
	case ttl == 0:
		ttl = s.cfg.TokenTTL
	case ttl > MaxMintTTL:
		ttl = MaxMintTTL
	}
	sc, err := s.checkScope(ctx, scope.Role, scope.Code)
	if err != nil {
		return "", time.Time{}, err
	}
	tok, exp, err := s.mint(ctx, subject, "", sc, ttl)
	if err != nil {
		return "", time.Time{}, err
	}
	s.log.InfoContext(ctx, "token minted", logSubject, subject, logRole, string(sc.Role), logScope, sc.Code, logExpires, exp)
	return tok, exp, nil
}

// mint signs an access token with the active server key.
func (s *Service) mint(ctx context.Context, subject, device string, scope election.Scope, ttl time.Duration) (string, time.Time, error) {
	ks, err := s.currentKeys(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	jti, err := randomString(16)
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.now()
	exp := now.Add(ttl)
	claims := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.cfg.Issuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings{s.cfg.Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        jti,
		},
		Role:  string(scope.Role),
		Scope: scope.Code,
		Dev:   device,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = ks.signing.KeyID
	t.Header["typ"] = tokenType
	signed, err := t.SignedString(ks.signing.Private)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	s.metrics.tokensIssued.Inc()
	// NumericDate has second precision: report the expiry the token states.
	return signed, claims.ExpiresAt.Time, nil
}

// errUnauthenticated is the one answer to every token that does not verify:
// the client learns nothing about which check failed.
func errUnauthenticated() error {
	return syncproto.Errorf(syncproto.CodeUnauthenticated, "invalid access token: get a new one")
}

// Authenticate verifies an access token (without its "Bearer " prefix) and
// returns its principal. The algorithm (EdDSA), typ, kid, issuer, audience
// and expiry are pinned; role and scope claims are validated; a device
// token's device must still be enrolled, unrevoked and in the same scope.
// An expired token is CodeTokenExpired, a revoked device CodeDeviceRevoked,
// anything else CodeUnauthenticated.
func (s *Service) Authenticate(ctx context.Context, bearer string) (*Principal, error) {
	if bearer == "" || len(bearer) > maxTokenLen {
		return nil, errUnauthenticated()
	}
	var claims tokenClaims
	_, err := s.parser.ParseWithClaims(bearer, &claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != tokenType {
			return nil, errors.New("wrong token typ")
		}
		kid, _ := t.Header["kid"].(string)
		pub, ok := s.verifyKey(ctx, kid)
		if !ok {
			return nil, errors.New("unknown kid")
		}
		return pub, nil
	})
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, syncproto.Errorf(syncproto.CodeTokenExpired, "access token expired: get a new one")
	case err != nil:
		s.log.DebugContext(ctx, "token refused", logErr, err)
		return nil, errUnauthenticated()
	}
	role, err := election.ParseRole(claims.Role)
	if err != nil {
		return nil, errUnauthenticated()
	}
	scope := election.Scope{Role: role, Code: claims.Scope}
	if scope.Validate() != nil || claims.Subject == "" {
		return nil, errUnauthenticated()
	}
	p := &Principal{Subject: claims.Subject, Scope: scope}
	if claims.Dev == "" {
		return p, nil
	}
	if claims.Dev != claims.Subject {
		return nil, errUnauthenticated()
	}
	dev, err := s.store.Device(ctx, claims.Dev)
	switch {
	case isCode(err, syncproto.CodeNotFound):
		return nil, errUnauthenticated()
	case err != nil:
		return nil, fmt.Errorf("authenticate: %w", err)
	case !dev.Revoked.IsZero():
		return nil, errRevoked(dev)
	case dev.ElectionScope() != scope:
		// The device was re-scoped since the token was issued.
		return nil, errUnauthenticated()
	}
	p.Device = dev.ID
	return p, nil
}
