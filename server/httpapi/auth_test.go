package httpapi_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/httpapi/httptestutil"
	"villagesync/server/sqlite"
	"villagesync/syncproto"
)

func TestToken(t *testing.T) {
	e := httptestutil.NewEnv(t)
	village := e.Village(0, 1)
	d := e.Enroll(t, election.RoleStation, village)

	nonce := func(tb testing.TB) string {
		tb.Helper()
		rec := e.Do(tb, httptestutil.Request{Method: http.MethodGet, Path: "/v1/nonce"})
		var n syncproto.NonceResponse
		httptestutil.Decode(tb, rec, &n)
		return n.Nonce
	}
	token := func(tb testing.TB, req syncproto.TokenRequest) httptestutil.Request {
		return httptestutil.Request{Method: http.MethodPost, Path: "/v1/token", Body: httptestutil.JSON(tb, req)}
	}
	revoked := e.Enroll(t, election.RoleStation, e.Village(0, 2))

	scenarios := []httptestutil.Scenario{
		{
			Name:       "OK",
			Request:    func(tb testing.TB) httptestutil.Request { return token(tb, d.TokenRequest(nonce(tb))) },
			WantStatus: http.StatusOK,
			WantBody:   []string{`"token":"ey`, `"expires":`},
		},
		{
			Name: "ReplayedNonce",
			Request: func(tb testing.TB) httptestutil.Request {
				req := d.TokenRequest(nonce(tb))
				if rec := e.Do(tb, token(tb, req)); rec.Code != http.StatusOK {
					tb.Fatalf("first use: got status %d, want 200", rec.Code)
				}
				return token(tb, req)
			},
			WantStatus: http.StatusBadRequest,
			WantCode:   syncproto.CodeNonceInvalid,
		},
		{
			Name:       "UnknownNonce",
			Request:    func(tb testing.TB) httptestutil.Request { return token(tb, d.TokenRequest(strings.Repeat("A", 75))) },
			WantStatus: http.StatusBadRequest,
			WantCode:   syncproto.CodeNonceInvalid,
			NoWrites:   true,
		},
		{
			Name: "ForgedExpiry",
			Request: func(tb testing.TB) httptestutil.Request {
				b, err := base64.RawURLEncoding.DecodeString(nonce(tb))
				if err != nil {
					tb.Fatal(err)
				}
				b[16]++ // a later expiry, under the same MAC
				return token(tb, d.TokenRequest(base64.RawURLEncoding.EncodeToString(b)))
			},
			WantStatus: http.StatusBadRequest,
			WantCode:   syncproto.CodeNonceInvalid,
			NoWrites:   true,
		},
		{
			Name: "NonceOfAnotherServer",
			Request: func(tb testing.TB) httptestutil.Request {
				st, err := sqlite.Open(tb.Context(), filepath.Join(tb.TempDir(), "other.db"), nil)
				if err != nil {
					tb.Fatal(err)
				}
				tb.Cleanup(func() { _ = st.Close() })
				other, err := server.New(tb.Context(), st, server.Config{Now: e.Clock.Now})
				if err != nil {
					tb.Fatal(err)
				}
				n, err := other.Nonce(tb.Context())
				if err != nil {
					tb.Fatal(err)
				}
				return token(tb, d.TokenRequest(n.Nonce))
			},
			WantStatus: http.StatusBadRequest,
			WantCode:   syncproto.CodeNonceInvalid,
			NoWrites:   true,
		},
		{
			Name: "WrongSignature",
			Request: func(tb testing.TB) httptestutil.Request {
				other := httptestutil.NewDevice(tb)
				n := nonce(tb)
				req := d.TokenRequest(n)
				req.Sig = ed25519.Sign(other.Priv, syncproto.TokenProof(d.ID, n))
				return token(tb, req)
			},
			WantStatus: http.StatusBadRequest,
			WantCode:   syncproto.CodeBadSignature,
		},
		{
			Name: "SignatureOverOtherNonce",
			Request: func(tb testing.TB) httptestutil.Request {
				req := d.TokenRequest(nonce(tb))
				req.Nonce = nonce(tb)
				return token(tb, req)
			},
			WantStatus: http.StatusBadRequest,
			WantCode:   syncproto.CodeBadSignature,
		},
		{
			Name: "UnknownDevice",
			Request: func(tb testing.TB) httptestutil.Request {
				return token(tb, httptestutil.NewDevice(tb).TokenRequest(nonce(tb)))
			},
			WantStatus: http.StatusUnauthorized,
			WantCode:   syncproto.CodeUnauthenticated,
		},
		{
			Name: "RevokedDevice",
			Request: func(tb testing.TB) httptestutil.Request {
				if err := e.Service.Revoke(tb.Context(), revoked.ID); err != nil {
					tb.Fatal(err)
				}
				return token(tb, revoked.TokenRequest(nonce(tb)))
			},
			WantStatus: http.StatusForbidden,
			WantCode:   syncproto.CodeDeviceRevoked,
		},
		{
			Name: "RevokedDeviceOldToken",
			Request: func(tb testing.TB) httptestutil.Request {
				return httptestutil.Request{Method: http.MethodPost, Path: "/v1/sync", Body: []byte(`{"now":1}`), Token: revoked.Token}
			},
			WantStatus: http.StatusForbidden,
			WantCode:   syncproto.CodeDeviceRevoked,
			NoWrites:   true,
		},
		// The clock moves on from here.
		{
			// The nonce a device kept from its last sync outlives its
			// token: after the token expired it still gets a new one.
			Name: "NonceOutlivesToken",
			Request: func(tb testing.TB) httptestutil.Request {
				resp := e.MustSync(tb, d, syncproto.SyncRequest{PullMax: -1})
				e.Clock.Advance(server.DefaultTokenTTL + time.Minute)
				if rec := e.Sync(tb, d, syncproto.SyncRequest{PullMax: -1}); rec.Code != http.StatusUnauthorized {
					tb.Fatalf("sync with the old token: got status %d, want 401", rec.Code)
				}
				return token(tb, d.TokenRequest(resp.Nonce))
			},
			WantStatus: http.StatusOK,
		},
		{
			Name: "ExpiredNonce",
			Request: func(tb testing.TB) httptestutil.Request {
				req := d.TokenRequest(nonce(tb))
				e.Clock.Advance(server.DefaultNonceTTL)
				return token(tb, req)
			},
			WantStatus: http.StatusBadRequest,
			WantCode:   syncproto.CodeNonceInvalid,
			NoWrites:   true,
		},
	}
	for _, s := range scenarios {
		s.Run(t, e)
	}
	if kinds := alertsOf(t, e, revoked.ID); !slices.Equal(kinds, []string{"device_revoked"}) {
		t.Errorf("got alerts %v for the revoked device, want [device_revoked]", kinds)
	}
	if logs := e.Logs.String(); strings.Contains(logs, d.Token) || strings.Contains(logs, revoked.Token) {
		t.Error("the logs contain an access token")
	}
}

