package httpapi_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"villagesync/election"
	"villagesync/server/httpapi/httptestutil"
	"villagesync/syncproto"
)

// supervisionVisit is a round-1 supervision visit to village.
func supervisionVisit(village string) map[string]any {
	return map[string]any{"village": village, "round": 1, "visited_at": "2026-03-07T09:30:00+08:00", "notes": "按程序唱票"}
}

// problem is a problem found on a visit to village.
func problem(village string) map[string]any {
	return map[string]any{"village": village, "source": "visit", "category": "程序", "description": "选票未当场清点"}
}

// syncRequest is a POST /v1/sync of d's changes.
func syncRequest(tb testing.TB, d *httptestutil.Device, changes []syncproto.Change) httptestutil.Request {
	tb.Helper()
	return httptestutil.Request{Method: http.MethodPost, Path: "/v1/sync", Token: d.Token,
		Body: httptestutil.JSON(tb, syncproto.SyncRequest{Changes: changes, PullMax: -1})}
}

// smuggle adds fields to the top-level object of a JSON body.
func smuggle(body []byte, fields string) []byte {
	return append([]byte("{"+fields+","), body[1:]...)
}

func TestScope(t *testing.T) {
	e := httptestutil.NewEnv(t)
	township, otherTownship := e.Township(5), e.Township(6)
	va, vb, vc := e.Village(5, 0), e.Village(5, 1), e.Village(6, 0)

	station := func(tb testing.TB, village string) *httptestutil.Device {
		tb.Helper()
		return e.Enroll(tb, election.RoleStation, village)
	}
	// b holds a record of village B that others must not read.
	b := station(t, vb)
	b.Author(t, "attendance", vb+"-att", attendance(vb, 50))
	e.MustSync(t, b, syncproto.SyncRequest{Changes: b.Run(1, 1), PullMax: -1})
	county, _, err := e.Service.MintToken(t.Context(), "county-admin", election.Scope{Role: election.RoleCounty, Code: election.DongliaoCode}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	wantMessage := func(parts ...string) func(testing.TB, *httptest.ResponseRecorder) {
		return func(tb testing.TB, rec *httptest.ResponseRecorder) {
			msg := httptestutil.ErrorOf(tb, rec).Message
			for _, p := range parts {
				if !strings.Contains(msg, p) {
					tb.Errorf("got message %q, want it to name %q", msg, p)
				}
			}
		}
	}

	scenarios := []httptestutil.Scenario{
		{
			Name: "StationOwnVillage",
			Request: func(tb testing.TB) httptestutil.Request {
				a := station(tb, va)
				a.Author(tb, "attendance", va+"-att", attendance(va, 50))
				return syncRequest(tb, a, a.Run(1, 1))
			},
			WantStatus: http.StatusOK,
		},
		{
			Name: "StationForeignVillage",
			Request: func(tb testing.TB) httptestutil.Request {
				a := station(tb, va)
				a.Author(tb, "attendance", vb+"-att-2", attendance(vb, 50))
				return syncRequest(tb, a, a.Run(1, 1))
			},
			WantStatus: http.StatusForbidden,
			WantCode:   syncproto.CodeOutOfScope,
			NoWrites:   true,
			Check:      wantMessage("village " + vb),
		},
		{
			Name: "StationMixedBatch",
			Request: func(tb testing.TB) httptestutil.Request {
				a := station(tb, va)
				a.Author(tb, "attendance", va+"-att-mixed", attendance(va, 50))
				a.Author(tb, "tally_sheet", vb+"-PC-R1", tallySheet(vb))
				return syncRequest(tb, a, a.Run(1, 2))
			},
			WantStatus: http.StatusForbidden,
			WantCode:   syncproto.CodeOutOfScope,
			NoWrites:   true,
		},
		{
			Name: "SupervisorOwnTownship",
			Request: func(tb testing.TB) httptestutil.Request {
				s := e.Enroll(tb, election.RoleSupervisor, township)
				s.Author(tb, "supervision_visit", va+"-v1", supervisionVisit(va))
				// A problem and its rectification in one batch: the
				// rectification resolves the problem from the batch.
				s.Author(tb, "problem", va+"-p1", problem(va))
				s.Author(tb, "rectification", va+"-p1-r1", map[string]any{"problem": va + "-p1", "status": "OPEN", "notes": ""})
				return syncRequest(tb, s, s.Run(1, 3))
			},
			WantStatus: http.StatusOK,
		},
		{
			Name: "SupervisorOtherTownship",
			Request: func(tb testing.TB) httptestutil.Request {
				s := e.Enroll(tb, election.RoleSupervisor, township)
				s.Author(tb, "supervision_visit", vc+"-v1", supervisionVisit(vc))
				return syncRequest(tb, s, s.Run(1, 1))
			},
			WantStatus: http.StatusForbidden,
			WantCode:   syncproto.CodeOutOfScope,
			NoWrites:   true,
			Check:      wantMessage("village "+vc, "township "+otherTownship),
		},
		{
			Name: "StationRectifiesProblemOfOtherVillage",
			Request: func(tb testing.TB) httptestutil.Request {
				s := e.Enroll(tb, election.RoleSupervisor, township)
				s.Author(tb, "problem", vb+"-p9", problem(vb))
				e.MustSync(tb, s, syncproto.SyncRequest{Changes: s.Run(1, 1), PullMax: -1})
				a := station(tb, va)
				a.Author(tb, "rectification", vb+"-p9-r1", map[string]any{"problem": vb + "-p9", "status": "RECTIFIED", "notes": "已整改"})
				return syncRequest(tb, a, a.Run(1, 1))
			},
			WantStatus: http.StatusForbidden,
			WantCode:   syncproto.CodeOutOfScope,
			NoWrites:   true,
		},
		{
			Name: "StationAuthorsReferenceData",
			Request: func(tb testing.TB) httptestutil.Request {
				a := station(tb, va)
				a.Author(tb, "village", va, map[string]any{"township": township, "name": "改名村", "key_village": true})
				return syncRequest(tb, a, a.Run(1, 1))
			},
			WantStatus: http.StatusForbidden,
			WantCode:   syncproto.CodeForbidden,
			NoWrites:   true,
		},
		{
			Name: "ObserverPushes",
			Request: func(tb testing.TB) httptestutil.Request {
				o := e.Enroll(tb, election.RoleObserver, election.DongliaoCode)
				o.Author(tb, "attendance", va+"-att-obs", attendance(va, 50))
				return syncRequest(tb, o, o.Run(1, 1))
			},
			WantStatus: http.StatusForbidden,
			WantCode:   syncproto.CodeForbidden,
			NoWrites:   true,
		},
		{
			Name: "NonDeviceTokenSyncs",
			Request: func(tb testing.TB) httptestutil.Request {
				return httptestutil.Request{Method: http.MethodPost, Path: "/v1/sync", Token: county, Body: []byte(`{"now":1}`)}
			},
			WantStatus: http.StatusForbidden,
			WantCode:   syncproto.CodeForbidden,
			NoWrites:   true,
		},
		{
			Name: "ChangesOfAnotherDevice",
			Request: func(tb testing.TB) httptestutil.Request {
				a := station(tb, va)
				other := station(tb, va)
				other.Author(tb, "attendance", va+"-att-other", attendance(va, 50))
				return syncRequest(tb, a, other.Run(1, 1))
			},
			WantStatus: http.StatusForbidden,
			WantCode:   syncproto.CodeForbidden,
			NoWrites:   true,
		},
		{
			Name: "ScopeSmuggledInBodyAndQuery",
			Request: func(tb testing.TB) httptestutil.Request {
				a := station(tb, va)
				a.Author(tb, "attendance", vb+"-att-3", attendance(vb, 50))
				run := httptestutil.JSON(tb, a.Run(1, 1)[0])
				change := smuggle(run, `"scope":"`+vb+`","village":"`+vb+`","role":"county"`)
				body := []byte(`{"scope":"` + election.DongliaoCode + `","role":"county","village":"` + vb +
					`","device":"` + b.ID + `","changes":[` + string(change) + `],"pull_max":-1,"now":1}`)
				return httptestutil.Request{
					Method: http.MethodPost, Path: "/v1/sync?scope=" + vb + "&role=county&village=" + vb,
					Token: a.Token, Body: body,
					Header: http.Header{"X-Scope": {vb}, "X-Role": {"county"}},
				}
			},
			WantStatus: http.StatusForbidden,
			WantCode:   syncproto.CodeOutOfScope,
			NoWrites:   true,
		},
		{
			Name: "ScopeSmuggledIntoPull",
			Request: func(tb testing.TB) httptestutil.Request {
				a := station(tb, va)
				return httptestutil.Request{
					Method: http.MethodPost, Path: "/v1/sync?scope=" + election.DongliaoCode + "&role=county",
					Token: a.Token, Body: []byte(`{"scope":"` + election.DongliaoCode + `","role":"county","village":"` + vb + `","pull_max":2097152,"now":1}`),
				}
			},
			WantStatus: http.StatusOK,
			Check: func(tb testing.TB, rec *httptest.ResponseRecorder) {
				var resp syncproto.SyncResponse
				httptestutil.Decode(tb, rec, &resp)
				if len(resp.Changes) == 0 {
					tb.Fatal("pulled nothing, want the village's data")
				}
				for _, c := range resp.Changes {
					if !inScope(c, township, va) {
						tb.Errorf("station of %s pulled %s %s", va, c.Collection, c.ID)
					}
				}
			},
		},
		{
			Name: "ReadOtherVillageRecord",
			Request: func(tb testing.TB) httptestutil.Request {
				a := station(tb, va)
				return httptestutil.Request{Method: http.MethodGet, Path: "/v1/records/attendance/" + vb + "-att?scope=" + vb, Token: a.Token}
			},
			WantStatus: http.StatusNotFound,
			WantCode:   syncproto.CodeNotFound,
			NoWrites:   true,
			Check: func(tb testing.TB, rec *httptest.ResponseRecorder) {
				// Exactly the answer for a record that does not exist.
				a := station(tb, va)
				missing := e.Do(tb, httptestutil.Request{Method: http.MethodGet, Path: "/v1/records/attendance/" + vb + "-nope", Token: a.Token})
				got, want := httptestutil.ErrorOf(tb, rec).Message, httptestutil.ErrorOf(tb, missing).Message
				if strings.ReplaceAll(want, "-nope", "-att") != got {
					tb.Errorf("hidden record: got message %q, want the missing record's %q", got, want)
				}
			},
		},
		{
			Name: "ReadOtherVillageReference",
			Request: func(tb testing.TB) httptestutil.Request {
				a := station(tb, va)
				return httptestutil.Request{Method: http.MethodGet, Path: "/v1/records/village/" + vb, Token: a.Token}
			},
			WantStatus: http.StatusNotFound,
			WantCode:   syncproto.CodeNotFound,
		},
		{
			Name: "ReadOwnVillage",
			Request: func(tb testing.TB) httptestutil.Request {
				a := station(tb, va)
				return httptestutil.Request{Method: http.MethodGet, Path: "/v1/records/village/" + va, Token: a.Token}
			},
			WantStatus: http.StatusOK,
			WantBody:   []string{`"collection":"village"`, `"id":"` + va + `"`, `"body":{`},
		},
		{
			Name: "SupervisorReadsOtherTownship",
			Request: func(tb testing.TB) httptestutil.Request {
				s := e.Enroll(tb, election.RoleSupervisor, township)
				return httptestutil.Request{Method: http.MethodGet, Path: "/v1/records/election/" + vc + "-PC", Token: s.Token}
			},
			WantStatus: http.StatusNotFound,
			WantCode:   syncproto.CodeNotFound,
		},
		{
			Name: "SupervisorReadsOwnTownship",
			Request: func(tb testing.TB) httptestutil.Request {
				s := e.Enroll(tb, election.RoleSupervisor, township)
				return httptestutil.Request{Method: http.MethodGet, Path: "/v1/records/attendance/" + vb + "-att", Token: s.Token}
			},
			WantStatus: http.StatusOK,
		},
		{
			Name: "CountyReadsAnything",
			Request: func(testing.TB) httptestutil.Request {
				return httptestutil.Request{Method: http.MethodGet, Path: "/v1/records/attendance/" + vb + "-att", Token: county}
			},
			WantStatus: http.StatusOK,
		},
		{
			Name: "MalformedRecord",
			Request: func(tb testing.TB) httptestutil.Request {
				a := station(tb, va)
				body := attendance(va, 50)
				delete(body, "present")
				a.Author(tb, "attendance", va+"-att-bad", body)
				return syncRequest(tb, a, a.Run(1, 1))
			},
			WantStatus: http.StatusUnprocessableEntity,
			WantCode:   syncproto.CodeMalformedRecord,
			NoWrites:   true,
			Check:      wantMessage("present"),
		},
		{
			Name: "WrongFieldType",
			Request: func(tb testing.TB) httptestutil.Request {
				a := station(tb, va)
				a.Author(tb, "attendance", va+"-att-ok", attendance(va, 50))
				body := attendance(va, 50)
				body["eligible"] = "sixty"
				a.Author(tb, "attendance", va+"-att-bad2", body)
				return syncRequest(tb, a, a.Run(1, 2))
			},
			WantStatus: http.StatusUnprocessableEntity,
			WantCode:   syncproto.CodeMalformedRecord,
			NoWrites:   true,
			Check: func(tb testing.TB, rec *httptest.ResponseRecorder) {
				if got := httptestutil.ErrorOf(tb, rec); got.Seq != 2 || !strings.Contains(got.Message, "eligible") {
					tb.Errorf("got seq %d %q, want seq 2 naming eligible", got.Seq, got.Message)
				}
			},
		},
		{
			Name: "UnknownElection",
			Request: func(tb testing.TB) httptestutil.Request {
				a := station(tb, va)
				body := attendance(va, 50)
				body["election"] = township + "299-PC"
				a.Author(tb, "attendance", va+"-att-x", body)
				return syncRequest(tb, a, a.Run(1, 1))
			},
			WantStatus: http.StatusUnprocessableEntity,
			WantCode:   syncproto.CodeMalformedRecord,
			NoWrites:   true,
			Check:      wantMessage("election"),
		},
		{
			Name: "UnknownCollection",
			Request: func(tb testing.TB) httptestutil.Request {
				a := station(tb, va)
				a.Author(tb, "ballot_box", va+"-box", map[string]any{"village": va})
				return syncRequest(tb, a, a.Run(1, 1))
			},
			WantStatus: http.StatusUnprocessableEntity,
			WantCode:   syncproto.CodeMalformedRecord,
			NoWrites:   true,
		},
		{
			Name: "UnsupportedSchema",
			Request: func(tb testing.TB) httptestutil.Request {
				a := station(tb, va)
				a.AuthorEdit(tb, "attendance", va+"-att-v3", attendance(va, 50), func(c *syncproto.Change) { c.Schema = 3 })
				return syncRequest(tb, a, a.Run(1, 1))
			},
			WantStatus: http.StatusBadRequest,
			WantCode:   syncproto.CodeUnsupported,
			NoWrites:   true,
		},
		{
			Name: "BadSignature",
			Request: func(tb testing.TB) httptestutil.Request {
				a := station(tb, va)
				a.Author(tb, "attendance", va+"-att-sig", attendance(va, 50))
				run := a.Run(1, 1)
				run[0].Sig[0] ^= 1
				return syncRequest(tb, a, run)
			},
			WantStatus: http.StatusBadRequest,
			WantCode:   syncproto.CodeBadSignature,
			NoWrites:   true,
		},
		{
			Name: "TamperedBody",
			Request: func(tb testing.TB) httptestutil.Request {
				a := station(tb, va)
				a.Author(tb, "attendance", va+"-att-t", attendance(va, 50))
				run := a.Run(1, 1)
				run[0].Body = bytes.Replace(run[0].Body, []byte(`"present":50`), []byte(`"present":59`), 1)
				return syncRequest(tb, a, run)
			},
			WantStatus: http.StatusBadRequest,
			WantCode:   syncproto.CodeBadSignature,
			NoWrites:   true,
		},
		{
			Name: "BrokenChain",
			Request: func(tb testing.TB) httptestutil.Request {
				a := station(tb, va)
				a.Author(tb, "attendance", va+"-att-c1", attendance(va, 50))
				a.Author(tb, "attendance", va+"-att-c2", attendance(va, 51))
				run := a.Run(1, 2)
				wrong := a.Hash(2)
				run[1].Prev = &wrong
				return syncRequest(tb, a, run)
			},
			WantStatus: http.StatusConflict,
			WantCode:   syncproto.CodeChainBroken,
			NoWrites:   true,
		},
		{
			Name: "UnsignedRun",
			Request: func(tb testing.TB) httptestutil.Request {
				a := station(tb, va)
				a.Author(tb, "attendance", va+"-att-u", attendance(va, 50))
				run := a.Run(1, 1)
				run[0].Sig = nil
				return syncRequest(tb, a, run)
			},
			WantStatus: http.StatusBadRequest,
			WantCode:   syncproto.CodeBadSignature,
			NoWrites:   true,
		},
	}
	for _, s := range scenarios {
		s.Run(t, e)
	}
}
