// Package httptestutil runs a real villagesync server in tests: the SQLite
// store in a temporary directory, the service on a settable clock, the Echo
// router of package httpapi, and devices that enroll over HTTP, obtain
// tokens and sign their changes. Requests go through the real router with
// net/http/httptest.
//
// The seeded database is built once per test binary and copied for every
// Env; a TestMain that calls RunTests removes it when the tests end.
//
// It is for tests only: its helpers fail the test (tb.Fatal) instead of
// returning errors.
package httptestutil

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/httpapi"
	"villagesync/server/sqlite"
	"villagesync/syncproto"
)

// Start is the clock's initial time in every Env: election day.
var Start = time.Date(2026, 3, 7, 8, 0, 0, 0, time.UTC)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// LogBuffer collects log output, safe for concurrent use.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Env is a server under test.
type Env struct {
	Store   *sqlite.Store
	Service *server.Service
	Handler http.Handler
	Clock   *Clock
	Logs    *LogBuffer // every log record of store, service and router, as JSON lines
	Dataset *election.Dataset
}

// NewEnv starts a server on a fresh SQLite store seeded with the Dongliao
// reference data. Everything is closed when the test ends.
func NewEnv(tb testing.TB) *Env {
	tb.Helper()
	return NewEnvOptions(tb, Options{})
}

// Options adjust an Env.
type Options struct {
	HTTP httpapi.Config // its Logger is replaced by the Env's
	// WrapStore, if set, wraps the SQLite store the service uses, to inject
	// faults.
	WrapStore func(server.Store) server.Store
}

// seeded is a database seeded once per test binary; every Env starts from a
// copy of it, since seeding costs seconds under the race detector.
var seeded struct {
	once sync.Once
	dir  string
	err  error
}

const dbName = "server.db"

// seedTemplate creates the seeded database in a directory of its own.
func seedTemplate() (string, error) {
	seeded.once.Do(func() {
		dir, err := os.MkdirTemp("", "villagesync-httptestutil-")
		if err != nil {
			seeded.err = err
			return
		}
		seeded.dir = dir
		seeded.err = seed(filepath.Join(dir, dbName))
	})
	return seeded.dir, seeded.err
}

func seed(path string) error {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	svc, err := server.New(ctx, store, server.Config{
		CountyCode: election.DongliaoCode,
		Now:        NewClock(Start).Now,
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err == nil {
		_, err = svc.Seed(ctx, election.Dongliao())
	}
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	return err
}

// RunTests runs a test binary's tests (call it from TestMain) and then
// removes the seeded database every Env copies.
func RunTests(m *testing.M) int {
	code := m.Run()
	if seeded.dir != "" {
		_ = os.RemoveAll(seeded.dir)
	}
	return code
}

// copyFile copies src to dst, if src exists.
func copyFile(dst, src string) error {
	b, err := os.ReadFile(src)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}

// NewEnvOptions is NewEnv with options.
func NewEnvOptions(tb testing.TB, opts Options) *Env {
	tb.Helper()
	ctx := context.Background()
	tmpl, err := seedTemplate()
	if err != nil {
		tb.Fatalf("seed template database: %v", err)
	}
	path := filepath.Join(tb.TempDir(), dbName)
	for _, suffix := range []string{"", "-wal"} {
		if err := copyFile(path+suffix, filepath.Join(tmpl, dbName+suffix)); err != nil {
			tb.Fatalf("copy template database: %v", err)
		}
	}
	logs := &LogBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store, err := sqlite.Open(ctx, path, logger)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() {
		if err := store.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	clock := NewClock(Start)
	var svcStore server.Store = store
	if opts.WrapStore != nil {
		svcStore = opts.WrapStore(store)
	}
	svc, err := server.New(ctx, svcStore, server.Config{
		CountyCode: election.DongliaoCode,
		Now:        clock.Now,
		Logger:     logger,
		// Test passwords need no protection from offline guessing.
		Argon2: server.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1},
	})
	if err != nil {
		tb.Fatalf("new service: %v", err)
	}
	opts.HTTP.Logger = logger
	if opts.HTTP.Limits == (httpapi.RateLimits{}) {
		// Every test device shares one address; the per-device limits
		// stay, on the real clock.
		opts.HTTP.Limits = httpapi.SharedAddress()
	}
	return &Env{
		Store:   store,
		Service: svc,
		Handler: httpapi.New(svc, opts.HTTP),
		Clock:   clock,
		Logs:    logs,
		Dataset: election.Dongliao(),
	}
}

// Request is one HTTP request to an Env.
type Request struct {
	Method string
	Path   string // with any query string
	Body   []byte
	Header http.Header
	Token  string // sent as a bearer token if set
}

// Do sends r through the router and returns the recorded response.
func (e *Env) Do(tb testing.TB, r Request) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequestWithContext(tb.Context(), r.Method, r.Path, bytes.NewReader(r.Body))
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	if r.Body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", syncproto.MediaType)
	}
	rec := httptest.NewRecorder()
	e.Handler.ServeHTTP(rec, req)
	return rec
}

