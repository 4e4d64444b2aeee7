package election_test

import (
	"errors"
	"math"
	"strconv"
	"testing"

	"villagesync/election"
)

func FuzzValidate(f *testing.F) {
	f.Add("tally_sheet", "t1", []byte(tallyOK))
	f.Add("attendance", "a1", []byte(`{"election":"220422100202-PC","eligible":58,"present":55}`))
	f.Add("rectification", "r1", []byte(`{"problem":"p-sibling","status":"OPEN","notes":""}`))
	f.Add("election", "220422100201-PC", []byte(`{"village":"220422100201","type":"PARTY_COMMITTEE","seats":3,"date":"2026-03-07","status":"LOCKED","candidates":["a"]}`))
	f.Add("village", "220422100201", []byte(`{"township":"220422100","name":"琥砚村","key_village":true}`))
	f.Add("problem", "p1", []byte(`{"village":"220422100201","village":"220422101203"}`))
	f.Add("county", "220422", []byte(`{"name":"东辽县"} `))
	f.Add("nope", "", []byte(`[1,{"a":null}]`))

	collections := election.Collections()
	f.Fuzz(func(t *testing.T, name, id string, body []byte) {
		c, ok := election.LookupCollection(name)
		if !ok {
			// Spread unknown names over every collection.
			c = collections[len(name)%len(collections)]
		}
		p, err := c.Validate(id, body, known)
		if err != nil {
			var ve *election.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate: got %T %v, want *ValidationError", err, err)
			}
			if p != (election.Place{}) {
				t.Fatalf("Validate: got place %+v with error %v, want zero Place", p, err)
			}
			return
		}
		if p.Village != "" && election.TownshipOf(p.Village) != p.Township {
			t.Fatalf("Validate: got inconsistent place %+v", p)
		}
	})
}

// FuzzValidateDecode: every body Validate accepts decodes without error,
// and Slot, Editable and Warnings never panic on it.
func FuzzValidateDecode(f *testing.F) {
	f.Add("tally_sheet", []byte(tallyOK))
	f.Add("tally_sheet", []byte(`{"election":"220422100201-PC","round":1,"kind":"FORMAL","issued":1,"returned":2,"valid":2,"invalid":0,"votes":{"c":{"yes":2,"no":0,"abstain":0,"YES":9}},"signers":["甲"],"ISSUED":7,"seat_reduction":{"new_seats":2,"votes_for":1}}`))
	f.Add("ballot", []byte(`{"election":"220422100201-PC","round":1,"serial":3,"marks":{"c1":"yes"},"write_ins":["王某"]}`))
	f.Add("tally_amendment", []byte(`{"sheet":"t-own","reason":"r","signers":{"station":"a","supervisor":"b"},"returned":3,"votes":{"c":{"yes":1,"no":0,"abstain":0}}}`))
	f.Add("attendance", []byte(`{"election":"220422100201-VC","eligible":9,"present":4,"proxies":2}`))
	f.Add("roll_count", []byte(`{"election":"220422100201-VC","full_members":0,"eligible":5,"exclusions":0,"registrants":["p1","p1"],"published_on":"2026-04-01"}`))
	f.Add("rectification", []byte(`{"problem":"p-own","status":"VERIFIED","notes":"","after":"r1"}`))
	f.Add("election", []byte(`{"village":"220422100201","type":"VILLAGE_COMMITTEE","seats":9,"date":"2026-03-07","status":"DRAFT","candidates":["a"]}`))
	f.Add("approval", []byte(`{"election":"220422100201-PC","kind":"SECRETARY","approved_by":"x","approved_at":"2026-03-08T10:00:00Z","notes":""}`))

	decoders := map[string]func([]byte) error{
		"election":        func(b []byte) error { _, err := election.DecodeElection(b); return err },
		"candidate":       func(b []byte) error { _, err := election.DecodeCandidate(b); return err },
		"roll_count":      func(b []byte) error { _, err := election.DecodeRollCount(b); return err },
		"role_assignment": func(b []byte) error { _, err := election.DecodeRoleAssignment(b); return err },
		"attendance":      func(b []byte) error { _, err := election.DecodeAttendance(b); return err },
		"tally_sheet":     func(b []byte) error { _, err := election.DecodeTallySheet(b); return err },
		"ballot":          func(b []byte) error { _, err := election.DecodeBallot(b); return err },
		"tally_amendment": func(b []byte) error { _, err := election.DecodeAmendment(b); return err },
		"approval":        func(b []byte) error { _, err := election.DecodeApproval(b); return err },
		"rectification":   func(b []byte) error { _, err := election.DecodeRectification(b); return err },
	}
	collections := election.Collections()
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		c, ok := election.LookupCollection(name)
		if !ok {
			c = collections[len(name)%len(collections)]
		}
		for _, w := range election.Warnings(c.Name, body, known) {
			if w.Outcome != election.Fail && w.Outcome != election.Review {
				t.Fatalf("Warnings: got outcome %s, want only FAIL or REVIEW", w.Outcome)
			}
		}
		if _, err := c.Validate("x", body, known); err != nil {
			return
		}
		if dec, ok := decoders[c.Name]; ok {
			if err := dec(body); err != nil {
				t.Fatalf("%s: Validate accepted %s but decode failed: %v", c.Name, body, err)
			}
		}
		_ = c.Slot("x", body)
	})
}

