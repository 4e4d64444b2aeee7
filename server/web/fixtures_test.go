package web_test

import (
	"net/http"
	"net/url"
	"testing"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/httpapi/httptestutil"
)

// fixtures are the targets of the state-changing forms: an active
// enrollment code, an enrolled device, an open conflict and a disabled
// account, all in the supervisor's township.
type fixtures struct {
	code     string // id of an active station code
	device   string // an active station device
	conflict string // id of an open conflict
	keep     string // the ref of one of its versions
	disabled string // a disabled observer account
	village  string // a village of the supervisor's township
}

func (e *env) fixtures(t *testing.T) fixtures {
	t.Helper()
	ctx := t.Context()
	f := fixtures{village: e.Village(0, 1), disabled: "retired"}
	ic, err := e.svc.IssueEnrollCode(ctx, nil, election.RoleStation, e.Village(0, 1), 0)
	if err != nil {
		t.Fatalf("issue enrollment code: %v", err)
	}
	f.code = ic.ID
	f.device = e.enrollDevice(t, election.RoleStation, e.Village(0, 2), "村站笔记本")
	f.conflict, f.keep = e.conflict(t, e.Village(0, 0))
	e.createAccount(t, server.NewAccount{Username: f.disabled, Password: testPassword, Role: election.RoleObserver})
	if err := e.svc.SetAccountDisabled(ctx, nil, f.disabled, true); err != nil {
		t.Fatalf("disable account: %v", err)
	}
	return f
}

// countyPrincipal is the county, for reading through the service.
var countyPrincipal = &server.Principal{Subject: "test", Scope: election.Scope{Role: election.RoleCounty, Code: election.DongliaoCode}}

// conflict makes two laptops of village record different tally sheets
// for round 1, and returns the open conflict's id and one version's ref.
func (e *env) conflict(t *testing.T, village string) (id, keep string) {
	t.Helper()
	el, _ := e.ElectionOf(t, village)
	a := e.Enroll(t, election.RoleStation, village)
	b := e.Enroll(t, election.RoleStation, village)
	for _, d := range []*httptestutil.Device{a, b} {
		e.SyncAll(t, d)
	}
	sheetA := e.CleanSheet(t, village)
	sheetB := e.CleanSheet(t, village)
	sheetB["invalid"], sheetB["valid"] = 1, sheetB["valid"].(int)-1
	a.Author(t, "attendance", el.ID+"-att", e.CleanAttendance(t, village))
	a.Author(t, "tally_sheet", el.ID+"-R1-a", sheetA)
	b.Author(t, "tally_sheet", el.ID+"-R1-b", sheetB)
	e.SyncAll(t, a)
	e.SyncAll(t, b)
	q, err := e.svc.Review(t.Context(), countyPrincipal, "open")
	if err != nil {
		t.Fatalf("review: %v", err)
	}
	for _, it := range q.Items {
		if it.Kind == server.ItemConflict && it.Village == village {
			return it.ID, it.Versions[0].Ref
		}
	}
	t.Fatalf("no open conflict for village %s in %+v", village, q.Items)
	return "", ""
}

// action is one state-changing form, filled as its page would.
type action struct {
	name string
	path string
	form url.Values
}

// actions are every state-changing form of the pages, aimed at f.
func actions(f fixtures) []action {
	return []action{
		{"Logout", "/logout", nil},
		{"Resolve", "/review/" + f.conflict + "/resolve", url.Values{"keep": {f.keep}, "reason": {"核对原始计票单"}}},
		{"IssueEnrollCode", "/enroll-codes", url.Values{"role": {"station"}, "scope": {f.village}, "ttl_hours": {"24"}}},
		{"ExpireEnrollCode", "/enroll-codes/" + f.code + "/expire", nil},
		{"RevokeDevice", "/devices/" + f.device + "/revoke", nil},
		{"CreateAccount", "/accounts", url.Values{"username": {"newcomer"}, "password": {testPassword}, "role": {"observer"}}},
		{"ResetPassword", "/accounts/" + observerUser + "/password", url.Values{"password": {"another long password"}}},
		{"DisableAccount", "/accounts/" + observerUser + "/disable", nil},
		{"EnableAccount", "/accounts/" + f.disabled + "/enable", nil},
	}
}

// countyActions are the forms only the county may use.
func countyActions(f fixtures) []action {
	var out []action
	for _, a := range actions(f) {
		switch a.name {
		case "Logout", "IssueEnrollCode", "ExpireEnrollCode":
		default:
			out = append(out, a)
		}
	}
	return out
}

// pagePaths are the GET pages behind a session.
var pagePaths = []string{"/", "/review", "/review?status=all", "/enroll-codes", "/devices", "/accounts"}

// loginWorks reports whether username can log in with password.
func (e *env) loginWorks(t *testing.T, username, password string) bool {
	t.Helper()
	b := e.browser()
	b.get(t, "/login")
	rec := b.do(t, request{method: http.MethodPost, path: "/login", form: url.Values{
		"csrf": {b.csrf}, "username": {username}, "password": {password},
	}})
	return rec.Code == http.StatusSeeOther
}
