package server_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/httpapi/httptestutil"
	"villagesync/server/sqlite"
	"villagesync/syncproto"
)

// testArgon2 keeps password hashing cheap in tests.
var testArgon2 = server.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}

// touchCountingStore counts the writes Session makes to record a session's
// use.
type touchCountingStore struct {
	*sqlite.Store
	touches atomic.Int64
}

func (s *touchCountingStore) TouchSession(ctx context.Context, hash []byte, now time.Time) error {
	s.touches.Add(1)
	return s.Store.TouchSession(ctx, hash, now)
}

// accountEnv is a service with cheap password hashes, its own clock and
// logs, over a store seeded with the Dongliao reference data.
type accountEnv struct {
	*httptestutil.Env
	svc      *server.Service
	store    *touchCountingStore
	clock    *httptestutil.Clock
	logs     *httptestutil.LogBuffer
	checks   atomic.Int64 // password checks against real hashes
	dummies  atomic.Int64 // password checks against the dummy hash
	township string
}

func newAccountEnv(t *testing.T) *accountEnv {
	t.Helper()
	e := httptestutil.NewEnv(t)
	a := &accountEnv{
		Env:      e,
		store:    &touchCountingStore{Store: e.Store},
		clock:    httptestutil.NewClock(httptestutil.Start),
		logs:     &httptestutil.LogBuffer{},
		township: e.Township(0),
	}
	a.svc = a.newService(t, testArgon2)
	return a
}

// newService starts another service over the env's store and clock.
func (a *accountEnv) newService(t *testing.T, p server.Argon2Params) *server.Service {
	t.Helper()
	cfg := server.WithVerifyHook(server.Config{
		Now:    a.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Argon2: p,
	}, func(dummy bool) {
		if dummy {
			a.dummies.Add(1)
		} else {
			a.checks.Add(1)
		}
	})
	svc, err := server.New(t.Context(), a.store, cfg)
	if err != nil {
		t.Fatalf("new service: %v", err)
	}
	return svc
}

// mustCreate creates an account as the operator.
func (a *accountEnv) mustCreate(t *testing.T, username, password string, role election.Role, scope string) server.Account {
	t.Helper()
	acct, err := a.svc.CreateAccount(t.Context(), nil, server.NewAccount{Username: username, Password: password, Role: role, Scope: scope})
	if err != nil {
		t.Fatalf("create account %s: %v", username, err)
	}
	return acct
}

// mustLogin logs in and fails the test if it does not work.
func (a *accountEnv) mustLogin(t *testing.T, username, password string) *server.Session {
	t.Helper()
	sess, err := a.svc.Login(t.Context(), username, password)
	if err != nil {
		t.Fatalf("login %s: %v", username, err)
	}
	return sess
}

// loginAlerts counts the login_locked alerts.
func (a *accountEnv) loginAlerts(t *testing.T) int {
	t.Helper()
	alerts, err := a.store.Alerts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, al := range alerts {
		if al.Kind == server.AlertLoginLocked {
			n++
		}
	}
	return n
}

// wantCode fails the test unless err carries code.
func wantCode(t *testing.T, what string, err error, want syncproto.Code) {
	t.Helper()
	if got := code(err); got != want {
		t.Fatalf("%s: got error %v, want code %q", what, err, want)
	}
}

const (
	countyPass = "county staff passphrase"
	superPass  = "supervisor passphrase"
)

