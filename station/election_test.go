package station_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"villagesync/election"
	"villagesync/internal/webui/webuitest"
)

// electionOf returns the seeded election of village with its candidates'
// names, by candidate id.
func (w *world) electionOf(t *testing.T, village string) (election.Election, election.RollCount, map[string]string) {
	t.Helper()
	e, roll := w.ElectionOf(t, village)
	names := make(map[string]string)
	for _, c := range w.Dataset.Candidates {
		if c.Election == e.ID {
			names[c.ID] = c.Name
		}
	}
	if len(names) != len(e.Candidates) || e.Seats < 3 || len(e.Candidates) < e.Seats+1 {
		t.Fatalf("election %s: %d seats, %d candidates, %d named: the tests need at least 3 seats and a runner-up", e.ID, e.Seats, len(e.Candidates), len(names))
	}
	return e, roll, names
}

// ballotForm is the form of one ballot: marks[i] is candidate i's.
func ballotForm(e election.Election, serial int, marks []string, writeIns ...string) url.Values {
	f := url.Values{"election": {e.ID}, "round": {"1"}, "serial": {strconv.Itoa(serial)}}
	for i, c := range e.Candidates {
		f.Set("mark."+c, marks[i])
	}
	for _, w := range writeIns {
		f.Add("write_in", w)
	}
	return f
}

// fieldValue returns the value attribute of the input with id in body.
func fieldValue(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*value="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no input %s with a value in the page", id)
	}
	return m[1]
}

// cell returns the text of the element with id in body.
func cell(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no element %s in the page", id)
	}
	return m[1]
}

// yesOf returns the running tally's yes count of the i-th candidate.
func yesOf(t *testing.T, body string, i int) string {
	t.Helper()
	m := regexp.MustCompile(`id="tally-row-` + strconv.Itoa(i+1) + `">.*?class="num yes">(\d+)<`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no running tally row %d in the page", i+1)
	}
	return m[1]
}

