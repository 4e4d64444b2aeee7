package election_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"villagesync/election"
)

// seedRecords returns d's reference records, previous term included, as a
// replica stores them.
func seedRecords(tb testing.TB, d *election.Dataset) []election.StoredRecord {
	tb.Helper()
	recs := d.Records()
	if pt, ok := d.PreviousTermRecord(); ok {
		recs = append(recs, pt)
	}
	out := make([]election.StoredRecord, 0, len(recs))
	for _, r := range recs {
		out = append(out, election.StoredRecord{Collection: r.Collection, ID: r.ID, Body: r.Body, Place: r.Place})
	}
	return out
}

// stored makes a stored record of a fact with a JSON body.
func stored(tb testing.TB, collection, id string, body any) election.StoredRecord {
	tb.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	return election.StoredRecord{Collection: collection, ID: id, Body: b}
}

// electionOf returns the seeded election and roll of village.
func electionOf(tb testing.TB, d *election.Dataset, village string) (election.Election, election.RollCount) {
	tb.Helper()
	for i, e := range d.Elections {
		if e.Village == village {
			return e, d.Rolls[i]
		}
	}
	tb.Fatalf("no election for village %s", village)
	return election.Election{}, election.RollCount{}
}

// runByTheBook returns the attendance and FORMAL tally sheet of an election
// run by the book: everyone present, the first Seats candidates elected
// with every vote, the runner-up with none.
func runByTheBook(tb testing.TB, d *election.Dataset, village string) []election.StoredRecord {
	tb.Helper()
	e, roll := electionOf(tb, d, village)
	n := roll.Eligible
	votes := make(map[string]map[string]int)
	for i, c := range e.Candidates {
		if i < e.Seats {
			votes[c] = map[string]int{"yes": n, "no": 0, "abstain": 0}
		} else {
			votes[c] = map[string]int{"yes": 0, "no": n, "abstain": 0}
		}
	}
	return []election.StoredRecord{
		stored(tb, "attendance", e.ID+"-att", map[string]any{"election": e.ID, "eligible": n, "present": n}),
		stored(tb, "tally_sheet", e.ID+"-R1", sheetBody(e.ID, n, n, votes)),
	}
}

func sheetBody(election string, issued, returned int, votes map[string]map[string]int) map[string]any {
	return map[string]any{
		"election": election, "round": 1, "kind": "FORMAL",
		"issued": issued, "returned": returned, "valid": returned, "invalid": 0,
		"votes": votes, "signers": []string{"计票人 甲", "监票人 乙"},
	}
}

// winners returns the age sum and the college-educated count of the first
// Seats candidates of village's election: what a clean election elects.
func winners(tb testing.TB, d *election.Dataset, village string) (members, ageSum, college int) {
	tb.Helper()
	e, _ := electionOf(tb, d, village)
	for _, c := range d.Candidates {
		if i := slices.Index(e.Candidates, c.ID); i >= 0 && i < e.Seats {
			members++
			ageSum += election.DongliaoElectionYear - c.BirthYear
			if election.CollegeOrAbove(c.Education) {
				college++
			}
		}
	}
	return members, ageSum, college
}

func assess(tb testing.TB, recs []election.StoredRecord, conflicts ...election.Place) *election.Assessment {
	tb.Helper()
	in, skipped := election.NewReportInput(election.DongliaoCode, recs)
	if len(skipped) > 0 {
		tb.Fatalf("NewReportInput skipped %v, want every record read", skipped)
	}
	in.OpenConflicts = conflicts
	return election.Assess(in)
}

func villageRow(tb testing.TB, r election.CountyReport, code string) election.VillageSummary {
	tb.Helper()
	for _, v := range r.Villages {
		if v.Code == code {
			return v
		}
	}
	tb.Fatalf("no village %s in the report", code)
	return election.VillageSummary{}
}