func TestCreateAccount(t *testing.T) {
	a := newAccountEnv(t)
	ctx := t.Context()
	tests := []struct {
		name string
		acct server.NewAccount
		want syncproto.Code // "" = created
	}{
		{"CountyDefaultScope", server.NewAccount{Username: "zhang.wei", Name: "张伟", Password: countyPass, Role: election.RoleCounty}, ""},
		{"Supervisor", server.NewAccount{Username: "li_na-2", Password: superPass, Role: election.RoleSupervisor, Scope: a.township}, ""},
		{"Observer", server.NewAccount{Username: "observer", Password: "observer passphrase", Role: election.RoleObserver, Scope: election.DongliaoCode}, ""},
		{"UpperCaseFolded", server.NewAccount{Username: "WangFang", Password: countyPass, Role: election.RoleCounty}, ""},
		{"StationIsADeviceRole", server.NewAccount{Username: "station1", Password: countyPass, Role: election.RoleStation, Scope: a.Village(0, 0)}, syncproto.CodeBadRequest},
		{"UnknownRole", server.NewAccount{Username: "root", Password: countyPass, Role: election.Role("admin")}, syncproto.CodeBadRequest},
		{"OtherCounty", server.NewAccount{Username: "other", Password: countyPass, Role: election.RoleCounty, Scope: "220421"}, syncproto.CodeBadRequest},
		{"UnknownTownship", server.NewAccount{Username: "nowhere", Password: countyPass, Role: election.RoleSupervisor, Scope: "220422999"}, syncproto.CodeBadRequest},
		{"SupervisorWithoutTownship", server.NewAccount{Username: "nowhere2", Password: countyPass, Role: election.RoleSupervisor}, syncproto.CodeBadRequest},
		{"UsernameTooShort", server.NewAccount{Username: "a", Password: countyPass, Role: election.RoleCounty}, syncproto.CodeBadRequest},
		{"UsernameTooLong", server.NewAccount{Username: strings.Repeat("a", 33), Password: countyPass, Role: election.RoleCounty}, syncproto.CodeBadRequest},
		{"UsernameWithSpace", server.NewAccount{Username: "zhang wei", Password: countyPass, Role: election.RoleCounty}, syncproto.CodeBadRequest},
		{"UsernameNotASCII", server.NewAccount{Username: "张伟", Password: countyPass, Role: election.RoleCounty}, syncproto.CodeBadRequest},
		{"UsernameKelvinSign", server.NewAccount{Username: "\u212aelvin", Password: countyPass, Role: election.RoleCounty}, syncproto.CodeBadRequest},
		{"NameTooLong", server.NewAccount{Username: "longname", Name: strings.Repeat("名", 65), Password: countyPass, Role: election.RoleCounty}, syncproto.CodeBadRequest},
		{"NameWithControl", server.NewAccount{Username: "ctrl", Name: "a\x1b[31mb", Password: countyPass, Role: election.RoleCounty}, syncproto.CodeBadRequest},
		{"NameNotUTF8", server.NewAccount{Username: "badutf8", Name: "\xff\xfe", Password: countyPass, Role: election.RoleCounty}, syncproto.CodeBadRequest},
		{"PasswordTooShort", server.NewAccount{Username: "short", Password: "123456789", Role: election.RoleCounty}, syncproto.CodeBadRequest},
		{"PasswordTooLong", server.NewAccount{Username: "long", Password: strings.Repeat("x", 257), Role: election.RoleCounty}, syncproto.CodeBadRequest},
		{"PasswordIsUsername", server.NewAccount{Username: "chen.jianguo", Password: "Chen.Jianguo", Role: election.RoleCounty}, syncproto.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.svc.CreateAccount(ctx, nil, tt.acct)
			wantCode(t, "create account", err, tt.want)
			if tt.want != "" {
				if e, ok := err.(*syncproto.Error); !ok || e.Message == "" {
					t.Errorf("got error %v, want a message saying what to fix", err)
				}
				return
			}
			if want := strings.ToLower(tt.acct.Username); got.Username != want {
				t.Errorf("got username %q, want %q", got.Username, want)
			}
			if got.Role != tt.acct.Role {
				t.Errorf("got role %q, want %q", got.Role, tt.acct.Role)
			}
			if tt.acct.Scope == "" && got.Scope != election.DongliaoCode {
				t.Errorf("got scope %q, want the county %s", got.Scope, election.DongliaoCode)
			}
			if tt.acct.Name == "" && got.Name != got.Username {
				t.Errorf("got name %q, want the username", got.Name)
			}
			if !got.Created.Equal(a.clock.Now()) {
				t.Errorf("got created %v, want %v", got.Created, a.clock.Now())
			}
			a.mustLogin(t, strings.ToUpper(tt.acct.Username), tt.acct.Password)
		})
	}
	accts, err := a.svc.Accounts(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, acct := range accts {
		names = append(names, acct.Username)
	}
	if got, want := strings.Join(names, ","), "li_na-2,observer,wangfang,zhang.wei"; got != want {
		t.Errorf("got accounts %s, want %s", got, want)
	}
}

