package server_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/httpapi/httptestutil"
	"villagesync/syncproto"
)

// Actors of the administration tests.
func countyActor() *server.Principal {
	return &server.Principal{Subject: "county-staff", Scope: election.Scope{Role: election.RoleCounty, Code: election.DongliaoCode}}
}

func supervisorActor(township string) *server.Principal {
	return &server.Principal{Subject: "sup-" + township, Scope: election.Scope{Role: election.RoleSupervisor, Code: township}}
}

func stationActor(village string) *server.Principal {
	return &server.Principal{Subject: "dev-" + village, Device: "dev-" + village, Scope: election.Scope{Role: election.RoleStation, Code: village}}
}

func observerActor() *server.Principal {
	return &server.Principal{Subject: "observer", Scope: election.Scope{Role: election.RoleObserver, Code: election.DongliaoCode}}
}

// idOf is the id of a printed enrollment code: EC- and 12 hex digits of
// its hash.
func idOf(code string) string {
	sum := sha256.Sum256([]byte(code))
	return "EC-" + hex.EncodeToString(sum[:])[:12]
}

// codeIDs lists every enrollment code id the county sees, newest first.
func codeIDs(tb testing.TB, svc *server.Service) []string {
	tb.Helper()
	codes, err := svc.EnrollCodes(tb.Context(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	var ids []string
	for _, c := range codes {
		ids = append(ids, c.ID)
	}
	return ids
}

// alertKinds lists the kinds of the alerts about device, newest first.
func alertKinds(tb testing.TB, e *httptestutil.Env, device string) []string {
	tb.Helper()
	alerts, err := e.Store.Alerts(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	var kinds []string
	for _, a := range alerts {
		if a.Device == device {
			kinds = append(kinds, a.Kind)
		}
	}
	return kinds
}

// authorityID is the device id of the server's county authority.
func authorityID(tb testing.TB, e *httptestutil.Env) string {
	tb.Helper()
	devs, err := e.Store.Devices(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	for _, d := range devs {
		if d.Label == server.AuthorityLabel {
			return d.ID
		}
	}
	tb.Fatal("no county authority device")
	return ""
}

func TestIssueEnrollCode(t *testing.T) {
	e := httptestutil.NewEnv(t)
	ctx := t.Context()
	t0 := e.Township(0)
	v0, v1 := e.Village(0, 0), e.Village(1, 0)
	tests := []struct {
		name  string
		actor *server.Principal
		role  election.Role
		scope string
		want  syncproto.Code // "" = issued
	}{
		{"CLI", nil, election.RoleCounty, "", ""},
		{"CountyStation", countyActor(), election.RoleStation, v1, ""},
		{"CountySupervisor", countyActor(), election.RoleSupervisor, t0, ""},
		{"CountyObserver", countyActor(), election.RoleObserver, election.DongliaoCode, ""},
		{"SupervisorOwnVillage", supervisorActor(t0), election.RoleStation, v0, ""},
		{"ErrSupervisorOtherTownshipVillage", supervisorActor(t0), election.RoleStation, v1, syncproto.CodeOutOfScope},
		{"ErrSupervisorTownshipAsVillage", supervisorActor(t0), election.RoleStation, t0, syncproto.CodeOutOfScope},
		{"ErrSupervisorSupervisorCode", supervisorActor(t0), election.RoleSupervisor, t0, syncproto.CodeForbidden},
		{"ErrSupervisorCountyCode", supervisorActor(t0), election.RoleCounty, "", syncproto.CodeForbidden},
		{"ErrSupervisorObserverCode", supervisorActor(t0), election.RoleObserver, "", syncproto.CodeForbidden},
		{"ErrSupervisorUnknownVillage", supervisorActor(t0), election.RoleStation, t0 + "299", syncproto.CodeBadRequest},
		{"ErrSupervisorBadScope", &server.Principal{Subject: "x", Scope: election.Scope{Role: election.RoleSupervisor, Code: "22042"}}, election.RoleStation, v0, syncproto.CodeForbidden},
		{"ErrStation", stationActor(v0), election.RoleStation, v0, syncproto.CodeForbidden},
		{"ErrObserver", observerActor(), election.RoleStation, v0, syncproto.CodeForbidden},
		{"ErrCountyOtherCounty", countyActor(), election.RoleCounty, "220421", syncproto.CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := codeIDs(t, e.Service)
			e.Clock.Advance(time.Second)
			got, err := e.Service.IssueEnrollCode(ctx, tt.actor, tt.role, tt.scope, time.Hour)
			if c := code(err); c != tt.want {
				t.Fatalf("got error %v, want code %q", err, tt.want)
			}
			after := codeIDs(t, e.Service)
			if tt.want != "" {
				if len(after) != len(before) {
					t.Fatalf("got %d codes after a refused issue, want %d", len(after), len(before))
				}
				return
			}
			wantBy := "cli"
			if tt.actor != nil {
				wantBy = tt.actor.Subject
			}
			now := e.Clock.Now()
			if !codeShape.MatchString(got.Code) || got.ID != idOf(got.Code) || got.CreatedBy != wantBy ||
				got.Status != server.EnrollCodeActive || got.Role != tt.role || !got.Created.Equal(now) || !got.Expires.Equal(now.Add(time.Hour)) {
				t.Errorf("got %+v, want an active %s code with id %s created by %s at %v for an hour", got, tt.role, idOf(got.Code), wantBy, now)
			}
			if len(after) != len(before)+1 || after[0] != got.ID {
				t.Errorf("got code list %v, want %s first", after, got.ID)
			}
			logs := e.Logs.String()
			if strings.Contains(logs, got.Code) || !strings.Contains(logs, got.ID) {
				t.Errorf("got logs without the code's id or with the code itself")
			}
		})
	}
}

func TestIssuedEnrollCodeRedeems(t *testing.T) {
	e := httptestutil.NewEnv(t)
	ctx := t.Context()
	village := e.Village(0, 1)
	issued, err := e.Service.IssueEnrollCode(ctx, supervisorActor(e.Township(0)), election.RoleStation, village, 0)
	if err != nil {
		t.Fatal(err)
	}
	d := httptestutil.NewDevice(t)
	resp, err := e.Service.Enroll(ctx, syncproto.EnrollRequest{Code: issued.Code, PublicKey: syncproto.Bytes(d.Pub)})
	if err != nil || resp.Scope != village || resp.Role != string(election.RoleStation) {
		t.Fatalf("got %+v (%v), want a station of %s", resp, err, village)
	}
	codes, err := e.Service.EnrollCodes(ctx, countyActor())
	if err != nil {
		t.Fatal(err)
	}
	if codes[0].ID != issued.ID || codes[0].Status != server.EnrollCodeUsed || codes[0].UsedBy != d.ID || !codes[0].UsedAt.Equal(e.Clock.Now()) {
		t.Errorf("got %+v, want %s used by %s", codes[0], issued.ID, d.ID)
	}
}

func TestEnrollCodes(t *testing.T) {
	e := httptestutil.NewEnv(t)
	ctx := t.Context()
	t0, t1 := e.Township(0), e.Township(1)
	issue := func(actor *server.Principal, role election.Role, scope string, ttl time.Duration) string {
		t.Helper()
		e.Clock.Advance(time.Minute)
		c, err := e.Service.IssueEnrollCode(ctx, actor, role, scope, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	// Oldest first.
	stationT0 := issue(nil, election.RoleStation, e.Village(0, 0), time.Hour)
	stationT1 := issue(countyActor(), election.RoleStation, e.Village(1, 0), 2*time.Hour)
	supervisorT0 := issue(countyActor(), election.RoleSupervisor, t0, 3*time.Hour)
	observer := issue(countyActor(), election.RoleObserver, "", 4*time.Hour)
	ownT0 := issue(supervisorActor(t0), election.RoleStation, e.Village(0, 3), 5*time.Hour)

	tests := []struct {
		name  string
		actor *server.Principal
		want  []string
		err   syncproto.Code
	}{
		{"CLI", nil, []string{ownT0, observer, supervisorT0, stationT1, stationT0}, ""},
		{"County", countyActor(), []string{ownT0, observer, supervisorT0, stationT1, stationT0}, ""},
		{"SupervisorT0", supervisorActor(t0), []string{ownT0, supervisorT0, stationT0}, ""},
		{"SupervisorT1", supervisorActor(t1), []string{stationT1}, ""},
		{"SupervisorElsewhere", supervisorActor(e.Township(2)), []string{}, ""},
		{"ErrStation", stationActor(e.Village(0, 0)), nil, syncproto.CodeForbidden},
		{"ErrObserver", observerActor(), nil, syncproto.CodeForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			codes, err := e.Service.EnrollCodes(ctx, tt.actor)
			if c := code(err); c != tt.err {
				t.Fatalf("got error %v, want code %q", err, tt.err)
			}
			if tt.err != "" {
				if codes != nil {
					t.Errorf("got %d codes with the error, want none", len(codes))
				}
				return
			}
			ids := []string{}
			for _, c := range codes {
				ids = append(ids, c.ID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("got %v, want %v", ids, tt.want)
			}
		})
	}

	// Statuses follow the clock: the hour-long code has expired two hours
	// and a few minutes after it was made; the others have not.
	e.Clock.Advance(time.Hour)
	codes, err := e.Service.EnrollCodes(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, c := range codes {
		status[c.ID] = c.Status
	}
	if status[stationT0] != server.EnrollCodeExpired || status[stationT1] != server.EnrollCodeActive {
		t.Errorf("got statuses %v, want %s expired and %s active", status, stationT0, stationT1)
	}
}

func TestExpireEnrollCode(t *testing.T) {
	e := httptestutil.NewEnv(t)
	ctx := t.Context()
	t0, t1 := e.Township(0), e.Township(1)
	issue := func(tb testing.TB, role election.Role, scope string) *server.IssuedEnrollCode {
		tb.Helper()
		c, err := e.Service.IssueEnrollCode(ctx, countyActor(), role, scope, time.Hour)
		if err != nil {
			tb.Fatal(err)
		}
		return c
	}
	enroll := func(code string) (*httptestutil.Device, error) {
		d := httptestutil.NewDevice(t)
		_, err := e.Service.Enroll(ctx, syncproto.EnrollRequest{Code: code, PublicKey: syncproto.Bytes(d.Pub)})
		return d, err
	}

	t.Run("ErrRefused", func(t *testing.T) {
		stationT1 := issue(t, election.RoleStation, e.Village(1, 1))
		supervisorT0 := issue(t, election.RoleSupervisor, t0)
		tests := []struct {
			name  string
			actor *server.Principal
			id    string
			want  syncproto.Code
		}{
			{"OtherTownshipStation", supervisorActor(t0), stationT1.ID, syncproto.CodeOutOfScope},
			{"SupervisorCode", supervisorActor(t0), supervisorT0.ID, syncproto.CodeForbidden},
			{"Station", stationActor(e.Village(1, 1)), stationT1.ID, syncproto.CodeForbidden},
			{"Observer", observerActor(), stationT1.ID, syncproto.CodeForbidden},
			{"Unknown", countyActor(), "EC-000000000000", syncproto.CodeNotFound},
			{"Malformed", countyActor(), "EC-xyz", syncproto.CodeBadRequest},
			{"HashNotID", countyActor(), strings.TrimPrefix(stationT1.ID, "EC-"), syncproto.CodeBadRequest},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := e.Service.ExpireEnrollCode(ctx, tt.actor, tt.id); code(err) != tt.want {
					t.Fatalf("got error %v, want code %q", err, tt.want)
				}
			})
		}
		// Neither code was touched: both still enroll.
		for _, c := range []*server.IssuedEnrollCode{stationT1, supervisorT0} {
			if _, err := enroll(c.Code); err != nil {
				t.Errorf("code %s after refused expiries: %v", c.ID, err)
			}
		}
	})

	t.Run("OK", func(t *testing.T) {
		village := e.Village(0, 2)
		c := issue(t, election.RoleStation, village)
		e.Clock.Advance(time.Minute)
		now := e.Clock.Now()
		got, err := e.Service.ExpireEnrollCode(ctx, supervisorActor(t0), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != c.ID || got.Status != server.EnrollCodeExpired || !got.Expires.Equal(now) || got.CreatedBy != "county-staff" {
			t.Errorf("got %+v, want %s expired at %v", got, c.ID, now)
		}
		// Redeeming it is refused as an expired code, with an alert.
		d, err := enroll(c.Code)
		if code(err) != syncproto.CodeEnrollCodeInvalid {
			t.Fatalf("enroll with an expired code: got %v, want enroll_code_invalid", err)
		}
		if kinds := alertKinds(t, e, d.ID); !slices.Equal(kinds, []string{server.AlertEnrollCodeInvalid}) {
			t.Errorf("got alerts %v, want [%s]", kinds, server.AlertEnrollCodeInvalid)
		}
		if logs := e.Logs.String(); !strings.Contains(logs, "enrollment code expired") || strings.Contains(logs, c.Code) {
			t.Error("got logs without the expiry or with the code itself")
		}
		// Expiring it again returns it as it is, whatever the clock.
		e.Clock.Advance(time.Minute)
		again, err := e.Service.ExpireEnrollCode(ctx, nil, "EC-"+strings.ToUpper(c.ID[3:]))
		if err != nil {
			t.Fatal(err)
		}
		if again != got {
			t.Errorf("got %+v, want %+v unchanged", again, got)
		}
	})

	t.Run("ErrUsed", func(t *testing.T) {
		c := issue(t, election.RoleStation, e.Village(1, 2))
		d, err := enroll(c.Code)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Service.ExpireEnrollCode(ctx, supervisorActor(t1), c.ID)
		if code(err) != syncproto.CodeConflict {
			t.Fatalf("got %v, want conflict", err)
		}
		codes, err := e.Service.EnrollCodes(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if codes[0].ID != c.ID || codes[0].Status != server.EnrollCodeUsed || codes[0].UsedBy != d.ID {
			t.Errorf("got %+v, want %s still used by %s", codes[0], c.ID, d.ID)
		}
	})

	t.Run("ErrAmbiguous", func(t *testing.T) {
		// Two hashes sharing the 12 hex digits of an id: it names
		// neither. It cannot happen by chance; the store allows it.
		prefix := strings.Repeat("ab", 6)
		for _, suffix := range []string{"01", "02"} {
			ec := server.EnrollCode{Hash: prefix + suffix, Role: election.RoleStation, Scope: e.Village(0, 4), Created: e.Clock.Now(), Expires: e.Clock.Now().Add(time.Hour)}
			if err := e.Store.CreateEnrollCode(ctx, ec); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.Service.ExpireEnrollCode(ctx, nil, "EC-"+prefix); code(err) != syncproto.CodeNotFound {
			t.Fatalf("got %v, want not_found", err)
		}
	})
}

func TestDevices(t *testing.T) {
	e := httptestutil.NewEnv(t)
	ctx := t.Context()
	t0, t1 := e.Township(0), e.Township(1)
	s00 := e.Enroll(t, election.RoleStation, e.Village(0, 0))
	s01 := e.Enroll(t, election.RoleStation, e.Village(0, 1))
	sup0 := e.Enroll(t, election.RoleSupervisor, t0)
	s10 := e.Enroll(t, election.RoleStation, e.Village(1, 0))
	sup1 := e.Enroll(t, election.RoleSupervisor, t1)
	cty := e.Enroll(t, election.RoleCounty, "")
	obs := e.Enroll(t, election.RoleObserver, "")

	s00.Author(t, "attendance", e.Village(0, 0)+"-att", e.CleanAttendance(t, e.Village(0, 0)))
	s00.Author(t, "tally_sheet", e.Village(0, 0)+"-R1", e.CleanSheet(t, e.Village(0, 0)))
	e.SyncAll(t, s00)

	ids := func(devs []*httptestutil.Device) []string {
		var out []string
		for _, d := range devs {
			out = append(out, d.ID)
		}
		slices.Sort(out)
		return out
	}
	tests := []struct {
		name  string
		actor *server.Principal
		want  []string
		err   syncproto.Code
	}{
		{"CLI", nil, ids([]*httptestutil.Device{s00, s01, sup0, s10, sup1, cty, obs}), ""},
		{"County", countyActor(), ids([]*httptestutil.Device{s00, s01, sup0, s10, sup1, cty, obs}), ""},
		{"SupervisorT0", supervisorActor(t0), ids([]*httptestutil.Device{s00, s01, sup0}), ""},
		{"SupervisorT1", supervisorActor(t1), ids([]*httptestutil.Device{s10, sup1}), ""},
		{"ErrStation", stationActor(e.Village(0, 0)), nil, syncproto.CodeForbidden},
		{"ErrObserver", observerActor(), nil, syncproto.CodeForbidden},
	}
	authority := authorityID(t, e)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			devs, err := e.Service.Devices(ctx, tt.actor)
			if c := code(err); c != tt.err {
				t.Fatalf("got error %v, want code %q", err, tt.err)
			}
			var got []string
			for _, d := range devs {
				got = append(got, d.ID)
				if d.ID == authority {
					t.Errorf("got the county authority %s in the list", authority)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got devices %v, want %v", got, tt.want)
			}
		})
	}

	devs, err := e.Service.Devices(ctx, supervisorActor(t0))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		want := uint64(0)
		if d.ID == s00.ID {
			want = s00.Seq()
		}
		if d.Head != want || d.Label == "" || d.Enrolled.IsZero() || !d.Revoked.IsZero() {
			t.Errorf("got %+v, want head %d, a label, enrolled and not revoked", d, want)
		}
	}
}

func TestRevokeDevice(t *testing.T) {
	e := httptestutil.NewEnv(t)
	ctx := t.Context()
	village := e.Village(0, 0)
	d := e.Enroll(t, election.RoleStation, village)
	d.Author(t, "attendance", village+"-att", e.CleanAttendance(t, village))
	e.SyncAll(t, d)

	t.Run("ErrRefused", func(t *testing.T) {
		tests := []struct {
			name  string
			actor *server.Principal
			id    string
			want  syncproto.Code
		}{
			{"Supervisor", supervisorActor(e.Township(0)), d.ID, syncproto.CodeForbidden},
			{"Station", stationActor(village), d.ID, syncproto.CodeForbidden},
			{"Observer", observerActor(), d.ID, syncproto.CodeForbidden},
			{"CountyAuthority", countyActor(), authorityID(t, e), syncproto.CodeForbidden},
			{"CLIAuthority", nil, authorityID(t, e), syncproto.CodeForbidden},
			{"Unknown", countyActor(), "dev-unknown", syncproto.CodeNotFound},
			{"Empty", countyActor(), "", syncproto.CodeBadRequest},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := e.Service.RevokeDevice(ctx, tt.actor, tt.id); code(err) != tt.want {
					t.Fatalf("got error %v, want code %q", err, tt.want)
				}
			})
		}
		// The device still works and nothing was alerted.
		if _, err := e.Service.Authenticate(ctx, d.Token); err != nil {
			t.Fatalf("token after refused revocations: %v", err)
		}
		if kinds := alertKinds(t, e, d.ID); len(kinds) != 0 {
			t.Errorf("got alerts %v, want none", kinds)
		}
	})

	t.Run("OK", func(t *testing.T) {
		e.Clock.Advance(time.Minute)
		revokedAt := e.Clock.Now()
		got, err := e.Service.RevokeDevice(ctx, countyActor(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != d.ID || !got.Revoked.Equal(revokedAt) || got.RevokedAfter != 1 || got.Head != 1 || got.Scope != village {
			t.Errorf("got %+v, want %s revoked at %v after seq 1", got, d.ID, revokedAt)
		}
		if _, err := e.Service.Authenticate(ctx, d.Token); code(err) != syncproto.CodeDeviceRevoked {
			t.Errorf("token after revocation: got %v, want device_revoked", err)
		}
		// Revoking again changes nothing and raises no second alert.
		e.Clock.Advance(time.Minute)
		again, err := e.Service.RevokeDevice(ctx, nil, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if again != got {
			t.Errorf("got %+v, want %+v unchanged", again, got)
		}
		if err := e.Service.Revoke(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
		if kinds := alertKinds(t, e, d.ID); !slices.Equal(kinds, []string{"device_revoked"}) {
			t.Errorf("got alerts %v, want one device_revoked", kinds)
		}
	})

	t.Run("LabelImpostor", func(t *testing.T) {
		// The label alone does not make a device the county authority: a
		// device enrolled before the label was reserved is listed and can
		// be revoked. Enrolling with the label is refused.
		imp := httptestutil.NewDevice(t)
		_, err := e.Service.Enroll(ctx, syncproto.EnrollRequest{
			Code: e.EnrollCode(t, election.RoleStation, village), PublicKey: syncproto.Bytes(imp.Pub), Label: " County-Authority",
		})
		if code(err) != syncproto.CodeBadRequest {
			t.Fatalf("enroll with the authority's label: got %v, want bad_request", err)
		}
		err = e.Store.PutDevice(ctx, server.Device{
			ID: imp.ID, PublicKey: imp.Pub, Role: election.RoleCounty, Scope: election.DongliaoCode,
			Label: server.AuthorityLabel, Enrolled: e.Clock.Now(),
		})
		if err != nil {
			t.Fatal(err)
		}
		devs, err := e.Service.Devices(ctx, countyActor())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(devs, func(d server.DeviceInfo) bool { return d.ID == imp.ID }) {
			t.Errorf("got devices without the impostor %s", imp.ID)
		}
		if _, err := e.Service.RevokeDevice(ctx, countyActor(), imp.ID); err != nil {
			t.Errorf("revoke the impostor: %v", err)
		}
	})
}

// kidOf returns the kid header of a JWT.
func kidOf(tb testing.TB, token string) string {
	tb.Helper()
	head, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		tb.Fatal(err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(b, &h); err != nil {
		tb.Fatal(err)
	}
	return h.Kid
}

// jwksKids lists the kids of a service's JWKS, in order.
func jwksKids(tb testing.TB, svc *server.Service) []string {
	tb.Helper()
	b, err := svc.JWKS(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	var set struct{ Keys []struct{ Kid string } }
	if err := json.Unmarshal(b, &set); err != nil {
		tb.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

func TestRotateSigningKey(t *testing.T) {
	e := httptestutil.NewEnv(t)
	ctx := t.Context()
	svc, clock := e.Service, e.Clock
	// Two more services on the same store: a replica that will see the
	// new key through a token naming it, and one that only signs.
	newService := func() *server.Service {
		s, err := server.New(ctx, e.Store, server.Config{Now: clock.Now, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	replica, stale := newService(), newService()
	scope := election.Scope{Role: election.RoleCounty, Code: election.DongliaoCode}
	mint := func(s *server.Service) string {
		t.Helper()
		tok, _, err := s.MintToken(ctx, "admin", scope, server.MaxMintTTL)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	authn := func(s *server.Service, tok string) syncproto.Code {
		_, err := s.Authenticate(ctx, tok)
		return code(err)
	}
	oldTok := mint(svc)
	oldKID := kidOf(t, oldTok)

	clock.Advance(10 * time.Second)
	rotatedAt := clock.Now()
	newKID, retired, err := svc.RotateSigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if newKID == oldKID || !slices.Equal(retired, []string{oldKID}) {
		t.Fatalf("got new key %s retiring %v, want a new key retiring [%s]", newKID, retired, oldKID)
	}
	// This service signs with the new key at once; both verify.
	newTok := mint(svc)
	if kid := kidOf(t, newTok); kid != newKID {
		t.Errorf("got a token signed by %s after rotation, want %s", kid, newKID)
	}
	if kids := jwksKids(t, svc); !slices.Equal(kids, []string{newKID, oldKID}) {
		t.Errorf("got JWKS %v, want [%s %s]", kids, newKID, oldKID)
	}
	// The replica accepts the new key's tokens at once, and the old ones.
	for name, tok := range map[string]string{"new": newTok, "old": oldTok} {
		if c := authn(replica, tok); c != "" {
			t.Errorf("replica, %s token: got %q, want accepted", name, c)
		}
	}
	// The county authority's key is no token key: rotation leaves it be.
	keys, err := e.Store.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if strings.HasPrefix(k.KeyID, server.AuthorityKeyPrefix) && !k.Retired.IsZero() {
			t.Errorf("got authority key %s retired", k.KeyID)
		}
	}

	// A service that has not reloaded yet still signs with the old key,
	// for at most the key cache's lifetime; its tokens verify until they
	// expire.
	clock.Advance(40 * time.Second)
	staleTok := mint(stale)
	if kid := kidOf(t, staleTok); kid != oldKID {
		t.Fatalf("got a token signed by %s from the stale service, want %s", kid, oldKID)
	}
	clock.Advance(time.Minute)
	if kid := kidOf(t, mint(stale)); kid != newKID {
		t.Errorf("got a token signed by %s a key cache lifetime after rotation, want %s", kid, newKID)
	}

	// Just before the stale token expires: it still verifies, the first
	// old token has expired.
	clock.Advance(rotatedAt.Add(40*time.Second + server.MaxMintTTL - time.Second).Sub(clock.Now()))
	if c := authn(svc, staleTok); c != "" {
		t.Errorf("stale token before its expiry: got %q, want accepted", c)
	}
	if c := authn(svc, oldTok); c != syncproto.CodeTokenExpired {
		t.Errorf("old token after its expiry: got %q, want token_expired", c)
	}
	if kids := jwksKids(t, svc); !slices.Equal(kids, []string{newKID, oldKID}) {
		t.Errorf("got JWKS %v, want [%s %s] while the old key's tokens live", kids, newKID, oldKID)
	}

	// Past the retention, the old key verifies nothing and leaves the
	// JWKS, on every service; receipts still need it, so ServerKeys keeps
	// it.
	clock.Advance(rotatedAt.Add(server.MaxMintTTL + 2*time.Minute).Sub(clock.Now()))
	for name, s := range map[string]*server.Service{"rotating": svc, "replica": replica, "stale": stale} {
		if c := authn(s, staleTok); c != syncproto.CodeUnauthenticated {
			t.Errorf("%s: old key's token past retention: got %q, want unauthenticated (unknown key)", name, c)
		}
		if kids := jwksKids(t, s); !slices.Equal(kids, []string{newKID}) {
			t.Errorf("%s: got JWKS %v, want [%s]", name, kids, newKID)
		}
		sk, err := s.ServerKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(sk) != 2 || sk[0].KeyID != newKID || sk[1].KeyID != oldKID {
			t.Errorf("%s: got server keys %v, want %s and %s", name, sk, newKID, oldKID)
		}
	}

	// A second rotation retires the key the first made.
	clock.Advance(time.Second)
	third, retired, err := svc.RotateSigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if third == newKID || !slices.Equal(retired, []string{newKID}) {
		t.Errorf("got %s retiring %v, want a third key retiring [%s]", third, retired, newKID)
	}
}
