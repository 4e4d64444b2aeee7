package election_test

import (
	"reflect"
	"testing"

	"villagesync/election"
)

func TestDecodeTallySheet(t *testing.T) {
	body := `{"id":"t1","election":"220422100201-PC","round":2,"kind":"ADDITIONAL","issued":40,"returned":40,"valid":39,"invalid":1,` +
		`"votes":{"c1":{"yes":30,"no":5,"abstain":4}},"signers":["甲","乙"],"write_ins":{"王某":1},"elected":["c1"],` +
		`"seat_reduction":{"new_seats":2,"votes_for":21},"photo":"` + sha + `"}`
	got, err := election.DecodeTallySheet([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := election.TallySheet{
		ID: "t1", Election: "220422100201-PC", Round: 2, Kind: election.RoundAdditional,
		Issued: 40, Returned: 40, Valid: 39, Invalid: 1,
		Votes:   map[string]election.Votes{"c1": {Yes: 30, No: 5, Abstain: 4}},
		Signers: []string{"甲", "乙"}, WriteIns: map[string]int{"王某": 1}, Elected: []string{"c1"},
		SeatReduction: &election.SeatReduction{NewSeats: 2, VotesFor: 21}, Photo: sha,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DecodeTallySheet:\n got %+v\nwant %+v", got, want)
	}
}

// Decoding reads fields by their exact names, as Validate does: a body that
// also carries "ISSUED" or "YES" must not decode to a value Validate never
// checked (encoding/json alone would match them case-insensitively).
func TestDecodeExactNames(t *testing.T) {
	body := `{"election":"220422100201-PC","round":1,"kind":"FORMAL","issued":40,"returned":40,"valid":40,"invalid":0,` +
		`"votes":{"c1":{"yes":30,"no":5,"abstain":5,"YES":99}},"signers":["甲"],"ISSUED":1,"Returned":99}`
	if _, err := mustLookup(t, "tally_sheet").Validate("t1", []byte(body), known); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	s, err := election.DecodeTallySheet([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if s.Issued != 40 || s.Returned != 40 || s.Votes["c1"].Yes != 30 {
		t.Errorf("got issued %d, returned %d, yes %d; want 40, 40, 30", s.Issued, s.Returned, s.Votes["c1"].Yes)
	}
}

func TestDecode(t *testing.T) {
	n := 40
	tests := []struct {
		name string
		got  func() (any, error)
		want any
	}{
		{"Election", func() (any, error) {
			return election.DecodeElection([]byte(`{"village":"220422100201","type":"PARTY_COMMITTEE","seats":3,"date":"2026-03-07","status":"LOCKED","candidates":["a","b"]}`))
		}, election.Election{Village: "220422100201", Type: election.TypePartyCommittee, Seats: 3, Date: "2026-03-07", Status: election.StatusLocked, Candidates: []string{"a", "b"}}},
		{"Candidate", func() (any, error) {
			return election.DecodeCandidate([]byte(`{"id":"c1","election":"e","name":"王某甲","birth_year":1983,"sex":"F","education":"COLLEGE","party_status":"FULL_MEMBER"}`))
		}, election.Candidate{ID: "c1", Election: "e", Name: "王某甲", BirthYear: 1983, Sex: "F", Education: "COLLEGE", PartyStatus: "FULL_MEMBER"}},
		{"RollCount", func() (any, error) {
			return election.DecodeRollCount([]byte(`{"election":"e","full_members":60,"eligible":58,"exclusions":2,"registrants":["p1"],"published_on":"2026-04-01"}`))
		}, election.RollCount{Election: "e", FullMembers: 60, Eligible: 58, Exclusions: 2, Registrants: []string{"p1"}, PublishedOn: "2026-04-01"}},
		{"RoleAssignment", func() (any, error) {
			return election.DecodeRoleAssignment([]byte(`{"election":"e","person":"p","role":"TELLER"}`))
		}, election.RoleAssignment{Election: "e", Person: "p", Role: election.RoleTeller}},
		{"Attendance", func() (any, error) {
			return election.DecodeAttendance([]byte(`{"election":"e","eligible":58,"present":55,"proxies":null}`))
		}, election.Attendance{Election: "e", Eligible: 58, Present: 55}},
		{"Ballot", func() (any, error) {
			return election.DecodeBallot([]byte(`{"election":"e","round":1,"serial":3,"marks":{"c1":"yes"},"write_ins":["王某"]}`))
		}, election.Ballot{Election: "e", Round: 1, Serial: 3, Marks: map[string]string{"c1": "yes"}, WriteIns: []string{"王某"}}},
		{"Amendment", func() (any, error) {
			return election.DecodeAmendment([]byte(`{"id":"m1","sheet":"t1","reason":"r","signers":{"station":"甲","supervisor":"乙"},"returned":40,"elected":[]}`))
		}, election.Amendment{ID: "m1", Sheet: "t1", Reason: "r", Signers: election.Signers{Station: "甲", Supervisor: "乙"}, Returned: &n, Elected: []string{}}},
		{"Approval", func() (any, error) {
			return election.DecodeApproval([]byte(`{"election":"e","kind":"SECRETARY","approved_by":"镇党委","approved_at":"2026-03-08T10:00:00Z","notes":"n"}`))
		}, election.Approval{Election: "e", Kind: election.ApprovalSecretary, ApprovedBy: "镇党委", ApprovedAt: "2026-03-08T10:00:00Z", Notes: "n"}},
		{"Rectification", func() (any, error) {
			return election.DecodeRectification([]byte(`{"problem":"p1","status":"RECTIFIED","notes":"done","after":"r1"}`))
		}, election.RectificationEvent{Problem: "p1", Status: election.RectificationRectified, Notes: "done", After: "r1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.got()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	for name, body := range map[string]string{
		"NotObject":    `[1]`,
		"WrongType":    `{"election":"e","round":"1"}`,
		"VotesNotObj":  `{"votes":{"c1":3}}`,
		"VoteWrongTyp": `{"votes":{"c1":{"yes":"3"}}}`,
		"Duplicate":    `{"issued":1,"issued":2}`,
		"SeatReduct":   `{"seat_reduction":{"new_seats":"2"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if s, err := election.DecodeTallySheet([]byte(body)); err == nil {
				t.Errorf("DecodeTallySheet(%s): got %+v, want an error", body, s)
			}
		})
	}
}
