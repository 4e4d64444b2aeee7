package station

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"villagesync/election"
)

// Limits of the election forms.
const (
	// maxRound is the highest round the pages offer.
	maxRound = 20
	// maxNameLen bounds a written-in name or a signer, in characters.
	maxNameLen = 50
	// maxSigners bounds the signers of a tally sheet.
	maxSigners = 20
	// writeInSlots is how many write-in fields a ballot form has.
	writeInSlots = 2
	// blankWriteInRows is how many empty write-in rows a tally form adds.
	blankWriteInRows = 2
)

// sheetKinds are the committee rounds a tally sheet may record here. The
// new committee's SECRETARY plenary is not in this slice of the UI.
var sheetKinds = []string{election.RoundFormal, election.RoundAdditional, election.RoundRerun, election.RoundTieBreak}

// parseCount reads a count typed in a form: a whole number ≥ 0. label is
// the message key of the field, who the candidate it is about ("" if none).
func parseCount(s string, label msgArg, who string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > 1<<31-1 {
		if who != "" {
			return 0, invalid("form.count_of", who, label, s)
		}
		return 0, invalid("form.count", label, s)
	}
	return n, nil
}

// parseRound reads the round of a page or form: 1 when empty.
func parseRound(s string) (int, error) {
	if s == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxRound {
		return 0, invalid("form.round", maxRound, s)
	}
	return n, nil
}

// checkName checks a written-in name or a signer.
func checkName(s string) error {
	if utf8.RuneCountInString(s) > maxNameLen {
		return invalid("form.name_too_long", maxNameLen, s)
	}
	return nil
}

// stationElection is the election a station page or form is about (the
// query's or the form's "election", else the first), and all of them.
func (u *UI) stationElection(r *request) ([]electionView, *electionView, error) {
	els, err := u.elections(r.ctx)
	if err != nil {
		return nil, nil, err
	}
	e, err := electionFor(els, r.query("election"))
	return els, e, err
}

// electionPick links to the elections of the village from a page.
type electionPick struct {
	Elections []electionView
	Current   string
	Path      string
}

// Href is the page of election id.
func (p electionPick) Href(id string) string { return href(p.Path, "election", id) }

// roundPick links to the rounds of an election from a page.
type roundPick struct {
	Rounds   []int
	Current  int
	Path     string
	Election string
}

// Href is the page of round n.
func (p roundPick) Href(n int) string {
	return href(p.Path, "election", p.Election, "round", strconv.Itoa(n))
}

// attendanceForm is the attendance form as typed.
type attendanceForm struct {
	Eligible, Present string
}

// electionData is the election page.
type electionData struct {
	Elections  []electionView
	E          *electionView
	Attendance []held[election.Attendance]
	// AttendanceWarnings are the rule checks of the attendance held.
	AttendanceWarnings []election.Finding
	Form               attendanceForm
	Ballots            int // recorded for round 1
	Sheets             int // tally sheets of round 1
	Pick               electionPick
	BallotsHref        string
	TallyHref          string
}

// electionPage is GET /election: the village's election from the synced
// reference data, its candidates and the attendance.
func (u *UI) electionPage(r *request) error {
	els, e, err := u.stationElection(r)
	if err != nil {
		return err
	}
	return u.renderElection(r, els, e, nil)
}

func (u *UI) renderElection(r *request, els []electionView, e *electionView, form *attendanceForm) error {
	data := electionData{Elections: els, E: e}
	if e == nil {
		return u.render(r, "election", "election.title", "/election", data)
	}
	data.Pick = electionPick{Elections: els, Current: e.ID, Path: "/election"}
	data.BallotsHref = href("/ballots", "election", e.ID, "round", "1")
	data.TallyHref = href("/tally", "election", e.ID, "round", "1")
	atts, err := listDecoded(r.ctx, u.d, "attendance", election.DecodeAttendance)
	if err != nil {
		return err
	}
	for _, a := range atts {
		if a.V.Election == e.ID {
			data.Attendance = append(data.Attendance, a)
			data.AttendanceWarnings = append(data.AttendanceWarnings, election.Warnings("attendance", a.Rec.Body, noResolver{})...)
		}
	}
	switch {
	case form != nil:
		data.Form = *form
	case e.Roll != nil:
		data.Form = attendanceForm{Eligible: strconv.Itoa(e.Roll.Eligible)}
	}
	t, err := u.roundTally(r, e, 1)
	if err != nil {
		return err
	}
	data.Ballots = len(t.Ballots)
	sheets, err := u.sheets(r, e, 1)
	if err != nil {
		return err
	}
	data.Sheets = len(sheets)
	return u.render(r, "election", "election.title", "/election", data)
}

