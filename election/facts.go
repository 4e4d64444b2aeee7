package election

import (
	"encoding/json"
	"fmt"
)

// Typed views of record bodies. The Decode functions read a body that
// [Collection.Validate] has accepted; they check JSON types only, so a body
// that was never validated may decode into values no rule expects. A body
// may carry its record id in an "id" field; when it does not, the caller,
// who knows the record id, sets the ID field.

// Votes are one candidate's counts on a tally sheet.
type Votes struct {
	Yes     int `json:"yes"`
	No      int `json:"no"`
	Abstain int `json:"abstain"`
}

// Attendance is the sign-in count of an election (到会情况): those with a
// vote who should attend (应到会) and those present (实到会). Proxies counts
// written proxy votes (委托投票), allowed in villagers'-committee elections
// and never in Party elections.
type Attendance struct {
	ID       string `json:"id,omitempty"`
	Election string `json:"election"`
	Eligible int    `json:"eligible"`
	Present  int    `json:"present"`
	Proxies  int    `json:"proxies,omitempty"`
}

// SeatReduction is a members' vote, recorded on a tally sheet, to reduce
// the number of seats when fewer candidates passed than seats (P7).
type SeatReduction struct {
	NewSeats int `json:"new_seats"`
	VotesFor int `json:"votes_for"`
}

// TallySheet is the transcription of one signed paper tally sheet
// (计票结果/选举结果报告单) for one round of an election. Elected, when
// present, lists the winners the paper sheet declares, which the rules
// compare with the winners recomputed from the counts.
type TallySheet struct {
	ID            string           `json:"id,omitempty"`
	Election      string           `json:"election"`
	Round         int              `json:"round"`
	Kind          string           `json:"kind"`
	Issued        int              `json:"issued"`
	Returned      int              `json:"returned"`
	Valid         int              `json:"valid"`
	Invalid       int              `json:"invalid"`
	Votes         map[string]Votes `json:"votes"`
	WriteIns      map[string]int   `json:"write_ins,omitempty"`
	Signers       []string         `json:"signers"`
	Photo         string           `json:"photo,omitempty"`
	Elected       []string         `json:"elected,omitempty"`
	SeatReduction *SeatReduction   `json:"seat_reduction,omitempty"`
}

// Ballot is one anonymous ballot as it was read out (唱票): its serial and
// marks, never who cast it. Marks maps candidate ids to [MarkYes], [MarkNo]
// or [MarkAbstain]; WriteIns are the names written in (另选他人).
type Ballot struct {
	ID       string            `json:"id,omitempty"`
	Election string            `json:"election"`
	Round    int               `json:"round"`
	Serial   int               `json:"serial"`
	Marks    map[string]string `json:"marks"`
	WriteIns []string          `json:"write_ins"`
}

// Signers of a tally amendment: the station's and the supervisor's.
type Signers struct {
	Station    string `json:"station"`
	Supervisor string `json:"supervisor"`
}

// Amendment corrects a tally sheet (更正). It cites the sheet, gives a
// reason and carries two signatures; a nil field is not corrected. Votes
// replaces the counts of the candidates it names; WriteIns replaces the
// write-in counts it names; Elected, when non-nil, replaces the declared
// winners.
type Amendment struct {
	ID       string           `json:"id,omitempty"`
	Sheet    string           `json:"sheet"`
	Reason   string           `json:"reason"`
	Signers  Signers          `json:"signers"`
	Issued   *int             `json:"issued,omitempty"`
	Returned *int             `json:"returned,omitempty"`
	Valid    *int             `json:"valid,omitempty"`
	Invalid  *int             `json:"invalid,omitempty"`
	Votes    map[string]Votes `json:"votes,omitempty"`
	WriteIns map[string]int   `json:"write_ins,omitempty"`
	Elected  []string         `json:"elected,omitempty"`
}

// Approval records a township or county approval (批准): of the secretary
// election result, of a seat reduction, of quorum exclusions, or of a
// formal exception such as a manual fallback.
type Approval struct {
	ID         string `json:"id,omitempty"`
	Election   string `json:"election"`
	Kind       string `json:"kind"`
	ApprovedBy string `json:"approved_by"`
	ApprovedAt string `json:"approved_at"` // RFC 3339
	Notes      string `json:"notes"`
}

// RoleAssignment appoints a person to an election role: [RoleScrutineer],
// [RoleCounter], [RoleChiefScrutineer] or [RoleTeller]. Person is a
// pseudonymous person id; a person who is also a candidate is named by
// their candidate id.
type RoleAssignment struct {
	ID       string `json:"id,omitempty"`
	Election string `json:"election"`
	Person   string `json:"person"`
	Role     string `json:"role"`
}