// TestElectionDay walks a station operator through election day with the
// forms: attendance, three ballots as they are read out (one invalid), the
// tally sheet prefilled from them, and 同步. The device holds every record
// as typed and the server holds the same after the sync.
func TestElectionDay(t *testing.T) {
	w := newWorld(t)
	village := w.Village(0, 0)
	e, roll, names := w.electionOf(t, village)
	st := w.laptop(t, election.RoleStation, village)
	yes, no, abstain := election.MarkYes, election.MarkNo, election.MarkAbstain

	// The election from the synced reference data.
	rec := st.get(t, "/election")
	webuitest.WantStatus(t, rec, http.StatusOK)
	webuitest.WantBody(t, rec, e.ID, names[e.Candidates[0]], names[e.Candidates[len(e.Candidates)-1]], "应选人数")
	if got := cell(t, rec.Body.String(), "el-seats"); got != strconv.Itoa(e.Seats) {
		t.Errorf("seats shown: got %s, want %d", got, e.Seats)
	}
	if got := fieldValue(t, rec.Body.String(), "att-eligible"); got != strconv.Itoa(roll.Eligible) {
		t.Errorf("eligible prefilled from the roll: got %s, want %d", got, roll.Eligible)
	}

	// Attendance.
	present := roll.Eligible - 1
	rec = st.post(t, "/attendance", url.Values{"election": {e.ID}, "eligible": {strconv.Itoa(roll.Eligible)}, "present": {strconv.Itoa(present)}})
	webuitest.WantStatus(t, rec, http.StatusOK)
	webuitest.WantBody(t, rec, "到会情况已保存")
	var att election.Attendance
	if err := json.Unmarshal(st.record(t, "attendance", e.ID+"-ATT").Body, &att); err != nil {
		t.Fatal(err)
	}
	if att.Eligible != roll.Eligible || att.Present != present || att.Election != e.ID {
		t.Errorf("attendance held: got %+v, want %d eligible, %d present", att, roll.Eligible, present)
	}

	// Three ballots as read out: the third chooses every candidate, more
	// than the seats, and is invalid (P4).
	marks := make([]string, len(e.Candidates))
	for i := range marks {
		marks[i] = no
		if i < e.Seats {
			marks[i] = yes
		}
	}
	// The second: the first and last candidates and a written-in name,
	// three names in all; the second candidate left unmarked.
	second := slices.Repeat([]string{no}, len(e.Candidates))
	second[0], second[1], second[len(second)-1] = yes, abstain, yes
	all := slices.Repeat([]string{yes}, len(e.Candidates))
	ballots := []struct {
		form      url.Values
		returned  int
		invalid   int
		firstYes  int
		lastYes   int
		wantP4    bool
		writtenIn string
	}{
		{form: ballotForm(e, 1, marks), returned: 1, firstYes: 1},
		{form: ballotForm(e, 2, second, "王某某"), returned: 2, firstYes: 2, lastYes: 1, writtenIn: "王某某"},
		{form: ballotForm(e, 3, all), returned: 3, invalid: 1, firstYes: 2, lastYes: 1, wantP4: true},
	}
	for i, b := range ballots {
		rec := st.post(t, "/ballots", b.form)
		webuitest.WantStatus(t, rec, http.StatusOK)
		body := rec.Body.String()
		webuitest.WantBody(t, rec, fmt.Sprintf("第 %d 号选票已保存", i+1))
		if got := cell(t, body, "tally-returned"); got != strconv.Itoa(b.returned) {
			t.Errorf("after ballot %d: running tally returned %s, want %d", i+1, got, b.returned)
		}
		if got := cell(t, body, "tally-invalid"); got != strconv.Itoa(b.invalid) {
			t.Errorf("after ballot %d: running tally invalid %s, want %d", i+1, got, b.invalid)
		}
		if got := yesOf(t, body, 0); got != strconv.Itoa(b.firstYes) {
			t.Errorf("after ballot %d: first candidate's yes %s, want %d", i+1, got, b.firstYes)
		}
		if got := yesOf(t, body, len(e.Candidates)-1); got != strconv.Itoa(b.lastYes) {
			t.Errorf("after ballot %d: last candidate's yes %s, want %d", i+1, got, b.lastYes)
		}
		if b.wantP4 {
			webuitest.WantBody(t, rec, `id="warnings"`, "P4", "此票无效")
		} else {
			wantNotBody(t, rec, `id="warnings"`)
		}
		if b.writtenIn != "" {
			webuitest.WantBody(t, rec, b.writtenIn)
		}
		// The next form is for the next serial.
		if got := fieldValue(t, body, "ballot-serial"); got != strconv.Itoa(i+2) {
			t.Errorf("after ballot %d: next serial %s, want %d", i+1, got, i+2)
		}
		held := st.record(t, "ballot", fmt.Sprintf("%s-R1-B%d", e.ID, i+1))
		var got election.Ballot
		if err := json.Unmarshal(held.Body, &got); err != nil {
			t.Fatal(err)
		}
		for k, c := range e.Candidates {
			if got.Marks[c] != b.form.Get("mark."+c) {
				t.Errorf("ballot %d held: candidate %d marked %q, want %q", i+1, k+1, got.Marks[c], b.form.Get("mark."+c))
			}
		}
		if !held.Pending {
			t.Errorf("ballot %d: not pending before any sync", i+1)
		}
	}

	// The tally sheet, prefilled from the ballots and the attendance.
	rec = st.get(t, "/tally?election="+url.QueryEscape(e.ID)+"&round=1")
	webuitest.WantStatus(t, rec, http.StatusOK)
	body := rec.Body.String()
	for id, want := range map[string]int{
		"sheet-issued": present, "sheet-returned": 3, "sheet-valid": 2, "sheet-invalid": 1,
		"sheet-yes-1": 2, "sheet-no-1": 0, "sheet-yes-2": 1, "sheet-abstain-2": 1,
		"sheet-no-" + strconv.Itoa(len(e.Candidates)): 1, "sheet-yes-" + strconv.Itoa(len(e.Candidates)): 1,
		"sheet-wi-count-1": 1,
	} {
		if got := fieldValue(t, body, id); got != strconv.Itoa(want) {
			t.Errorf("tally form %s: got %s, want %d", id, got, want)
		}
	}
	if got := fieldValue(t, body, "sheet-wi-name-1"); got != "王某某" {
		t.Errorf("tally form first write-in: got %q, want 王某某", got)
	}

	form := url.Values{"election": {e.ID}, "round": {"1"}, "kind": {election.RoundFormal},
		"issued": {strconv.Itoa(present)}, "returned": {"3"}, "valid": {"2"}, "invalid": {"1"},
		"write_in_name": {"王某某", ""}, "write_in_count": {"1", ""},
		"signers": {"计票人 甲\n监票人 乙\n"}, "elected": {e.Candidates[0]}}
	for i, c := range e.Candidates {
		form.Set("yes."+c, fieldValue(t, body, fmt.Sprintf("sheet-yes-%d", i+1)))
		form.Set("no."+c, fieldValue(t, body, fmt.Sprintf("sheet-no-%d", i+1)))
		form.Set("abstain."+c, fieldValue(t, body, fmt.Sprintf("sheet-abstain-%d", i+1)))
	}
	rec = st.post(t, "/tally", form)
	webuitest.WantStatus(t, rec, http.StatusOK)
	webuitest.WantBody(t, rec, "计票结果已保存", `id="sheet-`+e.ID+`-R1"`)
	wantNotBody(t, rec, `id="tally-form"`, `id="warnings"`)
	sheet, err := election.DecodeTallySheet(st.record(t, "tally_sheet", e.ID+"-R1").Body)
	if err != nil {
		t.Fatal(err)
	}
	if sheet.Issued != present || sheet.Returned != 3 || sheet.Valid != 2 || sheet.Invalid != 1 ||
		sheet.Votes[e.Candidates[0]].Yes != 2 || sheet.WriteIns["王某某"] != 1 ||
		!slices.Equal(sheet.Signers, []string{"计票人 甲", "监票人 乙"}) || !slices.Equal(sheet.Elected, e.Candidates[:1]) {
		t.Errorf("tally sheet held: got %+v", sheet)
	}

	// The records page: the ballots pending, the candidates from the
	// server.
	rec = st.get(t, "/records?collection=ballot")
	webuitest.WantBody(t, rec, `id="rec-`+e.ID+`-R1-B1" class="state-pending"`, `id="coll-ballot"`, `id="coll-candidate"`)
	webuitest.WantBody(t, st.get(t, "/records?collection=candidate"), `id="rec-`+e.Candidates[0]+`" class="state-pulled"`)

	// 同步: five records go up in one round trip and the server holds them
	// as captured.
	rec = st.post(t, "/sync", nil)
	webuitest.WantStatus(t, rec, http.StatusOK)
	body = rec.Body.String()
	webuitest.WantBody(t, rec, "同步完成")
	if got := cell(t, body, "sync-pushed"); got != "5" {
		t.Errorf("pushed: got %s, want 5", got)
	}
	if got := cell(t, body, "sync-pending"); got != "0" {
		t.Errorf("pending after sync: got %s, want 0", got)
	}
	if got := cell(t, body, "sync-round-trips"); got != "1" {
		t.Errorf("round trips: got %s, want 1", got)
	}
	webuitest.WantBody(t, rec, "已签收至第 5 条")
	ids := [][2]string{{"attendance", e.ID + "-ATT"}, {"tally_sheet", e.ID + "-R1"}}
	for i := range ballots {
		ids = append(ids, [2]string{"ballot", fmt.Sprintf("%s-R1-B%d", e.ID, i+1)})
	}
	for _, id := range ids {
		held := st.record(t, id[0], id[1])
		if held.Pending {
			t.Errorf("%s %s still pending after the sync", id[0], id[1])
		}
		w.onServer(t, id[0], id[1], held.Body)
	}

	webuitest.WantBody(t, st.get(t, "/records?collection=ballot"), `id="rec-`+e.ID+`-R1-B1" class="state-synced"`)

	// The tally page now shows the sheet, not the form.
	rec = st.get(t, "/tally?election="+url.QueryEscape(e.ID))
	webuitest.WantBody(t, rec, `id="sheet-`+e.ID+`-R1"`, "已同步", "计票人 甲")
	wantNotBody(t, rec, `id="tally-form"`)
}