// captureAttendance is POST /attendance.
func (u *UI) captureAttendance(r *request) error {
	els, e, err := u.stationElection(r)
	if err != nil {
		return err
	}
	if e == nil {
		return errNoElection
	}
	r.back = href("/election", "election", e.ID)
	f := attendanceForm{Eligible: r.postValue("eligible"), Present: r.postValue("present")}
	page := func() error { return u.renderElection(r, els, e, &f) }
	eligible, err := parseCount(f.Eligible, "attendance.eligible", "")
	if err != nil {
		return u.again(r, err, page)
	}
	present, err := parseCount(f.Present, "attendance.present", "")
	if err != nil {
		return u.again(r, err, page)
	}
	body, err := json.Marshal(election.Attendance{Election: e.ID, Eligible: eligible, Present: present})
	if err != nil {
		return err
	}
	got, err := u.d.Capture(r.ctx, "attendance", e.ID+"-ATT", body)
	if err != nil {
		return u.again(r, err, page)
	}
	r.saved("ok.attendance", got.Warnings)
	return u.renderElection(r, els, e, nil)
}

// ballotRow is one ballot recorded for a round.
type ballotRow struct {
	ID         string
	Serial     int
	Marks      []markCell // in ballot order
	WriteIns   []string
	Valid      bool // P4: not more names chosen than seats
	Pending    bool
	Conflict   string
	Superseded bool
}

// markCell is one candidate's mark on a ballot.
type markCell struct {
	Candidate string
	Mark      string
}

// tallyRow is one candidate's counts.
type tallyRow struct {
	Candidate candidateView
	election.Votes
}

// writeInCount is a written-in name and its count.
type writeInCount struct {
	Name  string
	Count int
}

// roundTally is the running count of the ballots recorded for a round.
type roundTally struct {
	Ballots                  []ballotRow // by serial
	Returned, Valid, Invalid int
	Rows                     []tallyRow // in ballot order
	WriteIns                 []writeInCount
	NextSerial               int
}

// roundTally counts the ballots the device holds for a round of e as the
// tally sheet would: a ballot choosing more names than seats is invalid
// (P4), a ballot the county superseded counts for nothing.
func (u *UI) roundTally(r *request, e *electionView, round int) (roundTally, error) {
	bs, err := listDecoded(r.ctx, u.d, "ballot", election.DecodeBallot)
	if err != nil {
		return roundTally{}, err
	}
	t := roundTally{NextSerial: 1}
	votes := make(map[string]election.Votes)
	writeIns := make(map[string]int)
	for _, b := range bs {
		if b.V.Election != e.ID || b.V.Round != round {
			continue
		}
		row := ballotRow{ID: b.Rec.ID, Serial: b.V.Serial, WriteIns: b.V.WriteIns, Pending: b.Rec.Pending,
			Conflict: b.Rec.Conflict, Superseded: b.Rec.Superseded}
		for _, c := range e.Candidates {
			if m, ok := b.V.Marks[c.ID]; ok {
				row.Marks = append(row.Marks, markCell{Candidate: c.ID, Mark: m})
			}
		}
		row.Valid = election.CheckBallot(b.V, e.Seats).Outcome != election.Fail
		t.Ballots = append(t.Ballots, row)
		t.NextSerial = max(t.NextSerial, b.V.Serial+1)
		if row.Superseded {
			continue
		}
		t.Returned++
		if !row.Valid {
			t.Invalid++
			continue
		}
		t.Valid++
		for c, m := range b.V.Marks {
			v := votes[c]
			switch m {
			case election.MarkYes:
				v.Yes++
			case election.MarkNo:
				v.No++
			case election.MarkAbstain:
				v.Abstain++
			}
			votes[c] = v
		}
		for _, w := range b.V.WriteIns {
			writeIns[w]++
		}
	}
	slices.SortFunc(t.Ballots, func(a, b ballotRow) int { return cmp.Or(cmp.Compare(a.Serial, b.Serial), cmp.Compare(a.ID, b.ID)) })
	for _, c := range e.Candidates {
		t.Rows = append(t.Rows, tallyRow{Candidate: c, Votes: votes[c.ID]})
	}
	for _, w := range slices.Sorted(maps.Keys(writeIns)) {
		t.WriteIns = append(t.WriteIns, writeInCount{Name: w, Count: writeIns[w]})
	}
	return t, nil
}

