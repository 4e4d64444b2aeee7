package sqlite_test

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/sqlite"
	"villagesync/syncproto"
)

// hashes returns the hashes of codes, in order.
func hashes(codes []server.EnrollCode) []string {
	var out []string
	for _, c := range codes {
		out = append(out, c.Hash)
	}
	return out
}

func TestEnrollCodes(t *testing.T) {
	ctx := context.Background()
	st := MustOpen(t)
	codes, err := st.EnrollCodes(ctx)
	if err != nil || len(codes) != 0 {
		t.Fatalf("got %d codes (%v), want none", len(codes), err)
	}
	// Two codes made at the same instant are listed newest inserted first.
	made := []server.EnrollCode{
		{Hash: "aaaa01", Role: election.RoleStation, Scope: village1, Created: t0, Expires: t0.Add(time.Hour), CreatedBy: "cli"},
		{Hash: "aaab02", Role: election.RoleSupervisor, Scope: baiquan, Created: t0.Add(time.Minute), Expires: t0.Add(time.Hour), CreatedBy: "sup"},
		{Hash: "0aaa03", Role: election.RoleStation, Scope: village3, Created: t0.Add(time.Minute), Expires: t0.Add(2 * time.Hour), CreatedBy: "county"},
	}
	for _, c := range made {
		if err := st.CreateEnrollCode(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	codes, err = st.EnrollCodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []server.EnrollCode{made[2], made[1], made[0]}
	if !slices.Equal(codes, want) {
		t.Fatalf("got %+v, want %+v", codes, want)
	}

	tests := []struct {
		name   string
		prefix string
		want   []string
		err    syncproto.Code
	}{
		{"One", "aaaa", []string{"aaaa01"}, ""},
		{"Whole", "aaab02", []string{"aaab02"}, ""},
		{"Two", "aaa", []string{"aaab02", "aaaa01"}, ""},
		{"None", "ab", nil, ""},
		{"ErrEmpty", "", nil, syncproto.CodeBadRequest},
		{"ErrUpperCase", "AAAA", nil, syncproto.CodeBadRequest},
		{"ErrGlobStar", "*", nil, syncproto.CodeBadRequest},
		{"ErrGlobClass", "[a-z]", nil, syncproto.CodeBadRequest},
		{"ErrTooLong", strings.Repeat("a", 65), nil, syncproto.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.EnrollCodesByPrefix(ctx, tt.prefix)
			if c := syncproto.ErrorCode(err); c != tt.err {
				t.Fatalf("got error %v, want code %q", err, tt.err)
			}
			if !slices.Equal(hashes(got), tt.want) {
				t.Errorf("got %v, want %v", hashes(got), tt.want)
			}
		})
	}
}

func TestExpireEnrollCode(t *testing.T) {
	ctx := context.Background()
	code := server.EnrollCode{Hash: "c0de", Role: election.RoleStation, Scope: village1, Created: t0, Expires: t0.Add(time.Hour), CreatedBy: "cli"}

	t.Run("OK", func(t *testing.T) {
		st := MustOpen(t)
		if err := st.CreateEnrollCode(ctx, code); err != nil {
			t.Fatal(err)
		}
		at := t0.Add(time.Minute)
		got, err := st.ExpireEnrollCode(ctx, code.Hash, at)
		if err != nil {
			t.Fatal(err)
		}
		want := code
		want.Expires = at
		if got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		if stored, err := st.EnrollCode(ctx, code.Hash); err != nil || stored != want {
			t.Fatalf("got stored %+v (%v), want %+v", stored, err, want)
		}
		// Redeeming it is refused from then on.
		_, err = st.RedeemEnrollCode(ctx, code.Hash, makeDevice("late", "", "").dev, at)
		wantCode(t, err, syncproto.CodeEnrollCodeInvalid)
		// A later expiry keeps the earlier one.
		again, err := st.ExpireEnrollCode(ctx, code.Hash, at.Add(time.Minute))
		if err != nil || again != want {
			t.Fatalf("got %+v (%v), want %+v unchanged", again, err, want)
		}
	})

	t.Run("AlreadyExpired", func(t *testing.T) {
		st := MustOpen(t)
		if err := st.CreateEnrollCode(ctx, code); err != nil {
			t.Fatal(err)
		}
		got, err := st.ExpireEnrollCode(ctx, code.Hash, code.Expires.Add(time.Hour))
		if err != nil || got != code {
			t.Fatalf("got %+v (%v), want %+v unchanged", got, err, code)
		}
	})

	t.Run("ErrUsed", func(t *testing.T) {
		st := MustOpen(t)
		if err := st.CreateEnrollCode(ctx, code); err != nil {
			t.Fatal(err)
		}
		d := makeDevice("used", "", "")
		if _, err := st.RedeemEnrollCode(ctx, code.Hash, d.dev, t0); err != nil {
			t.Fatal(err)
		}
		_, err := st.ExpireEnrollCode(ctx, code.Hash, t0.Add(time.Minute))
		wantCode(t, err, syncproto.CodeConflict)
		if stored, err := st.EnrollCode(ctx, code.Hash); err != nil || !stored.Expires.Equal(code.Expires) {
			t.Fatalf("got stored %+v (%v), want the expiry unchanged", stored, err)
		}
	})

	t.Run("ErrUnknown", func(t *testing.T) {
		st := MustOpen(t)
		_, err := st.ExpireEnrollCode(ctx, "nope", t0)
		wantCode(t, err, syncproto.CodeNotFound)
	})
}

func TestDevices(t *testing.T) {
	ctx := context.Background()
	st := MustOpen(t)
	devs, err := st.Devices(ctx)
	if err != nil || len(devs) != 0 {
		t.Fatalf("got %d devices (%v), want none", len(devs), err)
	}
	a := newDevice(t, st, "a", election.RoleStation, village1)
	b := newDevice(t, st, "b", election.RoleStation, village3)
	sup := newDevice(t, st, "sup", election.RoleSupervisor, baiquan)
	batch := a.facts(t, 5, village1)
	mustPush(t, st, a, batch[0], batch[1], batch[2], batch[4]) // 5 is held beyond a gap
	mustPush(t, st, b, b.facts(t, 1, village3)...)
	if _, err := st.RevokeDevice(ctx, b.id(), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	devs, err = st.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []server.DeviceInfo{ // by scope
		{ID: sup.id(), Role: election.RoleSupervisor, Scope: baiquan, Label: "sup", Enrolled: t0},
		{ID: a.id(), Role: election.RoleStation, Scope: village1, Label: "a", Enrolled: t0, Head: 3},
		{ID: b.id(), Role: election.RoleStation, Scope: village3, Label: "b", Enrolled: t0, Head: 1,
			Revoked: t0.Add(time.Hour), RevokedAfter: 1},
	}
	if len(devs) != len(want) {
		t.Fatalf("got %d devices, want %d", len(devs), len(want))
	}
	for i := range want {
		got := devs[i]
		if got.ID != want[i].ID || got.Role != want[i].Role || got.Scope != want[i].Scope || got.Label != want[i].Label ||
			!got.Enrolled.Equal(want[i].Enrolled) || !got.Revoked.Equal(want[i].Revoked) ||
			got.RevokedAfter != want[i].RevokedAfter || got.Head != want[i].Head {
			t.Errorf("device %d: got %+v, want %+v", i, got, want[i])
		}
	}
}

func TestRevokeDeviceOnce(t *testing.T) {
	ctx := context.Background()
	st := MustOpen(t)
	d := newDevice(t, st, "lost", election.RoleStation, village1)
	now := t0.Add(time.Hour)
	got, revoked, err := st.RevokeDeviceOnce(ctx, d.id(), now)
	if err != nil || !revoked || !got.Revoked.Equal(now) {
		t.Fatalf("got %+v revoked %v (%v), want revoked now", got, revoked, err)
	}
	// The same instant again: this call revoked nothing.
	again, revoked, err := st.RevokeDeviceOnce(ctx, d.id(), now)
	if err != nil || revoked || !again.Revoked.Equal(now) {
		t.Fatalf("got %+v revoked %v (%v), want the first revocation and revoked false", again, revoked, err)
	}
	_, _, err = st.RevokeDeviceOnce(ctx, "dev-missing", now)
	wantCode(t, err, syncproto.CodeNotFound)
}

func TestRotateSigningKeys(t *testing.T) {
	ctx := context.Background()
	key := func(kid string, created, retired time.Time) server.SigningKey {
		seed := make([]byte, ed25519.SeedSize)
		copy(seed, kid)
		return server.SigningKey{KeyID: kid, Private: ed25519.NewKeyFromSeed(seed), Created: created, Retired: retired}
	}
	open := func(tb testing.TB) *sqlite.Store {
		tb.Helper()
		st := MustOpen(tb)
		for _, k := range []server.SigningKey{
			key("srv-ancient", t0, t0.Add(time.Hour)),
			key("srv-a", t0.Add(time.Hour), time.Time{}),
			key("srv-b", t0.Add(2*time.Hour), time.Time{}), // two active: a replica raced
			key(server.AuthorityKeyPrefix+"x", t0, time.Time{}),
		} {
			if err := st.AddSigningKey(ctx, k); err != nil {
				tb.Fatal(err)
			}
		}
		return st
	}
	retiredAt := func(tb testing.TB, st *sqlite.Store) map[string]time.Time {
		tb.Helper()
		keys, err := st.SigningKeys(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		m := map[string]time.Time{}
		for _, k := range keys {
			m[k.KeyID] = k.Retired
		}
		return m
	}
	at := t0.Add(3 * time.Hour)

	t.Run("OK", func(t *testing.T) {
		st := open(t)
		retired, err := st.RotateSigningKeys(ctx, key("srv-new", at, time.Time{}), at)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(retired, []string{"srv-b", "srv-a"}) {
			t.Errorf("got retired %v, want [srv-b srv-a]", retired)
		}
		got := retiredAt(t, st)
		want := map[string]time.Time{
			"srv-new":                       {},
			"srv-b":                         at,
			"srv-a":                         at,
			"srv-ancient":                   t0.Add(time.Hour),
			server.AuthorityKeyPrefix + "x": {},
		}
		if len(got) != len(want) {
			t.Fatalf("got keys %v, want %v", got, want)
		}
		for kid, w := range want {
			if g, ok := got[kid]; !ok || !g.Equal(w) {
				t.Errorf("key %s: got retired %v, want %v", kid, g, w)
			}
		}
	})

	t.Run("ErrRefused", func(t *testing.T) {
		tests := []struct {
			name string
			key  server.SigningKey
			at   time.Time
			want syncproto.Code
		}{
			{"ExistingKid", key("srv-a", at, time.Time{}), at, syncproto.CodeConflict},
			{"Retired", key("srv-new", at, at), at, syncproto.CodeBadRequest},
			{"AuthorityKid", key(server.AuthorityKeyPrefix+"y", at, time.Time{}), at, syncproto.CodeBadRequest},
			{"NoTime", key("srv-new", at, time.Time{}), time.Time{}, syncproto.CodeBadRequest},
			{"NoKid", key("", at, time.Time{}), at, syncproto.CodeBadRequest},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				st := open(t)
				before := retiredAt(t, st)
				_, err := st.RotateSigningKeys(ctx, tt.key, tt.at)
				wantCode(t, err, tt.want)
				// Nothing was retired: the transaction is all or nothing.
				after := retiredAt(t, st)
				if len(after) != len(before) {
					t.Fatalf("got %d keys, want %d", len(after), len(before))
				}
				for kid, r := range before {
					if !after[kid].Equal(r) {
						t.Errorf("key %s: got retired %v, want %v", kid, after[kid], r)
					}
				}
			})
		}
	})
}

// TestMigrateCreatedBy checks that migration 0005 records the codes made
// before it as the CLI's, the only way to make one then.
func TestMigrateCreatedBy(t *testing.T) {
	ctx := context.Background()
	st := MustOpen(t)
	migration, err := os.ReadFile(filepath.Join("migrations", "0005_admin.sql"))
	if err != nil {
		t.Fatal(err)
	}
	// Undo 0005, store a code the way 0001 did, and apply 0005 again.
	w := sqlite.WritePool(st)
	for _, q := range []string{
		`DROP INDEX enroll_codes_created`,
		`ALTER TABLE enroll_codes DROP COLUMN created_by`,
		`INSERT INTO enroll_codes (hash, role, scope, created, expires) VALUES ('old', 'station', '` + village1 + `', 1, 2)`,
		string(migration),
	} {
		if _, err := w.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	c, err := st.EnrollCode(ctx, "old")
	if err != nil || c.CreatedBy != "cli" || c.Scope != village1 {
		t.Fatalf("got %+v (%v), want the old code created by cli", c, err)
	}
}