// RectificationEvent is one rectification record (整改) of a problem. The
// body gives Problem, Status, Notes and, optionally, After: the id of the
// latest event of the same problem its author had seen. Wall, Logical,
// Device and Seq come from the change that carried the record (its hybrid
// logical clock, author and sequence number); the caller fills them in.
type RectificationEvent struct {
	ID      string `json:"id,omitempty"`
	Problem string `json:"problem"`
	Status  string `json:"status"`
	Notes   string `json:"notes"`
	After   string `json:"after,omitempty"`

	Wall    int64  `json:"-"`
	Logical uint32 `json:"-"`
	Device  string `json:"-"`
	Seq     uint64 `json:"-"`
}

// DecodeElection reads an election record body.
func DecodeElection(body []byte) (Election, error) {
	d, err := newDecoder("election", body)
	if err != nil {
		return Election{}, err
	}
	e := Election{
		ID:         d.str("id"),
		Village:    d.str("village"),
		Type:       d.str("type"),
		Seats:      d.int("seats"),
		Date:       d.str("date"),
		Status:     d.str("status"),
		Candidates: d.strs("candidates"),
	}
	return e, d.done()
}

// DecodeCandidate reads a candidate record body.
func DecodeCandidate(body []byte) (Candidate, error) {
	d, err := newDecoder("candidate", body)
	if err != nil {
		return Candidate{}, err
	}
	c := Candidate{
		ID:          d.str("id"),
		Election:    d.str("election"),
		Name:        d.str("name"),
		BirthYear:   d.int("birth_year"),
		Sex:         d.str("sex"),
		Education:   d.str("education"),
		PartyStatus: d.str("party_status"),
	}
	return c, d.done()
}

// DecodeRollCount reads a roll_count record body.
func DecodeRollCount(body []byte) (RollCount, error) {
	d, err := newDecoder("roll_count", body)
	if err != nil {
		return RollCount{}, err
	}
	rc := RollCount{
		Election:    d.str("election"),
		FullMembers: d.int("full_members"),
		Eligible:    d.int("eligible"),
		Exclusions:  d.int("exclusions"),
		Registrants: d.strs("registrants"),
		PublishedOn: d.str("published_on"),
	}
	return rc, d.done()
}

// DecodeRoleAssignment reads a role_assignment record body.
func DecodeRoleAssignment(body []byte) (RoleAssignment, error) {
	d, err := newDecoder("role_assignment", body)
	if err != nil {
		return RoleAssignment{}, err
	}
	ra := RoleAssignment{
		ID:       d.str("id"),
		Election: d.str("election"),
		Person:   d.str("person"),
		Role:     d.str("role"),
	}
	return ra, d.done()
}

// DecodeAttendance reads an attendance record body.
func DecodeAttendance(body []byte) (Attendance, error) {
	d, err := newDecoder("attendance", body)
	if err != nil {
		return Attendance{}, err
	}
	a := Attendance{
		ID:       d.str("id"),
		Election: d.str("election"),
		Eligible: d.int("eligible"),
		Present:  d.int("present"),
		Proxies:  d.int("proxies"),
	}
	return a, d.done()
}

// DecodeTallySheet reads a tally_sheet record body.
func DecodeTallySheet(body []byte) (TallySheet, error) {
	d, err := newDecoder("tally_sheet", body)
	if err != nil {
		return TallySheet{}, err
	}
	s := TallySheet{
		ID:       d.str("id"),
		Election: d.str("election"),
		Round:    d.int("round"),
		Kind:     d.str("kind"),
		Issued:   d.int("issued"),
		Returned: d.int("returned"),
		Valid:    d.int("valid"),
		Invalid:  d.int("invalid"),
		Votes:    d.votes("votes"),
		WriteIns: d.counts("write_ins"),
		Signers:  d.strs("signers"),
		Photo:    d.str("photo"),
		Elected:  d.strs("elected"),
	}
	if sub := d.object("seat_reduction"); sub != nil {
		s.SeatReduction = &SeatReduction{NewSeats: sub.int("new_seats"), VotesFor: sub.int("votes_for")}
		d.take(sub)
	}
	return s, d.done()
}

// DecodeBallot reads a ballot record body.
func DecodeBallot(body []byte) (Ballot, error) {
	d, err := newDecoder("ballot", body)
	if err != nil {
		return Ballot{}, err
	}
	b := Ballot{
		ID:       d.str("id"),
		Election: d.str("election"),
		Round:    d.int("round"),
		Serial:   d.int("serial"),
		Marks:    d.marks("marks"),
		WriteIns: d.strs("write_ins"),
	}
	return b, d.done()
}

