package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/httpapi/httptestutil"
	"villagesync/syncproto"
)

// reviewOf fetches the review queue with token.
func reviewOf(tb testing.TB, e *httptestutil.Env, token, status string) server.ReviewQueue {
	tb.Helper()
	path := "/v1/review"
	if status != "" {
		path += "?status=" + status
	}
	rec := e.Do(tb, httptestutil.Request{Method: http.MethodGet, Path: path, Token: token})
	if rec.Code != http.StatusOK {
		tb.Fatalf("GET %s: got status %d, want 200: %s", path, rec.Code, httptestutil.Body(tb, rec))
	}
	var q server.ReviewQueue
	httptestutil.Decode(tb, rec, &q)
	return q
}

// items returns the items of q of kind.
func items(q server.ReviewQueue, kind string) []server.ReviewItem {
	var out []server.ReviewItem
	for _, it := range q.Items {
		if it.Kind == kind {
			out = append(out, it)
		}
	}
	return out
}

// resolveRequest is POST /v1/review/{id}/resolve.
func resolveRequest(tb testing.TB, token, id, keep, reason string) httptestutil.Request {
	tb.Helper()
	return httptestutil.Request{Method: http.MethodPost, Path: "/v1/review/" + url.PathEscape(id) + "/resolve", Token: token,
		Body: httptestutil.JSON(tb, server.ResolveRequest{Keep: keep, Reason: reason})}
}

// reportOf fetches the JSON report with token.
func reportOf(tb testing.TB, e *httptestutil.Env, token string) election.CountyReport {
	tb.Helper()
	rec := e.Do(tb, httptestutil.Request{Method: http.MethodGet, Path: "/v1/report", Token: token})
	if rec.Code != http.StatusOK {
		tb.Fatalf("GET /v1/report: got status %d, want 200: %s", rec.Code, httptestutil.Body(tb, rec))
	}
	var r election.CountyReport
	httptestutil.Decode(tb, rec, &r)
	return r
}

func villageOf(tb testing.TB, r election.CountyReport, code string) election.VillageSummary {
	tb.Helper()
	for _, v := range r.Villages {
		if v.Code == code {
			return v
		}
	}
	tb.Fatalf("village %s is not in the report", code)
	return election.VillageSummary{}
}

// recordOf reads a record through the API with token.
func recordOf(tb testing.TB, e *httptestutil.Env, token, collection, id string) map[string]json.RawMessage {
	tb.Helper()
	rec := e.Do(tb, httptestutil.Request{Method: http.MethodGet, Path: "/v1/records/" + collection + "/" + url.PathEscape(id), Token: token})
	if rec.Code != http.StatusOK {
		tb.Fatalf("GET record %s %s: got status %d: %s", collection, id, rec.Code, httptestutil.Body(tb, rec))
	}
	var m map[string]json.RawMessage
	httptestutil.Decode(tb, rec, &m)
	return m
}