// FuzzEvaluate: Evaluate never panics on any facts, and its result keeps
// its invariants.
func FuzzEvaluate(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("0123456789abcdefghijklmnopqrstuvwxyz"))
	f.Add([]byte{1, 4, 5, 200, 7, 3, 3, 3, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})
	f.Add([]byte{2, 3, 4, 0, 1, 1, 1, 1, 40, 45, 2, 1, 0, 1, 0, 45, 45, 45, 0, 1, 3, 30, 30, 30, 30, 4, 4, 4, 4, 4, 4, 4, 4, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		facts := factsFrom(data)
		res := election.Evaluate(facts)
		checkResult(t, facts, res)
	})
}

func checkResult(t *testing.T, f election.ElectionFacts, res election.Result) {
	t.Helper()
	order := make(map[election.RuleID]int)
	for i, r := range election.Rules() {
		order[r.ID] = i
	}
	last := -1
	for _, fd := range res.Findings {
		i, ok := order[fd.Rule]
		if !ok {
			t.Fatalf("finding with unknown rule %q", fd.Rule)
		}
		if i < last {
			t.Fatalf("findings out of rule order at %s", fd.Rule)
		}
		last = i
		switch fd.Outcome {
		case election.Pass, election.Fail, election.Review, election.NotApplicable:
		default:
			t.Fatalf("finding %s: unknown outcome %q", fd.Rule, fd.Outcome)
		}
		if fd.Message == "" || fd.MessageEN == "" {
			t.Fatalf("finding %s: empty message", fd.Rule)
		}
	}
	seen := make(map[string]bool)
	for _, id := range res.Elected {
		if seen[id] {
			t.Fatalf("Elected: %s twice in %v", id, res.Elected)
		}
		seen[id] = true
	}
	if f.Election.Seats >= 0 && len(res.Elected) > f.Election.Seats {
		t.Fatalf("Elected: got %d, more than %d seats", len(res.Elected), f.Election.Seats)
	}
	if res.OneTimeSuccess {
		if !res.Held || len(res.Elected) != f.Election.Seats {
			t.Fatalf("OneTimeSuccess with held %v and %d elected of %d", res.Held, len(res.Elected), f.Election.Seats)
		}
		for _, r := range []election.RuleID{election.P1, election.P3, election.P9, election.V6} {
			if res.Outcome(r) == election.Fail {
				t.Fatalf("OneTimeSuccess with %s FAIL", r)
			}
		}
	}
}

// byteSource draws small choices from fuzz data, then zeros.
type byteSource struct{ data []byte }

func (s *byteSource) n(k int) int {
	if len(s.data) == 0 || k <= 0 {
		return 0
	}
	b := s.data[0]
	s.data = s.data[1:]
	return int(b) % k
}

// count is mostly small, sometimes negative or huge.
func (s *byteSource) count() int {
	switch s.n(20) {
	case 0:
		return -1
	case 1:
		return math.MaxInt32
	}
	return s.n(50)
}