// ballotForm is the ballot form as typed.
type ballotForm struct {
	Serial   string
	Marks    map[string]string // candidate id → yes, no or abstain
	WriteIns []string
}

// newBallotForm is an empty ballot: every candidate abstains (left
// unmarked on the paper), the next serial.
func newBallotForm(e *electionView, serial int) *ballotForm {
	f := &ballotForm{Serial: strconv.Itoa(serial), Marks: make(map[string]string), WriteIns: make([]string, writeInSlots)}
	for _, c := range e.Candidates {
		f.Marks[c.ID] = election.MarkAbstain
	}
	return f
}

// ballot checks the form and returns the ballot it records.
func (f *ballotForm) ballot(e *electionView, round int) (election.Ballot, error) {
	serial, err := strconv.Atoi(strings.TrimSpace(f.Serial))
	if err != nil || serial < 1 {
		return election.Ballot{}, invalid("form.serial", f.Serial)
	}
	b := election.Ballot{Election: e.ID, Round: round, Serial: serial, Marks: make(map[string]string), WriteIns: []string{}}
	for _, c := range e.Candidates {
		m := f.Marks[c.ID]
		if m != election.MarkYes && m != election.MarkNo && m != election.MarkAbstain {
			return election.Ballot{}, invalid("form.mark", c.Name)
		}
		b.Marks[c.ID] = m
	}
	for _, w := range f.WriteIns {
		if w = strings.TrimSpace(w); w == "" {
			continue
		}
		if err := checkName(w); err != nil {
			return election.Ballot{}, err
		}
		b.WriteIns = append(b.WriteIns, w)
	}
	return b, nil
}

// ballotsData is the ballots page of a round.
type ballotsData struct {
	Elections []electionView
	E         *electionView
	Round     int
	Rounds    []int
	Tally     roundTally
	Form      *ballotForm
	Marks     []string // the marks a candidate may get
	Pick      electionPick
	RoundPick roundPick
	TallyHref string
}

// Name is the name of a candidate of the election.
func (d ballotsData) Name(id string) string {
	if c, ok := d.E.candidate(id); ok {
		return c.Name
	}
	return id
}

// ballotsPage is GET /ballots: the form for the next ballot read out
// (唱票) and the running tally of the round.
func (u *UI) ballotsPage(r *request) error {
	els, e, round, err := u.electionRound(r)
	if err != nil {
		return err
	}
	return u.renderBallots(r, els, e, round, nil)
}

// electionRound is the election and round a GET page is about (?election=
// and ?round=).
func (u *UI) electionRound(r *request) ([]electionView, *electionView, int, error) {
	els, e, err := u.stationElection(r)
	if err != nil {
		return nil, nil, 0, err
	}
	round, err := parseRound(r.query("round"))
	if err != nil {
		return nil, nil, 0, err
	}
	return els, e, round, nil
}

func (u *UI) renderBallots(r *request, els []electionView, e *electionView, round int, form *ballotForm) error {
	data := ballotsData{Elections: els, E: e, Round: round, Marks: []string{election.MarkYes, election.MarkNo, election.MarkAbstain}}
	if e == nil {
		return u.render(r, "ballots", "ballots.title", "/election", data)
	}
	t, err := u.roundTally(r, e, round)
	if err != nil {
		return err
	}
	data.Tally = t
	data.Rounds = roundLinks(round, t.Ballots != nil)
	data.Pick = electionPick{Elections: els, Current: e.ID, Path: "/ballots"}
	data.RoundPick = roundPick{Rounds: data.Rounds, Current: round, Path: "/ballots", Election: e.ID}
	data.TallyHref = href("/tally", "election", e.ID, "round", strconv.Itoa(round))
	data.Form = form
	if form == nil {
		data.Form = newBallotForm(e, t.NextSerial)
	}
	return u.render(r, "ballots", "ballots.title", "/election", data)
}

