package station_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"villagesync/election"
	"villagesync/internal/webui/webuitest"
	"villagesync/station"
	"villagesync/syncproto"
)

// TestAttacks sends what another web site, a rebinding DNS name or a
// stray form could send: every one is refused and nothing is captured.
func TestAttacks(t *testing.T) {
	w := newWorld(t)
	village := w.Village(0, 0)
	st := w.laptop(t, election.RoleStation, village)
	e, _ := w.ElectionOf(t, village)
	token := st.csrf
	attendance := func(csrf string) url.Values {
		return url.Values{"csrf": {csrf}, "election": {e.ID}, "eligible": {"40"}, "present": {"40"}}
	}

	tests := []struct {
		name       string
		req        request
		wantStatus int
		want       string
	}{
		{
			name:       "NoCSRFToken",
			req:        request{method: http.MethodPost, path: "/attendance", form: attendance("")},
			wantStatus: http.StatusForbidden, want: "表单已失效",
		},
		{
			name:       "WrongCSRFToken",
			req:        request{method: http.MethodPost, path: "/attendance", form: attendance(strings.Repeat("A", len(token)))},
			wantStatus: http.StatusForbidden, want: "表单已失效",
		},
		{
			name:       "CSRFTokenInQueryOnly",
			req:        request{method: http.MethodPost, path: "/attendance?csrf=" + token, form: attendance("")},
			wantStatus: http.StatusForbidden, want: "表单已失效",
		},
		{
			name: "CrossSiteFetch",
			req: request{method: http.MethodPost, path: "/attendance", form: attendance(token),
				header: http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}},
			wantStatus: http.StatusForbidden, want: "拒绝来自其他网站的表单提交",
		},
		{
			name: "ForeignOriginOnly",
			req: request{method: http.MethodPost, path: "/attendance", form: attendance(token),
				header: http.Header{"Sec-Fetch-Site": {""}, "Origin": {"http://evil.example"}}},
			wantStatus: http.StatusForbidden, want: "拒绝来自其他网站的表单提交",
		},
		{
			name: "SyncFromAnotherSite",
			req: request{method: http.MethodPost, path: "/sync", form: url.Values{"csrf": {token}},
				header: http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}},
			wantStatus: http.StatusForbidden, want: "拒绝来自其他网站的表单提交",
		},
		{
			name: "DNSRebindingPost",
			req: request{method: http.MethodPost, path: "/attendance", form: attendance(token), host: "evil.example:8181",
				header: http.Header{"Origin": {"http://evil.example:8181"}}},
			wantStatus: http.StatusMisdirectedRequest, want: "此地址不受理",
		},
		{
			name:       "DNSRebindingRead",
			req:        request{method: http.MethodGet, path: "/", host: "evil.example:8181"},
			wantStatus: http.StatusMisdirectedRequest, want: "此地址不受理",
		},
		{
			name:       "LocalhostLookalike",
			req:        request{method: http.MethodGet, path: "/election", host: "localhost.evil.example:8181"},
			wantStatus: http.StatusMisdirectedRequest, want: "此地址不受理",
		},
		{
			name:       "OtherPort",
			req:        request{method: http.MethodGet, path: "/", host: "127.0.0.1:9999"},
			wantStatus: http.StatusMisdirectedRequest, want: "此地址不受理",
		},
		{
			name:       "LANAddressWithoutAllowRemote",
			req:        request{method: http.MethodGet, path: "/", host: "192.168.1.5:8181"},
			wantStatus: http.StatusMisdirectedRequest, want: "此地址不受理",
		},
		{
			name:       "NoHost",
			req:        request{method: http.MethodGet, path: "/", host: ":8181"},
			wantStatus: http.StatusMisdirectedRequest, want: "此地址不受理",
		},
		{
			name: "SupervisorFormOnAStation",
			req: request{method: http.MethodPost, path: "/supervision/visit",
				form: url.Values{"csrf": {token}, "id": {"SV-ABC"}, "village": {village}, "round": {"1"}, "visited_at": {"2026-03-07T10:00"}, "notes": {""}}},
			wantStatus: http.StatusForbidden, want: "本设备的角色不能使用此页面",
		},
		{
			name: "AnotherVillagesElection",
			req: request{method: http.MethodPost, path: "/attendance",
				form: url.Values{"csrf": {token}, "election": {w.Village(0, 1) + "-PC"}, "eligible": {"40"}, "present": {"40"}}},
			wantStatus: http.StatusNotFound, want: "本机没有这个选举的数据",
		},
		{
			name: "FormTooLarge",
			req: request{method: http.MethodPost, path: "/attendance",
				form: url.Values{"csrf": {token}, "election": {e.ID}, "eligible": {"40"}, "present": {"40"}, "pad": {strings.Repeat("x", 70<<10)}}},
			wantStatus: http.StatusRequestEntityTooLarge, want: "提交的表单过大",
		},
		{
			name:       "GetCannotCapture",
			req:        request{method: http.MethodGet, path: "/attendance?csrf=" + token + "&election=" + e.ID + "&eligible=40&present=40"},
			wantStatus: http.StatusMethodNotAllowed, want: "没有这个页面",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := st.captured(t)
			rec := st.do(t, tt.req)
			webuitest.WantStatus(t, rec, tt.wantStatus)
			webuitest.WantBody(t, rec, tt.want)
			if after := st.captured(t); after != before {
				t.Errorf("captured changes: got %d after the attack, want %d", after, before)
			}
			if rec.Code == http.StatusMisdirectedRequest {
				// A rebinding page reads this answer: nothing of the
				// device or its token may be in it.
				wantNotBody(t, rec, token, st.dev.ID(), "csrf")
			}
		})
	}
	if _, err := st.dev.Get(t.Context(), "attendance", e.ID+"-ATT"); syncproto.ErrorCode(err) != syncproto.CodeNotFound {
		t.Errorf("attendance after the attacks: got %v, want none captured", err)
	}
	// The real form still works: the refusals above were not for lack of a
	// valid request.
	webuitest.WantStatus(t, st.post(t, "/attendance", url.Values{"election": {e.ID}, "eligible": {"40"}, "present": {"40"}}), http.StatusOK)
}

