package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"villagesync/election"
	"villagesync/internal/webui/webuitest"
	"villagesync/server/web"
)

// placeName returns the name of a township or village from the county's
// report.
func (e *env) placeName(t *testing.T, code string) string {
	t.Helper()
	rep, err := e.svc.Report(t.Context(), countyPrincipal)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	for _, v := range rep.Villages {
		if v.Code == code {
			return v.Name
		}
	}
	for _, tw := range rep.Townships {
		if tw.Code == code {
			return tw.Name
		}
	}
	t.Fatalf("no place %s in the report", code)
	return ""
}

// rowIDs are the ids of the rows of a list (prefix "device-" or "code-"),
// in the order of the page.
func rowIDs(rec *httptest.ResponseRecorder, prefix string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<tr id="`+prefix+`([^"]+)">`).FindAllStringSubmatch(rec.Body.String(), -1) {
		out = append(out, m[1])
	}
	return out
}

// wantRows fails the test unless the list shows exactly want, in any
// order.
func wantRows(t *testing.T, rec *httptest.ResponseRecorder, prefix string, want ...string) {
	t.Helper()
	got := slices.Sorted(slices.Values(rowIDs(rec, prefix)))
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("rows: got %v, want %v", got, want)
	}
}

// TestDeviceFilter: the township, status and search filters of the device
// list, alone and together, for the county; and a supervisor, who cannot
// widen its list with them.
func TestDeviceFilter(t *testing.T) {
	e := newEnv(t, web.Config{})
	ctx := t.Context()
	east := e.enrollDevice(t, election.RoleStation, e.Village(0, 0), "东村笔记本")
	west := e.enrollDevice(t, election.RoleStation, e.Village(0, 1), "West Laptop")
	north := e.enrollDevice(t, election.RoleStation, e.Village(1, 0), "北村笔记本")
	sup := e.enrollDevice(t, election.RoleSupervisor, e.Township(1), "督导笔记本")
	if _, err := e.svc.RevokeDevice(ctx, nil, west); err != nil {
		t.Fatal(err)
	}
	all := []string{east, west, north, sup}
	county := e.loggedIn(t, countyUser)
	longQuery := strings.Repeat("村", 100)

	tests := []struct {
		name  string
		query url.Values
		rows  []string
		want  []string // more the page must hold
	}{
		{"All", nil, all, []string{"显示 4 / 共 4", `id="filter-township"`, `id="filter-status"`, `id="filter-q"`}},
		{"Township", url.Values{"township": {e.Township(1)}}, []string{north, sup},
			[]string{"显示 2 / 共 4", `<option value="` + e.Township(1) + `" selected>`}},
		{"Active", url.Values{"status": {"active"}}, []string{east, north, sup}, []string{`<option value="active" selected>`}},
		{"Revoked", url.Values{"status": {"revoked"}}, []string{west}, []string{"显示 1 / 共 4"}},
		{"SearchLabelAnyCase", url.Values{"q": {"  west LAPTOP "}}, []string{west}, []string{`value="west LAPTOP"`}},
		{"SearchID", url.Values{"q": {strings.ToUpper(north)}}, []string{north}, nil},
		{"SearchScopeCode", url.Values{"q": {e.Village(0, 0)}}, []string{east}, nil},
		{"SearchPlaceName", url.Values{"q": {e.placeName(t, e.Village(1, 0))}}, []string{north}, nil},
		{"Combined", url.Values{"township": {e.Township(0)}, "status": {"active"}, "q": {"笔记本"}}, []string{east},
			[]string{"显示 1 / 共 4", `id="filter-clear"`}},
		{"NoMatch", url.Values{"q": {"nothing like it"}}, nil, []string{"显示 0 / 共 4", "没有符合筛选条件的记录。"}},
		{"UnknownValuesDropped", url.Values{"township": {"220422999"}, "status": {"lost"}}, all, []string{"显示 4 / 共 4"}},
		{"QueryEscaped", url.Values{"q": {`"><script>alert(1)</script>`}}, nil, []string{`value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`}},
		{"QueryBounded", url.Values{"q": {longQuery}}, nil, []string{`value="` + strings.Repeat("村", 64) + `"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := county.get(t, "/devices?"+tt.query.Encode())
			webuitest.WantStatus(t, rec, http.StatusOK)
			wantRows(t, rec, "device-", tt.rows...)
			webuitest.WantBody(t, rec, tt.want...)
			body := rec.Body.String()
			if strings.Contains(body, "<script>") || strings.Contains(body, strings.Repeat("村", 65)) {
				t.Errorf("the search is echoed unescaped or unbounded")
			}
		})
	}

	t.Run("Supervisor", func(t *testing.T) {
		b := e.loggedIn(t, supervisorUser)
		for _, tt := range []struct {
			name  string
			query url.Values
			rows  []string
			want  string
		}{
			{"Own", nil, []string{east, west}, "显示 2 / 共 2"},
			{"OtherTownship", url.Values{"township": {e.Township(1)}}, []string{east, west}, "显示 2 / 共 2"},
			{"OtherTownshipsDevice", url.Values{"q": {north}}, nil, "显示 0 / 共 2"},
			{"OtherTownshipsPlace", url.Values{"township": {e.Township(1)}, "q": {e.placeName(t, e.Village(1, 0))}}, nil, "显示 0 / 共 2"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				rec := b.get(t, "/devices?"+tt.query.Encode())
				webuitest.WantStatus(t, rec, http.StatusOK)
				wantRows(t, rec, "device-", tt.rows...)
				webuitest.WantBody(t, rec, tt.want)
				body := rec.Body.String()
				for _, other := range []string{`id="device-` + north, `id="device-` + sup, "北村笔记本", "督导笔记本"} {
					if strings.Contains(body, other) {
						t.Errorf("a supervisor's page shows %s of another township", other)
					}
				}
				if strings.Contains(body, `id="filter-township"`) {
					t.Errorf("a supervisor's page offers a township select")
				}
			})
		}
	})
}

// TestEnrollCodeFilter: the filters of the code list, and its order: the
// active codes first, each part newest first.
func TestEnrollCodeFilter(t *testing.T) {
	e := newEnv(t, web.Config{})
	ctx := t.Context()
	issue := func(role election.Role, scope string) (id, code string) {
		t.Helper()
		e.clock.Advance(time.Minute)
		ic, err := e.svc.IssueEnrollCode(ctx, nil, role, scope, 0)
		if err != nil {
			t.Fatalf("issue enrollment code: %v", err)
		}
		return ic.ID, ic.Code
	}
	east, _ := issue(election.RoleStation, e.Village(0, 0))
	used, usedCode := issue(election.RoleStation, e.Village(0, 1))
	device := e.redeem(t, usedCode, "新笔记本")
	expired, _ := issue(election.RoleStation, e.Village(1, 0))
	if _, err := e.svc.ExpireEnrollCode(ctx, nil, expired); err != nil {
		t.Fatal(err)
	}
	sup, _ := issue(election.RoleSupervisor, e.Township(1))
	all := []string{east, used, expired, sup}
	county := e.loggedIn(t, countyUser)

	t.Run("Order", func(t *testing.T) {
		got := rowIDs(county.get(t, "/enroll-codes"), "code-")
		if want := []string{sup, east, expired, used}; !slices.Equal(got, want) {
			t.Errorf("order: got %v, want %v (active first, newest first)", got, want)
		}
	})
	tests := []struct {
		name  string
		query url.Values
		rows  []string
		want  []string
	}{
		{"All", nil, all, []string{"显示 4 / 共 4"}},
		{"Township", url.Values{"township": {e.Township(0)}}, []string{east, used}, []string{"显示 2 / 共 4"}},
		{"Active", url.Values{"status": {"active"}}, []string{east, sup}, []string{`<option value="active" selected>`}},
		{"Used", url.Values{"status": {"used"}}, []string{used}, nil},
		{"Expired", url.Values{"status": {"expired"}}, []string{expired}, nil},
		{"SearchIDAnyCase", url.Values{"q": {strings.ToLower(east)}}, []string{east}, nil},
		{"SearchUsedBy", url.Values{"q": {device}}, []string{used}, nil},
		{"SearchPlaceName", url.Values{"q": {e.placeName(t, e.Village(1, 0))}}, []string{expired}, nil},
		{"Combined", url.Values{"township": {e.Township(1)}, "status": {"active"}}, []string{sup}, []string{"显示 1 / 共 4"}},
		{"NoMatch", url.Values{"township": {e.Township(1)}, "status": {"used"}}, nil, []string{"显示 0 / 共 4", "没有符合筛选条件的记录。"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := county.get(t, "/enroll-codes?"+tt.query.Encode())
			webuitest.WantStatus(t, rec, http.StatusOK)
			wantRows(t, rec, "code-", tt.rows...)
			webuitest.WantBody(t, rec, tt.want...)
		})
	}
	t.Run("SupervisorCannotWiden", func(t *testing.T) {
		b := e.loggedIn(t, supervisorUser)
		for _, q := range []url.Values{nil, {"township": {e.Township(1)}}, {"township": {e.Township(1)}, "status": {"expired"}}} {
			rec := b.get(t, "/enroll-codes?"+q.Encode())
			webuitest.WantStatus(t, rec, http.StatusOK)
			for _, other := range []string{expired, sup} {
				if strings.Contains(rec.Body.String(), other) {
					t.Errorf("?%s: a supervisor's page shows code %s of another township", q.Encode(), other)
				}
			}
		}
		wantRows(t, b.get(t, "/enroll-codes?township="+e.Township(1)), "code-", east, used)
	})
}

// TestReviewFilter: the county narrows the review queue to a township;
// the status links and the resolution form keep the township; a supervisor
// cannot see another township's items with it.
func TestReviewFilter(t *testing.T) {
	e := newEnv(t, web.Config{})
	near, keep := e.conflict(t, e.Village(0, 0))
	far, _ := e.conflict(t, e.Village(1, 0))
	// count returns how many items of the queue of status lie in township
	// ("" = all), as the service lists them.
	count := func(status, township string) int {
		t.Helper()
		q, err := e.svc.Review(t.Context(), countyPrincipal, status)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, it := range q.Items {
			if township == "" || it.Township == township {
				n++
			}
		}
		return n
	}
	shown := func(n, of int) string { return fmt.Sprintf("显示 %d / 共 %d", n, of) }
	item := func(id string) string { return `id="item-` + id + `"` }
	t0, t1 := e.Township(0), e.Township(1)
	county := e.loggedIn(t, countyUser)

	rec := county.get(t, "/review")
	webuitest.WantBody(t, rec, item(near), item(far), shown(count("open", ""), count("open", "")), `id="filter-township"`)

	rec = county.get(t, "/review?township="+t1)
	webuitest.WantBody(t, rec, item(far), shown(count("open", t1), count("open", "")), `href="/review?status=all&amp;township=`+t1+`"`)
	if strings.Contains(rec.Body.String(), item(near)) {
		t.Errorf("?township=%s shows item %s of township %s", t1, near, t0)
	}

	// A supervisor of the first township cannot see the other's items.
	sup := e.loggedIn(t, supervisorUser)
	for _, path := range []string{"/review?township=" + t1, "/review?status=all&township=" + t1} {
		rec := sup.get(t, path)
		webuitest.WantStatus(t, rec, http.StatusOK)
		if strings.Contains(rec.Body.String(), far) {
			t.Errorf("GET %s: a supervisor sees item %s of another township", path, far)
		}
		if strings.Contains(rec.Body.String(), `id="filter-township"`) {
			t.Errorf("GET %s: a supervisor's page offers a township select", path)
		}
	}
	webuitest.WantBody(t, sup.get(t, "/review?township="+t1), item(near), shown(count("open", t0), count("open", t0)))

	// Resolved within the filtered queue, the county comes back to it.
	form := url.Values{"keep": {keep}, "reason": {"核对原始计票单"}, "township": {t0}, "status": {"all"}}
	rec = county.post(t, "/review/"+near+"/resolve", form)
	wantRedirect(t, rec, "/review?ok=resolved&status=all&township="+t0)
	rec = county.get(t, "/review?ok=resolved&status=all&township="+t0)
	webuitest.WantBody(t, rec, "已裁定。", item(near), "已解决", shown(count("all", t0), count("all", "")))
	filterForm := regexp.MustCompile(`(?s)<form method="get" action="/review" id="filter-form".*?</form>`).FindString(rec.Body.String())
	for _, want := range []string{`<input type="hidden" name="status" value="all">`, `<option value="` + t0 + `" selected>`} {
		if !strings.Contains(filterForm, want) {
			t.Errorf("the township form of the queue: want %s in %s", want, filterForm)
		}
	}
	if strings.Contains(rec.Body.String(), item(far)) {
		t.Errorf("the filtered queue after resolving shows %s", far)
	}
	if strings.Contains(county.get(t, "/review?township="+t0).Body.String(), item(near)) {
		t.Errorf("the resolved item %s is still in the open queue", near)
	}
}

// TestFilterKept: a form inside a filtered list, and the language switch,
// lead back to the list filtered alike.
func TestFilterKept(t *testing.T) {
	e := newEnv(t, web.Config{})
	device := e.enrollDevice(t, election.RoleStation, e.Village(0, 0), "东村笔记本")
	county := e.loggedIn(t, countyUser)
	filter := url.Values{"township": {e.Township(0)}, "q": {"笔记本"}}

	page := county.get(t, "/devices?"+filter.Encode())
	row := regexp.MustCompile(`(?s)<tr id="device-` + device + `">.*?</tr>`).FindString(page.Body.String())
	for _, want := range []string{
		`<input type="hidden" name="township" value="` + e.Township(0) + `">`,
		`<input type="hidden" name="q" value="笔记本">`,
	} {
		if !strings.Contains(row, want) {
			t.Errorf("the revoke form: want %s in %s", want, row)
		}
	}
	webuitest.WantBody(t, page, `id="lang-switch" href="/devices?lang=en&amp;q=%E7%AC%94%E8%AE%B0%E6%9C%AC&amp;township=`+e.Township(0)+`"`)

	filter.Set("confirm", "yes")
	rec := county.post(t, "/devices/"+device+"/revoke", filter)
	wantRedirect(t, rec, "/devices?ok=device_revoked&q=%E7%AC%94%E8%AE%B0%E6%9C%AC&township="+e.Township(0))

	// An error keeps the filter too.
	rec = county.post(t, "/devices/dev-0000000000/revoke", filter)
	webuitest.WantStatus(t, rec, http.StatusNotFound)
	webuitest.WantBody(t, rec, `value="笔记本"`, `<option value="`+e.Township(0)+`" selected>`)
}

// TestEnrollCodeScopePrompt: the county's new-code form starts with a
// placeholder the pages refuse, so that a station code is never made for
// the county by default; a supervisor's starts with one of its villages.
func TestEnrollCodeScopePrompt(t *testing.T) {
	e := newEnv(t, web.Config{})
	county := e.loggedIn(t, countyUser)
	scopeSelect := regexp.MustCompile(`(?s)<select id="code-scope" name="scope" required>\s*(?:<optgroup label="[^"]*">\s*)?<option value="([^"]*)"( selected)?>([^<]*)<`)

	m := scopeSelect.FindStringSubmatch(county.get(t, "/enroll-codes").Body.String())
	if m == nil || m[1] != "" || m[3] != "请选择" {
		t.Fatalf("the county's scope select: got first option %q, want the placeholder 请选择", m)
	}
	before := e.snapshot(t)
	for _, role := range []string{"station", "supervisor", "county"} {
		rec := county.post(t, "/enroll-codes", url.Values{"role": {role}, "scope": {" "}})
		webuitest.WantStatus(t, rec, http.StatusBadRequest)
		webuitest.WantBody(t, rec, "请求有误", "请为注册码选择范围", `id="new-code-form"`, `<option value="`+role+`" selected>`)
	}
	e.unchanged(t, before)
	rec := county.post(t, "/enroll-codes", url.Values{"role": {"county"}, "scope": {election.DongliaoCode}})
	webuitest.WantStatus(t, rec, http.StatusOK)
	webuitest.WantBody(t, rec, `id="new-code"`, election.DongliaoCode)

	sup := e.loggedIn(t, supervisorUser)
	m = scopeSelect.FindStringSubmatch(sup.get(t, "/enroll-codes").Body.String())
	if m == nil || election.TownshipOf(m[1]) != e.township {
		t.Errorf("the supervisor's scope select: got first option %q, want a village of %s", m, e.township)
	}
}
