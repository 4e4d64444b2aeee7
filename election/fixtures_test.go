package election_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"villagesync/election"
)

// A fixture is one fault-injected case (research/domain.md §5): records as
// they travel, and the findings Evaluate must report.
type fixture struct {
	Description string `json:"description"`
	Facts       *struct {
		Election   record   `json:"election"`
		Candidates []record `json:"candidates"`
		Roll       *record  `json:"roll"`
		Roles      []record `json:"roles"`
		Attendance []record `json:"attendance"`
		Sheets     []record `json:"sheets"`
		Amendments []record `json:"amendments"`
		Ballots    []record `json:"ballots"`
		Approvals  []record `json:"approvals"`
	} `json:"facts"`
	// Rolls are voter lists compared county-wide (V3).
	Rolls []record `json:"rolls"`
	// SeatPlan is a county's planned committee sizes (P11).
	SeatPlan *struct {
		Members int `json:"members"`
		Plan    []struct {
			Seats, Villages int
		} `json:"plan"`
	} `json:"seat_plan"`
	Want struct {
		// Findings are exactly the FAIL and REVIEW findings, in order;
		// where evidence is given it must match too.
		Findings []struct {
			Rule     election.RuleID  `json:"rule"`
			Outcome  election.Outcome `json:"outcome"`
			Evidence []election.Ref   `json:"evidence"`
		} `json:"findings"`
		Elected        []string `json:"elected"`
		OneTimeSuccess *bool    `json:"one_time_success"`
		Held           *bool    `json:"held"`
		BallotsAgree   *bool    `json:"ballots_agree"`
	} `json:"want"`
}

type record struct {
	ID   string          `json:"id"`
	Body json.RawMessage `json:"body"`
}

// The rule-breaking cases every county's data must be checked against.
var wantFixtures = []string{
	"ballot_seats_plus_one", "candidate_exactly_half", "duplicate_registrant",
	"margin_three_for_three", "odd_seat_plan", "passers_below_seats",
	"quorum_exactly_four_fifths", "returned_over_issued", "scrutineer_is_candidate",
	"seat_reduction_without_vote", "tie_at_cutoff", "vc_additional_below_third",
	"vc_turnout_half",
}

func TestRuleFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "rules", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		names = append(names, name)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var fx fixture
			if err := json.Unmarshal(data, &fx); err != nil {
				t.Fatalf("parse: %v", err)
			}
			if fx.Description == "" {
				t.Error("fixture has no description")
			}
			var got []election.Finding
			switch {
			case fx.Facts != nil:
				facts := fixtureFacts(t, &fx)
				res := election.Evaluate(facts)
				got = res.Findings
				if fx.Want.Elected != nil && !slices.Equal(res.Elected, fx.Want.Elected) {
					t.Errorf("Elected: got %v, want %v", res.Elected, fx.Want.Elected)
				}
				if w := fx.Want.OneTimeSuccess; w != nil && res.OneTimeSuccess != *w {
					t.Errorf("OneTimeSuccess: got %v, want %v", res.OneTimeSuccess, *w)
				}
				if w := fx.Want.Held; w != nil && res.Held != *w {
					t.Errorf("Held: got %v, want %v", res.Held, *w)
				}
				if w := fx.Want.BallotsAgree; w != nil && (res.BallotsAgree == nil || *res.BallotsAgree != *w) {
					t.Errorf("BallotsAgree: got %v, want %v", res.BallotsAgree, *w)
				}
			case fx.Rolls != nil:
				var rolls []election.RollCount
				for _, r := range fx.Rolls {
					validate(t, "roll_count", r, nil)
					rc, err := election.DecodeRollCount(r.Body)
					if err != nil {
						t.Fatal(err)
					}
					rolls = append(rolls, rc)
				}
				got = []election.Finding{election.CheckRegistrants(rolls)}
			case fx.SeatPlan != nil:
				var seats []int
				for _, p := range fx.SeatPlan.Plan {
					for range p.Villages {
						seats = append(seats, p.Seats)
					}
				}
				got = []election.Finding{election.CheckSeatPlan(seats, fx.SeatPlan.Members)}
			default:
				t.Fatal("fixture has no facts, rolls or seat_plan")
			}

			var flagged []election.Finding
			for _, f := range got {
				if f.Outcome == election.Fail || f.Outcome == election.Review {
					flagged = append(flagged, f)
				}
			}
			if len(flagged) != len(fx.Want.Findings) {
				t.Fatalf("flagged findings: got %s, want %v", describe(flagged), fx.Want.Findings)
			}
			for i, w := range fx.Want.Findings {
				f := flagged[i]
				if f.Rule != w.Rule || f.Outcome != w.Outcome {
					t.Errorf("finding %d: got %s %s, want %s %s (all: %s)", i, f.Rule, f.Outcome, w.Rule, w.Outcome, describe(flagged))
				}
				if w.Evidence != nil && !slices.Equal(f.Evidence, w.Evidence) {
					t.Errorf("finding %d evidence: got %v, want %v", i, f.Evidence, w.Evidence)
				}
			}
		})
	}
	for _, w := range wantFixtures {
		if !slices.Contains(names, w) {
			t.Errorf("fixture %s.json: missing", w)
		}
	}
}

