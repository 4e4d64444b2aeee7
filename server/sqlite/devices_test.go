package sqlite_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"path/filepath"
	"testing"
	"time"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/sqlite"
	"villagesync/syncproto"
)

func TestRedeemEnrollCode(t *testing.T) {
	ctx := context.Background()
	code := server.EnrollCode{
		Hash:    "5d41402abc4b2a76b9719d911017c592",
		Role:    election.RoleStation,
		Scope:   village1,
		Created: t0,
		Expires: t0.Add(24 * time.Hour),
	}

	t.Run("OK", func(t *testing.T) {
		st := MustOpen(t)
		if err := st.CreateEnrollCode(ctx, code); err != nil {
			t.Fatal(err)
		}
		d := makeDevice("laptop", "", "")
		d.dev.Enrolled = time.Time{}
		now := t0.Add(time.Hour)
		got, err := st.RedeemEnrollCode(ctx, code.Hash, d.dev, now)
		if err != nil {
			t.Fatal(err)
		}
		if got.Role != election.RoleStation || got.Scope != village1 || !got.Enrolled.Equal(now) || got.ID != d.id() {
			t.Fatalf("got %+v, want a station of %s enrolled at %v", got, village1, now)
		}
		stored, err := st.Device(ctx, d.id())
		if err != nil {
			t.Fatal(err)
		}
		if stored.Role != got.Role || stored.Scope != got.Scope || !stored.PublicKey.Equal(d.dev.PublicKey) ||
			!stored.Enrolled.Equal(now) || stored.Label != "laptop" || !stored.Revoked.IsZero() {
			t.Fatalf("got stored %+v, want %+v", stored, got)
		}
	})

	t.Run("ErrReused", func(t *testing.T) {
		st := MustOpen(t)
		if err := st.CreateEnrollCode(ctx, code); err != nil {
			t.Fatal(err)
		}
		first := makeDevice("first", "", "")
		if _, err := st.RedeemEnrollCode(ctx, code.Hash, first.dev, t0); err != nil {
			t.Fatal(err)
		}
		second := makeDevice("second", "", "")
		_, err := st.RedeemEnrollCode(ctx, code.Hash, second.dev, t0)
		wantCode(t, err, syncproto.CodeEnrollCodeInvalid)
		if _, err := st.Device(ctx, second.id()); syncproto.ErrorCode(err) != syncproto.CodeNotFound {
			t.Fatalf("got %v for the refused device, want not_found", err)
		}
	})

	t.Run("ErrExpired", func(t *testing.T) {
		st := MustOpen(t)
		if err := st.CreateEnrollCode(ctx, code); err != nil {
			t.Fatal(err)
		}
		d := makeDevice("late", "", "")
		_, err := st.RedeemEnrollCode(ctx, code.Hash, d.dev, code.Expires)
		wantCode(t, err, syncproto.CodeEnrollCodeInvalid)
		// A nanosecond earlier it was still good.
		if _, err := st.RedeemEnrollCode(ctx, code.Hash, d.dev, code.Expires.Add(-time.Nanosecond)); err != nil {
			t.Fatalf("got %v just before expiry, want the code accepted", err)
		}
	})

	t.Run("ErrUnknown", func(t *testing.T) {
		st := MustOpen(t)
		_, err := st.RedeemEnrollCode(ctx, "nope", makeDevice("x", "", "").dev, t0)
		wantCode(t, err, syncproto.CodeEnrollCodeInvalid)
	})

	t.Run("ErrDeviceEnrolled", func(t *testing.T) {
		st := MustOpen(t)
		d := newDevice(t, st, "existing", election.RoleStation, village2)
		if err := st.CreateEnrollCode(ctx, code); err != nil {
			t.Fatal(err)
		}
		_, err := st.RedeemEnrollCode(ctx, code.Hash, d.dev, t0)
		wantCode(t, err, syncproto.CodeConflict)
		// The refused redemption did not burn the code.
		other := makeDevice("other", "", "")
		if _, err := st.RedeemEnrollCode(ctx, code.Hash, other.dev, t0); err != nil {
			t.Fatalf("got %v, want the code still usable", err)
		}
	})

	t.Run("ErrBadCode", func(t *testing.T) {
		st := MustOpen(t)
		bad := code
		bad.Scope = baiquan // a township code for a station
		wantCode(t, st.CreateEnrollCode(ctx, bad), syncproto.CodeBadRequest)
		if err := st.CreateEnrollCode(ctx, code); err != nil {
			t.Fatal(err)
		}
		wantCode(t, st.CreateEnrollCode(ctx, code), syncproto.CodeConflict)
	})

	t.Run("ErrBadKey", func(t *testing.T) {
		st := MustOpen(t)
		if err := st.CreateEnrollCode(ctx, code); err != nil {
			t.Fatal(err)
		}
		d := makeDevice("short", "", "")
		d.dev.PublicKey = d.dev.PublicKey[:16]
		_, err := st.RedeemEnrollCode(ctx, code.Hash, d.dev, t0)
		wantCode(t, err, syncproto.CodeBadRequest)
	})
}