// Decode decodes a response body, decompressing it as its
// Content-Encoding says, into v.
func Decode(tb testing.TB, rec *httptest.ResponseRecorder, v any) {
	tb.Helper()
	b := Body(tb, rec)
	if err := syncproto.Unmarshal(b, v); err != nil {
		tb.Fatalf("decode %d response %q: %v", rec.Code, b, err)
	}
}

// Body returns a response body, decompressed as its Content-Encoding says.
func Body(tb testing.TB, rec *httptest.ResponseRecorder) []byte {
	tb.Helper()
	raw := rec.Body.Bytes()
	switch rec.Header().Get("Content-Encoding") {
	case "":
		return raw
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			tb.Fatalf("gzip response: %v", err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			tb.Fatalf("gzip response: %v", err)
		}
		return b
	case "zstd":
		zd, err := zstd.NewReader(nil)
		if err != nil {
			tb.Fatalf("zstd: %v", err)
		}
		defer zd.Close()
		b, err := zd.DecodeAll(raw, nil)
		if err != nil {
			tb.Fatalf("zstd response: %v", err)
		}
		return b
	}
	tb.Fatalf("unexpected Content-Encoding %q", rec.Header().Get("Content-Encoding"))
	return nil
}

// ErrorOf decodes an error response.
func ErrorOf(tb testing.TB, rec *httptest.ResponseRecorder) *syncproto.Error {
	tb.Helper()
	var body syncproto.ErrorBody
	Decode(tb, rec, &body)
	if body.Error == nil {
		tb.Fatalf("response %d has no error: %s", rec.Code, Body(tb, rec))
	}
	return body.Error
}

// JSON encodes v with syncproto.Marshal.
func JSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := syncproto.Marshal(v)
	if err != nil {
		tb.Fatalf("marshal: %v", err)
	}
	return b
}

// Device is a test device: an Ed25519 key, its enrolled identity, an access
// token and the log of changes it has authored.
type Device struct {
	ID    string
	Pub   ed25519.PublicKey
	Priv  ed25519.PrivateKey
	Scope election.Scope
	Token string

	// Acked is the seq the last receipt SyncAll got covers; Cursor is
	// where its pulls resume.
	Acked  uint64
	Cursor string

	log    []syncproto.Change // log[i] has seq i+1
	hashes []syncproto.Hash   // hashes[i] is the hash of log[i]
	clock  syncproto.Clock
}

// NewDevice makes a device key pair (not enrolled).
func NewDevice(tb testing.TB) *Device {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatalf("generate key: %v", err)
	}
	return &Device{ID: syncproto.DeviceID(pub), Pub: pub, Priv: priv}
}

// EnrollCode creates an enrollment code for role and scope.
func (e *Env) EnrollCode(tb testing.TB, role election.Role, scope string) string {
	tb.Helper()
	code, _, err := e.Service.CreateEnrollCode(tb.Context(), role, scope, 0)
	if err != nil {
		tb.Fatalf("create enrollment code for %s %s: %v", role, scope, err)
	}
	return code
}

