package httpapi_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/httpapi"
	"villagesync/server/httpapi/httptestutil"
	"villagesync/syncproto"
)

// TestEnrollCodesAPI manages enrollment codes over HTTP: the county and a
// supervisor issue, list and expire them; reused, expired and wrongly
// scoped codes are refused with stable codes and alerts.
func TestEnrollCodesAPI(t *testing.T) {
	e := httptestutil.NewEnv(t)
	county := e.Token(t, "county-admin", election.RoleCounty, election.DongliaoCode)
	township, other := e.Township(3), e.Township(4)
	own, foreign := e.Village(3, 0), e.Village(4, 0)
	sup := e.Enroll(t, election.RoleSupervisor, township)
	station := e.Enroll(t, election.RoleStation, own)
	observer := e.Token(t, "observer", election.RoleObserver, election.DongliaoCode)

	issue := func(token, role, scope string) (server.IssuedEnrollCode, *syncproto.Error, int) {
		t.Helper()
		rec := e.Do(t, httptestutil.Request{Method: http.MethodPost, Path: "/v1/enroll-codes", Token: token,
			Body: httptestutil.JSON(t, map[string]any{"role": role, "scope": scope, "ttl_seconds": 3600})})
		if rec.Code != http.StatusCreated {
			return server.IssuedEnrollCode{}, httptestutil.ErrorOf(t, rec), rec.Code
		}
		var c server.IssuedEnrollCode
		httptestutil.Decode(t, rec, &c)
		return c, nil, rec.Code
	}
	list := func(token string) []server.EnrollCodeInfo {
		t.Helper()
		rec := e.Do(t, httptestutil.Request{Method: http.MethodGet, Path: "/v1/enroll-codes", Token: token})
		if rec.Code != http.StatusOK {
			t.Fatalf("list codes: %d %s", rec.Code, rec.Body)
		}
		var l struct {
			Codes []server.EnrollCodeInfo `json:"codes"`
		}
		httptestutil.Decode(t, rec, &l)
		return l.Codes
	}
	enroll := func(code string) *httptestutil.Device {
		d := httptestutil.NewDevice(t)
		rec := e.Do(t, enrollRequest(t, d, code))
		if rec.Code != http.StatusOK {
			t.Fatalf("enroll with %s: %d %s", code, rec.Code, rec.Body)
		}
		return d
	}
	refusedEnroll := func(code string) string {
		t.Helper()
		d := httptestutil.NewDevice(t)
		rec := e.Do(t, enrollRequest(t, d, code))
		if got := httptestutil.ErrorOf(t, rec).Code; got != syncproto.CodeEnrollCodeInvalid {
			t.Fatalf("enroll with a spent code: got %d %s, want enroll_code_invalid", rec.Code, got)
		}
		return d.ID
	}

	// A supervisor issues a station code for its own village; it works once.
	c, perr, status := issue(sup.Token, "station", own)
	if perr != nil {
		t.Fatalf("supervisor issuing for its own village: %d %v", status, perr)
	}
	if c.Code == "" || c.Role != election.RoleStation || c.Scope != own || c.CreatedBy != sup.ID {
		t.Fatalf("issued %+v", c)
	}
	d := enroll(c.Code)
	found := false
	for _, ci := range list(sup.Token) {
		if ci.ID == c.ID {
			found = true
			if ci.Status != server.EnrollCodeUsed || ci.UsedBy != d.ID {
				t.Errorf("supervisor's list after use: %+v", ci)
			}
		}
	}
	if !found {
		t.Errorf("supervisor's list lacks its code %s", c.ID)
	}
	if again := refusedEnroll(c.Code); !slices.Contains(alertsOf(t, e, again), server.AlertEnrollCodeReuse) {
		t.Errorf("reuse raised no %s alert", server.AlertEnrollCodeReuse)
	}

	// Wrong scopes and roles are refused, and nothing is stored.
	before := e.Stats(t)
	for _, tc := range []struct {
		name, token, role, scope string
		want                     syncproto.Code
	}{
		{"SupervisorForeignVillage", sup.Token, "station", foreign, syncproto.CodeOutOfScope},
		{"SupervisorOtherTownship", sup.Token, "supervisor", other, syncproto.CodeForbidden},
		{"SupervisorCountyCode", sup.Token, "county", "", syncproto.CodeForbidden},
		{"Station", station.Token, "station", own, syncproto.CodeForbidden},
		{"Observer", observer, "station", own, syncproto.CodeForbidden},
		{"CountyUnknownVillage", county, "station", township + "999", syncproto.CodeBadRequest},
		{"CountyOtherCounty", county, "county", "220421", syncproto.CodeBadRequest},
		{"CountyUnknownRole", county, "admin", own, syncproto.CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, perr, status := issue(tc.token, tc.role, tc.scope); perr == nil || perr.Code != tc.want {
				t.Errorf("got %d %v, want %s", status, perr, tc.want)
			}
		})
	}
	if after := e.Stats(t); after != before {
		t.Errorf("refused issues changed the store: %+v → %+v", before, after)
	}

	// The county expires an unused code; redeeming it is refused and alerted.
	c2, perr, _ := issue(county, "station", foreign)
	if perr != nil {
		t.Fatal(perr)
	}
	rec := e.Do(t, httptestutil.Request{Method: http.MethodPost, Path: "/v1/enroll-codes/" + c2.ID + "/expire", Token: sup.Token, Body: []byte(`{}`)})
	if got := httptestutil.ErrorOf(t, rec).Code; got != syncproto.CodeForbidden && got != syncproto.CodeOutOfScope {
		t.Errorf("supervisor expiring another township's code: %d %s", rec.Code, got)
	}
	rec = e.Do(t, httptestutil.Request{Method: http.MethodPost, Path: "/v1/enroll-codes/" + c2.ID + "/expire", Token: county, Body: []byte(`{}`)})
	if rec.Code != http.StatusOK {
		t.Fatalf("county expiring a code: %d %s", rec.Code, rec.Body)
	}
	if late := refusedEnroll(c2.Code); !slices.Contains(alertsOf(t, e, late), server.AlertEnrollCodeInvalid) {
		t.Errorf("an expired code raised no %s alert", server.AlertEnrollCodeInvalid)
	}
	var expired server.EnrollCodeInfo
	for _, ci := range list(county) {
		if ci.ID == c2.ID {
			expired = ci
		}
	}
	if expired.Status != server.EnrollCodeExpired {
		t.Errorf("county's list shows %s as %q, want expired", c2.ID, expired.Status)
	}
	for _, ci := range list(sup.Token) {
		if ci.Scope != township && !strings.HasPrefix(ci.Scope, township) {
			t.Errorf("supervisor of %s sees a code for %s", township, ci.Scope)
		}
	}
}

