package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/httpapi/httptestutil"
	"villagesync/syncproto"
)

// enrollRequest is a POST /v1/enroll of d with code.
func enrollRequest(tb testing.TB, d *httptestutil.Device, code string) httptestutil.Request {
	tb.Helper()
	return httptestutil.Request{Method: http.MethodPost, Path: "/v1/enroll", Body: httptestutil.JSON(tb, syncproto.EnrollRequest{
		Code: code, PublicKey: syncproto.Bytes(d.Pub), Label: "village hall laptop",
	})}
}

// alertsOf returns the kinds of the store's alerts about device.
func alertsOf(tb testing.TB, e *httptestutil.Env, device string) []string {
	tb.Helper()
	alerts, err := e.Store.Alerts(tb.Context())
	if err != nil {
		tb.Fatalf("alerts: %v", err)
	}
	var kinds []string
	for _, a := range alerts {
		if a.Device == device {
			kinds = append(kinds, a.Kind)
		}
	}
	return kinds
}

func TestEnroll(t *testing.T) {
	e := httptestutil.NewEnv(t)
	village := e.Village(2, 3)

	wantAlert := func(d *httptestutil.Device, kinds ...string) func(testing.TB, *httptest.ResponseRecorder) {
		return func(tb testing.TB, _ *httptest.ResponseRecorder) {
			got := alertsOf(tb, e, d.ID)
			if len(got) != 1 || !slices.Contains(kinds, got[0]) {
				tb.Errorf("got alerts %v for %s, want one of %v", got, d.ID, kinds)
			}
		}
	}

	ok := httptestutil.NewDevice(t)
	reuser := httptestutil.NewDevice(t)
	reused := e.EnrollCode(t, election.RoleStation, village)
	late := httptestutil.NewDevice(t)
	garbled := httptestutil.NewDevice(t)

	scenarios := []httptestutil.Scenario{
		{
			Name: "OK",
			Request: func(tb testing.TB) httptestutil.Request {
				// Lowercase without dashes is the same code.
				code := strings.ToLower(strings.ReplaceAll(e.EnrollCode(tb, election.RoleStation, village), "-", ""))
				return enrollRequest(tb, ok, code)
			},
			WantStatus: http.StatusOK,
			WantBody:   []string{`"device":"` + ok.ID + `"`, `"role":"station"`, `"scope":"` + village + `"`, `"server_keys":[{"kid":"srv-`},
		},
		{
			Name: "ReusedCode",
			Request: func(tb testing.TB) httptestutil.Request {
				first := httptestutil.NewDevice(tb)
				if rec := e.Do(tb, enrollRequest(tb, first, reused)); rec.Code != http.StatusOK {
					tb.Fatalf("first use: got status %d, want 200: %s", rec.Code, httptestutil.Body(tb, rec))
				}
				return enrollRequest(tb, reuser, reused)
			},
			WantStatus: http.StatusBadRequest,
			WantCode:   syncproto.CodeEnrollCodeInvalid,
			// The store looks the code up by hash: a reuse is told apart
			// from an unknown or expired code.
			Check: wantAlert(reuser, server.AlertEnrollCodeReuse),
		},
		{
			Name: "ExpiredCode",
			Request: func(tb testing.TB) httptestutil.Request {
				code, _, err := e.Service.CreateEnrollCode(tb.Context(), election.RoleStation, village, time.Hour)
				if err != nil {
					tb.Fatal(err)
				}
				e.Clock.Advance(time.Hour)
				return enrollRequest(tb, late, code)
			},
			WantStatus: http.StatusBadRequest,
			WantCode:   syncproto.CodeEnrollCodeInvalid,
			Check:      wantAlert(late, server.AlertEnrollCodeInvalid),
		},
		{
			Name: "MalformedCode",
			Request: func(tb testing.TB) httptestutil.Request {
				return enrollRequest(tb, garbled, "not-a-code!")
			},
			WantStatus: http.StatusBadRequest,
			WantCode:   syncproto.CodeEnrollCodeInvalid,
			Check:      wantAlert(garbled, server.AlertEnrollCodeInvalid),
		},
		{
			Name: "BadPublicKey",
			Request: func(tb testing.TB) httptestutil.Request {
				code := e.EnrollCode(tb, election.RoleStation, village)
				return httptestutil.Request{Method: http.MethodPost, Path: "/v1/enroll", Body: httptestutil.JSON(tb, syncproto.EnrollRequest{
					Code: code, PublicKey: syncproto.Bytes(make([]byte, 31)),
				})}
			},
			WantStatus: http.StatusBadRequest,
			WantCode:   syncproto.CodeBadRequest,
			NoWrites:   true,
		},
		{
			Name: "PublicKeyNotBase64",
			Request: func(tb testing.TB) httptestutil.Request {
				return httptestutil.Request{Method: http.MethodPost, Path: "/v1/enroll", Body: []byte(`{"code":"0000-0000-0000-0000","public_key":"!!!"}`)}
			},
			WantStatus: http.StatusBadRequest,
			WantCode:   syncproto.CodeBadRequest,
			NoWrites:   true,
		},
		{
			Name: "SameKeyTwice",
			Request: func(tb testing.TB) httptestutil.Request {
				return enrollRequest(tb, ok, e.EnrollCode(tb, election.RoleStation, village))
			},
			WantStatus: http.StatusConflict,
			WantCode:   syncproto.CodeConflict,
		},
	}
	for _, s := range scenarios {
		s.Run(t, e)
	}
	if logs := e.Logs.String(); strings.Contains(logs, reused) || strings.Contains(logs, strings.ReplaceAll(reused, "-", "")) {
		t.Error("the logs contain an enrollment code")
	}
}