// roundLinks are the rounds a page links to: 1 up to the one shown, and
// the next one when the one shown has records.
func roundLinks(round int, used bool) []int {
	last := round
	if used && round < maxRound {
		last++
	}
	out := make([]int, 0, last)
	for i := 1; i <= last; i++ {
		out = append(out, i)
	}
	return out
}

// captureBallot is POST /ballots: one ballot as it was read out.
func (u *UI) captureBallot(r *request) error {
	els, e, err := u.stationElection(r)
	if err != nil {
		return err
	}
	if e == nil {
		return errNoElection
	}
	round, err := parseRound(r.postValue("round"))
	if err != nil {
		return err
	}
	r.back = href("/ballots", "election", e.ID, "round", strconv.Itoa(round))
	f := &ballotForm{Serial: r.postValue("serial"), Marks: make(map[string]string)}
	for _, c := range e.Candidates {
		f.Marks[c.ID] = r.postValue("mark." + c.ID)
	}
	f.WriteIns = slices.Clone(r.postValues("write_in"))
	for len(f.WriteIns) < writeInSlots {
		f.WriteIns = append(f.WriteIns, "")
	}
	page := func() error { return u.renderBallots(r, els, e, round, f) }
	b, err := f.ballot(e, round)
	if err != nil {
		return u.again(r, err, page)
	}
	body, err := json.Marshal(b)
	if err != nil {
		return err
	}
	got, err := u.d.Capture(r.ctx, "ballot", fmt.Sprintf("%s-R%d-B%d", e.ID, round, b.Serial), body)
	if err != nil {
		return u.again(r, err, page)
	}
	// Capture has no rule for a ballot alone; P4 needs the seats.
	ws := got.Warnings
	if p4 := election.CheckBallot(b, e.Seats); p4.Outcome == election.Fail {
		ws = append(ws, p4)
	}
	r.saved("ok.ballot", ws)
	r.notice.Summary = r.lang.F("ok.ballot", b.Serial)
	return u.renderBallots(r, els, e, round, nil)
}

// sheets returns the tally sheets the device holds for a committee round
// of e.
func (u *UI) sheets(r *request, e *electionView, round int) ([]held[election.TallySheet], error) {
	all, err := listDecoded(r.ctx, u.d, "tally_sheet", election.DecodeTallySheet)
	if err != nil {
		return nil, err
	}
	var out []held[election.TallySheet]
	for _, s := range all {
		if s.V.Election == e.ID && s.V.Round == round && s.V.Kind != election.RoundSecretary {
			out = append(out, s)
		}
	}
	return out, nil
}

// sheetView is a tally sheet held, as the page shows it.
type sheetView struct {
	held[election.TallySheet]
	Rows     []tallyRow
	WriteIns []writeInCount
	Elected  []string // names
	Warnings []election.Finding
}

// tallyFormRow is one candidate's counts on the tally form, as typed.
type tallyFormRow struct {
	Candidate        candidateView
	Yes, No, Abstain string
	Elected          bool
}

// writeInField is a written-in name and its count on the tally form.
type writeInField struct {
	Name, Count string
}

// tallyForm is the tally sheet form as typed.
type tallyForm struct {
	Kind                             string
	Issued, Returned, Valid, Invalid string
	Rows                             []tallyFormRow
	WriteIns                         []writeInField
	Signers                          string // one per line
}

// tallyData is the tally sheet page of a round.
type tallyData struct {
	Elections []electionView
	E         *electionView
	Round     int
	Rounds    []int
	Sheets    []sheetView
	Form      *tallyForm
	// Counted is how many ballots the form was prefilled from.
	Counted   bool
	Kinds     []string
	Pick      electionPick
	RoundPick roundPick
}

