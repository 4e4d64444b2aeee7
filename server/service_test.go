package server_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/httpapi/httptestutil"
	"villagesync/server/sqlite"
	"villagesync/syncproto"
)

// MustOpenStore opens an empty SQLite store for the test.
func MustOpenStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	store, err := sqlite.Open(tb.Context(), filepath.Join(tb.TempDir(), "server.db"), nil)
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { _ = store.Close() })
	return store
}

// code returns the syncproto code of err, "" for nil.
func code(err error) syncproto.Code { return syncproto.ErrorCode(err) }

func TestNewConfig(t *testing.T) {
	store := MustOpenStore(t)
	tests := []struct {
		name string
		cfg  server.Config
		ok   bool
	}{
		{"Defaults", server.Config{}, true},
		{"ShortTokens", server.Config{TokenTTL: 5 * time.Minute}, true},
		{"TokensOverFifteenMinutes", server.Config{TokenTTL: 16 * time.Minute}, false},
		{"NegativeNonceTTL", server.Config{NonceTTL: -time.Second}, false},
		{"BadCountyCode", server.Config{CountyCode: "22042"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := server.New(t.Context(), store, tt.cfg)
			if got := err == nil; got != tt.ok {
				t.Errorf("New: got error %v, want ok %v", err, tt.ok)
			}
		})
	}
	// All services share the one signing key New created first.
	keys, err := store.SigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Errorf("got %d signing keys after several New, want 1", len(keys))
	}
}