// TestDevicesAPI lists devices by scope and revokes one: its live token
// stops at once and it gets no new one.
func TestDevicesAPI(t *testing.T) {
	e := httptestutil.NewEnv(t)
	county := e.Token(t, "county-admin", election.RoleCounty, election.DongliaoCode)
	sup := e.Enroll(t, election.RoleSupervisor, e.Township(2))
	mine := e.Enroll(t, election.RoleStation, e.Village(2, 0))
	theirs := e.Enroll(t, election.RoleStation, e.Village(5, 0))

	devices := func(token string) []server.DeviceInfo {
		t.Helper()
		rec := e.Do(t, httptestutil.Request{Method: http.MethodGet, Path: "/v1/devices", Token: token})
		if rec.Code != http.StatusOK {
			t.Fatalf("devices: %d %s", rec.Code, rec.Body)
		}
		var l struct {
			Devices []server.DeviceInfo `json:"devices"`
		}
		httptestutil.Decode(t, rec, &l)
		return l.Devices
	}
	ids := func(ds []server.DeviceInfo) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.ID)
		}
		slices.Sort(out)
		return out
	}
	if got, want := ids(devices(sup.Token)), ids([]server.DeviceInfo{{ID: sup.ID}, {ID: mine.ID}}); !slices.Equal(got, want) {
		t.Errorf("supervisor sees %v, want %v", got, want)
	}
	if got := ids(devices(county)); len(got) != 3 || !slices.Contains(got, theirs.ID) {
		t.Errorf("county sees %v, want all 3 devices", got)
	}
	rec := e.Do(t, httptestutil.Request{Method: http.MethodGet, Path: "/v1/devices", Token: mine.Token})
	if got := httptestutil.ErrorOf(t, rec).Code; got != syncproto.CodeForbidden {
		t.Errorf("station listing devices: %d %s", rec.Code, got)
	}

	revoke := func(token, id string) int {
		return e.Do(t, httptestutil.Request{Method: http.MethodPost, Path: "/v1/devices/" + id + "/revoke", Token: token, Body: []byte(`{}`)}).Code
	}
	if code := revoke(sup.Token, mine.ID); code != http.StatusForbidden {
		t.Errorf("supervisor revoking: %d, want 403", code)
	}
	if code := revoke(county, mine.ID); code != http.StatusOK {
		t.Fatalf("county revoking: %d", code)
	}
	rec = e.Sync(t, mine, syncproto.SyncRequest{PullMax: -1})
	if got := httptestutil.ErrorOf(t, rec).Code; got != syncproto.CodeDeviceRevoked {
		t.Errorf("revoked device's live token: %d %s, want device_revoked", rec.Code, got)
	}
	n := e.Do(t, httptestutil.Request{Method: http.MethodGet, Path: "/v1/nonce"})
	var nonce syncproto.NonceResponse
	httptestutil.Decode(t, n, &nonce)
	rec = e.Do(t, httptestutil.Request{Method: http.MethodPost, Path: "/v1/token", Body: httptestutil.JSON(t, mine.TokenRequest(nonce.Nonce))})
	if got := httptestutil.ErrorOf(t, rec).Code; got != syncproto.CodeDeviceRevoked {
		t.Errorf("revoked device asking for a token: %d %s, want device_revoked", rec.Code, got)
	}
}