// Enroll makes a device of role in scope, enrolls it over HTTP with a fresh
// code and logs it in.
func (e *Env) Enroll(tb testing.TB, role election.Role, scope string) *Device {
	tb.Helper()
	d := NewDevice(tb)
	code := e.EnrollCode(tb, role, scope)
	rec := e.Do(tb, Request{Method: http.MethodPost, Path: "/v1/enroll", Body: JSON(tb, syncproto.EnrollRequest{
		Code: code, PublicKey: syncproto.Bytes(d.Pub), Label: "test " + string(role),
	})})
	if rec.Code != http.StatusOK {
		tb.Fatalf("enroll: got status %d, want 200: %s", rec.Code, Body(tb, rec))
	}
	var resp syncproto.EnrollResponse
	Decode(tb, rec, &resp)
	if resp.Device != d.ID {
		tb.Fatalf("enroll: got device %q, want %q", resp.Device, d.ID)
	}
	d.Scope = election.Scope{Role: election.Role(resp.Role), Code: resp.Scope}
	e.Login(tb, d)
	return d
}

// Login obtains a fresh access token for d over HTTP (nonce, then token).
func (e *Env) Login(tb testing.TB, d *Device) {
	tb.Helper()
	rec := e.Do(tb, Request{Method: http.MethodGet, Path: "/v1/nonce"})
	if rec.Code != http.StatusOK {
		tb.Fatalf("nonce: got status %d, want 200: %s", rec.Code, Body(tb, rec))
	}
	var n syncproto.NonceResponse
	Decode(tb, rec, &n)
	rec = e.Do(tb, Request{Method: http.MethodPost, Path: "/v1/token", Body: JSON(tb, d.TokenRequest(n.Nonce))})
	if rec.Code != http.StatusOK {
		tb.Fatalf("token: got status %d, want 200: %s", rec.Code, Body(tb, rec))
	}
	var t syncproto.TokenResponse
	Decode(tb, rec, &t)
	d.Token = t.Token
}

// TokenRequest is d's proof of possession over nonce.
func (d *Device) TokenRequest(nonce string) syncproto.TokenRequest {
	return syncproto.TokenRequest{
		Device: d.ID,
		Nonce:  nonce,
		Sig:    ed25519.Sign(d.Priv, syncproto.TokenProof(d.ID, nonce)),
	}
}

// Author appends a new change to d's log and returns its seq. body is
// encoded with syncproto.Marshal unless it is already []byte.
func (d *Device) Author(tb testing.TB, collection, id string, body any) uint64 {
	tb.Helper()
	return d.AuthorEdit(tb, collection, id, body, nil)
}

// AuthorEdit is Author with a hook that may change the change (its schema
// version, device, base...) before it is hashed.
func (d *Device) AuthorEdit(tb testing.TB, collection, id string, body any, edit func(*syncproto.Change)) uint64 {
	tb.Helper()
	b, ok := body.([]byte)
	if !ok {
		b = JSON(tb, body)
	}
	seq := uint64(len(d.log)) + 1
	coll, ok := election.LookupCollection(collection)
	schema := uint32(1)
	if ok {
		schema = coll.Schema
	}
	at := Start.UnixMilli() + int64(seq)
	c := syncproto.Change{
		Device:     d.ID,
		Seq:        seq,
		Collection: collection,
		ID:         id,
		HLC:        d.clock.Now(at),
		At:         at,
		Schema:     schema,
		Body:       b,
	}
	if edit != nil {
		edit(&c)
	}
	var prev syncproto.Hash
	if seq > 1 {
		prev = d.hashes[seq-2]
	}
	d.log = append(d.log, c)
	d.hashes = append(d.hashes, c.Hash(prev))
	return seq
}

// Seq is the highest seq d has authored.
func (d *Device) Seq() uint64 { return uint64(len(d.log)) }

// Hash is the hash of d's change seq (the zero hash for 0).
func (d *Device) Hash(seq uint64) syncproto.Hash {
	if seq == 0 {
		return syncproto.Hash{}
	}
	return d.hashes[seq-1]
}

