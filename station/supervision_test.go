package station_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"villagesync/election"
	"villagesync/internal/webui/webuitest"
)

// formID returns the record id the page gave the form whose ids start
// with prefix.
func formID(t *testing.T, body, prefix string) string {
	t.Helper()
	m := regexp.MustCompile(`name="id" value="(` + regexp.QuoteMeta(prefix) + `[A-Z0-9]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no form with a %s… id in the page", prefix)
	}
	return m[1]
}

// row returns the table row with id in body.
func row(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<tr id="` + regexp.QuoteMeta(id) + `".*?</tr>`).FindString(body)
	if m == "" {
		t.Fatalf("no row %s in the page", id)
	}
	return m
}

// TestSupervisor walks a township supervisor through a visit, a problem
// and its rectification, the township page and 同步.
func TestSupervisor(t *testing.T) {
	w := newWorld(t)
	township := w.Township(0)
	village := w.Village(0, 2)
	sup := w.laptop(t, election.RoleSupervisor, township)

	page := sup.get(t, "/supervision")
	webuitest.WantStatus(t, page, http.StatusOK)
	// The village select lists the township's villages only.
	webuitest.WantBody(t, page, `<option value="`+village+`"`)
	wantNotBody(t, page, `<option value="`+w.Village(1, 0)+`"`)
	visitID := formID(t, page.Body.String(), "SV-")
	visit := url.Values{"id": {visitID}, "village": {village}, "round": {"2"}, "visited_at": {"2026-03-07T10:30"}, "notes": {"检查选票印制与封存"}}
	rec := sup.post(t, "/supervision/visit", visit)
	webuitest.WantStatus(t, rec, http.StatusOK)
	webuitest.WantBody(t, rec, "督导记录已保存", "检查选票印制与封存")
	var vb struct {
		Village   string `json:"village"`
		Round     int    `json:"round"`
		VisitedAt string `json:"visited_at"`
		Notes     string `json:"notes"`
	}
	if err := json.Unmarshal(sup.record(t, "supervision_visit", visitID).Body, &vb); err != nil {
		t.Fatal(err)
	}
	if vb.Village != village || vb.Round != 2 || vb.VisitedAt != "2026-03-07T10:30:00+08:00" || vb.Notes != "检查选票印制与封存" {
		t.Errorf("visit held: got %+v", vb)
	}
	// The next form has a fresh id; sending the old form again records
	// nothing new.
	if next := formID(t, rec.Body.String(), "SV-"); next == visitID {
		t.Errorf("the visit form after saving kept id %s", visitID)
	}
	before := sup.captured(t)
	webuitest.WantStatus(t, sup.post(t, "/supervision/visit", visit), http.StatusOK)
	if after := sup.captured(t); after != before {
		t.Errorf("sending the same visit form twice: %d changes, want %d", after, before)
	}

	problemID := formID(t, rec.Body.String(), "PB-")
	rec = sup.post(t, "/supervision/problem", url.Values{"id": {problemID}, "village": {village}, "source": {election.SourceVisit},
		"category": {"选票"}, "description": {"选票未按姓氏笔画排序"}})
	webuitest.WantStatus(t, rec, http.StatusOK)
	webuitest.WantBody(t, rec, "问题已记录", "选票未按姓氏笔画排序")

	rectID := formID(t, rec.Body.String(), "RC-")
	// The problem is offered for rectification.
	webuitest.WantBody(t, rec, `<option value="`+problemID+`"`)
	rec = sup.post(t, "/supervision/rectification", url.Values{"id": {rectID}, "problem": {problemID},
		"status": {election.RectificationRectified}, "notes": {"已重新印制选票"}})
	webuitest.WantStatus(t, rec, http.StatusOK)
	webuitest.WantBody(t, rec, "整改情况已记录", "已整改")
	ev, err := election.DecodeRectification(sup.record(t, "rectification", rectID).Body)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Problem != problemID || ev.Status != election.RectificationRectified {
		t.Errorf("rectification held: got %+v", ev)
	}

	// The township page counts what the device holds, village by village.
	rec = sup.get(t, "/township")
	webuitest.WantStatus(t, rec, http.StatusOK)
	r := row(t, rec.Body.String(), "village-"+village)
	for _, want := range []string{`class="v-visits">2<`, `class="num v-problems">1<`, `class="num v-rects">1<`, `class="num v-pending">3<`} {
		if !strings.Contains(r, want) {
			t.Errorf("township row of %s: want %s in %s", village, want, r)
		}
	}
	if r := row(t, rec.Body.String(), "village-"+w.Village(0, 0)); !strings.Contains(r, "未督导") {
		t.Errorf("township row of an unvisited village: want 未督导 in %s", r)
	}

	// 同步: the server holds all three.
	rec = sup.post(t, "/sync", nil)
	webuitest.WantStatus(t, rec, http.StatusOK)
	if got := cell(t, rec.Body.String(), "sync-pushed"); got != "3" {
		t.Errorf("pushed: got %s, want 3", got)
	}
	for _, id := range [][2]string{{"supervision_visit", visitID}, {"problem", problemID}, {"rectification", rectID}} {
		w.onServer(t, id[0], id[1], sup.record(t, id[0], id[1]).Body)
	}
	rec = sup.get(t, "/township")
	if r := row(t, rec.Body.String(), "village-"+village); !strings.Contains(r, `class="num v-pending">0<`) {
		t.Errorf("township row after the sync: want 0 pending in %s", r)
	}

	// The station of the village receives the problem at its next sync.
	st := w.laptop(t, election.RoleStation, village)
	st.record(t, "problem", problemID)
}

