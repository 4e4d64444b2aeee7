package httpapi_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/httpapi"
	"villagesync/server/httpapi/httptestutil"
	"villagesync/syncproto"
)

func TestPublicEndpoints(t *testing.T) {
	e := httptestutil.NewEnv(t)
	get := func(path string) func(testing.TB) httptestutil.Request {
		return func(testing.TB) httptestutil.Request {
			return httptestutil.Request{Method: http.MethodGet, Path: path}
		}
	}
	scenarios := []httptestutil.Scenario{
		{
			Name:       "Healthz",
			Request:    get("/healthz"),
			WantStatus: http.StatusOK,
			WantBody:   []string{`{"status":"ok"}`},
		},
		{
			Name:       "Metrics",
			Request:    get("/metrics"),
			WantStatus: http.StatusOK,
			WantBody: []string{
				"villagesync_changes_total", "villagesync_bytes_total", "villagesync_sync_duration_seconds",
				"villagesync_tokens_issued_total", "villagesync_equivocations_total",
			},
		},
		{
			Name:       "JWKS",
			Request:    get("/.well-known/jwks.json"),
			WantStatus: http.StatusOK,
			WantBody:   []string{`"kty":"OKP"`, `"crv":"Ed25519"`, `"alg":"EdDSA"`, `"use":"sig"`},
			Check: func(tb testing.TB, rec *httptest.ResponseRecorder) {
				var set struct {
					Keys []struct{ Kid, X string }
				}
				httptestutil.Decode(tb, rec, &set)
				if len(set.Keys) != 1 {
					tb.Fatalf("got %d keys, want 1", len(set.Keys))
				}
				if strings.HasPrefix(set.Keys[0].Kid, "authority-") {
					tb.Errorf("JWKS publishes the county authority key %s", set.Keys[0].Kid)
				}
				if x, err := base64.RawURLEncoding.DecodeString(set.Keys[0].X); err != nil || len(x) != 32 {
					tb.Errorf("got x %q (%v), want 32 bytes of unpadded base64url", set.Keys[0].X, err)
				}
			},
		},
		{
			Name:       "Nonce",
			Request:    get("/v1/nonce"),
			WantStatus: http.StatusOK,
			// A nonce is stateless: issuing one writes nothing.
			NoWrites: true,
			Check: func(tb testing.TB, rec *httptest.ResponseRecorder) {
				var n syncproto.NonceResponse
				httptestutil.Decode(tb, rec, &n)
				if b, err := base64.RawURLEncoding.DecodeString(n.Nonce); err != nil || len(b) != 56 {
					tb.Errorf("got nonce %q (%v), want 56 bytes of unpadded base64url", n.Nonce, err)
				}
				if want := httptestutil.Start.Add(server.DefaultNonceTTL).UnixMilli(); n.Expires != want {
					tb.Errorf("got expiry %d, want %d", n.Expires, want)
				}
				if got := rec.Header().Get("Cache-Control"); got != "no-store" {
					tb.Errorf("got Cache-Control %q, want no-store", got)
				}
			},
		},
		{
			Name:       "UnknownRoute",
			Request:    get("/v1/nothing-here"),
			WantStatus: http.StatusNotFound,
			WantCode:   syncproto.CodeNotFound,
		},
		{
			Name:       "WrongMethod",
			Request:    get("/v1/sync"),
			WantStatus: http.StatusBadRequest,
			WantCode:   syncproto.CodeBadRequest,
		},
		{
			Name: "OtherProtocolVersion",
			Request: func(testing.TB) httptestutil.Request {
				return httptestutil.Request{Method: http.MethodGet, Path: "/v1/nonce", Header: http.Header{syncproto.HeaderProtocol: {"2"}}}
			},
			WantStatus: http.StatusBadRequest,
			WantCode:   syncproto.CodeUnsupported,
		},
		{
			Name: "ClientRequestIDIgnored",
			Request: func(testing.TB) httptestutil.Request {
				return httptestutil.Request{Method: http.MethodGet, Path: "/v1/nothing", Header: http.Header{"X-Request-Id": {"attacker-chosen"}}}
			},
			WantStatus: http.StatusNotFound,
			Check: func(tb testing.TB, rec *httptest.ResponseRecorder) {
				id := rec.Header().Get("X-Request-Id")
				if id == "" || id == "attacker-chosen" {
					tb.Errorf("got X-Request-ID %q, want a fresh server id", id)
				}
				if got := httptestutil.ErrorOf(tb, rec).RequestID; got != id {
					tb.Errorf("got request id %q in the body, want %q", got, id)
				}
			},
		},
		{
			Name: "SecureHeadersNoCORS",
			Request: func(testing.TB) httptestutil.Request {
				return httptestutil.Request{Method: http.MethodGet, Path: "/healthz", Header: http.Header{"Origin": {"https://evil.example"}}}
			},
			WantStatus: http.StatusOK,
			Check: func(tb testing.TB, rec *httptest.ResponseRecorder) {
				if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
					tb.Errorf("got X-Content-Type-Options %q, want nosniff", got)
				}
				if got := rec.Header().Get("X-Frame-Options"); got == "" {
					tb.Error("got no X-Frame-Options header, want one")
				}
				if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" {
					tb.Errorf("got Access-Control-Allow-Origin %q, want none", got)
				}
			},
		},
	}
	for _, s := range scenarios {
		s.Run(t, e)
	}
}