func describe(fs []election.Finding) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, string(f.Rule)+" "+string(f.Outcome)+" ("+f.MessageEN+")")
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

// fixtureFacts validates every record of a fixture as the server would, so
// each fixture is also a set of well-formed records a device could sync,
// and decodes them into ElectionFacts.
func fixtureFacts(t *testing.T, fx *fixture) election.ElectionFacts {
	t.Helper()
	in := fx.Facts
	e, err := election.DecodeElection(in.Election.Body)
	if err != nil {
		t.Fatal(err)
	}
	e.ID = in.Election.ID
	place := election.Place{Township: election.TownshipOf(e.Village), Village: e.Village}
	r := resolver{"village/" + e.Village: place, "election/" + e.ID: place}
	for _, s := range in.Sheets {
		r["tally_sheet/"+s.ID] = place
	}
	validate(t, "election", in.Election, r)

	var f election.ElectionFacts
	f.Election = e
	decodeAll(t, "candidate", in.Candidates, r, election.DecodeCandidate, func(c *election.Candidate, id string) { c.ID = id }, &f.Candidates)
	if in.Roll != nil {
		validate(t, "roll_count", *in.Roll, r)
		rc, err := election.DecodeRollCount(in.Roll.Body)
		if err != nil {
			t.Fatal(err)
		}
		f.Roll = &rc
	}
	decodeAll(t, "role_assignment", in.Roles, r, election.DecodeRoleAssignment, func(v *election.RoleAssignment, id string) { v.ID = id }, &f.Roles)
	decodeAll(t, "attendance", in.Attendance, r, election.DecodeAttendance, func(v *election.Attendance, id string) { v.ID = id }, &f.Attendance)
	decodeAll(t, "tally_sheet", in.Sheets, r, election.DecodeTallySheet, func(v *election.TallySheet, id string) { v.ID = id }, &f.Sheets)
	decodeAll(t, "tally_amendment", in.Amendments, r, election.DecodeAmendment, func(v *election.Amendment, id string) { v.ID = id }, &f.Amendments)
	decodeAll(t, "ballot", in.Ballots, r, election.DecodeBallot, func(v *election.Ballot, id string) { v.ID = id }, &f.Ballots)
	decodeAll(t, "approval", in.Approvals, r, election.DecodeApproval, func(v *election.Approval, id string) { v.ID = id }, &f.Approvals)
	return f
}

func validate(t *testing.T, collection string, rec record, r election.Resolver) {
	t.Helper()
	if _, err := mustLookup(t, collection).Validate(rec.ID, rec.Body, r); err != nil {
		t.Fatalf("%s %s: Validate: %v", collection, rec.ID, err)
	}
}

func decodeAll[T any](t *testing.T, collection string, recs []record, r election.Resolver, decode func([]byte) (T, error), setID func(*T, string), out *[]T) {
	t.Helper()
	for _, rec := range recs {
		validate(t, collection, rec, r)
		v, err := decode(rec.Body)
		if err != nil {
			t.Fatalf("%s %s: decode: %v", collection, rec.ID, err)
		}
		setID(&v, rec.ID)
		*out = append(*out, v)
	}
}
