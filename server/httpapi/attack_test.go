package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/httpapi"
	"villagesync/server/httpapi/httptestutil"
	"villagesync/syncproto"
)

// publicRoutes answer without credentials, by design: each is listed with
// why. Every other route is attacked by TestEveryRoute.
var publicRoutes = map[string]string{
	"GET /healthz":               "liveness, no data",
	"GET /metrics":               "counters only, no records or names",
	"GET /.well-known/jwks.json": "public keys",
	"POST /v1/enroll":            "redeems a single-use code (enroll_test.go)",
	"GET /v1/nonce":              "stateless nonce",
	"POST /v1/token":             "proof of a device key (auth_test.go)",
	"GET /login":                 "the login form",
	"POST /login":                "password login (server/web tests)",
	"POST /logout":               "ends the caller's own session only (server/web tests)",
	"GET /static/*":              "embedded stylesheet",
}

// attacker is one principal: a device token, a minted token, or a
// person's web session.
type attacker struct {
	name    string
	token   string          // bearer token, or
	session *server.Session // a web session
	device  *httptestutil.Device
	foreign []foreignScope
}

// foreignScope is a scope the attacker does not hold, and what lives there.
type foreignScope struct {
	code                                      string // smuggled as scope, village, township
	village                                   string // a village of the foreign scope
	record, conflict, enrollCode, dev, person string // objects an attacker might name in a path
	marker                                    *regexp.Regexp
}