// TestReview_SlotConflict is issue 3's walk-through: two laptops of one
// village record different tally sheets for round 1; the conflict reaches
// the review queue of everyone whose scope holds the village; the county
// resolves it with a reason; both laptops pull the resolution.
func TestReview_SlotConflict(t *testing.T) {
	e := httptestutil.NewEnv(t)
	village, other := e.Village(3, 0), e.Village(3, 1)
	township := e.Township(3)
	el, _ := e.ElectionOf(t, village)
	a := e.Enroll(t, election.RoleStation, village)
	b := e.Enroll(t, election.RoleStation, village)
	stranger := e.Enroll(t, election.RoleStation, other)
	supervisor := e.Enroll(t, election.RoleSupervisor, township)
	otherSupervisor := e.Enroll(t, election.RoleSupervisor, e.Township(4))
	county := e.Token(t, "county-admin", election.RoleCounty, election.DongliaoCode)
	observer := e.Token(t, "observer", election.RoleObserver, election.DongliaoCode)
	for _, d := range []*httptestutil.Device{a, b, stranger} {
		e.SyncAll(t, d) // the reference data first
	}

	sheetA := e.CleanSheet(t, village)
	sheetB := e.CleanSheet(t, village)
	sheetB["invalid"], sheetB["valid"] = 1, sheetB["valid"].(int)-1
	a.Author(t, "attendance", el.ID+"-att", e.CleanAttendance(t, village))
	a.Author(t, "tally_sheet", el.ID+"-R1-a", sheetA)
	b.Author(t, "tally_sheet", el.ID+"-R1-b", sheetB)
	e.SyncAll(t, a)
	e.SyncAll(t, b)

	q := reviewOf(t, e, county, "")
	conflicts := items(q, server.ItemConflict)
	if len(conflicts) != 1 {
		t.Fatalf("got %d conflicts in the county's queue, want 1: %+v", len(conflicts), q)
	}
	c := conflicts[0]
	refA, refB := server.VersionRef(a.ID, 2), server.VersionRef(b.ID, 1)
	if c.ConflictKind != election.ConflictSlot || c.Collection != "tally_sheet" || c.Slot != el.ID+"/round/1" ||
		c.Status != server.StatusOpen || c.Village != village || c.Place.Township != township || len(c.Versions) != 2 {
		t.Fatalf("got %+v, want an open slot conflict on %s/round/1 with 2 versions", c, el.ID)
	}
	if want := server.ConflictID("slot", "tally_sheet", el.ID+"/round/1", []string{refA, refB}); c.ID != want {
		t.Errorf("got conflict id %s, want %s (the id every replica computes)", c.ID, want)
	}
	for _, v := range c.Versions {
		if (v.Ref != refA || v.ID != el.ID+"-R1-a") && (v.Ref != refB || v.ID != el.ID+"-R1-b") || len(v.Body) == 0 || v.Received == "" {
			t.Errorf("got version %+v, want one of the two sheets with its body", v)
		}
	}
	if !slices.Equal(c.Records, []string{el.ID + "-R1-a", el.ID + "-R1-b"}) && !slices.Equal(c.Records, []string{el.ID + "-R1-b", el.ID + "-R1-a"}) {
		t.Errorf("got records %v, want both sheets", c.Records)
	}
	// The round is unresolved: nothing is derived from it.
	if v := villageOf(t, reportOf(t, e, county), village); v.Status != election.VillageConflict || v.OneTimeSuccess || v.OpenConflicts != 1 {
		t.Errorf("got village %+v in the report, want CONFLICT with 1 open conflict", v)
	}
	if rep := reportOf(t, e, county); rep.County.OpenConflicts != 1 {
		t.Errorf("got %d open conflicts in the county report, want 1", rep.County.OpenConflicts)
	}

	t.Run("Scope", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			token string
			want  int
		}{
			{"StationA", a.Token, 1},
			{"StationB", b.Token, 1},
			{"Supervisor", supervisor.Token, 1},
			{"OtherVillage", stranger.Token, 0},
			{"OtherTownship", otherSupervisor.Token, 0},
		} {
			if got := items(reviewOf(t, e, tc.token, ""), server.ItemConflict); len(got) != tc.want {
				t.Errorf("%s: got %d conflicts, want %d", tc.name, len(got), tc.want)
			}
		}
		rec := e.Do(t, httptestutil.Request{Method: http.MethodGet, Path: "/v1/review?scope=" + village, Token: observer})
		if rec.Code != http.StatusForbidden {
			t.Errorf("observer: got status %d, want 403", rec.Code)
		}
		// Scope smuggled in the query, a header and the path changes nothing.
		rec = e.Do(t, httptestutil.Request{Method: http.MethodGet, Path: "/v1/review?status=open&scope=" + village + "&role=county&village=" + village,
			Token: stranger.Token, Header: http.Header{"X-Scope": {village}}})
		var q server.ReviewQueue
		httptestutil.Decode(t, rec, &q)
		if rec.Code != http.StatusOK || len(q.Items) != 0 {
			t.Errorf("station of another village with a smuggled scope: got status %d and %d items, want 200 and none", rec.Code, len(q.Items))
		}
		rec = e.Do(t, httptestutil.Request{Method: http.MethodGet, Path: "/v1/review?status=maybe", Token: county})
		if rec.Code != http.StatusBadRequest {
			t.Errorf("status=maybe: got %d, want 400", rec.Code)
		}
		rec = e.Do(t, httptestutil.Request{Method: http.MethodGet, Path: "/v1/review"})
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("no token: got %d, want 401", rec.Code)
		}
	})

	scenarios := []httptestutil.Scenario{
		{
			Name: "StationResolves",
			Request: func(tb testing.TB) httptestutil.Request {
				return resolveRequest(tb, a.Token, c.ID, refA, "我们的是对的")
			},
			WantStatus: http.StatusForbidden, WantCode: syncproto.CodeForbidden, NoWrites: true,
		},
		{
			Name: "SupervisorResolves",
			Request: func(tb testing.TB) httptestutil.Request {
				return resolveRequest(tb, supervisor.Token, c.ID, refA, "核对")
			},
			WantStatus: http.StatusForbidden, WantCode: syncproto.CodeForbidden, NoWrites: true,
		},
		{
			Name:       "ObserverResolves",
			Request:    func(tb testing.TB) httptestutil.Request { return resolveRequest(tb, observer, c.ID, refA, "核对") },
			WantStatus: http.StatusForbidden, WantCode: syncproto.CodeForbidden, NoWrites: true,
		},
		{
			Name:       "BlankReason",
			Request:    func(tb testing.TB) httptestutil.Request { return resolveRequest(tb, county, c.ID, refA, " \n\t ") },
			WantStatus: http.StatusBadRequest, WantCode: syncproto.CodeBadRequest, NoWrites: true,
			WantBody: []string{"reason is required"},
		},
		{
			Name:       "KeepNotAVersion",
			Request:    func(tb testing.TB) httptestutil.Request { return resolveRequest(tb, county, c.ID, a.ID+"/1", "核对") },
			WantStatus: http.StatusBadRequest, WantCode: syncproto.CodeBadRequest, NoWrites: true,
			WantBody: []string{refA, refB},
		},
		{
			Name: "UnknownConflict",
			Request: func(tb testing.TB) httptestutil.Request {
				return resolveRequest(tb, county, "CF-0000000000000000", refA, "核对")
			},
			WantStatus: http.StatusNotFound, WantCode: syncproto.CodeNotFound, NoWrites: true,
		},
		{
			Name:       "UnknownItem",
			Request:    func(tb testing.TB) httptestutil.Request { return resolveRequest(tb, county, "XX-1", refA, "核对") },
			WantStatus: http.StatusNotFound, WantCode: syncproto.CodeNotFound, NoWrites: true,
		},
		{
			Name: "OK",
			Request: func(tb testing.TB) httptestutil.Request {
				return resolveRequest(tb, county, c.ID, refB, "与纸质计票单核对：B 的无效票记录正确")
			},
			WantStatus: http.StatusOK,
			Check: func(tb testing.TB, rec *httptest.ResponseRecorder) {
				var res server.ResolveResult
				httptestutil.Decode(tb, rec, &res)
				if res.ID != c.ID || res.Status != server.StatusResolved || res.Keep != refB || res.Resolution != "RES-"+c.ID || res.Change == "" {
					tb.Errorf("got %+v, want %s resolved by RES-%s keeping %s", res, c.ID, c.ID, refB)
				}
			},
		},
		{
			Name:       "AlreadyResolved",
			Request:    func(tb testing.TB) httptestutil.Request { return resolveRequest(tb, county, c.ID, refA, "改主意") },
			WantStatus: http.StatusConflict, WantCode: syncproto.CodeConflict, NoWrites: true,
		},
	}
	for _, s := range scenarios {
		s.Run(t, e)
	}

	t.Run("Audited", func(t *testing.T) {
		trail, err := e.Store.AuditTrail(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(trail) != 1 || trail[0].Action != server.AuditResolve || trail[0].Subject != "county-admin" || trail[0].Target != c.ID ||
			trail[0].Keep != refB || !strings.HasPrefix(trail[0].Reason, "与纸质计票单核对") || !trail[0].Created.Equal(e.Clock.Now()) || trail[0].Change == "" {
			t.Fatalf("got audit trail %+v, want the one resolution by county-admin", trail)
		}
	})

	t.Run("SyncedBack", func(t *testing.T) {
		for _, d := range []*httptestutil.Device{a, b} {
			pulled := e.SyncAll(t, d)
			i := slices.IndexFunc(pulled, func(ch syncproto.Change) bool { return ch.Collection == "resolution" })
			if i < 0 {
				t.Fatalf("station %s pulled %d changes, none a resolution", d.ID, len(pulled))
			}
			res, err := election.DecodeResolution(pulled[i].Body)
			if err != nil || pulled[i].ID != "RES-"+c.ID || res.Conflict != c.ID || res.Keep != refB || res.Kind != election.ConflictSlot ||
				res.Slot != el.ID+"/round/1" || res.ResolvedBy != "county-admin" || res.Village != village || len(res.Versions) != 2 || len(pulled[i].Sig) == 0 {
				t.Errorf("got resolution %s %s (%v), want RES-%s keeping %s", pulled[i].ID, pulled[i].Body, err, c.ID, refB)
			}
		}
		for _, ch := range e.SyncAll(t, stranger) {
			if ch.Collection == "resolution" {
				t.Errorf("a station of another village pulled resolution %s", ch.ID)
			}
		}
	})

	t.Run("Provisional", func(t *testing.T) {
		if open := items(reviewOf(t, e, county, ""), server.ItemConflict); len(open) != 0 {
			t.Errorf("got %d open conflicts after the resolution, want 0", len(open))
		}
		all := items(reviewOf(t, e, county, "all"), server.ItemConflict)
		if len(all) != 1 || all[0].Status != server.StatusResolved || all[0].Resolution != "RES-"+c.ID || all[0].ResolvedAt == "" {
			t.Errorf("got %+v, want the conflict resolved", all)
		}
		if sup := recordOf(t, e, county, "tally_sheet", el.ID+"-R1-a"); string(sup["superseded"]) != `"RES-`+c.ID+`"` {
			t.Errorf("got sheet a %s, want it superseded by RES-%s", sup["superseded"], c.ID)
		}
		if kept := recordOf(t, e, county, "tally_sheet", el.ID+"-R1-b"); kept["superseded"] != nil || kept["conflict"] != nil {
			t.Errorf("got sheet b %v, want it standing and out of conflict", kept)
		}
		v := villageOf(t, reportOf(t, e, county), village)
		if v.Status != election.VillageHeld || v.OpenConflicts != 0 || !v.OneTimeSuccess || v.MembersElected != el.Seats {
			t.Errorf("got village %+v after the resolution, want held, a one-time success electing %d", v, el.Seats)
		}
	})

	t.Run("DevicesMayNotResolve", func(t *testing.T) {
		cd := e.Enroll(t, election.RoleCounty, election.DongliaoCode)
		cd.Author(t, "resolution", "RES-"+c.ID, map[string]any{"conflict": c.ID})
		rec := e.Sync(t, cd, syncproto.SyncRequest{Changes: cd.Run(1, 1), PullMax: -1})
		if rec.Code != http.StatusForbidden || httptestutil.ErrorOf(t, rec).Code != syncproto.CodeForbidden {
			t.Fatalf("got status %d, want 403 forbidden: %s", rec.Code, httptestutil.Body(t, rec))
		}
	})
}

