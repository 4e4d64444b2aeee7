package sqlite_test

import (
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/sqlite"
	"villagesync/syncproto"
)

const (
	testHash   = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	maxFails   = 5
	lockFor    = 15 * time.Minute
	sessionTTL = 12 * time.Hour
)

// mustCreateAccount stores an enabled account with testHash.
func mustCreateAccount(tb testing.TB, st *sqlite.Store, username string, role election.Role, scope string) server.Account {
	tb.Helper()
	a := server.Account{Username: username, Name: "Name of " + username, Role: role, Scope: scope, Created: t0}
	if err := st.CreateAccount(tb.Context(), a, testHash); err != nil {
		tb.Fatalf("create account %s: %v", username, err)
	}
	return a
}

// newSession returns a session of username created at now.
func newSession(username string, token string, now time.Time) server.StoredSession {
	sum := sha256.Sum256([]byte(token))
	return server.StoredSession{Hash: sum[:], Username: username, Created: now, LastSeen: now, Expires: now.Add(sessionTTL)}
}

// mustStartSession logs username in with a session of token at now.
func mustStartSession(tb testing.TB, st *sqlite.Store, username, token string, now time.Time) server.StoredSession {
	tb.Helper()
	ss := newSession(username, token, now)
	if _, err := st.FinishLogin(tb.Context(), ss, testHash, "", now.Add(-30*time.Minute)); err != nil {
		tb.Fatalf("finish login %s: %v", username, err)
	}
	return ss
}

// sessionExists reports whether the store holds a session.
func sessionExists(tb testing.TB, st *sqlite.Store, ss server.StoredSession) bool {
	tb.Helper()
	_, _, err := st.Session(tb.Context(), ss.Hash)
	switch syncproto.ErrorCode(err) {
	case "":
		return true
	case syncproto.CodeNotFound:
		return false
	}
	tb.Fatalf("session: %v", err)
	return false
}

func TestCreateAccount(t *testing.T) {
	st := MustOpen(t)
	ctx := t.Context()
	want := mustCreateAccount(t, st, "li.na", election.RoleSupervisor, baiquan)
	mustCreateAccount(t, st, "a.county", election.RoleCounty, county)

	tests := []struct {
		name string
		acct server.Account
		hash string
		want syncproto.Code
	}{
		{"Duplicate", server.Account{Username: "li.na", Role: election.RoleObserver, Scope: county, Created: t0}, testHash, syncproto.CodeConflict},
		{"NoUsername", server.Account{Role: election.RoleCounty, Scope: county, Created: t0}, testHash, syncproto.CodeBadRequest},
		{"NoHash", server.Account{Username: "x1", Role: election.RoleCounty, Scope: county, Created: t0}, "", syncproto.CodeBadRequest},
		{"NoTime", server.Account{Username: "x2", Role: election.RoleCounty, Scope: county}, testHash, syncproto.CodeBadRequest},
		{"BadScope", server.Account{Username: "x3", Role: election.RoleSupervisor, Scope: county, Created: t0}, testHash, syncproto.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := st.CreateAccount(ctx, tt.acct, tt.hash)
			if got := syncproto.ErrorCode(err); got != tt.want {
				t.Errorf("got error %v, want code %q", err, tt.want)
			}
		})
	}

	accts, err := st.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != 2 || accts[0].Username != "a.county" || accts[1] != want {
		t.Errorf("got accounts %+v, want a.county then %+v", accts, want)
	}
}