// TestRuleWarnings captures records that break election rules: they are
// stored all the same, and the page shows the rule and its message in the
// page's language.
func TestRuleWarnings(t *testing.T) {
	w := newWorld(t)
	village := w.Village(1, 0)
	e, roll, _ := w.electionOf(t, village)
	st := w.laptop(t, election.RoleStation, village)

	sheet := func(round, issued, returned int) url.Values {
		f := url.Values{"election": {e.ID}, "round": {strconv.Itoa(round)}, "kind": {election.RoundFormal},
			"issued": {strconv.Itoa(issued)}, "returned": {strconv.Itoa(returned)}, "valid": {strconv.Itoa(returned)}, "invalid": {"0"},
			"signers": {"监票人 丙"}}
		if round > 1 {
			f.Set("kind", election.RoundAdditional)
		}
		for i, c := range e.Candidates {
			yes := 0
			if i < e.Seats {
				yes = returned
			}
			f.Set("yes."+c, strconv.Itoa(yes))
			f.Set("no."+c, strconv.Itoa(returned-yes))
			f.Set("abstain."+c, "0")
		}
		return f
	}

	tests := []struct {
		name     string
		path     string
		form     url.Values
		coll, id string
		want     []string
	}{
		{
			name: "P3ReturnedOverIssued", path: "/tally", form: sheet(1, 10, 12),
			coll: "tally_sheet", id: e.ID + "-R1",
			want: []string{"P3", election.CheckReturned(10, 12).Message, "计票结果已保存"},
		},
		{
			name: "P3InEnglish", path: "/tally?lang=en", form: sheet(2, 5, 6),
			coll: "tally_sheet", id: e.ID + "-R2",
			want: []string{"P3", election.CheckReturned(5, 6).MessageEN, "Tally sheet saved"},
		},
		{
			name: "P1NoQuorum", path: "/attendance",
			form: url.Values{"election": {e.ID}, "eligible": {strconv.Itoa(roll.Eligible)}, "present": {strconv.Itoa(roll.Eligible / 2)}},
			coll: "attendance", id: e.ID + "-ATT",
			want: []string{"P1", election.CheckQuorum(roll.Eligible, roll.Eligible/2).Message},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := st.post(t, tt.path, tt.form)
			webuitest.WantStatus(t, rec, http.StatusOK)
			webuitest.WantBody(t, rec, `id="warnings"`)
			webuitest.WantBody(t, rec, tt.want...)
			st.record(t, tt.coll, tt.id) // stored all the same
		})
	}
}

