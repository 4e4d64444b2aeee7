package station

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	client "villagesync/client-sdk"
	"villagesync/election"
	"villagesync/internal/webui"
)

// Limits of the supervision forms.
const (
	maxNotesLen    = 2000 // characters of notes and descriptions
	maxCategoryLen = 50
	maxFormIDLen   = 64
	visitRounds    = 4
	// datetimeLocal is the value of an <input type="datetime-local">.
	datetimeLocal = "2006-01-02T15:04"
)

// problemCategories are suggested for a problem's category; any other may
// be typed.
var problemCategories = []string{"程序", "选票", "资格审查", "会场秩序", "计票", "宣传动员", "其他"}

var (
	problemSources        = []string{election.SourceVisit, election.SourceInspection}
	rectificationStatuses = []string{election.RectificationOpen, election.RectificationInProgress, election.RectificationRectified, election.RectificationVerified}
)

// visitBody, problemBody are the bodies of supervision_visit and problem.
type (
	visitBody struct {
		Village   string `json:"village"`
		Round     int    `json:"round"`
		VisitedAt string `json:"visited_at"`
		Notes     string `json:"notes"`
	}
	problemBody struct {
		Village     string `json:"village"`
		Source      string `json:"source"`
		Category    string `json:"category"`
		Description string `json:"description"`
	}
	rectificationBody struct {
		Problem string `json:"problem"`
		Status  string `json:"status"`
		Notes   string `json:"notes"`
	}
)

// The supervision forms as typed. ID is the record id the form was given
// when it was shown: sending the same form twice records it once.
type (
	visitForm struct {
		ID, Village, Round, VisitedAt, Notes string
	}
	problemForm struct {
		ID, Village, Source, Category, Description string
	}
	rectificationForm struct {
		ID, Problem, Status, Notes string
	}
)

// visitRow, problemRow and rectificationRow are records on the page.
type (
	visitRow struct {
		held[visitBody]
		Village string // name
	}
	problemRow struct {
		held[problemBody]
		Village  string   // name
		Statuses []string // of its rectification records
	}
	rectificationRow struct {
		held[rectificationBody]
		Problem string // label
	}
)

// supervisionData is the supervision page.
type supervisionData struct {
	Township       string
	Villages       []option
	Problems       []option
	Visit          visitForm
	Problem        problemForm
	Rectification  rectificationForm
	Visits         []visitRow
	ProblemList    []problemRow
	Rectifications []rectificationRow
	Rounds         []int
	Sources        []string
	Statuses       []string
	Categories     []string
}

// supervisionForms are the forms of the page; a nil one is shown fresh.
type supervisionForms struct {
	visit         *visitForm
	problem       *problemForm
	rectification *rectificationForm
}

// supervisionPage is GET /supervision: the forms for a visit, a problem
// and a rectification, and what the device holds of each.
func (u *UI) supervisionPage(r *request) error {
	return u.renderSupervision(r, supervisionForms{})
}