func TestBeginLogin(t *testing.T) {
	st := MustOpen(t)
	ctx := t.Context()
	mustCreateAccount(t, st, "li.na", election.RoleSupervisor, baiquan)

	if _, err := st.BeginLogin(ctx, "ghost", t0, maxFails, lockFor); syncproto.ErrorCode(err) != syncproto.CodeNotFound {
		t.Errorf("unknown username: got %v, want not found", err)
	}
	now := t0
	for i := 1; i <= maxFails; i++ {
		att, err := st.BeginLogin(ctx, "li.na", now, maxFails, lockFor)
		if err != nil {
			t.Fatal(err)
		}
		if !att.Counted || att.Locks != (i == maxFails) || att.PasswordHash != testHash {
			t.Errorf("attempt %d: got counted %v, locks %v, hash %q", i, att.Counted, att.Locks, att.PasswordHash)
		}
		now = now.Add(time.Second)
	}
	until := now.Add(-time.Second).Add(lockFor)
	att, err := st.BeginLogin(ctx, "li.na", until.Add(-time.Nanosecond), maxFails, lockFor)
	if err != nil {
		t.Fatal(err)
	}
	if att.Counted || att.Locks || !att.Account.LockedUntil.Equal(until) {
		t.Errorf("locked: got counted %v, locks %v, locked until %v; want refused until %v", att.Counted, att.Locks, att.Account.LockedUntil, until)
	}
	// Once the lock runs out, counting starts over.
	att, err = st.BeginLogin(ctx, "li.na", until, maxFails, lockFor)
	if err != nil {
		t.Fatal(err)
	}
	if !att.Counted || att.Locks || !att.Account.LockedUntil.IsZero() {
		t.Errorf("after the lock: got counted %v, locks %v, locked until %v; want a first failure", att.Counted, att.Locks, att.Account.LockedUntil)
	}

	// A disabled account's attempts are not counted.
	if err := st.SetAccountDisabled(ctx, "li.na", true); err != nil {
		t.Fatal(err)
	}
	for range 2 * maxFails {
		att, err := st.BeginLogin(ctx, "li.na", until, maxFails, lockFor)
		if err != nil {
			t.Fatal(err)
		}
		if att.Counted || !att.Account.Disabled {
			t.Fatalf("disabled: got counted %v, disabled %v", att.Counted, att.Account.Disabled)
		}
	}
}

// TestBeginLoginConcurrent: concurrent attempts are each counted once, so
// exactly maxFails get to check a password and one of them locks.
func TestBeginLoginConcurrent(t *testing.T) {
	st := MustOpen(t)
	ctx := t.Context()
	mustCreateAccount(t, st, "li.na", election.RoleSupervisor, baiquan)
	const attempts = 4 * maxFails
	results := make([]server.LoginAttempt, attempts)
	errs := make([]error, attempts)
	var wg sync.WaitGroup
	for i := range attempts {
		wg.Go(func() {
			results[i], errs[i] = st.BeginLogin(ctx, "li.na", t0, maxFails, lockFor)
		})
	}
	wg.Wait()
	var counted, locks int
	for i, att := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if att.Counted {
			counted++
		}
		if att.Locks {
			locks++
		}
	}
	if counted != maxFails || locks != 1 {
		t.Errorf("got %d counted and %d locking attempts, want %d and 1", counted, locks, maxFails)
	}
}