// tallyPage is GET /tally: the round's tally sheet if it is recorded, or
// the form for it, prefilled from the ballots recorded one by one.
func (u *UI) tallyPage(r *request) error {
	els, e, round, err := u.electionRound(r)
	if err != nil {
		return err
	}
	return u.renderTally(r, els, e, round, nil)
}

func (u *UI) renderTally(r *request, els []electionView, e *electionView, round int, form *tallyForm) error {
	data := tallyData{Elections: els, E: e, Round: round, Kinds: sheetKinds}
	if e == nil {
		return u.render(r, "tally", "tally.title", "/election", data)
	}
	sheets, err := u.sheets(r, e, round)
	if err != nil {
		return err
	}
	for _, s := range sheets {
		data.Sheets = append(data.Sheets, u.sheetView(e, s))
	}
	t, err := u.roundTally(r, e, round)
	if err != nil {
		return err
	}
	data.Rounds = roundLinks(round, len(sheets) > 0 || t.Ballots != nil)
	data.Pick = electionPick{Elections: els, Current: e.ID, Path: "/tally"}
	data.RoundPick = roundPick{Rounds: data.Rounds, Current: round, Path: "/tally", Election: e.ID}
	switch {
	case form != nil:
		data.Form = form
	case len(sheets) == 0:
		data.Form, err = u.prefill(r, e, round, t)
		if err != nil {
			return err
		}
		data.Counted = t.Returned > 0
	}
	return u.render(r, "tally", "tally.title", "/election", data)
}

// sheetView prepares a held tally sheet for the page, with the rule checks
// it fails or that need review.
func (u *UI) sheetView(e *electionView, s held[election.TallySheet]) sheetView {
	sv := sheetView{held: s}
	for _, c := range e.Candidates {
		sv.Rows = append(sv.Rows, tallyRow{Candidate: c, Votes: s.V.Votes[c.ID]})
	}
	for _, w := range slices.Sorted(maps.Keys(s.V.WriteIns)) {
		sv.WriteIns = append(sv.WriteIns, writeInCount{Name: w, Count: s.V.WriteIns[w]})
	}
	for _, id := range s.V.Elected {
		name := id
		if c, ok := e.candidate(id); ok {
			name = c.Name
		}
		sv.Elected = append(sv.Elected, name)
	}
	sv.Warnings = election.Warnings("tally_sheet", s.Rec.Body, noResolver{})
	return sv
}

// prefill is the tally form of a round counted from its ballots; issued
// is the attendance's present for round 1, else the ballots returned.
func (u *UI) prefill(r *request, e *electionView, round int, t roundTally) (*tallyForm, error) {
	f := &tallyForm{Kind: election.RoundFormal}
	if round > 1 {
		f.Kind = election.RoundAdditional
	}
	issued := t.Returned
	if round == 1 {
		atts, err := listDecoded(r.ctx, u.d, "attendance", election.DecodeAttendance)
		if err != nil {
			return nil, err
		}
		for _, a := range atts {
			if a.V.Election == e.ID && !a.Rec.Superseded {
				issued = a.V.Present
				break
			}
		}
	}
	f.Issued, f.Returned = strconv.Itoa(issued), strconv.Itoa(t.Returned)
	f.Valid, f.Invalid = strconv.Itoa(t.Valid), strconv.Itoa(t.Invalid)
	for _, row := range t.Rows {
		f.Rows = append(f.Rows, tallyFormRow{Candidate: row.Candidate,
			Yes: strconv.Itoa(row.Yes), No: strconv.Itoa(row.No), Abstain: strconv.Itoa(row.Abstain)})
	}
	for _, w := range t.WriteIns {
		f.WriteIns = append(f.WriteIns, writeInField{Name: w.Name, Count: strconv.Itoa(w.Count)})
	}
	for range blankWriteInRows {
		f.WriteIns = append(f.WriteIns, writeInField{})
	}
	return f, nil
}