// TestReview_Violation: a tally sheet with more ballots returned than
// issued is stored, flagged P3 in the village's rules and in the review
// queue, and the village is no one-time success; the county acknowledges
// it, and the finding stays in the rule matrix.
func TestReview_Violation(t *testing.T) {
	e := httptestutil.NewEnv(t)
	village := e.Village(5, 2)
	el, roll := e.ElectionOf(t, village)
	s := e.Enroll(t, election.RoleStation, village)
	county := e.Token(t, "county-admin", election.RoleCounty, election.DongliaoCode)
	s.Author(t, "attendance", el.ID+"-att", e.CleanAttendance(t, village))
	s.Author(t, "tally_sheet", el.ID+"-R1", e.TallySheet(t, village, roll.Eligible-2, roll.Eligible))
	e.SyncAll(t, s)
	if rec := recordOf(t, e, county, "tally_sheet", el.ID+"-R1"); rec["body"] == nil {
		t.Fatal("the sheet was not stored")
	}

	id := "RV-" + el.ID + "-P3"
	vs := items(reviewOf(t, e, s.Token, ""), server.ItemViolation)
	if len(vs) != 1 {
		t.Fatalf("got violations %+v, want one", vs)
	}
	v := vs[0]
	if v.ID != id || v.Rule != election.P3 || v.Outcome != election.Fail || v.Election != el.ID || v.Village != village ||
		v.Acknowledged == nil || *v.Acknowledged || !strings.Contains(v.MessageEN, "void") ||
		!slices.Contains(v.Evidence, election.Ref{Collection: "tally_sheet", ID: el.ID + "-R1"}) {
		t.Fatalf("got %+v, want %s: P3 FAIL on the sheet, not acknowledged", v, id)
	}
	rv := villageOf(t, reportOf(t, e, county), village)
	if rv.Rules[election.P3] != election.Fail || rv.OneTimeSuccess || rv.Status != election.VillageVoid || rv.RuleViolations != 1 {
		t.Fatalf("got village %+v, want P3 FAIL, void, not a one-time success", rv)
	}

	scenarios := []httptestutil.Scenario{
		{
			Name:       "KeepAVersion",
			Request:    func(tb testing.TB) httptestutil.Request { return resolveRequest(tb, county, id, s.ID+"/2", "核对") },
			WantStatus: http.StatusBadRequest, WantCode: syncproto.CodeBadRequest, NoWrites: true,
		},
		{
			Name:       "StationAcknowledges",
			Request:    func(tb testing.TB) httptestutil.Request { return resolveRequest(tb, s.Token, id, "accept", "核对") },
			WantStatus: http.StatusForbidden, WantCode: syncproto.CodeForbidden, NoWrites: true,
		},
		{
			Name: "UnknownViolation",
			Request: func(tb testing.TB) httptestutil.Request {
				return resolveRequest(tb, county, "RV-"+el.ID+"-P9", "accept", "核对")
			},
			WantStatus: http.StatusNotFound, WantCode: syncproto.CodeNotFound, NoWrites: true,
		},
		{
			Name: "OK",
			Request: func(tb testing.TB) httptestutil.Request {
				return resolveRequest(tb, county, id, "accept", "已于3月9日重新选举")
			},
			WantStatus: http.StatusOK, WantBody: []string{`"status":"acknowledged"`},
		},
		{
			Name:       "Again",
			Request:    func(tb testing.TB) httptestutil.Request { return resolveRequest(tb, county, id, "accept", "再次") },
			WantStatus: http.StatusConflict, WantCode: syncproto.CodeConflict, NoWrites: true,
		},
	}
	for _, sc := range scenarios {
		sc.Run(t, e)
	}
	if open := items(reviewOf(t, e, county, ""), server.ItemViolation); len(open) != 0 {
		t.Errorf("got %+v open, want the acknowledged violation gone from the open queue", open)
	}
	all := items(reviewOf(t, e, county, "all"), server.ItemViolation)
	if len(all) != 1 || all[0].Acknowledged == nil || !*all[0].Acknowledged || all[0].Status != server.StatusAcknowledged || all[0].Reason != "已于3月9日重新选举" {
		t.Errorf("got %+v, want it acknowledged with its reason", all)
	}
	rv = villageOf(t, reportOf(t, e, county), village)
	if rv.Rules[election.P3] != election.Fail || !slices.Equal(rv.Acknowledged, []election.RuleID{election.P3}) {
		t.Errorf("got village %+v, want P3 still FAIL, acknowledged", rv)
	}
	trail, err := e.Store.AuditTrail(t.Context())
	if err != nil || len(trail) != 1 || trail[0].Action != server.AuditAcknowledge || trail[0].Target != id || trail[0].Keep != "accept" {
		t.Errorf("got audit trail %+v (%v), want the acknowledgement", trail, err)
	}
}