func TestFinishLogin(t *testing.T) {
	st := MustOpen(t)
	ctx := t.Context()
	mustCreateAccount(t, st, "li.na", election.RoleSupervisor, baiquan)
	mustCreateAccount(t, st, "zhang.wei", election.RoleCounty, county)

	t.Run("ClearsFailuresAndRehashes", func(t *testing.T) {
		for range maxFails - 1 {
			if _, err := st.BeginLogin(ctx, "li.na", t0, maxFails, lockFor); err != nil {
				t.Fatal(err)
			}
		}
		const rehash = "$argon2id$v=19$m=128,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
		ss := newSession("li.na", "t1", t0)
		acct, err := st.FinishLogin(ctx, ss, testHash, rehash, t0.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if !acct.LastLogin.Equal(t0) {
			t.Errorf("got last login %v, want %v", acct.LastLogin, t0)
		}
		att, err := st.BeginLogin(ctx, "li.na", t0, maxFails, lockFor)
		if err != nil {
			t.Fatal(err)
		}
		if att.PasswordHash != rehash || att.Locks {
			t.Errorf("got hash %q, locks %v; want the rehash and a first failure", att.PasswordHash, att.Locks)
		}
		if _, err := st.FinishLogin(ctx, newSession("li.na", "t1b", t0), rehash, "", t0.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := st.SetPassword(ctx, "li.na", testHash); err != nil {
			t.Fatal(err)
		}
	})

	refusals := []struct {
		name, username, hash string
		prepare              func(t *testing.T)
	}{
		{"UnknownAccount", "ghost", testHash, func(*testing.T) {}},
		{"StaleHash", "li.na", "$argon2id$v=19$m=64,t=1,p=1$b2xkb2xkb2xkb2xkb2xkbw$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U", func(*testing.T) {}},
		{"Disabled", "zhang.wei", testHash, func(t *testing.T) {
			if err := st.SetAccountDisabled(ctx, "zhang.wei", true); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			tt.prepare(t)
			ss := newSession(tt.username, "refused "+tt.name, t0)
			_, err := st.FinishLogin(ctx, ss, tt.hash, "", t0.Add(-time.Hour))
			if syncproto.ErrorCode(err) != syncproto.CodeUnauthenticated {
				t.Errorf("got %v, want unauthenticated", err)
			}
			if sessionExists(t, st, ss) {
				t.Error("a refused login left a session")
			}
		})
	}

	t.Run("ForgetsExpiredAndIdleSessions", func(t *testing.T) {
		expired := mustStartSession(t, st, "li.na", "expired", t0)
		idle := mustStartSession(t, st, "li.na", "idle", t0.Add(11*time.Hour))
		live := mustStartSession(t, st, "li.na", "live", t0.Add(11*time.Hour+40*time.Minute))
		now := t0.Add(sessionTTL)
		mustStartSession(t, st, "li.na", "new", now)
		for _, c := range []struct {
			name string
			ss   server.StoredSession
			want bool
		}{{"expired", expired, false}, {"idle", idle, false}, {"live", live, true}} {
			if got := sessionExists(t, st, c.ss); got != c.want {
				t.Errorf("%s session exists: got %v, want %v", c.name, got, c.want)
			}
		}
	})
}

func TestSessionsEnd(t *testing.T) {
	st := MustOpen(t)
	ctx := t.Context()
	mustCreateAccount(t, st, "li.na", election.RoleSupervisor, baiquan)
	mustCreateAccount(t, st, "zhang.wei", election.RoleCounty, county)
	other := mustStartSession(t, st, "zhang.wei", "other", t0)

	ss := mustStartSession(t, st, "li.na", "s1", t0)
	got, acct, err := st.Session(ctx, ss.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if got.Username != "li.na" || !got.Created.Equal(t0) || !got.LastSeen.Equal(t0) || !got.Expires.Equal(t0.Add(sessionTTL)) {
		t.Errorf("got session %+v", got)
	}
	if acct.Username != "li.na" || acct.Role != election.RoleSupervisor || acct.Scope != baiquan || !acct.LastLogin.Equal(t0) {
		t.Errorf("got account %+v", acct)
	}

	// Touching only moves forward.
	for _, c := range []struct {
		at, want time.Time
	}{{t0.Add(time.Minute), t0.Add(time.Minute)}, {t0.Add(time.Second), t0.Add(time.Minute)}} {
		if err := st.TouchSession(ctx, ss.Hash, c.at); err != nil {
			t.Fatal(err)
		}
		got, _, err := st.Session(ctx, ss.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if !got.LastSeen.Equal(c.want) {
			t.Errorf("touch at %v: got last seen %v, want %v", c.at, got.LastSeen, c.want)
		}
	}

	steps := []struct {
		name string
		end  func() error
	}{
		{"Logout", func() error { return st.DeleteSession(ctx, ss.Hash) }},
		{"SetPassword", func() error { return st.SetPassword(ctx, "li.na", testHash) }},
		{"Disable", func() error { return st.SetAccountDisabled(ctx, "li.na", true) }},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			if err := st.SetAccountDisabled(ctx, "li.na", false); err != nil {
				t.Fatal(err)
			}
			ss = mustStartSession(t, st, "li.na", "s-"+step.name, t0)
			second := mustStartSession(t, st, "li.na", "s2-"+step.name, t0)
			if err := step.end(); err != nil {
				t.Fatal(err)
			}
			if sessionExists(t, st, ss) {
				t.Error("session still exists")
			}
			if step.name != "Logout" && sessionExists(t, st, second) {
				t.Error("the account's other session still exists")
			}
			if !sessionExists(t, st, other) {
				t.Error("another account's session ended")
			}
		})
	}
	if err := st.DeleteSession(ctx, ss.Hash); err != nil {
		t.Errorf("delete a deleted session: %v", err)
	}
	if err := st.TouchSession(ctx, ss.Hash, t0.Add(time.Hour)); err != nil {
		t.Errorf("touch a deleted session: %v", err)
	}
	for name, err := range map[string]error{
		"SetPassword":        st.SetPassword(ctx, "ghost", testHash),
		"SetAccountDisabled": st.SetAccountDisabled(ctx, "ghost", true),
	} {
		if syncproto.ErrorCode(err) != syncproto.CodeNotFound {
			t.Errorf("%s of an unknown account: got %v, want not found", name, err)
		}
	}
}