func (u *UI) renderSupervision(r *request, forms supervisionForms) error {
	township := u.d.Scope().Code
	pl, err := u.places(r.ctx)
	if err != nil {
		return err
	}
	data := supervisionData{Township: township, Sources: problemSources, Statuses: rectificationStatuses, Categories: problemCategories}
	for i := 1; i <= visitRounds; i++ {
		data.Rounds = append(data.Rounds, i)
	}
	for _, v := range pl.villagesOf(township) {
		data.Villages = append(data.Villages, option{Value: v.Code, Label: v.Name + " (" + v.Code + ")"})
	}

	visits, err := listDecoded(r.ctx, u.d, "supervision_visit", decodeJSON[visitBody])
	if err != nil {
		return err
	}
	for _, v := range visits {
		data.Visits = append(data.Visits, visitRow{held: v, Village: pl.label(v.V.Village)})
	}
	slices.SortStableFunc(data.Visits, func(a, b visitRow) int { return strings.Compare(b.V.VisitedAt, a.V.VisitedAt) })

	problems, rects, err := u.problems(r.ctx)
	if err != nil {
		return err
	}
	statuses := make(map[string][]string)
	for _, rc := range rects {
		statuses[rc.V.Problem] = append(statuses[rc.V.Problem], rc.V.Status)
	}
	labels := make(map[string]string)
	for _, p := range problems {
		label := problemLabel(pl, p)
		labels[p.Rec.ID] = label
		data.ProblemList = append(data.ProblemList, problemRow{held: p, Village: pl.label(p.V.Village), Statuses: statuses[p.Rec.ID]})
		data.Problems = append(data.Problems, option{Value: p.Rec.ID, Label: label})
	}
	for _, rc := range rects {
		label, ok := labels[rc.V.Problem]
		if !ok {
			label = rc.V.Problem
		}
		data.Rectifications = append(data.Rectifications, rectificationRow{held: rc, Problem: label})
	}

	now := u.cfg.Now().In(webui.Shanghai)
	data.Visit = visitForm{ID: "SV-" + newID(), Round: "1", VisitedAt: now.Format(datetimeLocal)}
	if forms.visit != nil {
		data.Visit = *forms.visit
	}
	data.Problem = problemForm{ID: "PB-" + newID(), Source: election.SourceVisit}
	if forms.problem != nil {
		data.Problem = *forms.problem
	}
	data.Rectification = rectificationForm{ID: "RC-" + newID(), Status: election.RectificationInProgress}
	if forms.rectification != nil {
		data.Rectification = *forms.rectification
	}
	return u.render(r, "supervision", "supervision.title", "/supervision", data)
}

// problems returns the problems and rectification records the device
// holds.
func (u *UI) problems(ctx context.Context) ([]held[problemBody], []held[rectificationBody], error) {
	problems, err := listDecoded(ctx, u.d, "problem", decodeJSON[problemBody])
	if err != nil {
		return nil, nil, err
	}
	rects, err := listDecoded(ctx, u.d, "rectification", decodeJSON[rectificationBody])
	if err != nil {
		return nil, nil, err
	}
	slices.SortStableFunc(rects, func(a, b held[rectificationBody]) int {
		return cmp.Or(strings.Compare(a.V.Problem, b.V.Problem), strings.Compare(a.Rec.ID, b.Rec.ID))
	})
	return problems, rects, nil
}

// problemLabel names a problem in a select: its village, category and the
// start of its description.
func problemLabel(pl *places, p held[problemBody]) string {
	desc := p.V.Description
	if utf8.RuneCountInString(desc) > 24 {
		desc = string([]rune(desc)[:24]) + "…"
	}
	village := pl.name(p.V.Village)
	if village == "" {
		village = p.V.Village
	}
	return village + " · " + p.V.Category + " · " + desc
}

// formID checks the record id a form carries.
func formID(id, prefix string) error {
	if !strings.HasPrefix(id, prefix) || len(id) > maxFormIDLen || len(id) == len(prefix) {
		return errBadID
	}
	for _, c := range id[len(prefix):] {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return errBadID
		}
	}
	return nil
}

// checkVillage checks that code is a village of the supervisor's township
// in the synced reference data.
func (u *UI) checkVillage(r *request, code string) error {
	pl, err := u.places(r.ctx)
	if err != nil {
		return err
	}
	for _, v := range pl.villagesOf(u.d.Scope().Code) {
		if v.Code == code {
			return nil
		}
	}
	return invalid("form.village")
}

// checkText checks a required or optional free text of at most n
// characters; label is its message key.
func checkText(s string, label msgArg, n int, required bool) error {
	switch {
	case required && strings.TrimSpace(s) == "":
		return invalid("form.required", label)
	case utf8.RuneCountInString(s) > n:
		return invalid("form.too_long", label, n)
	}
	return nil
}