// TestReview_StaleSeats: two county laptops edit an election's seats on
// the same version; the second is a conflict, not an overwrite.
func TestReview_StaleSeats(t *testing.T) {
	e := httptestutil.NewEnv(t)
	village := e.Village(7, 4)
	el, _ := e.ElectionOf(t, village)
	county := e.Token(t, "county-admin", election.RoleCounty, election.DongliaoCode)
	x := e.Enroll(t, election.RoleCounty, election.DongliaoCode)
	y := e.Enroll(t, election.RoleCounty, election.DongliaoCode)
	stored := recordOf(t, e, county, "election", el.ID)
	var body map[string]any
	if err := json.Unmarshal(stored["body"], &body); err != nil {
		t.Fatal(err)
	}
	edit := func(d *httptestutil.Device, seats int, later int64) {
		body["seats"] = seats
		d.AuthorEdit(t, "election", el.ID, body, func(c *syncproto.Change) {
			c.Base = 1
			c.Wall += later // the stale edit is made later, by a laptop that had not seen the first
		})
		e.SyncAll(t, d)
	}
	edit(x, el.Seats+2, 0)
	edit(y, el.Seats-1, 60_000)

	got := recordOf(t, e, county, "election", el.ID)
	var now struct{ Seats int }
	if err := json.Unmarshal(got["body"], &now); err != nil {
		t.Fatal(err)
	}
	if now.Seats != el.Seats+2 || string(got["version"]) != "2" {
		t.Fatalf("got %d seats at version %s, want the first edit's %d at version 2", now.Seats, got["version"], el.Seats+2)
	}
	cs := items(reviewOf(t, e, county, ""), server.ItemConflict)
	if len(cs) != 1 || cs[0].ConflictKind != election.ConflictRecord || cs[0].Record != el.ID || cs[0].Collection != "election" || len(cs[0].Versions) != 2 {
		t.Fatalf("got %+v, want one record conflict on %s", cs, el.ID)
	}
	if string(got["conflict"]) != `"`+cs[0].ID+`"` {
		t.Errorf("got record conflict %s, want %s", got["conflict"], cs[0].ID)
	}

	rec := e.Do(t, resolveRequest(t, county, cs[0].ID, server.VersionRef(y.ID, 1), "县委组织部批准减少职数"))
	if rec.Code != http.StatusOK {
		t.Fatalf("resolve: got status %d: %s", rec.Code, httptestutil.Body(t, rec))
	}
	got = recordOf(t, e, county, "election", el.ID)
	if err := json.Unmarshal(got["body"], &now); err != nil {
		t.Fatal(err)
	}
	if now.Seats != el.Seats-1 || string(got["version"]) != "2" || got["conflict"] != nil {
		t.Fatalf("got %d seats at version %s (conflict %s), want the kept edit's %d at version 2", now.Seats, got["version"], got["conflict"], el.Seats-1)
	}
	// Both laptops pull the resolution.
	for _, d := range []*httptestutil.Device{x, y} {
		if !slices.ContainsFunc(e.SyncAll(t, d), func(c syncproto.Change) bool { return c.ID == "RES-"+cs[0].ID }) {
			t.Errorf("county laptop %s did not pull the resolution", d.ID)
		}
	}
}