// TestSupervisorFormsRefused sends supervision forms the UI must refuse
// before anything is captured.
func TestSupervisorFormsRefused(t *testing.T) {
	w := newWorld(t)
	sup := w.laptop(t, election.RoleSupervisor, w.Township(0))
	page := sup.get(t, "/supervision").Body.String()
	visitID, problemID := formID(t, page, "SV-"), formID(t, page, "PB-")
	// No problem is held yet, so the page has no rectification form.
	const rectID = "RC-TESTID"
	village := w.Village(0, 1)

	tests := []struct {
		name       string
		path       string
		form       url.Values
		wantStatus int
		want       []string
	}{
		{
			name: "VisitOtherTownship", path: "/supervision/visit",
			form:       url.Values{"id": {visitID}, "village": {w.Village(1, 0)}, "round": {"1"}, "visited_at": {"2026-03-07T10:30"}, "notes": {"跨乡镇"}},
			wantStatus: http.StatusUnprocessableEntity, want: []string{"请从列表中选择本乡镇的一个村", "跨乡镇"},
		},
		{
			name: "VisitRoundFive", path: "/supervision/visit",
			form:       url.Values{"id": {visitID}, "village": {village}, "round": {"5"}, "visited_at": {"2026-03-07T10:30"}, "notes": {"第五轮"}},
			wantStatus: http.StatusUnprocessableEntity, want: []string{"督导轮次须为第 1 至 4 轮", "第五轮"},
		},
		{
			name: "VisitBadTime", path: "/supervision/visit",
			form:       url.Values{"id": {visitID}, "village": {village}, "round": {"1"}, "visited_at": {"三月七日"}, "notes": {""}},
			wantStatus: http.StatusUnprocessableEntity, want: []string{"请填写督导时间", `value="三月七日"`},
		},
		{
			name: "VisitTamperedID", path: "/supervision/visit",
			form:       url.Values{"id": {"X-1"}, "village": {village}, "round": {"1"}, "visited_at": {"2026-03-07T10:30"}, "notes": {""}},
			wantStatus: http.StatusBadRequest, want: []string{"表单的记录编号有误"},
		},
		{
			name: "ProblemWithoutDescription", path: "/supervision/problem",
			form:       url.Values{"id": {problemID}, "village": {village}, "source": {"visit"}, "category": {"计票"}, "description": {"  "}},
			wantStatus: http.StatusUnprocessableEntity, want: []string{"请填写问题描述", `value="计票"`},
		},
		{
			name: "RectificationOfUnknownProblem", path: "/supervision/rectification",
			form:       url.Values{"id": {rectID}, "problem": {"PB-NOSUCH"}, "status": {"RECTIFIED"}, "notes": {"无此问题"}},
			wantStatus: http.StatusUnprocessableEntity, want: []string{"请从列表中选择要整改的问题"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := sup.captured(t)
			rec := sup.post(t, tt.path, tt.form)
			webuitest.WantStatus(t, rec, tt.wantStatus)
			webuitest.WantBody(t, rec, tt.want...)
			if after := sup.captured(t); after != before {
				t.Errorf("captured changes: got %d, want %d", after, before)
			}
		})
	}
}