// serverKey returns the server's active token signing key.
func serverKey(tb testing.TB, e *httptestutil.Env) server.SigningKey {
	tb.Helper()
	keys, err := e.Store.SigningKeys(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k.KeyID, server.AuthorityKeyPrefix) && k.Retired.IsZero() {
			return k
		}
	}
	tb.Fatal("no active server key")
	return server.SigningKey{}
}

func TestJWTPinning(t *testing.T) {
	e := httptestutil.NewEnv(t)
	village := e.Village(1, 0)
	d := e.Enroll(t, election.RoleStation, village)
	key := serverKey(t, e)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, strangerKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	claims := func() jwt.MapClaims {
		now := e.Clock.Now()
		return jwt.MapClaims{
			"iss": server.DefaultIssuer, "aud": server.DefaultAudience,
			"sub": d.ID, "dev": d.ID, "role": "station", "scope": village,
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": "test",
		}
	}
	forge := func(tb testing.TB, method jwt.SigningMethod, signer any, edit func(h map[string]any, c jwt.MapClaims)) string {
		tb.Helper()
		tok := jwt.NewWithClaims(method, claims())
		tok.Header["kid"] = key.KeyID
		tok.Header["typ"] = "at+jwt"
		if edit != nil {
			edit(tok.Header, tok.Claims.(jwt.MapClaims))
		}
		s, err := tok.SignedString(signer)
		if err != nil {
			tb.Fatalf("sign: %v", err)
		}
		return s
	}
	edsa := func(edit func(h map[string]any, c jwt.MapClaims)) func(testing.TB) string {
		return func(tb testing.TB) string { return forge(tb, jwt.SigningMethodEdDSA, key.Private, edit) }
	}

	tests := []struct {
		name  string
		token func(testing.TB) string
		want  syncproto.Code // "" = accepted
	}{
		{"OK", edsa(nil), ""},
		{"AlgNone", func(tb testing.TB) string {
			return forge(tb, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil)
		}, syncproto.CodeUnauthenticated},
		{"HS256WithPublicKey", func(tb testing.TB) string {
			return forge(tb, jwt.SigningMethodHS256, []byte(key.Private.Public().(ed25519.PublicKey)), nil)
		}, syncproto.CodeUnauthenticated},
		{"RS256", func(tb testing.TB) string { return forge(tb, jwt.SigningMethodRS256, rsaKey, nil) }, syncproto.CodeUnauthenticated},
		{"MissingExp", edsa(func(_ map[string]any, c jwt.MapClaims) { delete(c, "exp") }), syncproto.CodeUnauthenticated},
		{"Expired", edsa(func(_ map[string]any, c jwt.MapClaims) {
			c["iat"] = e.Clock.Now().Add(-time.Hour).Unix()
			c["exp"] = e.Clock.Now().Add(-time.Minute).Unix()
		}), syncproto.CodeTokenExpired},
		{"IssuedInTheFuture", edsa(func(_ map[string]any, c jwt.MapClaims) {
			c["iat"] = e.Clock.Now().Add(time.Hour).Unix()
		}), syncproto.CodeUnauthenticated},
		{"WrongIssuer", edsa(func(_ map[string]any, c jwt.MapClaims) { c["iss"] = "someone-else" }), syncproto.CodeUnauthenticated},
		{"MissingIssuer", edsa(func(_ map[string]any, c jwt.MapClaims) { delete(c, "iss") }), syncproto.CodeUnauthenticated},
		{"WrongAudience", edsa(func(_ map[string]any, c jwt.MapClaims) { c["aud"] = "other-api" }), syncproto.CodeUnauthenticated},
		{"WrongTyp", edsa(func(h map[string]any, _ jwt.MapClaims) { h["typ"] = "JWT" }), syncproto.CodeUnauthenticated},
		{"MissingTyp", edsa(func(h map[string]any, _ jwt.MapClaims) { delete(h, "typ") }), syncproto.CodeUnauthenticated},
		{"UnknownKid", func(tb testing.TB) string {
			return forge(tb, jwt.SigningMethodEdDSA, strangerKey, func(h map[string]any, _ jwt.MapClaims) { h["kid"] = "srv-stranger" })
		}, syncproto.CodeUnauthenticated},
		{"KnownKidWrongKey", func(tb testing.TB) string {
			return forge(tb, jwt.SigningMethodEdDSA, strangerKey, nil)
		}, syncproto.CodeUnauthenticated},
		{"MissingKid", edsa(func(h map[string]any, _ jwt.MapClaims) { delete(h, "kid") }), syncproto.CodeUnauthenticated},
		{"EscalatedRole", edsa(func(_ map[string]any, c jwt.MapClaims) { c["role"] = "county" }), syncproto.CodeUnauthenticated},
		{"OtherScope", edsa(func(_ map[string]any, c jwt.MapClaims) { c["scope"] = e.Village(1, 1) }), syncproto.CodeUnauthenticated},
		{"DeviceNotSubject", edsa(func(_ map[string]any, c jwt.MapClaims) { c["sub"] = "dev-someone-else" }), syncproto.CodeUnauthenticated},
		{"UnknownDevice", edsa(func(_ map[string]any, c jwt.MapClaims) {
			c["sub"], c["dev"] = "dev-00000000000000000000", "dev-00000000000000000000"
		}), syncproto.CodeUnauthenticated},
		{"Garbage", func(testing.TB) string { return "not.a.token" }, syncproto.CodeUnauthenticated},
		{"Huge", func(testing.TB) string { return strings.Repeat(".", 1<<16) }, syncproto.CodeUnauthenticated},
	}
	path := "/v1/records/village/" + village
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.Do(t, httptestutil.Request{Method: http.MethodGet, Path: path, Token: tt.token(t)})
			if tt.want == "" {
				if rec.Code != http.StatusOK {
					t.Fatalf("got status %d, want 200: %s", rec.Code, httptestutil.Body(t, rec))
				}
				return
			}
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("got status %d, want 401: %s", rec.Code, httptestutil.Body(t, rec))
			}
			if got := httptestutil.ErrorOf(t, rec).Code; got != tt.want {
				t.Errorf("got code %q, want %q", got, tt.want)
			}
			if got := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("got WWW-Authenticate %q, want a Bearer challenge", got)
			}
		})
	}

	t.Run("NoBearer", func(t *testing.T) {
		for _, h := range []string{"", "Basic dXNlcjpwYXNz", "Bearer", "Bearer "} {
			rec := e.Do(t, httptestutil.Request{Method: http.MethodGet, Path: path, Header: http.Header{"Authorization": {h}}})
			if rec.Code != http.StatusUnauthorized || httptestutil.ErrorOf(t, rec).Code != syncproto.CodeUnauthenticated {
				t.Errorf("Authorization %q: got status %d, want 401 unauthenticated", h, rec.Code)
			}
		}
	})
	t.Run("RealTokenExpires", func(t *testing.T) {
		e.Login(t, d)
		e.Clock.Advance(15*time.Minute + 31*time.Second)
		rec := e.Do(t, httptestutil.Request{Method: http.MethodGet, Path: path, Token: d.Token})
		if rec.Code != http.StatusUnauthorized || httptestutil.ErrorOf(t, rec).Code != syncproto.CodeTokenExpired {
			t.Errorf("got status %d %s, want 401 token_expired", rec.Code, httptestutil.Body(t, rec))
		}
	})
}