func TestReport_SeededCounty(t *testing.T) {
	d := election.Dongliao()
	rep := assess(t, seedRecords(t, d)).Report(nil)
	c := rep.County
	want := election.CountySummary{
		Code: election.DongliaoCode, Name: election.DongliaoName, Villages: 235,
		KeyVillages: 8, PrevMembers: 790, PrevAvgAge: 46.1, PrevCollegeShare: 0.149,
	}
	if c != want {
		t.Errorf("county before election day:\n got %+v\nwant %+v", c, want)
	}
	if len(rep.Townships) != 13 || len(rep.Villages) != 235 {
		t.Fatalf("got %d townships and %d villages, want 13 and 235", len(rep.Townships), len(rep.Villages))
	}
	if tw := rep.Townships[0]; tw.Code != "220422100" || tw.Name != "白泉镇" || tw.Villages != 24 || tw.HeldOnTime != 0 {
		t.Errorf("got first township %+v, want 白泉镇 with 24 villages, none held", tw)
	}
	v := rep.Villages[0]
	if v.Code != "220422100201" || v.Township != "220422100" || v.Status != election.VillageNotHeld || v.Election != "220422100201-PC" || v.OneTimeSuccess {
		t.Errorf("got first village %+v, want 220422100201 not held", v)
	}
	if v.Rules[election.P2] != election.Pass || v.Rules[election.P3] != election.NotApplicable {
		t.Errorf("got rules %v, want P2 PASS and P3 NOT_APPLICABLE before the vote", v.Rules)
	}
}