// faultyStore is the SQLite store with a Record method that fails.
type faultyStore struct {
	server.Store
	record func() (server.Record, error)
}

func (f faultyStore) Record(context.Context, string, string) (server.Record, error) {
	return f.record()
}

func TestInternalErrors(t *testing.T) {
	secret := "disk on fire at /var/lib/secret-path"
	var record func() (server.Record, error)
	e := httptestutil.NewEnvOptions(t, httptestutil.Options{WrapStore: func(s server.Store) server.Store {
		return faultyStore{Store: s, record: func() (server.Record, error) { return record() }}
	}})
	d := e.Enroll(t, election.RoleStation, e.Village(0, 0))
	tests := []struct {
		name   string
		record func() (server.Record, error)
	}{
		{"Error", func() (server.Record, error) { return server.Record{}, errors.New(secret) }},
		{"Panic", func() (server.Record, error) { panic(secret) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			record = tt.record
			rec := e.Do(t, httptestutil.Request{Method: http.MethodGet, Path: "/v1/records/village/" + e.Village(0, 0), Token: d.Token})
			if rec.Code != http.StatusInternalServerError {
				t.Fatalf("got status %d, want 500: %s", rec.Code, httptestutil.Body(t, rec))
			}
			got := httptestutil.ErrorOf(t, rec)
			if got.Code != syncproto.CodeInternal || got.Message != "internal error" || got.RequestID == "" {
				t.Errorf("got %+v, want internal error with a request id", got)
			}
			if strings.Contains(rec.Body.String(), "disk on fire") {
				t.Error("the response shows the internal error")
			}
			var logged bool
			for line := range strings.Lines(e.Logs.String()) {
				if strings.Contains(line, got.RequestID) && strings.Contains(line, "disk on fire") {
					logged = true
				}
			}
			if !logged {
				t.Error("the internal error is not logged with the request id")
			}
		})
	}
}

func TestNewHTTPServer(t *testing.T) {
	h := http.NewServeMux()
	srv := httpapi.NewHTTPServer("127.0.0.1:0", h)
	if srv.Addr != "127.0.0.1:0" || srv.Handler != h {
		t.Errorf("got addr %q and handler %v, want 127.0.0.1:0 and the mux", srv.Addr, srv.Handler)
	}
	for name, got := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout,
	} {
		if got <= 0 {
			t.Errorf("%s: got %v, want a bound", name, got)
		}
	}
	if srv.MaxHeaderBytes != 64<<10 {
		t.Errorf("MaxHeaderBytes: got %d, want %d", srv.MaxHeaderBytes, 64<<10)
	}
}