// DecodeAmendment reads a tally_amendment record body.
func DecodeAmendment(body []byte) (Amendment, error) {
	d, err := newDecoder("tally_amendment", body)
	if err != nil {
		return Amendment{}, err
	}
	a := Amendment{
		ID:       d.str("id"),
		Sheet:    d.str("sheet"),
		Reason:   d.str("reason"),
		Issued:   d.intPtr("issued"),
		Returned: d.intPtr("returned"),
		Valid:    d.intPtr("valid"),
		Invalid:  d.intPtr("invalid"),
		Votes:    d.votes("votes"),
		WriteIns: d.counts("write_ins"),
		Elected:  d.strs("elected"),
	}
	if sub := d.object("signers"); sub != nil {
		a.Signers = Signers{Station: sub.str("station"), Supervisor: sub.str("supervisor")}
		d.take(sub)
	}
	return a, d.done()
}

// DecodeApproval reads an approval record body.
func DecodeApproval(body []byte) (Approval, error) {
	d, err := newDecoder("approval", body)
	if err != nil {
		return Approval{}, err
	}
	a := Approval{
		ID:         d.str("id"),
		Election:   d.str("election"),
		Kind:       d.str("kind"),
		ApprovedBy: d.str("approved_by"),
		ApprovedAt: d.str("approved_at"),
		Notes:      d.str("notes"),
	}
	return a, d.done()
}

// DecodeRectification reads a rectification record body. The caller sets
// the event's clock, device and seq from the change that carried it.
func DecodeRectification(body []byte) (RectificationEvent, error) {
	d, err := newDecoder("rectification", body)
	if err != nil {
		return RectificationEvent{}, err
	}
	ev := RectificationEvent{
		ID:      d.str("id"),
		Problem: d.str("problem"),
		Status:  d.str("status"),
		Notes:   d.str("notes"),
		After:   d.str("after"),
	}
	return ev, d.done()
}

// decoder reads the members of one JSON object by their exact names, as
// [Collection.Validate] does. (encoding/json matches struct fields without
// regard to case, so a body with both "issued" and "ISSUED" would decode
// to a value Validate never checked.) Absent and null members read as zero
// values; the first member of the wrong JSON type is the error done returns.
type decoder struct {
	what string
	rec  record
	err  error
}

func newDecoder(what string, data []byte) (*decoder, error) {
	members, err := parseObject(data)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", what, err)
	}
	rec := make(record, len(members))
	for _, m := range members {
		rec[m.name] = m.value
	}
	return &decoder{what: what, rec: rec}, nil
}

func (d *decoder) done() error { return d.err }

// into decodes the member name, if present and not null, into v.
func (d *decoder) into(name string, v any) bool {
	raw, ok := d.rec[name]
	if !ok || jsonType(raw) == "null" || d.err != nil {
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		d.err = fmt.Errorf("decode %s.%s: %w", d.what, name, err)
		return false
	}
	return true
}

func (d *decoder) str(name string) string {
	var s string
	d.into(name, &s)
	return s
}

func (d *decoder) int(name string) int {
	var n int
	d.into(name, &n)
	return n
}

func (d *decoder) intPtr(name string) *int {
	var n int
	if !d.into(name, &n) {
		return nil
	}
	return &n
}

func (d *decoder) strs(name string) []string {
	var s []string
	d.into(name, &s)
	return s
}

func (d *decoder) counts(name string) map[string]int {
	var m map[string]int
	d.into(name, &m)
	return m
}

func (d *decoder) marks(name string) map[string]string {
	var m map[string]string
	d.into(name, &m)
	return m
}

// object returns a decoder for the object member name, or nil if it is
// absent or null. Its error, if any, is taken back with take.
func (d *decoder) object(name string) *decoder {
	raw, ok := d.rec[name]
	if !ok || jsonType(raw) == "null" || d.err != nil {
		return nil
	}
	sub, err := newDecoder(d.what+"."+name, raw)
	if err != nil {
		d.err = err
		return nil
	}
	return sub
}

func (d *decoder) take(sub *decoder) {
	if d.err == nil {
		d.err = sub.err
	}
}

func (d *decoder) votes(name string) map[string]Votes {
	raw, ok := d.rec[name]
	if !ok || jsonType(raw) == "null" || d.err != nil {
		return nil
	}
	members, err := parseObject(raw)
	if err != nil {
		d.err = fmt.Errorf("decode %s.%s: %w", d.what, name, err)
		return nil
	}
	m := make(map[string]Votes, len(members))
	for _, mem := range members {
		sub, err := newDecoder(d.what+"."+name+"."+abbreviate(mem.name), mem.value)
		if err != nil {
			d.err = err
			return nil
		}
		m[mem.name] = Votes{Yes: sub.int("yes"), No: sub.int("no"), Abstain: sub.int("abstain")}
		if d.take(sub); d.err != nil {
			return nil
		}
	}
	return m
}
