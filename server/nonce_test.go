package server_test

import (
	"encoding/base64"
	"testing"
	"time"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/httpapi/httptestutil"
	"villagesync/syncproto"
)

func TestNonce(t *testing.T) {
	e := httptestutil.NewEnv(t)
	ctx := t.Context()
	d := e.Enroll(t, election.RoleStation, e.Village(1, 0))
	nonce := func(tb testing.TB) *syncproto.NonceResponse {
		tb.Helper()
		n, err := e.Service.Nonce(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		return n
	}

	t.Run("Stateless", func(t *testing.T) {
		before := e.Stats(t)
		for range 10 {
			nonce(t)
		}
		resp, err := e.Service.Sync(ctx, &server.Principal{Subject: d.ID, Device: d.ID, Scope: d.Scope}, &syncproto.SyncRequest{PullMax: -1})
		if err != nil || resp.Nonce == "" {
			t.Fatalf("got nonce %q (%v), want one in the sync response", resp.Nonce, err)
		}
		if after := e.Stats(t); after != before {
			t.Errorf("got %+v after issuing nonces, want %+v: issuing writes nothing", after, before)
		}
	})

	t.Run("SingleUse", func(t *testing.T) {
		n := nonce(t)
		before := e.Stats(t)
		if _, err := e.Service.Token(ctx, d.TokenRequest(n.Nonce)); err != nil {
			t.Fatal(err)
		}
		if after := e.Stats(t); after.UsedNonces != before.UsedNonces+1 {
			t.Errorf("got %d used nonces, want %d", after.UsedNonces, before.UsedNonces+1)
		}
		_, err := e.Service.Token(ctx, d.TokenRequest(n.Nonce))
		if code(err) != syncproto.CodeNonceInvalid {
			t.Errorf("second use: got %v, want nonce_invalid", err)
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		n := nonce(t)
		if want := e.Clock.Now().Add(server.DefaultNonceTTL).UnixMilli(); n.Expires != want {
			t.Fatalf("got expiry %d, want %d", n.Expires, want)
		}
		e.Clock.Advance(server.DefaultNonceTTL - time.Millisecond)
		if _, err := e.Service.Token(ctx, d.TokenRequest(n.Nonce)); err != nil {
			t.Fatalf("a millisecond before expiry: got %v, want a token", err)
		}
		n = nonce(t)
		e.Clock.Advance(server.DefaultNonceTTL)
		if _, err := e.Service.Token(ctx, d.TokenRequest(n.Nonce)); code(err) != syncproto.CodeNonceInvalid {
			t.Errorf("at expiry: got %v, want nonce_invalid", err)
		}
	})

	t.Run("Tampered", func(t *testing.T) {
		raw, err := base64.RawURLEncoding.DecodeString(nonce(t).Nonce)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range []int{0, 16, 23, 24, len(raw) - 1} {
			b := append([]byte(nil), raw...)
			b[i] ^= 1
			if _, err := e.Service.Token(ctx, d.TokenRequest(base64.RawURLEncoding.EncodeToString(b))); code(err) != syncproto.CodeNonceInvalid {
				t.Errorf("byte %d flipped: got %v, want nonce_invalid", i, err)
			}
		}
	})

	t.Run("SharedByReplicas", func(t *testing.T) {
		// A second service on the same store (another replica) accepts
		// the first one's nonces.
		other, err := server.New(ctx, e.Store, server.Config{Now: e.Clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		n := nonce(t)
		if _, err := other.Token(ctx, d.TokenRequest(n.Nonce)); err != nil {
			t.Errorf("got %v, want the other replica to accept the nonce", err)
		}
	})
}