// capture captures a record and shows the supervision page with the
// result; on a refusal the page shows the forms as typed.
func (u *UI) captureSupervision(r *request, collection, id string, body any, forms supervisionForms, ok string) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	got, err := u.d.Capture(r.ctx, collection, id, raw)
	if err != nil {
		return u.again(r, err, func() error { return u.renderSupervision(r, forms) })
	}
	r.saved(ok, got.Warnings)
	return u.renderSupervision(r, supervisionForms{})
}

// captureVisit is POST /supervision/visit.
func (u *UI) captureVisit(r *request) error {
	r.back = "/supervision"
	f := &visitForm{ID: r.postValue("id"), Village: r.postValue("village"), Round: r.postValue("round"),
		VisitedAt: r.postValue("visited_at"), Notes: r.postValue("notes")}
	forms := supervisionForms{visit: f}
	if err := formID(f.ID, "SV-"); err != nil {
		return err
	}
	check := func() (visitBody, error) {
		if err := u.checkVillage(r, f.Village); err != nil {
			return visitBody{}, err
		}
		round, err := strconv.Atoi(f.Round)
		if err != nil || round < 1 || round > visitRounds {
			return visitBody{}, invalid("form.visit_round", f.Round)
		}
		at, err := parseLocalTime(f.VisitedAt)
		if err != nil {
			return visitBody{}, err
		}
		if err := checkText(f.Notes, "visit.notes", maxNotesLen, false); err != nil {
			return visitBody{}, err
		}
		return visitBody{Village: f.Village, Round: round, VisitedAt: at, Notes: f.Notes}, nil
	}
	body, err := check()
	if err != nil {
		return u.again(r, err, func() error { return u.renderSupervision(r, forms) })
	}
	return u.captureSupervision(r, "supervision_visit", f.ID, body, forms, "ok.visit")
}

// parseLocalTime reads a time typed in a datetime-local field, in China
// Standard Time, as RFC 3339.
func parseLocalTime(s string) (string, error) {
	for _, layout := range []string{datetimeLocal, datetimeLocal + ":05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, webui.Shanghai); err == nil {
			return t.Format(time.RFC3339), nil
		}
	}
	return "", invalid("form.time", s)
}

// captureProblem is POST /supervision/problem.
func (u *UI) captureProblem(r *request) error {
	r.back = "/supervision"
	f := &problemForm{ID: r.postValue("id"), Village: r.postValue("village"), Source: r.postValue("source"),
		Category: r.postValue("category"), Description: r.postValue("description")}
	forms := supervisionForms{problem: f}
	if err := formID(f.ID, "PB-"); err != nil {
		return err
	}
	check := func() error {
		if err := u.checkVillage(r, f.Village); err != nil {
			return err
		}
		if !slices.Contains(problemSources, f.Source) {
			return invalid("form.source", f.Source)
		}
		if err := checkText(f.Category, "problem.category", maxCategoryLen, true); err != nil {
			return err
		}
		return checkText(f.Description, "problem.description", maxNotesLen, true)
	}
	if err := check(); err != nil {
		return u.again(r, err, func() error { return u.renderSupervision(r, forms) })
	}
	body := problemBody{Village: f.Village, Source: f.Source, Category: f.Category, Description: f.Description}
	return u.captureSupervision(r, "problem", f.ID, body, forms, "ok.problem")
}

// captureRectification is POST /supervision/rectification.
func (u *UI) captureRectification(r *request) error {
	r.back = "/supervision"
	f := &rectificationForm{ID: r.postValue("id"), Problem: r.postValue("problem"), Status: r.postValue("status"), Notes: r.postValue("notes")}
	forms := supervisionForms{rectification: f}
	if err := formID(f.ID, "RC-"); err != nil {
		return err
	}
	check := func() error {
		problems, _, err := u.problems(r.ctx)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(problems, func(p held[problemBody]) bool { return p.Rec.ID == f.Problem }) {
			return invalid("form.problem")
		}
		if !slices.Contains(rectificationStatuses, f.Status) {
			return invalid("form.status", f.Status)
		}
		return checkText(f.Notes, "rect.notes", maxNotesLen, false)
	}
	if err := check(); err != nil {
		return u.again(r, err, func() error { return u.renderSupervision(r, forms) })
	}
	body := rectificationBody{Problem: f.Problem, Status: f.Status, Notes: f.Notes}
	return u.captureSupervision(r, "rectification", f.ID, body, forms, "ok.rectification")
}