// TestReview_FactRewritten: a station re-sending its tally sheet's id with
// base 1 and another body does not edit it: facts are append-only.
func TestReview_FactRewritten(t *testing.T) {
	e := httptestutil.NewEnv(t)
	village := e.Village(8, 0)
	el, roll := e.ElectionOf(t, village)
	s := e.Enroll(t, election.RoleStation, village)
	county := e.Token(t, "county-admin", election.RoleCounty, election.DongliaoCode)
	first := e.CleanSheet(t, village)
	s.Author(t, "tally_sheet", el.ID+"-R1", first)
	e.SyncAll(t, s)
	s.AuthorEdit(t, "tally_sheet", el.ID+"-R1", e.TallySheet(t, village, roll.Eligible, roll.Eligible-1), func(c *syncproto.Change) { c.Base = 1 })
	e.SyncAll(t, s)

	got := recordOf(t, e, county, "tally_sheet", el.ID+"-R1")
	if string(got["body"]) != string(httptestutil.JSON(t, first)) || string(got["version"]) != "1" || string(got["seq"]) != "1" {
		t.Fatalf("got %s version %s seq %s, want the first sheet unchanged", got["body"], got["version"], got["seq"])
	}
	cs := items(reviewOf(t, e, s.Token, ""), server.ItemConflict)
	if len(cs) != 1 || cs[0].ConflictKind != election.ConflictRecord || cs[0].Record != el.ID+"-R1" {
		t.Fatalf("got %+v, want a record conflict on the sheet", cs)
	}
	if st := e.Stats(t); st.Changes != int64(len(e.Dataset.Records()))+3 {
		t.Errorf("got %d changes in the log, want both versions kept", st.Changes)
	}
}