func TestCreateAccountDuplicate(t *testing.T) {
	a := newAccountEnv(t)
	a.mustCreate(t, "zhang.wei", countyPass, election.RoleCounty, "")
	for _, username := range []string{"zhang.wei", "Zhang.Wei"} {
		_, err := a.svc.CreateAccount(t.Context(), nil, server.NewAccount{Username: username, Password: "another passphrase", Role: election.RoleObserver})
		wantCode(t, "create "+username+" again", err, syncproto.CodeConflict)
	}
	// The first account keeps its password and role.
	sess := a.mustLogin(t, "zhang.wei", countyPass)
	if sess.Account.Role != election.RoleCounty {
		t.Errorf("got role %q, want county", sess.Account.Role)
	}
}

func TestAccountsNeedCounty(t *testing.T) {
	a := newAccountEnv(t)
	ctx := t.Context()
	a.mustCreate(t, "li.na", superPass, election.RoleSupervisor, a.township)
	county := &server.Principal{Subject: "account:boss", Account: "boss", Scope: election.Scope{Role: election.RoleCounty, Code: election.DongliaoCode}}
	actors := []struct {
		name  string
		actor *server.Principal
		want  syncproto.Code
	}{
		{"Supervisor", &server.Principal{Subject: "account:li.na", Account: "li.na", Scope: election.Scope{Role: election.RoleSupervisor, Code: a.township}}, syncproto.CodeForbidden},
		{"Observer", &server.Principal{Subject: "account:obs", Account: "obs", Scope: election.Scope{Role: election.RoleObserver, Code: election.DongliaoCode}}, syncproto.CodeForbidden},
		{"StationDevice", &server.Principal{Subject: "dev1", Device: "dev1", Scope: election.Scope{Role: election.RoleStation, Code: a.Village(0, 0)}}, syncproto.CodeForbidden},
		{"NoRole", &server.Principal{Subject: "nobody"}, syncproto.CodeForbidden},
		{"County", county, ""},
	}
	for _, tt := range actors {
		t.Run(tt.name, func(t *testing.T) {
			username := "new." + strings.ToLower(tt.name)
			_, err := a.svc.CreateAccount(ctx, tt.actor, server.NewAccount{Username: username, Password: countyPass, Role: election.RoleCounty})
			wantCode(t, "create account", err, tt.want)
			_, err = a.svc.Accounts(ctx, tt.actor)
			wantCode(t, "list accounts", err, tt.want)
			err = a.svc.ResetPassword(ctx, tt.actor, "li.na", "taken over passphrase")
			wantCode(t, "reset password", err, tt.want)
			err = a.svc.SetAccountDisabled(ctx, tt.actor, "li.na", false)
			wantCode(t, "enable account", err, tt.want)
			if tt.want == "" {
				a.mustLogin(t, "li.na", "taken over passphrase")
				if err := a.svc.ResetPassword(ctx, nil, "li.na", superPass); err != nil {
					t.Fatal(err)
				}
				return
			}
			// Nothing happened: no account, the old password still works.
			accts, err := a.svc.Accounts(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, acct := range accts {
				if acct.Username == username {
					t.Errorf("a %s created account %s", tt.name, username)
				}
			}
			a.mustLogin(t, "li.na", superPass)
		})
	}
	t.Run("CountyCannotDisableItself", func(t *testing.T) {
		a.mustCreate(t, "boss", countyPass, election.RoleCounty, "")
		err := a.svc.SetAccountDisabled(ctx, county, "BOSS", true)
		wantCode(t, "disable own account", err, syncproto.CodeBadRequest)
		a.mustLogin(t, "boss", countyPass)
	})
	t.Run("UnknownAccount", func(t *testing.T) {
		wantCode(t, "reset", a.svc.ResetPassword(ctx, county, "ghost", countyPass), syncproto.CodeNotFound)
		wantCode(t, "disable", a.svc.SetAccountDisabled(ctx, county, "ghost", true), syncproto.CodeNotFound)
	})
	t.Run("ResetWeakPassword", func(t *testing.T) {
		wantCode(t, "reset", a.svc.ResetPassword(ctx, county, "li.na", "short"), syncproto.CodeBadRequest)
		wantCode(t, "reset", a.svc.ResetPassword(ctx, county, "li.na", "LI.NA"), syncproto.CodeBadRequest)
		a.mustLogin(t, "li.na", superPass)
	})
}

func TestLogin(t *testing.T) {
	a := newAccountEnv(t)
	ctx := t.Context()
	a.mustCreate(t, "li.na", superPass, election.RoleSupervisor, a.township)

	t.Run("OK", func(t *testing.T) {
		sess := a.mustLogin(t, "Li.Na", superPass)
		want := server.Principal{
			Subject: "account:li.na",
			Account: "li.na",
			Scope:   election.Scope{Role: election.RoleSupervisor, Code: a.township},
		}
		if sess.Principal != want {
			t.Errorf("got principal %+v, want %+v", sess.Principal, want)
		}
		if got, want := sess.Expires, a.clock.Now().Add(server.SessionLifetime); !got.Equal(want) {
			t.Errorf("got expiry %v, want %v", got, want)
		}
		if !sess.Account.LastLogin.Equal(a.clock.Now()) {
			t.Errorf("got last login %v, want %v", sess.Account.LastLogin, a.clock.Now())
		}
		if len(sess.Token) != 43 || sess.CSRF == "" || sess.CSRF == sess.Token {
			t.Errorf("got token %q and CSRF %q, want 32 base64url bytes and a distinct CSRF token", sess.Token, sess.CSRF)
		}
		got, err := a.svc.Session(ctx, sess.Token)
		if err != nil {
			t.Fatal(err)
		}
		if got.Principal != want || got.CSRF != sess.CSRF {
			t.Errorf("Session: got principal %+v, CSRF %q; want %+v, %q", got.Principal, got.CSRF, want, sess.CSRF)
		}
	})

	// Every failure gives the same answer, after checking one password.
	var answer string
	failures := []struct {
		name, username, password string
		dummy                    bool // checked against the dummy hash
	}{
		{"WrongPassword", "li.na", "wrong passphrase", false},
		{"UnknownUsername", "wang.fang", superPass, true},
		{"ImpossibleUsername", "li na", superPass, true},
		{"EmptyPassword", "li.na", "", false},
		{"PasswordTooLong", "li.na", strings.Repeat("p", 10000), false},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			checks, dummies := a.checks.Load(), a.dummies.Load()
			_, err := a.svc.Login(ctx, tt.username, tt.password)
			wantCode(t, "login", err, syncproto.CodeUnauthenticated)
			if answer == "" {
				answer = err.Error()
			} else if err.Error() != answer {
				t.Errorf("got answer %q, want the same as every failure: %q", err, answer)
			}
			gotChecks, gotDummies := a.checks.Load()-checks, a.dummies.Load()-dummies
			switch {
			case tt.name == "PasswordTooLong":
				// Refused before any lookup: nothing to tell apart.
				if gotChecks+gotDummies != 0 {
					t.Errorf("got %d checks for an overlong password, want none", gotChecks+gotDummies)
				}
			case tt.dummy && (gotDummies != 1 || gotChecks != 0):
				t.Errorf("got %d dummy and %d real checks, want 1 dummy check", gotDummies, gotChecks)
			case !tt.dummy && (gotDummies != 0 || gotChecks != 1):
				t.Errorf("got %d dummy and %d real checks, want 1 real check", gotDummies, gotChecks)
			}
		})
	}
	// Wrong passwords above were failures in a row: the right one resets
	// the count (else the account would lock within two more).
	a.mustLogin(t, "li.na", superPass)
	for i := range server.MaxLoginFailures - 1 {
		_, err := a.svc.Login(ctx, "li.na", fmt.Sprintf("wrong passphrase %d", i))
		wantCode(t, "wrong login", err, syncproto.CodeUnauthenticated)
	}
	a.mustLogin(t, "li.na", superPass)

	if logs := a.logs.String(); strings.Contains(logs, superPass) || strings.Contains(logs, "wrong passphrase") {
		t.Errorf("logs hold a password:\n%s", logs)
	}
}

