package web_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"testing"

	"github.com/labstack/echo/v4"

	"villagesync/election"
	"villagesync/internal/webui/webuitest"
	"villagesync/server"
	"villagesync/server/httpapi/httptestutil"
	"villagesync/server/sqlite"
	"villagesync/server/web"
	"villagesync/syncproto"
)

func TestMain(m *testing.M) { os.Exit(httptestutil.RunTests(m)) }

// testArgon2 keeps password hashing cheap in tests.
var testArgon2 = server.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}

// The people of every env, with their passwords.
const (
	countyUser     = "county"
	supervisorUser = "supervisor"
	observerUser   = "observer"
	testPassword   = "correct horse battery"
	testServerURL  = "https://villagesync.example.cn:8443"
)

// env is the web pages over a real service and SQLite store seeded with the
// Dongliao reference data, on a settable clock.
type env struct {
	*httptestutil.Env
	svc      *server.Service
	handler  *echo.Echo
	clock    *httptestutil.Clock
	logs     *httptestutil.LogBuffer
	township string // the supervisor's township
}

// newEnv starts the pages with a county, a supervisor (of township 0) and
// an observer account.
func newEnv(t *testing.T, cfg web.Config) *env {
	t.Helper()
	base := httptestutil.NewEnv(t)
	e := &env{
		Env:      base,
		clock:    httptestutil.NewClock(httptestutil.Start),
		logs:     &httptestutil.LogBuffer{},
		township: base.Township(0),
	}
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc, err := server.New(t.Context(), base.Store, server.Config{
		CountyCode: election.DongliaoCode,
		Now:        e.clock.Now,
		Logger:     logger,
		Argon2:     testArgon2,
	})
	if err != nil {
		t.Fatalf("new service: %v", err)
	}
	e.svc = svc
	for _, a := range []server.NewAccount{
		{Username: countyUser, Name: "县级管理员", Password: testPassword, Role: election.RoleCounty},
		{Username: supervisorUser, Name: "乡镇督导员", Password: testPassword, Role: election.RoleSupervisor, Scope: e.township},
		{Username: observerUser, Name: "观察员", Password: testPassword, Role: election.RoleObserver},
	} {
		e.createAccount(t, a)
	}
	cfg.Logger = logger
	if cfg.Now == nil {
		cfg.Now = e.clock.Now
	}
	if cfg.ServerURL == "" {
		cfg.ServerURL = testServerURL
	}
	e.handler = echo.New()
	web.Register(e.handler, svc, cfg)
	return e
}

func (e *env) createAccount(t *testing.T, a server.NewAccount) {
	t.Helper()
	if _, err := e.svc.CreateAccount(t.Context(), nil, a); err != nil {
		t.Fatalf("create account %s: %v", a.Username, err)
	}
}

// enrollDevice enrolls a new device of role in scope with label, through
// the service, as the station app would.
func (e *env) enrollDevice(t *testing.T, role election.Role, scope, label string) string {
	t.Helper()
	code, err := e.svc.IssueEnrollCode(t.Context(), nil, role, scope, 0)
	if err != nil {
		t.Fatalf("issue enrollment code: %v", err)
	}
	return e.redeem(t, code.Code, label)
}

// redeem enrolls a new device with code and returns its id.
func (e *env) redeem(t *testing.T, code, label string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	resp, err := e.svc.Enroll(t.Context(), syncproto.EnrollRequest{Code: code, PublicKey: syncproto.Bytes(pub), Label: label})
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	return resp.Device
}

// snapshot is everything a refused form must leave unchanged.
type snapshot struct {
	Stats    sqlite.Stats
	Codes    []server.EnrollCodeInfo
	Devices  []server.DeviceInfo
	Accounts []server.Account
	Review   []server.ReviewItem
}

