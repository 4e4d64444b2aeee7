package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	"villagesync/syncproto"
)

// Nonces are stateless: a nonce is the unpadded base64url of 16 random
// bytes, its expiry (Unix ms, 8 bytes big-endian) and an HMAC-SHA256 over
// both under a key the store keeps. Issuing one writes nothing; a token
// request checks the MAC and the expiry, then records the nonce's hash as
// used until it expires, so that it works once.
const (
	nonceRandomLen = 16
	nonceExpiryLen = 8
	nonceMACLen    = sha256.Size
	nonceBytes     = nonceRandomLen + nonceExpiryLen + nonceMACLen
	// nonceLen is the length of a nonce's wire form.
	nonceLen = (nonceBytes*8 + 5) / 6
)

// nonceDomain separates the nonce MAC from every other use of the key.
const nonceDomain = "villagesync/nonce/v1\x00"

// nonceKey returns the nonce MAC key, loading it from the store (which
// creates it once) on first use.
func (s *Service) nonceKey(ctx context.Context) ([]byte, error) {
	if k := s.nonceMAC.Load(); k != nil {
		return *k, nil
	}
	s.nonceMu.Lock()
	defer s.nonceMu.Unlock()
	if k := s.nonceMAC.Load(); k != nil {
		return *k, nil
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("nonce key: %w", err)
	}
	key, err := s.store.NonceKey(ctx, fresh)
	if err != nil {
		return nil, fmt.Errorf("nonce key: %w", err)
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("nonce key: stored key is %d bytes, want at least 32", len(key))
	}
	s.nonceMAC.Store(&key)
	return key, nil
}

func nonceMAC(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(nonceDomain))
	m.Write(msg)
	return m.Sum(nil)
}

// newNonce issues a nonce valid until the returned time. It writes nothing.
func (s *Service) newNonce(ctx context.Context) (string, time.Time, error) {
	key, err := s.nonceKey(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	var b [nonceBytes]byte
	if _, err := rand.Read(b[:nonceRandomLen]); err != nil {
		return "", time.Time{}, fmt.Errorf("nonce: %w", err)
	}
	expires := time.UnixMilli(s.now().Add(s.cfg.NonceTTL).UnixMilli())
	binary.BigEndian.PutUint64(b[nonceRandomLen:], uint64(expires.UnixMilli()))
	copy(b[nonceRandomLen+nonceExpiryLen:], nonceMAC(key, b[:nonceRandomLen+nonceExpiryLen]))
	return base64.RawURLEncoding.EncodeToString(b[:]), expires, nil
}

// errNonceInvalid is the one answer to every nonce that cannot be used.
func errNonceInvalid() error {
	return syncproto.Errorf(syncproto.CodeNonceInvalid, "nonce is unknown, used or expired: get a fresh one from GET /v1/nonce")
}

// useNonce checks a nonce's MAC and expiry at now and records it used.
func (s *Service) useNonce(ctx context.Context, nonce string, now time.Time) error {
	if len(nonce) != nonceLen {
		return errNonceInvalid()
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(nonce)
	if err != nil || len(b) != nonceBytes {
		return errNonceInvalid()
	}
	key, err := s.nonceKey(ctx)
	if err != nil {
		return err
	}
	signed := b[:nonceRandomLen+nonceExpiryLen]
	if !hmac.Equal(b[len(signed):], nonceMAC(key, signed)) {
		return errNonceInvalid()
	}
	expires := time.UnixMilli(int64(binary.BigEndian.Uint64(b[nonceRandomLen:])))
	if !now.Before(expires) {
		return errNonceInvalid()
	}
	sum := sha256.Sum256(b)
	if err := s.store.UseNonce(ctx, sum[:], expires, now); err != nil {
		return clientOrWrap(err, "use nonce")
	}
	return nil
}