// TestHosts checks the Host names the UI answers to: loopback addresses
// and localhost on its port.
func TestHosts(t *testing.T) {
	w := newWorld(t)
	st := w.laptop(t, election.RoleStation, w.Village(0, 0))
	for _, host := range []string{"127.0.0.1:8181", "localhost:8181", "[::1]:8181", "127.0.0.2:8181"} {
		t.Run(host, func(t *testing.T) {
			webuitest.WantStatus(t, st.do(t, request{method: http.MethodGet, path: "/", host: host}), http.StatusOK)
		})
	}

	// Bound to every address on purpose (--allow-remote): an IP address
	// names the UI, a DNS name still does not.
	remote, err := station.New(st.dev, station.Config{Addr: "0.0.0.0:8181", AllowRemote: true})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]int{
		"192.168.1.5:8181":  http.StatusOK,
		"127.0.0.1:8181":    http.StatusOK,
		"evil.example:8181": http.StatusMisdirectedRequest,
		"192.168.1.5:9999":  http.StatusMisdirectedRequest,
		"laptop.local:8181": http.StatusMisdirectedRequest,
	} {
		t.Run("AllowRemote/"+host, func(t *testing.T) {
			req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
			req.Host = host
			rec := httptest.NewRecorder()
			remote.ServeHTTP(rec, req)
			webuitest.WantStatus(t, rec, want)
		})
	}
}