// Run returns d's changes from..to (inclusive) as a wire run: the first
// carries Prev (unless it is seq 1) and the last carries Sig.
func (d *Device) Run(from, to uint64) []syncproto.Change {
	run := make([]syncproto.Change, 0, to-from+1)
	for seq := from; seq <= to; seq++ {
		run = append(run, d.log[seq-1])
	}
	if from > 1 {
		prev := d.hashes[from-2]
		run[0].Prev = &prev
	}
	run[len(run)-1].Sig = syncproto.SignHash(d.Priv, d.hashes[to-1])
	return run
}

// Fork returns a signed one-change run that claims seq with a different
// body than d's logged change seq but the same history: an equivocation.
func (d *Device) Fork(tb testing.TB, seq uint64, body any) []syncproto.Change {
	tb.Helper()
	c := d.log[seq-1]
	c.Body = JSON(tb, body)
	prev := d.Hash(seq - 1)
	if seq > 1 {
		c.Prev = &prev
	}
	c.Sig = syncproto.SignHash(d.Priv, c.Hash(prev))
	return []syncproto.Change{c}
}

// Sync sends a sync request for d and returns the response.
func (e *Env) Sync(tb testing.TB, d *Device, req syncproto.SyncRequest) *httptest.ResponseRecorder {
	tb.Helper()
	return e.Do(tb, Request{Method: http.MethodPost, Path: "/v1/sync", Body: JSON(tb, req), Token: d.Token})
}

// MustSync sends a sync request for d and fails the test unless it is
// accepted.
func (e *Env) MustSync(tb testing.TB, d *Device, req syncproto.SyncRequest) *syncproto.SyncResponse {
	tb.Helper()
	rec := e.Sync(tb, d, req)
	if rec.Code != http.StatusOK {
		tb.Fatalf("sync: got status %d, want 200: %s", rec.Code, Body(tb, rec))
	}
	var resp syncproto.SyncResponse
	Decode(tb, rec, &resp)
	return &resp
}

// SyncAll syncs d until it is up to date: it pushes the changes no receipt
// covers yet and pulls every page of changes in its scope after d.Cursor.
// It returns the changes pulled.
func (e *Env) SyncAll(tb testing.TB, d *Device) []syncproto.Change {
	tb.Helper()
	var pulled []syncproto.Change
	for range 1000 {
		req := syncproto.SyncRequest{Cursor: d.Cursor, PullMax: syncproto.MaxPullBytes}
		if d.Seq() > d.Acked {
			req.Changes = d.Run(d.Acked+1, d.Seq())
		}
		resp := e.MustSync(tb, d, req)
		if resp.Receipt != nil {
			d.Acked = resp.Receipt.Through
		}
		pulled = append(pulled, resp.Changes...)
		d.Cursor = resp.Cursor
		if !resp.More && d.Acked == d.Seq() {
			return pulled
		}
	}
	tb.Fatalf("sync of %s did not finish", d.ID)
	return nil
}

// Token mints an hour-long access token for a person (not a device) of
// role in scope (a village, township or county code).
func (e *Env) Token(tb testing.TB, subject string, role election.Role, scope string) string {
	tb.Helper()
	tok, _, err := e.Service.MintToken(tb.Context(), subject, election.Scope{Role: role, Code: scope}, time.Hour)
	if err != nil {
		tb.Fatalf("mint %s token: %v", role, err)
	}
	return tok
}

// ElectionOf returns the seeded Party-committee election of village and
// its roll.
func (e *Env) ElectionOf(tb testing.TB, village string) (election.Election, election.RollCount) {
	tb.Helper()
	for i, el := range e.Dataset.Elections {
		if el.Village == village {
			return el, e.Dataset.Rolls[i]
		}
	}
	tb.Fatalf("no seeded election in village %s", village)
	return election.Election{}, election.RollCount{}
}