// TestFormsKeepWhatWasTyped sends forms the device must refuse: nothing
// is captured, the error says what to correct, and the form comes back
// with what was typed.
func TestFormsKeepWhatWasTyped(t *testing.T) {
	w := newWorld(t)
	village := w.Village(0, 1)
	e, _, names := w.electionOf(t, village)
	st := w.laptop(t, election.RoleStation, village)
	marks := slices.Repeat([]string{election.MarkNo}, len(e.Candidates))
	marks[0] = election.MarkYes

	// A ballot captured once, for the conflicting case below.
	webuitest.WantStatus(t, st.post(t, "/ballots", ballotForm(e, 1, marks)), http.StatusOK)
	other := slices.Clone(marks)
	other[0], other[1] = election.MarkNo, election.MarkYes

	goodSheet := func() url.Values {
		f := url.Values{"election": {e.ID}, "round": {"1"}, "kind": {election.RoundFormal},
			"issued": {"40"}, "returned": {"39"}, "valid": {"39"}, "invalid": {"0"}, "signers": {"监票人 丁"}}
		for _, c := range e.Candidates {
			f.Set("yes."+c, "20")
			f.Set("no."+c, "19")
			f.Set("abstain."+c, "0")
		}
		return f
	}
	noSigners := goodSheet()
	noSigners.Set("signers", " \n ")
	badYes := goodSheet()
	badYes.Set("yes."+e.Candidates[1], "二十")
	badKind := goodSheet()
	badKind.Set("kind", "WHATEVER")

	tests := []struct {
		name       string
		path       string
		form       url.Values
		wantStatus int
		want       []string // the error and what was typed
	}{
		{
			name: "BallotSerialZero", path: "/ballots", form: ballotForm(e, 0, marks, "李某某"),
			wantStatus: http.StatusUnprocessableEntity,
			want:       []string{"选票编号须为从 1 开始的整数", `id="mark-1-yes" checked`, `value="李某某"`},
		},
		{
			name: "BallotSerialTaken", path: "/ballots", form: ballotForm(e, 1, other, "赵某某"),
			wantStatus: http.StatusConflict,
			want:       []string{"与已保存的记录冲突", `id="mark-2-yes" checked`, `id="mark-1-no" checked`, `value="赵某某"`},
		},
		{
			name: "TallyWithoutSigners", path: "/tally", form: noSigners,
			wantStatus: http.StatusUnprocessableEntity,
			want:       []string{"请填写在计票单上签字的人员", `name="issued" inputmode="numeric" required value="40"`},
		},
		{
			name: "TallyCountNotANumber", path: "/tally", form: badYes,
			wantStatus: http.StatusUnprocessableEntity,
			want:       []string{names[e.Candidates[1]] + " 的赞成", "二十", `value="二十"`},
		},
		{
			name: "TallyKindUnknown", path: "/tally", form: badKind,
			wantStatus: http.StatusUnprocessableEntity,
			want:       []string{"请选择选举轮次的类别", "WHATEVER"},
		},
		{
			name: "AttendanceNegative", path: "/attendance",
			form:       url.Values{"election": {e.ID}, "eligible": {"40"}, "present": {"-3"}},
			wantStatus: http.StatusUnprocessableEntity,
			want:       []string{"实到会人数：请填写不小于 0 的整数", `value="-3"`, `value="40"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := st.captured(t)
			rec := st.post(t, tt.path, tt.form)
			webuitest.WantStatus(t, rec, tt.wantStatus)
			webuitest.WantBody(t, rec, `id="notice" class="notice error"`)
			webuitest.WantBody(t, rec, tt.want...)
			if after := st.captured(t); after != before {
				t.Errorf("captured changes: got %d after the refused form, want %d", after, before)
			}
		})
	}

	t.Run("SameBallotTwice", func(t *testing.T) {
		// A double click sends the same ballot again: it is recorded once.
		before := st.captured(t)
		rec := st.post(t, "/ballots", ballotForm(e, 1, marks))
		webuitest.WantStatus(t, rec, http.StatusOK)
		if after := st.captured(t); after != before {
			t.Errorf("captured changes: got %d after sending ballot 1 again, want %d", after, before)
		}
		if got := cell(t, rec.Body.String(), "tally-returned"); got != "1" {
			t.Errorf("running tally returned: got %s, want 1", got)
		}
	})
}