// TestHeaders checks the security headers of every page and of refusals.
func TestHeaders(t *testing.T) {
	w := newWorld(t)
	st := w.laptop(t, election.RoleStation, w.Village(0, 0))
	for _, path := range []string{"/", "/election", "/ballots", "/tally", "/records", "/conflicts", "/bundles", "/no-such-page"} {
		t.Run(path, func(t *testing.T) {
			rec := st.get(t, path)
			h := rec.Header()
			if got := h.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'none'") || strings.Contains(got, "unsafe-inline") || !strings.Contains(got, "frame-ancestors 'none'") {
				t.Errorf("Content-Security-Policy: got %q", got)
			}
			for k, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
				if got := h.Get(k); got != want {
					t.Errorf("%s: got %q, want %q", k, got, want)
				}
			}
			wantNotBody(t, rec, "<script", " style=")
		})
	}
}

// TestLanguage checks that the pages are Chinese by default and English
// with ?lang=en, remembered in a cookie.
func TestLanguage(t *testing.T) {
	w := newWorld(t)
	st := w.laptop(t, election.RoleStation, w.Village(0, 0))
	rec := st.get(t, "/election")
	webuitest.WantBody(t, rec, `<html lang="zh-CN">`, "本村选举", `href="/election?lang=en"`)
	rec = st.get(t, "/election?lang=en")
	webuitest.WantBody(t, rec, `<html lang="en">`, "Village election", `href="/election?lang=zh"`)
	var cookie *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "vs_station_lang" {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value != "en" || !cookie.HttpOnly {
		t.Fatalf("language cookie: got %+v, want an HttpOnly vs_station_lang=en", cookie)
	}
	rec = st.do(t, request{method: http.MethodGet, path: "/", header: http.Header{"Cookie": {cookie.Name + "=" + cookie.Value}}})
	webuitest.WantBody(t, rec, `<html lang="en">`, "This laptop", "Sync")
}

// TestEscaping captures text a hostile or careless hand could type and
// checks it comes back as text, never as markup.
func TestEscaping(t *testing.T) {
	w := newWorld(t)
	township := w.Township(0)
	village := w.Village(0, 0)
	sup := w.laptop(t, election.RoleSupervisor, township)
	evil := `<script>alert("x")</script><img src=x onerror=alert(1)>`
	page := sup.get(t, "/supervision").Body.String()
	rec := sup.post(t, "/supervision/problem", url.Values{"id": {formID(t, page, "PB-")}, "village": {village}, "source": {"visit"},
		"category": {`<b>类别</b>`}, "description": {evil}})
	webuitest.WantStatus(t, rec, http.StatusOK)
	rec = sup.post(t, "/supervision/visit", url.Values{"id": {formID(t, rec.Body.String(), "SV-")}, "village": {village}, "round": {"1"},
		"visited_at": {"2026-03-07T09:00"}, "notes": {evil}})
	webuitest.WantStatus(t, rec, http.StatusOK)
	for _, path := range []string{"/supervision", "/records?collection=problem", "/records?collection=supervision_visit"} {
		t.Run(path, func(t *testing.T) {
			rec := sup.get(t, path)
			webuitest.WantStatus(t, rec, http.StatusOK)
			wantNotBody(t, rec, "<script", "<img", "<b>类别")
			webuitest.WantBody(t, rec, "&lt;script&gt;")
		})
	}

	// A written-in name on a ballot, on the station's pages.
	st := w.laptop(t, election.RoleStation, village)
	e, _, _ := w.electionOf(t, village)
	marks := make([]string, len(e.Candidates))
	for i := range marks {
		marks[i] = election.MarkAbstain
	}
	rec = st.post(t, "/ballots", ballotForm(e, 1, marks, `"><script>alert(2)</script>`))
	webuitest.WantStatus(t, rec, http.StatusOK)
	wantNotBody(t, rec, "<script")
	rec = st.get(t, "/tally?election="+e.ID)
	webuitest.WantStatus(t, rec, http.StatusOK)
	wantNotBody(t, rec, "<script")
	webuitest.WantBody(t, rec, `value="&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"`)
}