func TestLoginLockout(t *testing.T) {
	a := newAccountEnv(t)
	ctx := t.Context()
	a.mustCreate(t, "li.na", superPass, election.RoleSupervisor, a.township)
	start := a.clock.Now()
	for i := range server.MaxLoginFailures {
		_, err := a.svc.Login(ctx, "li.na", "guess "+fmt.Sprint(i))
		wantCode(t, fmt.Sprintf("wrong login %d", i+1), err, syncproto.CodeUnauthenticated)
		a.clock.Advance(time.Second)
	}
	if n := a.loginAlerts(t); n != 1 {
		t.Fatalf("got %d login_locked alerts, want 1", n)
	}
	until := start.Add(time.Duration(server.MaxLoginFailures-1) * time.Second).Add(server.LoginLockout)

	// Locked: the right password and wrong ones get the same answer, and
	// no password is even checked.
	checks := a.checks.Load()
	for _, pw := range []string{superPass, "guess 9"} {
		_, err := a.svc.Login(ctx, "li.na", pw)
		wantCode(t, "locked login", err, syncproto.CodeRateLimited)
		msg := err.Error()
		for _, want := range []string{until.Local().Format(time.RFC3339), "ask the county to reset the password"} {
			if !strings.Contains(msg, want) {
				t.Errorf("got %q, want it to say %q", msg, want)
			}
		}
	}
	if n := a.checks.Load() - checks; n != 0 {
		t.Errorf("checked %d passwords of a locked account, want 0", n)
	}
	if n := a.loginAlerts(t); n != 1 {
		t.Errorf("got %d login_locked alerts after more attempts, want still 1", n)
	}
	accts, err := a.svc.Accounts(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != 1 || !accts[0].LockedUntil.Equal(until) {
		t.Errorf("got accounts %+v, want li.na locked until %v", accts, until)
	}

	// Still locked a moment before the end, unlocked at the end.
	a.clock.Advance(until.Sub(a.clock.Now()) - time.Nanosecond)
	_, err = a.svc.Login(ctx, "li.na", superPass)
	wantCode(t, "login just before unlock", err, syncproto.CodeRateLimited)
	a.clock.Advance(time.Nanosecond)

	// The failures before the lock are forgiven: a wrong guess after it
	// starts a new count rather than locking again.
	_, err = a.svc.Login(ctx, "li.na", "guess 10")
	wantCode(t, "wrong login after unlock", err, syncproto.CodeUnauthenticated)
	a.mustLogin(t, "li.na", superPass)
	if accts, err = a.svc.Accounts(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if !accts[0].LockedUntil.IsZero() {
		t.Errorf("got locked until %v after a login, want not locked", accts[0].LockedUntil)
	}

	// A second lockout raises a second alert.
	for i := range server.MaxLoginFailures {
		_, err := a.svc.Login(ctx, "li.na", "again "+fmt.Sprint(i))
		wantCode(t, "wrong login", err, syncproto.CodeUnauthenticated)
	}
	_, err = a.svc.Login(ctx, "li.na", superPass)
	wantCode(t, "locked again", err, syncproto.CodeRateLimited)
	if n := a.loginAlerts(t); n != 2 {
		t.Errorf("got %d login_locked alerts after two lockouts, want 2", n)
	}
	if logs := a.logs.String(); strings.Contains(logs, superPass) || strings.Contains(logs, "guess") {
		t.Errorf("logs hold a password:\n%s", logs)
	}
}

func TestLoginConcurrentFailures(t *testing.T) {
	a := newAccountEnv(t)
	ctx := t.Context()
	a.mustCreate(t, "li.na", superPass, election.RoleSupervisor, a.township)
	const attempts = 3 * server.MaxLoginFailures
	var wg sync.WaitGroup
	codes := make([]syncproto.Code, attempts)
	for i := range attempts {
		wg.Go(func() {
			_, err := a.svc.Login(ctx, "li.na", fmt.Sprintf("concurrent guess %d", i))
			codes[i] = code(err)
		})
	}
	wg.Wait()
	count := map[syncproto.Code]int{}
	for _, c := range codes {
		count[c]++
	}
	// Every attempt is counted before its password is checked, so exactly
	// MaxLoginFailures get an answer about their password.
	want := map[syncproto.Code]int{
		syncproto.CodeUnauthenticated: server.MaxLoginFailures,
		syncproto.CodeRateLimited:     attempts - server.MaxLoginFailures,
	}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("got answers %v, want %v", count, want)
	}
	if n := a.loginAlerts(t); n != 1 {
		t.Errorf("got %d login_locked alerts, want 1", n)
	}
	_, err := a.svc.Login(ctx, "li.na", superPass)
	wantCode(t, "right password after the lockout", err, syncproto.CodeRateLimited)
}

func TestResetPassword(t *testing.T) {
	a := newAccountEnv(t)
	ctx := t.Context()
	a.mustCreate(t, "li.na", superPass, election.RoleSupervisor, a.township)
	a.mustCreate(t, "zhang.wei", countyPass, election.RoleCounty, "")
	sess := a.mustLogin(t, "li.na", superPass)
	other := a.mustLogin(t, "zhang.wei", countyPass)
	for i := range server.MaxLoginFailures {
		_, _ = a.svc.Login(ctx, "li.na", fmt.Sprint("guess ", i))
	}
	_, err := a.svc.Login(ctx, "li.na", superPass)
	wantCode(t, "locked login", err, syncproto.CodeRateLimited)

	const newPass = "a brand new passphrase"
	if err := a.svc.ResetPassword(ctx, nil, "LI.NA", newPass); err != nil {
		t.Fatal(err)
	}
	_, err = a.svc.Session(ctx, sess.Token)
	wantCode(t, "session from before the reset", err, syncproto.CodeUnauthenticated)
	_, err = a.svc.Login(ctx, "li.na", superPass)
	wantCode(t, "old password", err, syncproto.CodeUnauthenticated)
	a.mustLogin(t, "li.na", newPass) // the lock is gone
	if _, err := a.svc.Session(ctx, other.Token); err != nil {
		t.Errorf("another account's session: %v", err)
	}
	if logs := a.logs.String(); !strings.Contains(logs, `"msg":"password reset"`) || strings.Contains(logs, newPass) {
		t.Errorf("want the reset logged without the password; logs:\n%s", logs)
	}
}

func TestDisabledAccount(t *testing.T) {
	a := newAccountEnv(t)
	ctx := t.Context()
	a.mustCreate(t, "li.na", superPass, election.RoleSupervisor, a.township)
	sess := a.mustLogin(t, "li.na", superPass)
	county := &server.Principal{Subject: "account:boss", Account: "boss", Scope: election.Scope{Role: election.RoleCounty, Code: election.DongliaoCode}}
	if err := a.svc.SetAccountDisabled(ctx, county, "li.na", true); err != nil {
		t.Fatal(err)
	}
	_, err := a.svc.Session(ctx, sess.Token)
	wantCode(t, "session of a disabled account", err, syncproto.CodeUnauthenticated)

	_, wrong := a.svc.Login(ctx, "li.na", "wrong passphrase")
	checks := a.checks.Load()
	_, err = a.svc.Login(ctx, "li.na", superPass)
	wantCode(t, "login to a disabled account", err, syncproto.CodeUnauthenticated)
	if err.Error() != wrong.Error() {
		t.Errorf("got %q, want the wrong-password answer %q", err, wrong)
	}
	if n := a.checks.Load() - checks; n != 1 {
		t.Errorf("got %d password checks, want 1 like any account", n)
	}
	// Attempts on a disabled account do not lock it.
	for range server.MaxLoginFailures {
		_, _ = a.svc.Login(ctx, "li.na", "wrong passphrase")
	}
	if n := a.loginAlerts(t); n != 0 {
		t.Errorf("got %d login_locked alerts for a disabled account, want 0", n)
	}

	if err := a.svc.SetAccountDisabled(ctx, county, "li.na", false); err != nil {
		t.Fatal(err)
	}
	a.mustLogin(t, "li.na", superPass)
	logs := a.logs.String()
	for _, want := range []string{`"msg":"account disabled","subject":"account:boss"`, `"msg":"account enabled","subject":"account:boss"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

// TestFinishLoginRechecks: no session is created for an account whose
// password was reset while the old one was being checked.
func TestFinishLoginRechecks(t *testing.T) {
	a := newAccountEnv(t)
	ctx := t.Context()
	a.mustCreate(t, "li.na", superPass, election.RoleSupervisor, a.township)
	now := a.clock.Now()
	att, err := a.store.BeginLogin(ctx, "li.na", now, server.MaxLoginFailures, server.LoginLockout)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.svc.ResetPassword(ctx, nil, "li.na", "a brand new passphrase"); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("token"))
	_, err = a.store.FinishLogin(ctx, server.StoredSession{Hash: sum[:], Username: "li.na", Created: now, LastSeen: now, Expires: now.Add(time.Hour)},
		att.PasswordHash, "", now.Add(-time.Hour))
	wantCode(t, "finish login after a reset", err, syncproto.CodeUnauthenticated)
	if _, _, err := a.store.Session(ctx, sum[:]); code(err) != syncproto.CodeNotFound {
		t.Errorf("got session lookup error %v, want not found", err)
	}
}

func TestSessionExpiry(t *testing.T) {
	a := newAccountEnv(t)
	ctx := t.Context()
	a.mustCreate(t, "li.na", superPass, election.RoleSupervisor, a.township)

	t.Run("Idle", func(t *testing.T) {
		sess := a.mustLogin(t, "li.na", superPass)
		// Used every 29 minutes, it lives on.
		for range 3 {
			a.clock.Advance(server.SessionIdleTimeout - time.Minute)
			if _, err := a.svc.Session(ctx, sess.Token); err != nil {
				t.Fatalf("session used within the idle timeout: %v", err)
			}
		}
		a.clock.Advance(server.SessionIdleTimeout)
		_, err := a.svc.Session(ctx, sess.Token)
		wantCode(t, "idle session", err, syncproto.CodeUnauthenticated)
		// Another look does not bring it back.
		a.clock.Advance(-server.SessionIdleTimeout)
		_, err = a.svc.Session(ctx, sess.Token)
		wantCode(t, "idle session seen again", err, syncproto.CodeUnauthenticated)
		a.clock.Advance(server.SessionIdleTimeout)
	})

	t.Run("Absolute", func(t *testing.T) {
		sess := a.mustLogin(t, "li.na", superPass)
		start := a.clock.Now()
		for a.clock.Now().Sub(start) < server.SessionLifetime-20*time.Minute {
			a.clock.Advance(20 * time.Minute)
			if _, err := a.svc.Session(ctx, sess.Token); err != nil {
				t.Fatalf("session in use after %v: %v", a.clock.Now().Sub(start), err)
			}
		}
		a.clock.Advance(start.Add(server.SessionLifetime).Sub(a.clock.Now()))
		_, err := a.svc.Session(ctx, sess.Token)
		wantCode(t, "session at its lifetime", err, syncproto.CodeUnauthenticated)
	})

	t.Run("UseWritesAtMostOnceAMinute", func(t *testing.T) {
		sess := a.mustLogin(t, "li.na", superPass)
		before := a.store.touches.Load()
		steps := []struct {
			advance time.Duration
			touches int64
		}{
			{10 * time.Second, 0},
			{40 * time.Second, 0},
			{10 * time.Second, 1}, // a minute since login
			{30 * time.Second, 1},
			{30 * time.Second, 2},
		}
		for i, st := range steps {
			a.clock.Advance(st.advance)
			if _, err := a.svc.Session(ctx, sess.Token); err != nil {
				t.Fatal(err)
			}
			if got := a.store.touches.Load() - before; got != st.touches {
				t.Errorf("step %d: got %d writes, want %d", i, got, st.touches)
			}
		}
	})

	t.Run("LoginForgetsExpiredSessions", func(t *testing.T) {
		old := a.mustLogin(t, "li.na", superPass)
		a.clock.Advance(server.SessionLifetime)
		a.mustLogin(t, "li.na", superPass)
		sum := sha256.Sum256([]byte(old.Token))
		if _, _, err := a.store.Session(ctx, sum[:]); code(err) != syncproto.CodeNotFound {
			t.Errorf("got %v for an expired session after a login, want it deleted (not found)", err)
		}
	})
}

func TestSessionTokens(t *testing.T) {
	a := newAccountEnv(t)
	ctx := t.Context()
	a.mustCreate(t, "li.na", superPass, election.RoleSupervisor, a.township)
	sess := a.mustLogin(t, "li.na", superPass)

	// The store knows the session by the token's hash only.
	sum := sha256.Sum256([]byte(sess.Token))
	if _, _, err := a.store.Session(ctx, sum[:]); err != nil {
		t.Errorf("store lookup by hash: %v", err)
	}
	if _, _, err := a.store.Session(ctx, []byte(sess.Token)); code(err) != syncproto.CodeNotFound {
		t.Errorf("store lookup by the token itself: got %v, want not found", err)
	}

	flip := []byte(sess.Token)
	flip[10] ^= 1
	for name, token := range map[string]string{
		"Empty":     "",
		"Garbage":   "not a token",
		"Truncated": sess.Token[:42],
		"Longer":    sess.Token + "A",
		"Altered":   string(flip),
		"Hash":      fmt.Sprintf("%x", sum),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := a.svc.Session(ctx, token)
			wantCode(t, "session", err, syncproto.CodeUnauthenticated)
		})
	}
}

func TestLogout(t *testing.T) {
	a := newAccountEnv(t)
	ctx := t.Context()
	a.mustCreate(t, "li.na", superPass, election.RoleSupervisor, a.township)
	sess := a.mustLogin(t, "li.na", superPass)
	other := a.mustLogin(t, "li.na", superPass) // another browser
	if err := a.svc.Logout(ctx, sess.Token); err != nil {
		t.Fatal(err)
	}
	_, err := a.svc.Session(ctx, sess.Token)
	wantCode(t, "session after logout", err, syncproto.CodeUnauthenticated)
	if _, err := a.svc.Session(ctx, other.Token); err != nil {
		t.Errorf("the other browser's session: %v", err)
	}
	for _, token := range []string{sess.Token, "", "garbage"} {
		if err := a.svc.Logout(ctx, token); err != nil {
			t.Errorf("logout %q: got %v, want nil", token, err)
		}
	}
}

func TestCheckCSRF(t *testing.T) {
	a := newAccountEnv(t)
	ctx := t.Context()
	a.mustCreate(t, "li.na", superPass, election.RoleSupervisor, a.township)
	a.mustCreate(t, "zhang.wei", countyPass, election.RoleCounty, "")
	sess := a.mustLogin(t, "li.na", superPass)
	same := a.mustLogin(t, "li.na", superPass)
	other := a.mustLogin(t, "zhang.wei", countyPass)

	// The token is the same on every request of the session, and on every
	// server over the same data.
	again, err := a.svc.Session(ctx, sess.Token)
	if err != nil {
		t.Fatal(err)
	}
	replica, err := a.newService(t, testArgon2).Session(ctx, sess.Token)
	if err != nil {
		t.Fatal(err)
	}
	if again.CSRF != sess.CSRF || replica.CSRF != sess.CSRF {
		t.Errorf("got CSRF tokens %q, %q, %q for one session, want one", sess.CSRF, again.CSRF, replica.CSRF)
	}

	altered := []byte(sess.CSRF)
	altered[0] ^= 1
	tests := []struct {
		name string
		sess *server.Session
		got  string
		want bool
	}{
		{"OK", again, sess.CSRF, true},
		{"Empty", sess, "", false},
		{"SameAccountOtherSession", sess, same.CSRF, false},
		{"OtherAccount", sess, other.CSRF, false},
		{"SessionToken", sess, sess.Token, false},
		{"Altered", sess, string(altered), false},
		{"Prefix", sess, sess.CSRF[:20], false},
		{"NoSession", nil, sess.CSRF, false},
		{"SessionWithoutCSRF", &server.Session{Token: sess.Token}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := server.CheckCSRF(tt.sess, tt.got); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLoginRehash(t *testing.T) {
	a := newAccountEnv(t)
	ctx := t.Context()
	a.mustCreate(t, "li.na", superPass, election.RoleSupervisor, a.township)
	stored := func() string {
		t.Helper()
		att, err := a.store.BeginLogin(ctx, "li.na", a.clock.Now(), server.MaxLoginFailures, server.LoginLockout)
		if err != nil {
			t.Fatal(err)
		}
		return att.PasswordHash
	}
	if got := stored(); !strings.HasPrefix(got, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("got stored hash %q, want argon2id with the test parameters", got)
	}
	stronger := a.newService(t, server.Argon2Params{Time: 2, MemoryKiB: 128, Threads: 1})
	if _, err := stronger.Login(ctx, "li.na", superPass); err != nil {
		t.Fatal(err)
	}
	if got := stored(); !strings.HasPrefix(got, "$argon2id$v=19$m=128,t=2,p=1$") {
		t.Errorf("got stored hash %q after a login with stronger parameters, want it rehashed", got)
	}
	if _, err := stronger.Login(ctx, "li.na", superPass); err != nil {
		t.Errorf("login after rehash: %v", err)
	}
	if _, err := a.svc.Login(ctx, "li.na", superPass); err != nil {
		t.Errorf("login with the old parameters configured: %v", err)
	}
}

func TestNewArgon2Config(t *testing.T) {
	store := MustOpenStore(t)
	if _, err := server.New(t.Context(), store, server.Config{Argon2: server.Argon2Params{MemoryKiB: 8, Threads: 4}}); err == nil {
		t.Error("New with 8 KiB for 4 threads: got nil error, want one")
	}
}
