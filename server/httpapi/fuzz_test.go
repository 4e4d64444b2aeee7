package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strings"
	"testing"

	"villagesync/election"
	"villagesync/server/httpapi/httptestutil"
	"villagesync/syncproto"
)

// FuzzAuthenticate: the token verifier never panics, and whatever it
// accepts names exactly the principal the server minted.
func FuzzAuthenticate(f *testing.F) {
	e := httptestutil.NewEnv(f)
	good := e.Token(f, "fuzz-county", election.RoleCounty, "220422")
	f.Add(good)
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ4In0.")
	f.Add("")
	f.Fuzz(func(t *testing.T, bearer string) {
		p, err := e.Service.Authenticate(t.Context(), bearer)
		if err != nil {
			if c := syncproto.ErrorCode(err); c != syncproto.CodeUnauthenticated && c != syncproto.CodeTokenExpired && c != syncproto.CodeDeviceRevoked {
				t.Fatalf("refusal with code %q: %v", c, err)
			}
			return
		}
		if p.Subject != "fuzz-county" || p.Scope != (election.Scope{Role: election.RoleCounty, Code: "220422"}) || p.Device != "" {
			t.Fatalf("accepted a token for %+v", p)
		}
	})
}

// FuzzTokenProof: the proof-of-possession verifier never issues a token for
// a proof that is not the device's signature over a fresh nonce.
func FuzzTokenProof(f *testing.F) {
	e := httptestutil.NewEnv(f)
	d := e.Enroll(f, election.RoleStation, e.Village(0, 0))
	f.Add(d.ID, "nonce", []byte("sig"))
	f.Add("", "", []byte{})
	f.Fuzz(func(t *testing.T, device, nonce string, sig []byte) {
		_, err := e.Service.Token(t.Context(), syncproto.TokenRequest{Device: device, Nonce: nonce, Sig: sig})
		if err == nil {
			t.Fatalf("issued a token for device %q with a forged proof", device)
		}
	})
}

// FuzzSyncBody: the HTTP body decoders (identity, gzip, zstd) never panic
// and never store anything from a body that is not a valid, signed request
// of the token's device.
func FuzzSyncBody(f *testing.F) {
	e := httptestutil.NewEnv(f)
	d := e.Enroll(f, election.RoleStation, e.Village(0, 0))
	e.Login(f, d)
	before := e.Stats(f)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`{"now":1,"changes":[{"device":"x","seq":1}]}`))
	_ = zw.Close()
	f.Add([]byte(`{"now":1}`), "")
	f.Add(gz.Bytes(), "gzip")
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0}, "zstd")
	f.Fuzz(func(t *testing.T, body []byte, encoding string) {
		header := http.Header{"Authorization": {"Bearer " + d.Token}}
		if encoding != "" {
			header.Set("Content-Encoding", encoding)
		}
		rec := e.Do(t, httptestutil.Request{Method: http.MethodPost, Path: "/v1/sync", Header: header, Body: body})
		if rec.Code == http.StatusOK {
			return
		}
		if got := e.Stats(t); got.Changes != before.Changes || got.Records != before.Records {
			t.Fatalf("a refused request (%d) stored something: %+v, was %+v", rec.Code, got, before)
		}
	})
}