// TestReport_AllClean runs every seeded election by the book: the figures
// are those the county reported (SPEC §1).
func TestReport_AllClean(t *testing.T) {
	d := election.Dongliao()
	recs := seedRecords(t, d)
	for _, v := range d.Villages {
		recs = append(recs, runByTheBook(t, d, v.Code)...)
	}
	a := assess(t, recs)
	if vs := a.Violations(); len(vs) != 0 {
		t.Fatalf("got %d violations (first %+v), want none", len(vs), vs[0])
	}
	c := a.Report(nil).County
	checks := []struct {
		name      string
		got, want float64
	}{
		{"held_on_time", c.HeldOnTime, 1},
		{"one_time_success", c.OneTimeSuccess, 1},
		{"members_elected", float64(c.MembersElected), 782},
		{"avg_age", c.AvgAge, 43.4},
		{"prev_avg_age", c.PrevAvgAge, 46.1},
		{"college", float64(c.College), 199},
		{"college_share", c.CollegeShare, 0.254},
		{"prev_college_share", c.PrevCollegeShare, 0.149},
		{"rule_violations", float64(c.RuleViolations), 0},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestReport_FewVillages(t *testing.T) {
	d := election.Dongliao()
	recs := seedRecords(t, d)
	clean := []string{"220422100201", "220422100202", "220422101201"}
	var members, ageSum, college int
	for _, v := range clean {
		recs = append(recs, runByTheBook(t, d, v)...)
		m, a, c := winners(t, d, v)
		members, ageSum, college = members+m, ageSum+a, college+c
	}
	// A village whose sheet returns more ballots than were issued.
	void := "220422101202"
	e, roll := electionOf(t, d, void)
	votes := map[string]map[string]int{e.Candidates[0]: {"yes": roll.Eligible, "no": 0, "abstain": 0}}
	recs = append(recs,
		stored(t, "attendance", e.ID+"-att", map[string]any{"election": e.ID, "eligible": roll.Eligible, "present": roll.Eligible}),
		stored(t, "tally_sheet", e.ID+"-R1", sheetBody(e.ID, roll.Eligible, roll.Eligible+2, votes)),
	)
	// Supervision: a visit, a problem rectified, one still open, an
	// inspection problem verified, training and a returned member.
	recs = append(recs,
		stored(t, "supervision_visit", "v1", map[string]any{"village": clean[0], "round": 1, "visited_at": "2026-03-07T09:00:00+08:00", "notes": ""}),
		stored(t, "supervision_visit", "v2", map[string]any{"village": clean[0], "round": 2, "visited_at": "2026-03-07T11:00:00+08:00", "notes": ""}),
		stored(t, "supervision_visit", "v3", map[string]any{"village": void, "round": 1, "visited_at": "2026-03-07T09:00:00+08:00", "notes": ""}),
		stored(t, "problem", "p1", map[string]any{"village": clean[0], "source": "visit", "category": "程序", "description": "d"}),
		stored(t, "problem", "p2", map[string]any{"village": void, "source": "visit", "category": "程序", "description": "d"}),
		stored(t, "problem", "p3", map[string]any{"village": clean[2], "source": "inspection", "category": "程序", "description": "d"}),
		stored(t, "training_session", "tr1", map[string]any{"township": "220422100", "held_on": "2026-02-20", "kind": "DRILL", "attendance": 38}),
		stored(t, "training_session", "tr2", map[string]any{"township": "220422101", "held_on": "2026-02-21", "kind": "DRILL", "attendance": 40}),
		stored(t, "returned_member", "rm1", map[string]any{"village": clean[1], "origin": "长春", "returned_on": "2026-03-06"}),
	)
	rect := func(id, problem, status string, wall int64) election.StoredRecord {
		r := stored(t, "rectification", id, map[string]any{"problem": problem, "status": status, "notes": ""})
		r.Wall, r.Device, r.Seq = wall, "dev-a", uint64(wall)
		return r
	}
	recs = append(recs,
		rect("r1", "p1", election.RectificationInProgress, 1),
		rect("r2", "p1", election.RectificationRectified, 2),
		rect("r3", "p2", election.RectificationOpen, 3),
		rect("r4", "p3", election.RectificationRectified, 4),
		rect("r5", "p3", election.RectificationVerified, 5),
	)

	a := assess(t, recs)
	rep := a.Report(nil)
	c := rep.County
	want := election.CountySummary{
		Code: election.DongliaoCode, Name: election.DongliaoName, Villages: 235,
		HeldOnTime: 0.017, OneTimeSuccess: 0.013, HeldOnTimeVillages: 4, OneTimeSuccessVillages: 3,
		MembersElected: members, AvgAge: float64(int(float64(ageSum)/float64(members)*10+0.5)) / 10,
		PrevMembers: 790, PrevAvgAge: 46.1, College: college, CollegeShare: float64(int(float64(college)/float64(members)*1000+0.5)) / 1000,
		PrevCollegeShare: 0.149, SupervisionVisits: 3, SupervisionCoverage: 0.003,
		ProblemsFound: 2, ProblemsRectified: 1, InspectionProblemsFound: 1, InspectionProblemsRectified: 1,
		KeyVillages: 8, TrainingSessions: 2, TrainingAttendance: 78, ReturnedMembers: 1,
		RuleViolations: 1,
	}
	if c != want {
		t.Errorf("county:\n got %+v\nwant %+v", c, want)
	}
	if members < 9 {
		t.Fatalf("clean villages elected %d members, want at least 3 each: the fixture is wrong", members)
	}

	row := villageRow(t, rep, void)
	if row.Rules[election.P3] != election.Fail || row.OneTimeSuccess || row.Status != election.VillageVoid || row.RuleViolations != 1 || !row.HeldOnTime {
		t.Errorf("village with returned > issued: got %+v, want P3 FAIL, held but void, not a one-time success, 1 violation", row)
	}
	vs := a.Violations()
	if len(vs) != 1 || vs[0].ID != "RV-"+e.ID+"-P3" || vs[0].Outcome != election.Fail || vs[0].Village != void ||
		!slices.Contains(vs[0].Evidence, election.Ref{Collection: "tally_sheet", ID: e.ID + "-R1"}) || !strings.Contains(vs[0].MessageEN, "void") {
		t.Errorf("got violations %+v, want one P3 FAIL about %s's sheet", vs, e.ID)
	}
	for _, code := range clean {
		if r := villageRow(t, rep, code); !r.OneTimeSuccess || r.Status != election.VillageHeld || r.MembersElected == 0 {
			t.Errorf("clean village: got %+v, want a held one-time success", r)
		}
	}
	tw := rep.Townships[1]
	if tw.Code != "220422101" || tw.Villages != 20 || tw.HeldOnTimeVillages != 2 || tw.OneTimeSuccessVillages != 1 ||
		tw.HeldOnTime != 0.1 || tw.OneTimeSuccess != 0.05 || tw.ProblemsFound != 1 || tw.ProblemsRectified != 0 || tw.RuleViolations != 1 || tw.SupervisionVisits != 1 {
		t.Errorf("got township %+v, want 渭津镇 with 2 of 20 held, 1 success, 1 open problem, 1 violation", tw)
	}

	t.Run("Acknowledged", func(t *testing.T) {
		rep := a.Report(map[string]bool{"RV-" + e.ID + "-P3": true})
		row := villageRow(t, rep, void)
		if !slices.Equal(row.Acknowledged, []election.RuleID{election.P3}) || row.Rules[election.P3] != election.Fail ||
			rep.County.ViolationsAcknowledged != 1 || rep.County.RuleViolations != 1 {
			t.Errorf("got %+v (county %d acknowledged of %d), want P3 still FAIL and acknowledged", row, rep.County.ViolationsAcknowledged, rep.County.RuleViolations)
		}
	})

	t.Run("Within", func(t *testing.T) {
		w := a.Within("220422101").Report(nil)
		if len(w.Townships) != 1 || len(w.Villages) != 20 || w.County.Villages != 20 || w.County.HeldOnTimeVillages != 2 ||
			w.County.TrainingSessions != 1 || w.County.PrevMembers != 0 || w.County.RuleViolations != 1 || w.County.InspectionProblemsFound != 1 {
			t.Errorf("got %+v with %d townships and %d villages, want 渭津镇 alone", w.County, len(w.Townships), len(w.Villages))
		}
	})
}

func TestReport_Conflicts(t *testing.T) {
	d := election.Dongliao()
	village := "220422102201"
	e, roll := electionOf(t, d, village)
	recs := append(seedRecords(t, d), runByTheBook(t, d, village)...)

	t.Run("OpenConflictAboutTheVillage", func(t *testing.T) {
		// A conflict on the village's records (a rewritten fact, say):
		// nothing about the village is certain until it is resolved.
		conflict := election.Place{Township: election.TownshipOf(village), Village: village}
		rep := assess(t, recs, conflict, election.Place{}).Report(nil)
		row := villageRow(t, rep, village)
		if row.OneTimeSuccess || row.Status != election.VillageConflict || row.OpenConflicts != 1 {
			t.Errorf("got %+v, want status CONFLICT, 1 open conflict, no one-time success", row)
		}
		if rep.County.OpenConflicts != 2 || rep.County.OneTimeSuccessVillages != 0 || rep.Townships[2].OpenConflicts != 1 {
			t.Errorf("got county %d open conflicts, %d successes, township %d; want 2, 0, 1",
				rep.County.OpenConflicts, rep.County.OneTimeSuccessVillages, rep.Townships[2].OpenConflicts)
		}
	})

	t.Run("TwoSheetsForOneRound", func(t *testing.T) {
		votes := map[string]map[string]int{e.Candidates[0]: {"yes": 1, "no": 0, "abstain": 0}}
		other := stored(t, "tally_sheet", e.ID+"-R1-b", sheetBody(e.ID, roll.Eligible, roll.Eligible, votes))
		a := assess(t, append(slices.Clone(recs), other))
		row := villageRow(t, a.Report(nil), village)
		if row.Status != election.VillageConflict || row.OneTimeSuccess || row.MembersElected != 0 || row.Rules[election.D2] != election.Review {
			t.Errorf("got %+v, want CONFLICT, D2 REVIEW and nothing derived", row)
		}
		for _, v := range a.Violations() {
			if v.Rule == election.D2 {
				t.Errorf("got violation %+v, want conflicts listed as conflicts, not violations", v)
			}
		}

		// The county keeps the first sheet: the other is superseded.
		other.Superseded = true
		row = villageRow(t, assess(t, append(slices.Clone(recs), other)).Report(nil), village)
		if row.Status != election.VillageHeld || !row.OneTimeSuccess || row.MembersElected != e.Seats {
			t.Errorf("after resolution: got %+v, want a held one-time success electing %d", row, e.Seats)
		}
	})

	t.Run("ContradictoryRectification", func(t *testing.T) {
		more := []election.StoredRecord{
			stored(t, "problem", "p9", map[string]any{"village": village, "source": "visit", "category": "c", "description": "d"}),
			{Collection: "rectification", ID: "r9a", Body: []byte(`{"problem":"p9","status":"RECTIFIED","notes":""}`), Wall: 5, Device: "dev-a", Seq: 1},
			{Collection: "rectification", ID: "r9b", Body: []byte(`{"problem":"p9","status":"OPEN","notes":""}`), Wall: 5, Device: "dev-b", Seq: 1},
		}
		a := assess(t, append(slices.Clone(recs), more...))
		vs := a.Violations()
		if len(vs) != 1 || vs[0].ID != "RV-p9-D3" || vs[0].Problem != "p9" || vs[0].Village != village || vs[0].Outcome != election.Review {
			t.Fatalf("got %+v, want one D3 REVIEW about p9", vs)
		}
		if row := villageRow(t, a.Report(nil), village); row.Rules[election.D3] != election.Review || row.RuleViolations != 1 {
			t.Errorf("got %+v, want D3 REVIEW in the village's rules", row)
		}
	})
}

func TestNewReportInput(t *testing.T) {
	d := election.Dongliao()
	village := "220422103201"
	e, _ := electionOf(t, d, village)
	recs := append(seedRecords(t, d), runByTheBook(t, d, village)...)
	recs = append(recs,
		stored(t, "tally_amendment", "am1", map[string]any{"sheet": e.ID + "-R1", "reason": "r", "signers": map[string]string{"station": "甲", "supervisor": "乙"}, "invalid": 0}),
		stored(t, "attendance", "orphan", map[string]any{"election": "220422103299-PC", "eligible": 1, "present": 1}),
		election.StoredRecord{Collection: "tally_sheet", ID: "broken", Body: []byte(`{"election":7}`)},
		election.StoredRecord{Collection: "ballot_box", ID: "x", Body: []byte(`{}`)},
	)
	in, skipped := election.NewReportInput(election.DongliaoCode, recs)
	if !slices.Equal(skipped, []election.Ref{{Collection: "tally_sheet", ID: "broken"}}) {
		t.Errorf("got skipped %v, want the undecodable sheet only", skipped)
	}
	if in.CountyName != election.DongliaoName || in.Previous == nil || in.Previous.Members != 790 || len(in.Townships) != 13 ||
		len(in.Villages) != 235 || len(in.Elections) != 235 {
		t.Fatalf("got county %q, previous %+v, %d townships, %d villages, %d elections", in.CountyName, in.Previous, len(in.Townships), len(in.Villages), len(in.Elections))
	}
	i := slices.IndexFunc(in.Elections, func(f election.ElectionFacts) bool { return f.Election.ID == e.ID })
	f := in.Elections[i]
	if len(f.Candidates) != e.Seats+1 || f.Roll == nil || len(f.Attendance) != 1 || len(f.Sheets) != 1 || len(f.Amendments) != 1 || f.Sheets[0].ID != e.ID+"-R1" {
		t.Errorf("got facts %+v, want candidates, roll, attendance, sheet and its amendment", f)
	}
}

func TestPreviousTermRecord(t *testing.T) {
	d := election.Dongliao()
	rec, ok := d.PreviousTermRecord()
	if !ok {
		t.Fatal("Dongliao has no previous-term record")
	}
	c := mustLookup(t, "previous_term")
	p, err := c.Validate(rec.ID, rec.Body, nil)
	if err != nil || p != (election.Place{}) || rec.ID != election.DongliaoCode {
		t.Fatalf("got %s %s at %+v (%v), want a valid county-wide record", rec.ID, rec.Body, p, err)
	}
	pt, err := election.DecodePreviousTerm(rec.Body)
	if err != nil || pt != (election.PreviousTerm{Members: 790, AgeSum: 36419, College: 118}) {
		t.Errorf("got %+v (%v), want 790 members, age sum 36419, 118 college", pt, err)
	}
	other := election.Dongliao()
	other.County.Code = "220421"
	if _, ok := other.PreviousTermRecord(); ok {
		t.Error("an unknown county has a previous-term record, want none")
	}
}

func TestResolutionCollection(t *testing.T) {
	c := mustLookup(t, "resolution")
	if c.Kind != election.KindReference || !slices.Equal(c.Authors, []election.Role{election.RoleCounty}) {
		t.Fatalf("got kind %v authors %v, want a county reference collection", c.Kind, c.Authors)
	}
	village := "220422100201"
	sheets := resolver{"tally_sheet/s1": {Township: "220422100", Village: village}}
	body := func(edit func(m map[string]any)) []byte {
		m := map[string]any{
			"conflict": "CF-0123456789abcdef", "kind": "slot", "collection": "tally_sheet", "slot": village + "-PC/round/1",
			"versions": []map[string]string{{"ref": "dev-a/3", "id": "s1"}, {"ref": "dev-b/7", "id": "s2"}},
			"keep":     "dev-b/7", "reason": "与纸质计票单核对", "resolved_by": "county-admin", "resolved_at": "2026-03-08T10:00:00Z",
		}
		if edit != nil {
			edit(m)
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	id := "RES-CF-0123456789abcdef"
	tests := []struct {
		name      string
		id        string
		body      []byte
		want      election.Place
		wantField string // "" = valid
	}{
		{"PlaceFromRecords", id, body(nil), election.Place{Township: "220422100", Village: village}, ""},
		{"PlaceFromFields", id, body(func(m map[string]any) { m["village"] = "220422101203"; m["township"] = "220422101" }), election.Place{Township: "220422101", Village: "220422101203"}, ""},
		{"TownshipWide", id, body(func(m map[string]any) { m["township"] = "220422101" }), election.Place{Township: "220422101"}, ""},
		{"InconsistentPlace", id, body(func(m map[string]any) { m["village"] = "220422101203"; m["township"] = "220422100" }), election.Place{}, "township"},
		{"IDNotOfConflict", "RES-CF-ffff", body(nil), election.Place{}, "conflict"},
		{"KeepNotAVersion", id, body(func(m map[string]any) { m["keep"] = "dev-c/1" }), election.Place{}, "keep"},
		{"OneVersion", id, body(func(m map[string]any) { m["versions"] = []map[string]string{{"ref": "dev-a/3", "id": "s1"}} }), election.Place{}, "versions"},
		{"VersionWithoutRef", id, body(func(m map[string]any) {
			m["versions"] = []map[string]string{{"id": "s1"}, {"ref": "dev-b/7", "id": "s2"}}
		}), election.Place{}, "versions[0].ref"},
		{"UnknownRecords", id, body(func(m map[string]any) { m["collection"] = "attendance" }), election.Place{}, "versions"},
		{"BadKind", id, body(func(m map[string]any) { m["kind"] = "both" }), election.Place{}, "kind"},
		{"NoReason", id, body(func(m map[string]any) { m["reason"] = "" }), election.Place{}, "reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := c.Validate(tt.id, tt.body, sheets)
			if tt.wantField == "" {
				if err != nil || p != tt.want {
					t.Fatalf("got %+v, %v; want %+v", p, err, tt.want)
				}
				return
			}
			ve, ok := err.(*election.ValidationError)
			if !ok || ve.Field != tt.wantField {
				t.Fatalf("got %v, want a validation error on %s", err, tt.wantField)
			}
		})
	}

	res, err := election.DecodeResolution(body(nil))
	if err != nil {
		t.Fatal(err)
	}
	kept, ok := res.KeptVersion()
	if !ok || kept != (election.ResolutionVersion{Ref: "dev-b/7", ID: "s2"}) || res.Kind != election.ConflictSlot || len(res.Versions) != 2 {
		t.Errorf("got %+v keeping %+v, want the slot resolution keeping s2", res, kept)
	}
	if got := mustLookup(t, "resolution").Slot(id, body(nil)); got != id {
		t.Errorf("got slot %q, want the record id (a reference record)", got)
	}
}

func ExampleAssessment_Report() {
	d := election.Dongliao()
	var recs []election.StoredRecord
	for _, r := range d.Records() {
		recs = append(recs, election.StoredRecord{Collection: r.Collection, ID: r.ID, Body: r.Body, Place: r.Place})
	}
	in, _ := election.NewReportInput(d.County.Code, recs)
	rep := election.Assess(in).Report(nil)
	fmt.Println(rep.County.Name, rep.County.Villages, rep.County.KeyVillages, rep.County.HeldOnTime)
	// Output: 东辽县 235 8 0
}

// TestAssessor checks that assessing again and again, as records change,
// gives what assessing from scratch gives.
func TestAssessor(t *testing.T) {
	d := election.Dongliao()
	village := "220422104203"
	e, roll := electionOf(t, d, village)
	recs := seedRecords(t, d)
	for i := range recs {
		recs[i].Device, recs[i].Seq = "dev-authority", uint64(i+1)
	}
	a := election.NewAssessor(election.DongliaoCode)
	check := func(step string, recs []election.StoredRecord, conflicts ...election.Place) {
		t.Helper()
		got, gotSkipped := a.Assess(recs, conflicts)
		in, skipped := election.NewReportInput(election.DongliaoCode, recs)
		in.OpenConflicts = conflicts
		want := election.Assess(in)
		if !reflect.DeepEqual(got.Report(nil), want.Report(nil)) || !reflect.DeepEqual(got.Violations(), want.Violations()) ||
			!slices.Equal(gotSkipped, skipped) {
			t.Fatalf("%s: the assessor and a fresh assessment disagree", step)
		}
	}
	check("Seeded", recs)
	facts := runByTheBook(t, d, village)
	for i := range facts {
		facts[i].Device, facts[i].Seq = "dev-station", uint64(i+1)
	}
	recs = append(recs, facts...)
	check("Held", recs)
	votes := map[string]map[string]int{e.Candidates[0]: {"yes": 1, "no": 0, "abstain": 0}}
	other := stored(t, "tally_sheet", e.ID+"-R1-b", sheetBody(e.ID, roll.Eligible, roll.Eligible, votes))
	other.Device, other.Seq = "dev-other", 1
	recs = append(recs, other)
	check("SlotConflict", recs, election.Place{Township: election.TownshipOf(village), Village: village})
	recs[len(recs)-1].Superseded = true
	check("Resolved", recs)
	// The same change id with another body (a replica's record conflict
	// resolved the other way) is read again.
	recs[len(recs)-2].Body = []byte(strings.Replace(string(recs[len(recs)-2].Body), `"issued":`, `"issued":1`, 1))
	check("BodyChanged", recs)
	recs = append(recs, election.StoredRecord{Collection: "ballot", ID: "broken", Body: []byte(`{"election":1}`)})
	check("Undecodable", recs)
}