var codeShape = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$`)

func TestCreateEnrollCode(t *testing.T) {
	e := httptestutil.NewEnv(t)
	ctx := t.Context()
	tests := []struct {
		name  string
		role  election.Role
		scope string
		ttl   time.Duration
		want  syncproto.Code // "" = created
	}{
		{"Station", election.RoleStation, e.Village(0, 0), 0, ""},
		{"Supervisor", election.RoleSupervisor, e.Township(12), 7 * 24 * time.Hour, ""},
		{"CountyDefaultScope", election.RoleCounty, "", time.Hour, ""},
		{"Observer", election.RoleObserver, election.DongliaoCode, time.Hour, ""},
		{"OtherCounty", election.RoleCounty, "220421", 0, syncproto.CodeBadRequest},
		{"UnknownVillage", election.RoleStation, e.Township(0) + "299", 0, syncproto.CodeBadRequest},
		{"TownshipAsVillage", election.RoleStation, e.Township(0), 0, syncproto.CodeBadRequest},
		{"UnknownTownship", election.RoleSupervisor, "220422999", 0, syncproto.CodeBadRequest},
		{"UnknownRole", election.Role("admin"), election.DongliaoCode, 0, syncproto.CodeBadRequest},
		{"TTLOverAWeek", election.RoleStation, e.Village(0, 0), 7*24*time.Hour + time.Second, syncproto.CodeBadRequest},
		{"NegativeTTL", election.RoleStation, e.Village(0, 0), -time.Hour, syncproto.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, expires, err := e.Service.CreateEnrollCode(ctx, tt.role, tt.scope, tt.ttl)
			if got := syncproto.ErrorCode(err); got != tt.want {
				t.Fatalf("got error %v, want code %q", err, tt.want)
			}
			if tt.want != "" {
				return
			}
			if !codeShape.MatchString(code) {
				t.Errorf("got code %q, want four groups of four Crockford base32 characters", code)
			}
			ttl := tt.ttl
			if ttl == 0 {
				ttl = server.DefaultEnrollCodeTTL
			}
			if want := e.Clock.Now().Add(ttl); !expires.Equal(want) {
				t.Errorf("got expiry %v, want %v", expires, want)
			}
		})
	}
}

func TestEnrollCodeTyping(t *testing.T) {
	e := httptestutil.NewEnv(t)
	ctx := t.Context()
	village := e.Village(1, 1)
	// People type O for 0 and l or I for 1, in any case, with or without
	// dashes or with spaces.
	retype := strings.NewReplacer("0", "o", "1", "l", "-", " ")
	for i := range 3 {
		var code string
		for range 50 {
			c, _, err := e.Service.CreateEnrollCode(ctx, election.RoleStation, village, 0)
			if err != nil {
				t.Fatal(err)
			}
			if strings.ContainsAny(c, "01") {
				code = c
				break
			}
		}
		if code == "" {
			t.Fatal("no code with a 0 or 1 in 50 tries")
		}
		d := httptestutil.NewDevice(t)
		resp, err := e.Service.Enroll(ctx, syncproto.EnrollRequest{Code: retype.Replace(code), PublicKey: syncproto.Bytes(d.Pub)})
		if err != nil {
			t.Fatalf("code %d typed as %q: %v", i, retype.Replace(code), err)
		}
		if resp.Device != d.ID || resp.Scope != village || resp.Role != "station" {
			t.Errorf("got %+v, want device %s station of %s", resp, d.ID, village)
		}
	}
}

func TestSeed(t *testing.T) {
	e := httptestutil.NewEnv(t) // seeded once
	ctx := t.Context()
	before := e.Stats(t)
	// The reference records and the county's previous-term figures.
	if want := int64(len(e.Dataset.Records())) + 1; before.Records != want || before.Changes != want {
		t.Errorf("after the first seed: got %d records and %d changes, want %d of each", before.Records, before.Changes, want)
	}
	if rec, err := e.Store.Record(ctx, "previous_term", election.DongliaoCode); err != nil || !strings.Contains(string(rec.Body), `"members":790`) {
		t.Errorf("got previous term %s (%v), want 790 members", rec.Body, err)
	}

	t.Run("Idempotent", func(t *testing.T) {
		n, err := e.Service.Seed(ctx, election.Dongliao())
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("second seed stored %d records, want 0", n)
		}
		if after := e.Stats(t); after != before {
			t.Errorf("got %+v after the second seed, want %+v", after, before)
		}
	})

	t.Run("ChangedRecordIsANewVersion", func(t *testing.T) {
		d := election.Dongliao()
		d.Villages[0].Name = "新名村"
		n, err := e.Service.Seed(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("seed stored %d records, want 1", n)
		}
		rec, err := e.Store.Record(ctx, "village", d.Villages[0].Code)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Name string }
		if err := json.Unmarshal(rec.Body, &body); err != nil {
			t.Fatal(err)
		}
		if rec.Version != 2 || body.Name != "新名村" {
			t.Errorf("got version %d named %q, want version 2 named 新名村", rec.Version, body.Name)
		}
	})

	t.Run("AuthorityIsACountyDevice", func(t *testing.T) {
		rec, err := e.Store.Record(ctx, "county", election.DongliaoCode)
		if err != nil {
			t.Fatal(err)
		}
		dev, err := e.Store.Device(ctx, rec.Device)
		if err != nil {
			t.Fatal(err)
		}
		if dev.Label != server.AuthorityLabel || dev.ElectionScope() != (election.Scope{Role: election.RoleCounty, Code: election.DongliaoCode}) {
			t.Errorf("got author %+v, want the county authority", dev)
		}
		keys, err := e.Service.ServerKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		jwks, err := e.Service.JWKS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if strings.HasPrefix(k.KeyID, server.AuthorityKeyPrefix) || strings.Contains(string(jwks), server.AuthorityKeyPrefix) {
				t.Errorf("the authority key is published (server keys %v)", keys)
			}
			if syncproto.DeviceID(ed25519.PublicKey(k.PublicKey)) == dev.ID {
				t.Error("a server key is the authority's key")
			}
		}
	})
}

func TestMintToken(t *testing.T) {
	e := httptestutil.NewEnv(t)
	ctx := t.Context()
	county := election.Scope{Role: election.RoleCounty, Code: election.DongliaoCode}
	tests := []struct {
		name  string
		scope election.Scope
		ttl   time.Duration
		want  time.Duration // lifetime; 0 = refused
	}{
		{"Default", county, 0, server.DefaultTokenTTL},
		{"Hour", county, time.Hour, time.Hour},
		{"CappedAtADay", county, 72 * time.Hour, server.MaxMintTTL},
		{"Observer", election.Scope{Role: election.RoleObserver, Code: election.DongliaoCode}, time.Hour, time.Hour},
		{"Supervisor", election.Scope{Role: election.RoleSupervisor, Code: e.Township(2)}, time.Hour, time.Hour},
		{"OtherCounty", election.Scope{Role: election.RoleCounty, Code: "220421"}, time.Hour, 0},
		{"Negative", county, -time.Hour, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, exp, err := e.Service.MintToken(ctx, "county-admin", tt.scope, tt.ttl)
			if tt.want == 0 {
				if code(err) != syncproto.CodeBadRequest {
					t.Fatalf("got error %v, want bad_request", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := e.Clock.Now().Add(tt.want); !exp.Equal(want) {
				t.Errorf("got expiry %v, want %v", exp, want)
			}
			p, err := e.Service.Authenticate(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			if p.Subject != "county-admin" || p.Device != "" || p.Scope != tt.scope {
				t.Errorf("got principal %+v, want county-admin without device in %+v", p, tt.scope)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	e := httptestutil.NewEnv(t)
	ctx := t.Context()
	svc, store, clock := e.Service, e.Store, e.Clock
	scope := election.Scope{Role: election.RoleCounty, Code: election.DongliaoCode}
	old, _, err := svc.MintToken(ctx, "a", scope, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	// Another replica (or the admin CLI) adds a newer key, and a key
	// retired two days ago is still stored.
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	newKey := server.SigningKey{KeyID: "srv-rotated", Private: priv, Created: clock.Now().Add(time.Second)}
	if err := store.AddSigningKey(ctx, newKey); err != nil {
		t.Fatal(err)
	}
	ancient := server.SigningKey{KeyID: "srv-ancient", Private: priv, Created: clock.Now().Add(-72 * time.Hour), Retired: clock.Now().Add(-48 * time.Hour)}
	if err := store.AddSigningKey(ctx, ancient); err != nil {
		t.Fatal(err)
	}

	clock.Advance(2 * time.Minute) // past the key cache's lifetime
	tok, _, err := svc.MintToken(ctx, "b", scope, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for name, tk := range map[string]string{"old": old, "new": tok} {
		if _, err := svc.Authenticate(ctx, tk); err != nil {
			t.Errorf("%s token: %v", name, err)
		}
	}
	jwks, err := svc.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var set struct{ Keys []struct{ Kid string } }
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	if len(kids) != 2 || kids[0] != newKey.KeyID {
		t.Errorf("got JWKS kids %v, want the new key first and the old one, not the key retired two days ago", kids)
	}
	keys, err := svc.ServerKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 {
		t.Errorf("got %d server keys, want all 3 (receipts outlive tokens)", len(keys))
	}
}

// TestSyncVerifiesInParallel pushes a batch of many runs, which the service
// verifies on several goroutines, and checks that a bad signature in a late
// run is still found and reported with its seq.
func TestSyncVerifiesInParallel(t *testing.T) {
	e := httptestutil.NewEnv(t)
	ctx := t.Context()
	v := e.Village(9, 2)
	d := e.Enroll(t, election.RoleStation, v)
	p := &server.Principal{Subject: d.ID, Device: d.ID, Scope: d.Scope}
	for i := range 200 {
		d.Author(t, "attendance", fmt.Sprintf("%s-att-%d", v, i), map[string]any{"election": v + "-PC", "eligible": 60, "present": 50})
	}
	// Runs of 9 changes separated by one missing seq: 1-9, 11-19, ...
	var changes []syncproto.Change
	for from := uint64(1); from+8 <= 200; from += 10 {
		changes = append(changes, d.Run(from, from+8)...)
	}

	bad := append([]syncproto.Change(nil), changes...)
	last := len(bad) - 1
	bad[last].Sig = append(syncproto.Bytes(nil), bad[last].Sig...)
	bad[last].Sig[5] ^= 0x40
	before := e.Stats(t)
	_, err := e.Service.Sync(ctx, p, &syncproto.SyncRequest{Changes: bad, PullMax: -1})
	if pe, ok := errors.AsType[*syncproto.Error](err); !ok || pe.Code != syncproto.CodeBadSignature || pe.Seq != bad[last].Seq {
		t.Fatalf("got %v, want bad_signature at seq %d", err, bad[last].Seq)
	}
	if after := e.Stats(t); after != before {
		t.Errorf("got %+v after a refused push, want %+v", after, before)
	}

	resp, err := e.Service.Sync(ctx, p, &syncproto.SyncRequest{Changes: changes, PullMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Receipt == nil || resp.Receipt.Through != 9 || len(resp.Held) != len(changes)-9 {
		t.Errorf("got receipt %+v and %d held, want through 9 and %d held", resp.Receipt, len(resp.Held), len(changes)-9)
	}
}