// TestRateLimits: enrollment is limited per address, authenticated
// requests per subject, each answered rate_limited with Retry-After; one
// device's burst does not slow another's.
func TestRateLimits(t *testing.T) {
	e := httptestutil.NewEnvOptions(t, httptestutil.Options{HTTP: httpapi.Config{Limits: httpapi.RateLimits{
		Enroll:  httpapi.Limit{Per: 0.001, Burst: 3},
		Token:   httpapi.Off,
		Login:   httpapi.Off,
		Subject: httpapi.Limit{Per: 0.001, Burst: 5},
	}}})
	a := e.Enroll(t, election.RoleStation, e.Village(0, 0))
	b := e.Enroll(t, election.RoleStation, e.Village(0, 1))
	// Two of the address's three enrollments are spent; the next guess is
	// the last one allowed.
	for i := range 2 {
		d := httptestutil.NewDevice(t)
		rec := e.Do(t, enrollRequest(t, d, "AAAA-BBBB-CCCC-DDD"+strconv.Itoa(i)))
		want := syncproto.CodeEnrollCodeInvalid
		if i == 1 {
			want = syncproto.CodeRateLimited
		}
		if got := httptestutil.ErrorOf(t, rec).Code; got != want {
			t.Fatalf("guess %d: got %d %s, want %s", i, rec.Code, got, want)
		}
		if want == syncproto.CodeRateLimited {
			if ra, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || ra < 1 {
				t.Errorf("Retry-After %q, want whole seconds", rec.Header().Get("Retry-After"))
			}
		}
	}
	// Device a spends its burst (its enrollment used none of it).
	for i := range 6 {
		rec := e.Sync(t, a, syncproto.SyncRequest{PullMax: -1})
		want := http.StatusOK
		if i == 5 {
			want = http.StatusTooManyRequests
		}
		if rec.Code != want {
			t.Fatalf("sync %d of device a: %d, want %d", i, rec.Code, want)
		}
	}
	if rec := e.Sync(t, b, syncproto.SyncRequest{PullMax: -1}); rec.Code != http.StatusOK {
		t.Errorf("device b, same address, after a's burst: %d, want 200", rec.Code)
	}

	// A person's pages are limited per person too.
	ctx := t.Context()
	if _, err := e.Service.CreateAccount(ctx, nil, server.NewAccount{Username: "clerk", Password: "rate-limit-test-pw", Role: election.RoleCounty}); err != nil {
		t.Fatal(err)
	}
	sess, err := e.Service.Login(ctx, "clerk", "rate-limit-test-pw")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		rec := e.Do(t, httptestutil.Request{Method: http.MethodGet, Path: "/devices", Header: http.Header{"Cookie": {"vs_session=" + sess.Token}}})
		want := http.StatusOK
		if i == 5 {
			want = http.StatusTooManyRequests
		}
		if rec.Code != want {
			t.Fatalf("page %d of the clerk: %d, want %d", i, rec.Code, want)
		}
	}
}