// factsFrom builds the facts of one election from fuzz data, in a small
// space so that rounds, serials and ids collide often.
func factsFrom(data []byte) election.ElectionFacts {
	src := &byteSource{data}
	id, typ := "220422100201-PC", election.TypePartyCommittee
	if src.n(3) == 0 {
		id, typ = "220422100201-VC", election.TypeVillageCommittee
	}
	statuses := []string{election.StatusDraft, election.StatusLocked, election.StatusHeld, election.StatusCertified}
	e := election.Election{ID: id, Village: "220422100201", Type: typ, Seats: src.n(9) - 1, Date: "2026-03-07", Status: statuses[src.n(4)]}
	for i := range src.n(9) {
		e.Candidates = append(e.Candidates, id+"-C"+strconv.Itoa(i+1))
	}
	cand := func() string {
		if len(e.Candidates) == 0 || src.n(8) == 0 {
			return "x"
		}
		return e.Candidates[src.n(len(e.Candidates))]
	}
	f := election.ElectionFacts{Election: e}
	for _, c := range e.Candidates {
		f.Candidates = append(f.Candidates, election.Candidate{ID: c, Election: id, Sex: []string{"M", "F", ""}[src.n(3)]})
	}
	if src.n(3) != 0 {
		f.Roll = &election.RollCount{Election: id, FullMembers: src.count(), Eligible: src.count(), Exclusions: src.n(4),
			PublishedOn: []string{"", "2026-02-15", "2026-02-20", "bad"}[src.n(4)]}
		for range src.n(4) {
			f.Roll.Registrants = append(f.Roll.Registrants, "p"+strconv.Itoa(src.n(3)))
		}
	}
	roles := []string{election.RoleScrutineer, election.RoleCounter, election.RoleChiefScrutineer, election.RoleTeller}
	for i := range src.n(4) {
		f.Roles = append(f.Roles, election.RoleAssignment{ID: "r" + strconv.Itoa(i), Election: id, Person: cand(), Role: roles[src.n(4)]})
	}
	for range src.n(3) {
		f.Attendance = append(f.Attendance, election.Attendance{ID: "a" + strconv.Itoa(src.n(3)), Election: id, Eligible: src.count(), Present: src.count(), Proxies: src.n(3) / 2})
	}
	kinds := []string{election.RoundFormal, election.RoundAdditional, election.RoundRerun, election.RoundTieBreak, election.RoundSecretary, ""}
	votes := func() map[string]election.Votes {
		m := make(map[string]election.Votes)
		for range src.n(6) {
			m[cand()] = election.Votes{Yes: src.count(), No: src.n(5), Abstain: src.n(3)}
		}
		return m
	}
	for range src.n(6) {
		s := election.TallySheet{ID: "s" + strconv.Itoa(src.n(5)), Election: id, Round: src.n(4) + 1, Kind: kinds[src.n(len(kinds))],
			Issued: src.count(), Returned: src.count(), Valid: src.count(), Invalid: src.n(3), Votes: votes(), Signers: []string{"甲"}}
		if src.n(3) == 0 {
			s.WriteIns = map[string]int{"王某": src.count()}
		}
		if src.n(3) == 0 {
			s.Elected = []string{}
			for range src.n(4) {
				s.Elected = append(s.Elected, cand())
			}
		}
		if src.n(4) == 0 {
			s.SeatReduction = &election.SeatReduction{NewSeats: src.n(6), VotesFor: src.count()}
		}
		if src.n(10) == 0 {
			s.Election = "220422100202-PC"
		}
		f.Sheets = append(f.Sheets, s)
	}
	for i := range src.n(4) {
		a := election.Amendment{ID: "m" + strconv.Itoa(i), Sheet: "s" + strconv.Itoa(src.n(6)), Reason: "r",
			Signers: election.Signers{Station: []string{"", "甲"}[src.n(2)], Supervisor: []string{"", "乙"}[src.n(4)%2]}}
		if src.n(2) == 0 {
			n := src.count()
			a.Returned = &n
		}
		if src.n(2) == 0 {
			n := src.count()
			a.Issued = &n
		}
		if src.n(3) == 0 {
			a.Votes = votes()
		}
		if src.n(4) == 0 {
			a.Elected = []string{cand()}
		}
		f.Amendments = append(f.Amendments, a)
	}
	markValues := []string{"yes", "no", "abstain", "?"}
	for range src.n(12) {
		b := election.Ballot{ID: "b" + strconv.Itoa(src.n(8)), Election: id, Round: src.n(3) + 1, Serial: src.n(5) + 1, Marks: make(map[string]string)}
		for range src.n(5) {
			b.Marks[cand()] = markValues[src.n(4)]
		}
		for range src.n(2) {
			b.WriteIns = append(b.WriteIns, "王某")
		}
		f.Ballots = append(f.Ballots, b)
	}
	kindsA := []string{election.ApprovalSecretary, election.ApprovalSeatReduction, election.ApprovalQuorumExclusion, election.ApprovalManualFallback}
	for i := range src.n(3) {
		f.Approvals = append(f.Approvals, election.Approval{ID: "ap" + strconv.Itoa(i), Election: id, Kind: kindsA[src.n(4)]})
	}
	return f
}