// villageRow is one village of the township page: what the device holds
// about it.
type villageRow struct {
	villageRef
	ElectionStatus string
	Attendance     int
	Ballots        int
	Sheets         int
	VisitRounds    []int
	Problems       int
	Rectifications int
	Pending        int // records about it captured here and not yet synced
}

// townshipData is the township page.
type townshipData struct {
	Township string
	Villages []villageRow
	Visited  int // villages with at least one visit
}

// placeBody reads the fields that place a record at a village.
type placeBody struct {
	Village  string `json:"village"`
	Election string `json:"election"`
	Problem  string `json:"problem"`
	Round    int    `json:"round"`
}

// townshipPage is GET /township: the villages of the supervisor's township
// and what the device holds about each, synced or pending.
func (u *UI) townshipPage(r *request) error {
	township := u.d.Scope().Code
	pl, err := u.places(r.ctx)
	if err != nil {
		return err
	}
	rows := make(map[string]*villageRow)
	data := townshipData{Township: township}
	for _, v := range pl.villagesOf(township) {
		rows[v.Code] = &villageRow{villageRef: v}
	}
	els, err := listDecoded(r.ctx, u.d, "election", election.DecodeElection)
	if err != nil {
		return err
	}
	electionVillage := make(map[string]string)
	for _, e := range els {
		electionVillage[e.Rec.ID] = e.V.Village
		if row, ok := rows[e.V.Village]; ok && e.V.Type == election.TypePartyCommittee {
			row.ElectionStatus = e.V.Status
		}
	}
	problemVillage := make(map[string]string)
	for _, coll := range []string{"problem", "attendance", "ballot", "tally_sheet", "supervision_visit", "rectification"} {
		recs, err := listDecoded(r.ctx, u.d, coll, decodeJSON[placeBody])
		if err != nil {
			return err
		}
		for _, rec := range recs {
			village := u.villageOf(coll, rec, electionVillage, problemVillage)
			if coll == "problem" {
				problemVillage[rec.Rec.ID] = village
			}
			row, ok := rows[village]
			if !ok {
				continue
			}
			if rec.Rec.Pending {
				row.Pending++
			}
			switch coll {
			case "problem":
				row.Problems++
			case "attendance":
				row.Attendance++
			case "ballot":
				row.Ballots++
			case "tally_sheet":
				row.Sheets++
			case "supervision_visit":
				if !slices.Contains(row.VisitRounds, rec.V.Round) {
					row.VisitRounds = append(row.VisitRounds, rec.V.Round)
					slices.Sort(row.VisitRounds)
				}
			case "rectification":
				row.Rectifications++
			}
		}
	}
	for _, v := range pl.villagesOf(township) {
		row := rows[v.Code]
		if len(row.VisitRounds) > 0 {
			data.Visited++
		}
		data.Villages = append(data.Villages, *row)
	}
	return u.render(r, "township", "township.title", "/township", data)
}

// villageOf is the village a record is about.
func (u *UI) villageOf(coll string, rec held[placeBody], electionVillage, problemVillage map[string]string) string {
	switch {
	case rec.V.Village != "":
		return rec.V.Village
	case rec.V.Election != "":
		if v, ok := electionVillage[rec.V.Election]; ok {
			return v
		}
		return villageOfElection(rec.V.Election)
	case coll == "rectification":
		return problemVillage[rec.V.Problem]
	}
	return ""
}

// recordState names the sync state of a record for the pages.
func recordState(rec client.Record, self string) string {
	switch {
	case rec.Pending:
		return "pending"
	case rec.Device == self:
		return "synced"
	}
	return "pulled"
}