// CleanAttendance is the attendance of village's election with every
// eligible member present.
func (e *Env) CleanAttendance(tb testing.TB, village string) map[string]any {
	tb.Helper()
	el, roll := e.ElectionOf(tb, village)
	return map[string]any{"election": el.ID, "eligible": roll.Eligible, "present": roll.Eligible}
}

// TallySheet is the FORMAL tally sheet of village's election with issued
// and returned ballots, every returned ballot valid: the first Seats
// candidates get every vote, the runner-up none.
func (e *Env) TallySheet(tb testing.TB, village string, issued, returned int) map[string]any {
	tb.Helper()
	el, _ := e.ElectionOf(tb, village)
	votes := make(map[string]map[string]int, len(el.Candidates))
	for i, c := range el.Candidates {
		if i < el.Seats {
			votes[c] = map[string]int{"yes": returned, "no": 0, "abstain": 0}
		} else {
			votes[c] = map[string]int{"yes": 0, "no": returned, "abstain": 0}
		}
	}
	return map[string]any{
		"election": el.ID, "round": 1, "kind": "FORMAL",
		"issued": issued, "returned": returned, "valid": returned, "invalid": 0,
		"votes": votes, "signers": []string{"计票人 甲", "监票人 乙"},
	}
}

// CleanSheet is TallySheet with every eligible member voting: the election
// run by the book.
func (e *Env) CleanSheet(tb testing.TB, village string) map[string]any {
	tb.Helper()
	_, roll := e.ElectionOf(tb, village)
	return e.TallySheet(tb, village, roll.Eligible, roll.Eligible)
}

// Village returns the code of the i-th seeded village of township t
// (0-based), and Township the code of the i-th township.
func (e *Env) Village(t, i int) string {
	return fmt.Sprintf("%s%d", e.Dataset.Townships[t].Code, 201+i)
}

// Township returns the code of the t-th seeded township (0-based).
func (e *Env) Township(t int) string { return e.Dataset.Townships[t].Code }

// Scenario is one table-driven HTTP test case against an Env, in the style
// of pocketbase's tests.ApiScenario.
type Scenario struct {
	Name string
	// Request builds the request; it runs inside the subtest, so it may
	// enroll devices and author changes.
	Request func(tb testing.TB) Request
	// WantStatus is the expected HTTP status.
	WantStatus int
	// WantCode, if set, is the expected error code of the body.
	WantCode syncproto.Code
	// WantBody lists substrings the decompressed body must contain.
	WantBody []string
	// NoWrites requires the store's row counts to be unchanged by the
	// request.
	NoWrites bool
	// Check, if set, makes further checks on the response.
	Check func(tb testing.TB, rec *httptest.ResponseRecorder)
}

// Run runs the scenario as a subtest of t.
func (s Scenario) Run(t *testing.T, e *Env) {
	t.Helper()
	t.Run(s.Name, func(t *testing.T) {
		r := s.Request(t)
		var before sqlite.Stats
		if s.NoWrites {
			before = e.Stats(t)
		}
		rec := e.Do(t, r)
		if rec.Code != s.WantStatus {
			t.Fatalf("%s %s: got status %d, want %d: %s", r.Method, r.Path, rec.Code, s.WantStatus, Body(t, rec))
		}
		if s.WantCode != "" {
			if got := ErrorOf(t, rec); got.Code != s.WantCode {
				t.Errorf("got error code %q (%s), want %q", got.Code, got.Message, s.WantCode)
			}
		}
		body := string(Body(t, rec))
		for _, want := range s.WantBody {
			if !strings.Contains(body, want) {
				t.Errorf("body %s: want it to contain %q", body, want)
			}
		}
		if s.NoWrites {
			if after := e.Stats(t); after != before {
				t.Errorf("store rows: got %+v after the request, want %+v (unchanged)", after, before)
			}
		}
		if s.Check != nil {
			s.Check(t, rec)
		}
	})
}

// Stats returns the store's row counts.
func (e *Env) Stats(tb testing.TB) sqlite.Stats {
	tb.Helper()
	st, err := e.Store.Stats(tb.Context())
	if err != nil {
		tb.Fatalf("stats: %v", err)
	}
	return st
}