// TestEveryRoute crosses every route the router serves with every role,
// by token and by web session, and two foreign scopes each, the scope
// smuggled in the path, the body or the query: every request is refused,
// or — for a read — answered from the caller's own scope without a trace
// of the foreign one, and nothing at all is written. The routes come from
// the router, so a new endpoint is attacked the day it is added (or fails
// the test until it is taught how).
func TestEveryRoute(t *testing.T) {
	// No rate limits: every refusal below must be the authorization's.
	e := httptestutil.NewEnvOptions(t, httptestutil.Options{HTTP: httpapi.Config{Limits: httpapi.RateLimits{
		Enroll: httpapi.Off, Token: httpapi.Off, Login: httpapi.Off, Subject: httpapi.Off}}})
	ctx := t.Context()
	svc := e.Service
	router, ok := e.Handler.(*echo.Echo)
	if !ok {
		t.Fatalf("handler is %T, want *echo.Echo", e.Handler)
	}
	county := &server.Principal{Subject: "attack-test", Scope: election.Scope{Role: election.RoleCounty, Code: election.DongliaoCode}}

	va := e.Village(0, 0)
	t0, t1, t2 := e.Township(0), e.Township(1), e.Township(2)
	vb, vc, vd := e.Village(0, 1), e.Village(1, 0), e.Village(2, 0)

	// What lives in each foreign place: a record, a slot conflict, an
	// enrollment code, a device, and a supervisor's account.
	place := func(village, township, person string) foreignScope {
		s1 := e.Enroll(t, election.RoleStation, village)
		s2 := e.Enroll(t, election.RoleStation, village)
		s1.Author(t, "attendance", village+"-att", e.CleanAttendance(t, village))
		s1.Author(t, "tally_sheet", village+"-TS-1", e.CleanSheet(t, village))
		_, roll := e.ElectionOf(t, village)
		s2.Author(t, "tally_sheet", village+"-TS-2", e.TallySheet(t, village, roll.Eligible, roll.Eligible-1))
		e.MustSync(t, s1, syncproto.SyncRequest{Changes: s1.Run(1, 2), PullMax: -1})
		e.MustSync(t, s2, syncproto.SyncRequest{Changes: s2.Run(1, 1), PullMax: -1})
		code, err := svc.IssueEnrollCode(ctx, nil, election.RoleStation, village, 0)
		if err != nil {
			t.Fatal(err)
		}
		q, err := svc.Review(ctx, county, "open")
		if err != nil {
			t.Fatal(err)
		}
		conflict := ""
		for _, it := range q.Items {
			if it.Kind == server.ItemConflict && it.Village == village {
				conflict = it.ID
			}
		}
		if conflict == "" {
			t.Fatalf("no conflict in %s to attack", village)
		}
		if _, err := svc.CreateAccount(ctx, nil, server.NewAccount{Username: person, Password: "correct horse battery", Role: election.RoleSupervisor, Scope: township}); err != nil {
			t.Fatal(err)
		}
		return foreignScope{village: village, record: village + "-att", conflict: conflict, enrollCode: code.ID, dev: s1.ID, person: person}
	}
	inB, inC, inD := place(vb, t0, "sup-b"), place(vc, t1, "sup-c"), place(vd, t2, "sup-d")
	// Another county: nothing of it exists here.
	otherCounty := func(code string) foreignScope {
		return foreignScope{code: code, village: code + "100201", record: code + "100201-att", conflict: "CF-" + code + "deadbeef", enrollCode: "EC-000000" + code,
			dev: "dev-" + code + "00000000000000", person: "nobody" + code}
	}
	with := func(fs foreignScope, code string) foreignScope {
		fs.code = code
		fs.marker = regexp.MustCompile(`(^|[^0-9])` + code)
		return fs
	}
	stationForeign := []foreignScope{with(inB, vb), with(inC, vc)}
	supervisorForeign := []foreignScope{with(inC, t1), with(inD, t2)}
	countyForeign := []foreignScope{with(otherCounty("220421"), "220421"), with(otherCounty("220423"), "220423")}

	login := func(username string, role election.Role, scope string) *server.Session {
		const password = "attack-test-password"
		if _, err := svc.CreateAccount(ctx, nil, server.NewAccount{Username: username, Password: password, Role: role, Scope: scope}); err != nil {
			t.Fatal(err)
		}
		sess, err := svc.Login(ctx, username, password)
		if err != nil {
			t.Fatal(err)
		}
		return sess
	}
	station := e.Enroll(t, election.RoleStation, va)
	supervisor := e.Enroll(t, election.RoleSupervisor, t0)
	attackers := []attacker{
		{name: "StationToken", token: station.Token, device: station, foreign: stationForeign},
		{name: "SupervisorToken", token: supervisor.Token, device: supervisor, foreign: supervisorForeign},
		{name: "CountyToken", token: e.Token(t, "county-script", election.RoleCounty, election.DongliaoCode), foreign: countyForeign},
		{name: "ObserverToken", token: e.Token(t, "observer-script", election.RoleObserver, election.DongliaoCode), foreign: countyForeign},
		{name: "SupervisorSession", session: login("sup-a", election.RoleSupervisor, t0), foreign: supervisorForeign},
		{name: "CountySession", session: login("county-a", election.RoleCounty, ""), foreign: countyForeign},
		{name: "ObserverSession", session: login("observer-a", election.RoleObserver, ""), foreign: countyForeign},
	}
	// The attackers' own syncs and logins are done; from here on nothing
	// may change but alerts, session last-use times and used nonces.
	digest := func() string {
		d, err := e.Store.Digest(ctx, "alerts", "sessions", "used_nonces")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	routes := router.Routes()
	served := make(map[string]bool, len(routes))
	for _, r := range routes {
		served[r.Method+" "+r.Path] = true
	}
	for key := range publicRoutes {
		if !served[key] {
			t.Errorf("public route %s is not served: drop it from publicRoutes", key)
		}
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].Path+routes[i].Method < routes[j].Path+routes[j].Method })
	var total, refused, filtered int
	attacked := 0
	for _, r := range routes {
		key := r.Method + " " + r.Path
		if _, ok := publicRoutes[key]; ok {
			continue
		}
		attacked++
		before := digest()
		for _, a := range attackers {
			for _, f := range a.foreign {
				for _, variant := range []string{"path", "body", "body-role", "query"} {
					req := attackRequest(t, r, a, f, variant)
					rec := e.Do(t, req)
					total++
					switch {
					case rec.Code == http.StatusTooManyRequests:
						t.Fatalf("%s %s as %s: rate limited; the attack test must reach the authorization", r.Method, req.Path, a.name)
					case rec.Code >= 400:
						refused++
					case rec.Code == http.StatusSeeOther && strings.HasPrefix(rec.Header().Get("Location"), "/login"):
						refused++
					case rec.Code < 300 && r.Method == http.MethodGet:
						body := httptestutil.Body(t, rec)
						if loc := f.marker.FindIndex(body); loc != nil {
							t.Errorf("%s %s as %s (%s smuggled in %s): %d answer shows the foreign scope: …%s…",
								r.Method, req.Path, a.name, f.code, variant, rec.Code, body[max(0, loc[0]-60):min(len(body), loc[1]+60)])
						}
						filtered++
					default:
						t.Errorf("%s %s as %s (%s smuggled in %s): got %d %s, want it refused",
							r.Method, req.Path, a.name, f.code, variant, rec.Code, rec.Body.String())
					}
				}
			}
		}
		if after := digest(); after != before {
			t.Errorf("%s: attacks on it wrote to the store", key)
		}
	}
	logs := e.Logs.String()
	for _, a := range attackers {
		secrets := []string{a.token}
		if a.session != nil {
			secrets = []string{a.session.Token, a.session.CSRF}
		}
		for _, sec := range secrets {
			if sec != "" && strings.Contains(logs, sec) {
				t.Errorf("the logs hold a credential of %s", a.name)
			}
		}
	}
	if attacked < 10 {
		t.Fatalf("attacked %d routes; the router serves %d: is the route table wired?", attacked, len(routes))
	}
	t.Logf("%d routes × %d attackers × 2 foreign scopes × 4 ways to smuggle: %d requests, %d refused, %d reads answered from the caller's own scope, 0 writes",
		attacked, len(attackers), total, refused, filtered)
}