// sheet checks the form and returns the tally sheet it records.
func (f *tallyForm) sheet(e *electionView, round int) (election.TallySheet, error) {
	s := election.TallySheet{Election: e.ID, Round: round, Kind: f.Kind, Votes: make(map[string]election.Votes)}
	if !slices.Contains(sheetKinds, f.Kind) {
		return s, invalid("form.kind", f.Kind)
	}
	var err error
	for _, fld := range []struct {
		dst   *int
		value string
		label msgArg
	}{
		{&s.Issued, f.Issued, "tally.issued"},
		{&s.Returned, f.Returned, "tally.returned"},
		{&s.Valid, f.Valid, "tally.valid"},
		{&s.Invalid, f.Invalid, "tally.invalid"},
	} {
		if *fld.dst, err = parseCount(fld.value, fld.label, ""); err != nil {
			return s, err
		}
	}
	for _, row := range f.Rows {
		var v election.Votes
		for _, fld := range []struct {
			dst   *int
			value string
			label msgArg
		}{{&v.Yes, row.Yes, "mark.yes"}, {&v.No, row.No, "mark.no"}, {&v.Abstain, row.Abstain, "mark.abstain"}} {
			if *fld.dst, err = parseCount(fld.value, fld.label, row.Candidate.Name); err != nil {
				return s, err
			}
		}
		s.Votes[row.Candidate.ID] = v
		if row.Elected {
			s.Elected = append(s.Elected, row.Candidate.ID)
		}
	}
	for _, w := range f.WriteIns {
		name := strings.TrimSpace(w.Name)
		if name == "" && strings.TrimSpace(w.Count) == "" {
			continue
		}
		if name == "" {
			return s, invalid("form.write_in_name", w.Count)
		}
		if err := checkName(name); err != nil {
			return s, err
		}
		n, err := parseCount(w.Count, "tally.write_in_count", name)
		if err != nil {
			return s, err
		}
		if s.WriteIns == nil {
			s.WriteIns = make(map[string]int)
		}
		if _, dup := s.WriteIns[name]; dup {
			return s, invalid("form.write_in_twice", name)
		}
		s.WriteIns[name] = n
	}
	for line := range strings.Lines(f.Signers) {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		if err := checkName(line); err != nil {
			return s, err
		}
		s.Signers = append(s.Signers, line)
	}
	switch {
	case len(s.Signers) == 0:
		return s, invalid("form.signers")
	case len(s.Signers) > maxSigners:
		return s, invalid("form.too_many_signers", maxSigners)
	}
	return s, nil
}

// captureTally is POST /tally: the round's tally sheet as transcribed from
// the signed paper sheet.
func (u *UI) captureTally(r *request) error {
	els, e, err := u.stationElection(r)
	if err != nil {
		return err
	}
	if e == nil {
		return errNoElection
	}
	round, err := parseRound(r.postValue("round"))
	if err != nil {
		return err
	}
	r.back = href("/tally", "election", e.ID, "round", strconv.Itoa(round))
	elected := r.postValues("elected")
	f := &tallyForm{
		Kind:   r.postValue("kind"),
		Issued: r.postValue("issued"), Returned: r.postValue("returned"),
		Valid: r.postValue("valid"), Invalid: r.postValue("invalid"),
		Signers: r.c.Request().PostForm.Get("signers"),
	}
	for _, c := range e.Candidates {
		f.Rows = append(f.Rows, tallyFormRow{Candidate: c,
			Yes: r.postValue("yes." + c.ID), No: r.postValue("no." + c.ID), Abstain: r.postValue("abstain." + c.ID),
			Elected: slices.Contains(elected, c.ID)})
	}
	names, counts := r.postValues("write_in_name"), r.postValues("write_in_count")
	for i := range max(len(names), len(counts)) {
		var w writeInField
		if i < len(names) {
			w.Name = names[i]
		}
		if i < len(counts) {
			w.Count = counts[i]
		}
		f.WriteIns = append(f.WriteIns, w)
	}
	page := func() error { return u.renderTally(r, els, e, round, f) }
	s, err := f.sheet(e, round)
	if err != nil {
		return u.again(r, err, page)
	}
	body, err := json.Marshal(s)
	if err != nil {
		return err
	}
	got, err := u.d.Capture(r.ctx, "tally_sheet", fmt.Sprintf("%s-R%d", e.ID, round), body)
	if err != nil {
		return u.again(r, err, page)
	}
	r.saved("ok.tally", got.Warnings)
	return u.renderTally(r, els, e, round, nil)
}