// TestReport checks the report of the seeded county with a few villages'
// elections run by the book against figures worked out from the seed.
func TestReport(t *testing.T) {
	e := httptestutil.NewEnv(t)
	county := e.Token(t, "county-admin", election.RoleCounty, election.DongliaoCode)
	clean := []string{e.Village(0, 0), e.Village(0, 1), e.Village(2, 0)}
	var members, ageSum, college int
	for _, v := range clean {
		s := e.Enroll(t, election.RoleStation, v)
		el, _ := e.ElectionOf(t, v)
		s.Author(t, "attendance", el.ID+"-att", e.CleanAttendance(t, v))
		s.Author(t, "tally_sheet", el.ID+"-R1", e.CleanSheet(t, v))
		e.SyncAll(t, s)
		for _, c := range e.Dataset.Candidates {
			if i := slices.Index(el.Candidates, c.ID); i >= 0 && i < el.Seats {
				members++
				ageSum += 2026 - c.BirthYear
				if election.CollegeOrAbove(c.Education) {
					college++
				}
			}
		}
	}
	sup := e.Enroll(t, election.RoleSupervisor, e.Township(0))
	sup.Author(t, "supervision_visit", "v1", map[string]any{"village": clean[0], "round": 1, "visited_at": "2026-03-07T09:00:00+08:00", "notes": ""})
	sup.Author(t, "problem", "p1", map[string]any{"village": clean[1], "source": "visit", "category": "程序", "description": "票箱未当众查验"})
	sup.Author(t, "rectification", "p1-r1", map[string]any{"problem": "p1", "status": "RECTIFIED", "notes": "已当众查验"})
	sup.Author(t, "training_session", "tr1", map[string]any{"township": e.Township(0), "held_on": "2026-02-20", "kind": "DRILL", "attendance": 38})
	e.SyncAll(t, sup)

	rep := reportOf(t, e, county)
	round := func(x float64, places float64) float64 {
		scaled := x * places
		return float64(int64(scaled+0.5)) / places
	}
	want := election.CountySummary{
		Code: election.DongliaoCode, Name: election.DongliaoName, Villages: 235,
		HeldOnTime: 0.013, OneTimeSuccess: 0.013, HeldOnTimeVillages: 3, OneTimeSuccessVillages: 3,
		MembersElected: members, AvgAge: round(float64(ageSum)/float64(members), 10),
		PrevMembers: 790, PrevAvgAge: 46.1, College: college, CollegeShare: round(float64(college)/float64(members), 1000),
		PrevCollegeShare: 0.149, SupervisionVisits: 1, SupervisionCoverage: 0.001,
		ProblemsFound: 1, ProblemsRectified: 1, KeyVillages: 8, TrainingSessions: 1, TrainingAttendance: 38,
	}
	if rep.County != want {
		t.Errorf("county:\n got %+v\nwant %+v", rep.County, want)
	}
	if tw := rep.Townships[0]; tw.Code != e.Township(0) || tw.Villages != 24 || tw.HeldOnTimeVillages != 2 || tw.HeldOnTime != 0.083 ||
		tw.OneTimeSuccess != 0.083 || tw.ProblemsFound != 1 || tw.ProblemsRectified != 1 || tw.SupervisionVisits != 1 {
		t.Errorf("got township %+v, want 白泉镇: 2 of 24 held (0.083), 1 problem rectified, 1 visit", tw)
	}
	for _, v := range clean {
		el, _ := e.ElectionOf(t, v)
		if got := villageOf(t, rep, v); got.Status != election.VillageHeld || !got.OneTimeSuccess || got.MembersElected != el.Seats ||
			got.Rules[election.P1] != election.Pass || got.Rules[election.P3] != election.Pass || got.RuleViolations != 0 {
			t.Errorf("village %s: got %+v, want held, a one-time success, P1 and P3 PASS", v, got)
		}
	}

	t.Run("Scope", func(t *testing.T) {
		sup := reportOf(t, e, sup.Token)
		if len(sup.Townships) != 1 || sup.County.Villages != 24 || len(sup.Villages) != 24 || sup.County.PrevMembers != 0 {
			t.Errorf("supervisor: got %d townships, %d villages, want its township alone", len(sup.Townships), sup.County.Villages)
		}
		obs := reportOf(t, e, e.Token(t, "observer", election.RoleObserver, election.DongliaoCode))
		if obs.County != rep.County {
			t.Errorf("observer: got %+v, want the county's report", obs.County)
		}
		station := e.Enroll(t, election.RoleStation, clean[0])
		rec := e.Do(t, httptestutil.Request{Method: http.MethodGet, Path: "/v1/report?role=county", Token: station.Token})
		if rec.Code != http.StatusForbidden {
			t.Errorf("station: got status %d, want 403", rec.Code)
		}
	})

	t.Run("CSV", func(t *testing.T) {
		rec := e.Do(t, httptestutil.Request{Method: http.MethodGet, Path: "/v1/report?format=csv", Token: county})
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/csv; charset=utf-8" {
			t.Fatalf("got status %d %q, want 200 text/csv", rec.Code, rec.Header().Get("Content-Type"))
		}
		body := string(httptestutil.Body(t, rec))
		if !strings.HasPrefix(body, "\uFEFF村代码,村名,乡镇代码,乡镇,") {
			t.Fatalf("got %q..., want a UTF-8 BOM and the Chinese header", body[:min(len(body), 60)])
		}
		lines := strings.Split(strings.TrimSpace(body), "\n")
		if len(lines) != 236 {
			t.Fatalf("got %d lines, want a header and 235 villages", len(lines))
		}
		el, _ := e.ElectionOf(t, clean[0])
		if want := clean[0] + "," + e.Dataset.Villages[0].Name + "," + e.Township(0) + ",白泉镇,否," + el.ID + ",已举行,是,是,"; !strings.HasPrefix(lines[1], want) {
			t.Errorf("got first village %q, want it to start %q", lines[1], want)
		}
		rec = e.Do(t, httptestutil.Request{Method: http.MethodGet, Path: "/v1/report?format=xml", Token: county})
		if rec.Code != http.StatusBadRequest {
			t.Errorf("format xml: got status %d, want 400", rec.Code)
		}
	})
}