// attackRequest builds one attack on route r.
func attackRequest(tb testing.TB, r *echo.Route, a attacker, f foreignScope, variant string) httptestutil.Request {
	tb.Helper()
	path := r.Path
	for _, seg := range strings.Split(r.Path, "/") {
		if !strings.HasPrefix(seg, ":") {
			continue
		}
		var v string
		switch name := seg[1:]; {
		case name == "collection":
			v = "attendance"
		case name == "id" && strings.Contains(r.Path, "/records/"):
			v = f.record
		case name == "id" && strings.Contains(r.Path, "/review/"):
			v = f.conflict
		case name == "id" && strings.Contains(r.Path, "/enroll-codes/"):
			v = f.enrollCode
		case name == "id" && strings.Contains(r.Path, "/devices/"):
			v = f.dev
		case name == "username":
			v = f.person
		default:
			tb.Fatalf("route %s %s has a parameter %q the attack test does not know how to aim: teach attackRequest", r.Method, r.Path, name)
		}
		path = strings.Replace(path, seg, url.PathEscape(v), 1)
	}
	if strings.Contains(path, "*") {
		tb.Fatalf("route %s %s: a wildcard route must be public or taught to the attack test", r.Method, r.Path)
	}
	// "body" asks for what a form or DTO may legitimately name — a
	// station of a foreign village — and "body-role" for a higher role
	// over the whole foreign scope.
	smuggled := map[string]string{
		"role": "station", "scope": f.village, "village": f.village, "township": f.code, "county": f.code,
		"device": f.dev, "username": f.person, "keep": "accept", "reason": "越权测试 attack",
		"password": "attack-test-password-2", "name": "<script>x</script>",
	}
	if variant != "body" {
		smuggled["role"], smuggled["scope"] = "county", f.code
	}
	web := !strings.HasPrefix(r.Path, "/v1/")
	req := httptestutil.Request{Method: r.Method, Path: path, Token: a.token, Header: http.Header{}}
	if a.session != nil {
		req.Header.Set("Cookie", "vs_session="+a.session.Token)
	}
	if variant == "query" {
		q := url.Values{}
		for k, v := range smuggled {
			q.Set(k, v)
		}
		req.Path += "?" + q.Encode()
	}
	if r.Method == http.MethodGet {
		return req
	}
	switch {
	case web:
		// Ticked confirm boxes: the attack must reach the service's checks.
		form := url.Values{"confirm": {"yes"}}
		if a.session != nil {
			form.Set("csrf", a.session.CSRF)
		}
		if strings.HasPrefix(variant, "body") {
			for k, v := range smuggled {
				form.Set(k, v)
			}
		}
		req.Body = []byte(form.Encode())
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case r.Path == "/v1/sync" && a.device != nil:
		// A signed change about the foreign place, with the scope smuggled
		// around it.
		body := map[string]any{"village": f.village, "source": "visit", "category": "程序", "description": "越权"}
		a.device.Author(tb, "problem", "attack-"+variant+"-"+f.code, body)
		sr := syncproto.SyncRequest{Changes: a.device.Run(a.device.Seq(), a.device.Seq()), PullMax: -1}
		b := httptestutil.JSON(tb, sr)
		if strings.HasPrefix(variant, "body") {
			b = smuggle(b, `"scope":"`+f.code+`","role":"county","village":"`+f.village+`"`)
		}
		req.Body = b
	default:
		b := []byte("{}")
		if strings.HasPrefix(variant, "body") {
			var err error
			if b, err = json.Marshal(smuggled); err != nil {
				tb.Fatal(err)
			}
		}
		req.Body = b
	}
	return req
}