func TestEnrollCode(t *testing.T) {
	ctx := context.Background()
	st := MustOpen(t)
	code := server.EnrollCode{Hash: "h1", Role: election.RoleSupervisor, Scope: baiquan, Created: t0, Expires: t0.Add(time.Hour), CreatedBy: "county-staff"}
	if err := st.CreateEnrollCode(ctx, code); err != nil {
		t.Fatal(err)
	}
	got, err := st.EnrollCode(ctx, "h1")
	if err != nil || got != code {
		t.Fatalf("got %+v (%v), want %+v unused", got, err, code)
	}
	d := makeDevice("sup", "", "")
	if _, err := st.RedeemEnrollCode(ctx, "h1", d.dev, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// A used code is still found, with who used it: a reuse is told
	// apart from an unknown or expired code.
	got, err = st.EnrollCode(ctx, "h1")
	if err != nil || got.UsedBy != d.id() || !got.UsedAt.Equal(t0.Add(time.Minute)) || got.Role != election.RoleSupervisor {
		t.Fatalf("got %+v (%v), want the code used by %s", got, err, d.id())
	}
	_, err = st.EnrollCode(ctx, "h2")
	wantCode(t, err, syncproto.CodeNotFound)
}

func TestPutDevice(t *testing.T) {
	ctx := context.Background()
	st := MustOpen(t)
	d := newDevice(t, st, "county", election.RoleCounty, county)
	got, err := st.Device(ctx, d.id())
	if err != nil {
		t.Fatal(err)
	}
	if got.Role != election.RoleCounty || got.Scope != county || !got.Enrolled.Equal(t0) {
		t.Fatalf("got %+v, want the county device enrolled at %v", got, t0)
	}
	wantCode(t, st.PutDevice(ctx, d.dev), syncproto.CodeConflict)
	_, err = st.Device(ctx, "dev-missing")
	wantCode(t, err, syncproto.CodeNotFound)
	bad := makeDevice("bad", election.RoleSupervisor, village1)
	wantCode(t, st.PutDevice(ctx, bad.dev), syncproto.CodeBadRequest)
}

func TestRevokeDevice(t *testing.T) {
	ctx := context.Background()
	st := MustOpen(t)
	d := newDevice(t, st, "lost", election.RoleStation, village1)
	batch := d.facts(t, 4, village1)
	mustPush(t, st, d, batch[0], batch[1], batch[3]) // 4 is held beyond a gap

	now := t0.Add(48 * time.Hour)
	got, err := st.RevokeDevice(ctx, d.id(), now)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Revoked.Equal(now) || got.RevokedAfter != 2 {
		t.Fatalf("got revoked %v after %d, want %v after 2 (the contiguous head)", got.Revoked, got.RevokedAfter, now)
	}
	stored, err := st.Device(ctx, d.id())
	if err != nil {
		t.Fatal(err)
	}
	if !stored.Revoked.Equal(now) || stored.RevokedAfter != 2 {
		t.Fatalf("got stored %+v, want revoked at %v after 2", stored, now)
	}
	// Revoking again keeps the first revocation.
	again, err := st.RevokeDevice(ctx, d.id(), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Revoked.Equal(now) || again.RevokedAfter != 2 {
		t.Fatalf("got %+v, want the first revocation kept", again)
	}
	_, err = st.RevokeDevice(ctx, "dev-missing", now)
	wantCode(t, err, syncproto.CodeNotFound)
}

func TestNonceKey(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "server.db")
	st := mustOpenPath(t, path)
	first := bytes.Repeat([]byte{1}, 32)
	key, err := st.NonceKey(ctx, first)
	if err != nil || !bytes.Equal(key, first) {
		t.Fatalf("got %x (%v), want the fresh key stored", key, err)
	}
	// Later callers (another replica, a restart) get the stored key.
	key, err = st.NonceKey(ctx, bytes.Repeat([]byte{2}, 32))
	if err != nil || !bytes.Equal(key, first) {
		t.Fatalf("got %x (%v), want the first key", key, err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = mustOpenPath(t, path)
	if key, err = st.NonceKey(ctx, bytes.Repeat([]byte{3}, 32)); err != nil || !bytes.Equal(key, first) {
		t.Fatalf("after reopen got %x (%v), want the first key", key, err)
	}
	_, err = st.NonceKey(ctx, []byte("short"))
	wantCode(t, err, syncproto.CodeBadRequest)
}

func TestUseNonce(t *testing.T) {
	ctx := context.Background()
	st := MustOpen(t)
	hash := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	expires := t0.Add(30 * time.Minute)
	used := func(tb testing.TB) int64 {
		tb.Helper()
		var n int64
		if err := sqlite.ReadPool(st).QueryRowContext(ctx, `SELECT count(*) FROM used_nonces`).Scan(&n); err != nil {
			tb.Fatal(err)
		}
		return n
	}

	t.Run("OK", func(t *testing.T) {
		if err := st.UseNonce(ctx, hash("n1"), expires, t0); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrUsed", func(t *testing.T) {
		wantCode(t, st.UseNonce(ctx, hash("n1"), expires, t0.Add(time.Minute)), syncproto.CodeNonceInvalid)
	})
	t.Run("Forgotten", func(t *testing.T) {
		if err := st.UseNonce(ctx, hash("n2"), t0.Add(time.Hour), t0.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if n := used(t); n != 2 {
			t.Fatalf("got %d used nonces, want 2", n)
		}
		// Once expired, n1's hash is forgotten by a later use; n2's stays.
		if err := st.UseNonce(ctx, hash("n3"), t0.Add(2*time.Hour), expires.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if n := used(t); n != 2 {
			t.Fatalf("got %d used nonces after n1 expired, want 2 (n2, n3)", n)
		}
	})
	t.Run("ErrNoHash", func(t *testing.T) {
		wantCode(t, st.UseNonce(ctx, nil, expires, t0), syncproto.CodeBadRequest)
	})
}

func TestSigningKeys(t *testing.T) {
	ctx := context.Background()
	st := MustOpen(t)
	keys, err := st.SigningKeys(ctx)
	if err != nil || len(keys) != 0 {
		t.Fatalf("got %d keys (%v), want none", len(keys), err)
	}
	old := server.SigningKey{KeyID: "k-old", Private: ed25519.NewKeyFromSeed(make([]byte, 32)), Created: t0, Retired: t0.Add(time.Hour)}
	seed := make([]byte, 32)
	seed[0] = 1
	cur := server.SigningKey{KeyID: "k-new", Private: ed25519.NewKeyFromSeed(seed), Created: t0.Add(time.Hour)}
	for _, k := range []server.SigningKey{old, cur} {
		if err := st.AddSigningKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, st.AddSigningKey(ctx, old), syncproto.CodeConflict)
	wantCode(t, st.AddSigningKey(ctx, server.SigningKey{KeyID: "short", Private: old.Private[:32], Created: t0}), syncproto.CodeBadRequest)

	keys, err = st.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].KeyID != "k-new" || keys[1].KeyID != "k-old" {
		t.Fatalf("got %d keys, want k-new then k-old", len(keys))
	}
	if !keys[0].Private.Equal(cur.Private) || !keys[0].Created.Equal(cur.Created) || !keys[0].Retired.IsZero() {
		t.Fatalf("got key %s created %v retired %v, want it as stored", keys[0].KeyID, keys[0].Created, keys[0].Retired)
	}
	if !keys[1].Private.Equal(old.Private) || !keys[1].Retired.Equal(old.Retired) {
		t.Fatalf("got key %s retired %v, want it as stored", keys[1].KeyID, keys[1].Retired)
	}
}

func TestAlerts(t *testing.T) {
	ctx := context.Background()
	st := MustOpen(t)
	for i, kind := range []string{"enroll_code_reused", "bad_signature"} {
		if err := st.AddAlert(ctx, server.Alert{Kind: kind, Device: "dev-x", Detail: kind, Created: t0.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, st.AddAlert(ctx, server.Alert{}), syncproto.CodeBadRequest)
	alerts, err := st.Alerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 2 || alerts[0].Kind != "bad_signature" || alerts[1].Kind != "enroll_code_reused" {
		t.Fatalf("got %+v, want the two alerts newest first", alerts)
	}
	if alerts[0].ID <= alerts[1].ID || !alerts[0].Created.Equal(t0.Add(time.Minute)) || alerts[0].Device != "dev-x" {
		t.Fatalf("got %+v, want ids assigned in order and fields kept", alerts[0])
	}
}