func (e *env) snapshot(t *testing.T) snapshot {
	t.Helper()
	ctx := t.Context()
	var s snapshot
	var err error
	s.Stats = e.Stats(t)
	if s.Codes, err = e.svc.EnrollCodes(ctx, nil); err != nil {
		t.Fatalf("enroll codes: %v", err)
	}
	if s.Devices, err = e.svc.Devices(ctx, nil); err != nil {
		t.Fatalf("devices: %v", err)
	}
	if s.Accounts, err = e.svc.Accounts(ctx, nil); err != nil {
		t.Fatalf("accounts: %v", err)
	}
	county := &server.Principal{Subject: "test", Scope: election.Scope{Role: election.RoleCounty, Code: election.DongliaoCode}}
	q, err := e.svc.Review(ctx, county, "all")
	if err != nil {
		t.Fatalf("review: %v", err)
	}
	s.Review = q.Items
	return s
}

// unchanged fails the test if the store differs from before.
func (e *env) unchanged(t *testing.T, before snapshot) {
	t.Helper()
	if after := e.snapshot(t); !reflect.DeepEqual(after, before) {
		t.Errorf("store changed by a refused request:\n got %+v\nwant %+v", after, before)
	}
}

// browser is a cookie jar and the requests of one person, sent through
// the router with httptest.
type browser struct {
	e       *env
	cookies map[string]*http.Cookie
	// csrf is the session's CSRF token, read from the last page.
	csrf string
}

func (e *env) browser() *browser { return &browser{e: e, cookies: make(map[string]*http.Cookie)} }

// request is one request of a browser.
type request struct {
	method string
	path   string
	form   url.Values
	header http.Header
	tls    bool
}

// do sends r with the browser's cookies, as a same-origin request, and
// keeps the cookies of the answer.
func (b *browser) do(t *testing.T, r request) *httptest.ResponseRecorder {
	t.Helper()
	req := webuitest.NewRequest(t, r.method, r.path, "", r.form, r.header)
	if r.tls {
		req.TLS = &tls.ConnectionState{}
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	b.e.handler.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	if token, ok := webuitest.CSRFToken(rec.Body.String()); ok {
		b.csrf = token
	}
	return rec
}

func (b *browser) get(t *testing.T, path string) *httptest.ResponseRecorder {
	t.Helper()
	return b.do(t, request{method: http.MethodGet, path: path})
}

// post submits a form with the session's CSRF token.
func (b *browser) post(t *testing.T, path string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	f := url.Values{"csrf": {b.csrf}}
	for k, v := range form {
		f[k] = v
	}
	return b.do(t, request{method: http.MethodPost, path: path, form: f})
}

// login signs in through the login form and fails the test unless it
// works.
func (b *browser) login(t *testing.T, username, password string) {
	t.Helper()
	if rec := b.get(t, "/login"); rec.Code != http.StatusOK {
		t.Fatalf("GET /login: got status %d, want 200", rec.Code)
	}
	rec := b.do(t, request{method: http.MethodPost, path: "/login", form: url.Values{
		"csrf": {b.csrf}, "username": {username}, "password": {password},
	}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" {
		t.Fatalf("POST /login as %s: got status %d to %q, want 303 to /: %s", username, rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	if b.cookies["vs_session"] == nil {
		t.Fatalf("POST /login as %s: no vs_session cookie", username)
	}
	// The dashboard, for the session's CSRF token (observers and the
	// others alike see it).
	if rec := b.get(t, "/"); rec.Code != http.StatusOK {
		t.Fatalf("GET / after login: got status %d, want 200: %s", rec.Code, rec.Body)
	}
}

// session returns the browser's session token.
func (b *browser) session() string {
	if c := b.cookies["vs_session"]; c != nil {
		return c.Value
	}
	return ""
}

// loggedIn signs a new browser in as username.
func (e *env) loggedIn(t *testing.T, username string) *browser {
	t.Helper()
	b := e.browser()
	b.login(t, username, testPassword)
	return b
}

// wantRedirect fails the test unless rec is a 303 to location.
func wantRedirect(t *testing.T, rec *httptest.ResponseRecorder, location string) {
	t.Helper()
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != location {
		t.Fatalf("got status %d to %q, want 303 to %q: %s", rec.Code, rec.Header().Get("Location"), location, rec.Body)
	}
}
