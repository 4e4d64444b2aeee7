package station_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	client "villagesync/client-sdk"
	"villagesync/election"
	"villagesync/internal/webui/webuitest"
	"villagesync/server"
	"villagesync/server/httpapi/httptestutil"
	"villagesync/station"
	"villagesync/syncproto"
)

func TestMain(m *testing.M) { os.Exit(httptestutil.RunTests(m)) }

// uiAddr is where the UI under test claims to listen: the Host of every
// request the tests send as the operator's browser.
const uiAddr = "127.0.0.1:8181"

// county reads the server as the county does.
var county = &server.Principal{Subject: "test", Scope: election.Scope{Role: election.RoleCounty, Code: election.DongliaoCode}}

// world is a real in-process villagesync server over HTTP, seeded with the
// Dongliao reference data.
type world struct {
	*httptestutil.Env
	srv *httptest.Server
}

func newWorld(t *testing.T) *world {
	t.Helper()
	base := httptestutil.NewEnv(t)
	srv := httptest.NewServer(base.Handler)
	t.Cleanup(srv.Close)
	return &world{Env: base, srv: srv}
}

// link is the device's connection to the server; it can be cut.
type link struct {
	next    http.RoundTripper
	offline atomic.Bool
}

func (l *link) RoundTrip(req *http.Request) (*http.Response, error) {
	if l.offline.Load() {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	return l.next.RoundTrip(req)
}

// laptop is an enrolled device, as real as the CLI's, and its UI.
type laptop struct {
	w    *world
	dev  *client.Device
	ui   *station.UI
	link *link
	dir  string
	logs *httptestutil.LogBuffer
	// csrf is the token of the forms, read from the last page.
	csrf string
}

// laptop enrolls a device of role in scope with the server, pulls its
// reference data, and serves its UI as if it listened on uiAddr.
func (w *world) laptop(t *testing.T, role election.Role, scope string) *laptop {
	t.Helper()
	return w.laptopAt(t, role, scope, uiAddr)
}

// laptopAt is laptop with the UI's address.
func (w *world) laptopAt(t *testing.T, role election.Role, scope, addr string) *laptop {
	t.Helper()
	ctx := t.Context()
	l := &link{next: w.srv.Client().Transport}
	dir := filepath.Join(t.TempDir(), "device")
	opts := client.Options{
		HTTPClient: &http.Client{Transport: l},
		Logger:     slog.New(slog.DiscardHandler),
		Now:        w.Clock.Now,
		Sleep:      func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
	}
	dev, err := client.Enroll(ctx, dir, w.srv.URL, w.EnrollCode(t, role, scope), opts)
	if err != nil {
		t.Fatalf("enroll %s %s: %v", role, scope, err)
	}
	t.Cleanup(func() {
		if err := dev.Close(); err != nil {
			t.Errorf("close device: %v", err)
		}
	})
	if _, err := dev.Sync(ctx); err != nil {
		t.Fatalf("first sync: %v", err)
	}
	logs := &httptestutil.LogBuffer{}
	ui, err := station.New(dev, station.Config{
		Addr:    addr,
		DataDir: dir,
		Logger:  slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:     w.Clock.Now,
	})
	if err != nil {
		t.Fatalf("station.New: %v", err)
	}
	lt := &laptop{w: w, dev: dev, ui: ui, link: l, dir: dir, logs: logs}
	if rec := lt.do(t, request{method: http.MethodGet, path: "/", host: addr}); rec.Code != http.StatusOK {
		t.Fatalf("GET /: got status %d, want 200: %s", rec.Code, rec.Body)
	}
	return lt
}

// request is one request of the operator's browser.
type request struct {
	method string
	path   string
	form   url.Values
	host   string      // default uiAddr
	header http.Header // replaces the same-origin headers of a POST; "" deletes
}

// do sends r to the UI as the operator's browser would: to uiAddr, and
// for a POST from the UI's own pages (same origin).
func (l *laptop) do(t *testing.T, r request) *httptest.ResponseRecorder {
	t.Helper()
	host := uiAddr
	if r.host != "" {
		host = r.host
	}
	req := webuitest.NewRequest(t, r.method, r.path, host, r.form, r.header)
	rec := httptest.NewRecorder()
	l.ui.ServeHTTP(rec, req)
	if token, ok := webuitest.CSRFToken(rec.Body.String()); ok {
		l.csrf = token
	}
	return rec
}

func (l *laptop) get(t *testing.T, path string) *httptest.ResponseRecorder {
	t.Helper()
	return l.do(t, request{method: http.MethodGet, path: path})
}

// post submits a form with the CSRF token of the pages.
func (l *laptop) post(t *testing.T, path string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	f := url.Values{"csrf": {l.csrf}}
	for k, v := range form {
		f[k] = v
	}
	return l.do(t, request{method: http.MethodPost, path: path, form: f})
}

// captured is how many changes the device has captured.
func (l *laptop) captured(t *testing.T) uint64 {
	t.Helper()
	st, err := l.dev.Status(t.Context())
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	return st.LastSeq
}

// record returns a record the device holds, failing the test if it holds
// none.
func (l *laptop) record(t *testing.T, collection, id string) client.Record {
	t.Helper()
	rec, err := l.dev.Get(t.Context(), collection, id)
	if err != nil {
		t.Fatalf("device holds no %s %s: %v", collection, id, err)
	}
	return rec
}

// onServer fails the test unless the server holds the record with body.
func (w *world) onServer(t *testing.T, collection, id string, body []byte) {
	t.Helper()
	rec, err := w.Service.Record(t.Context(), county, collection, id)
	if err != nil {
		t.Fatalf("server holds no %s %s: %v", collection, id, err)
	}
	if string(rec.Body) != string(body) {
		t.Errorf("server %s %s: got body %s, want %s", collection, id, rec.Body, body)
	}
}

// notOnServer fails the test if the server holds the record.
func (w *world) notOnServer(t *testing.T, collection, id string) {
	t.Helper()
	_, err := w.Service.Record(t.Context(), county, collection, id)
	var e *syncproto.Error
	if !errors.As(err, &e) || e.Code != syncproto.CodeNotFound {
		t.Errorf("server %s %s: got %v, want not found", collection, id, err)
	}
}

// wantNotBody fails the test if the body holds any of unwanted.
func wantNotBody(t *testing.T, rec *httptest.ResponseRecorder, unwanted ...string) {
	t.Helper()
	body := rec.Body.String()
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			t.Errorf("body: want it not to contain %q:\n%s", w, body)
		}
	}
}
