package election_test

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"villagesync/election"
)

// cleanFacts builds the natural clean facts for a seeded election:
// attendance above four fifths, and one FORMAL sheet on which the first
// Seats candidates win with all but one vote and the runner-up gets two.
func cleanFacts(tb testing.TB, d *election.Dataset, i int) election.ElectionFacts {
	tb.Helper()
	e := d.Elections[i]
	roll := d.Rolls[i]
	if roll.Election != e.ID {
		tb.Fatalf("roll %d: got election %s, want %s", i, roll.Election, e.ID)
	}
	present := roll.Eligible*9/10 + 1
	if present > roll.Eligible {
		present = roll.Eligible
	}
	votes := make(map[string]election.Votes)
	for n, c := range e.Candidates {
		v := election.Votes{Yes: present - 1, No: 1}
		if n >= e.Seats {
			v = election.Votes{Yes: 2, No: present - 3, Abstain: 1}
		}
		votes[c] = v
	}
	var cands []election.Candidate
	for _, c := range d.Candidates {
		if c.Election == e.ID {
			cands = append(cands, c)
		}
	}
	return election.ElectionFacts{
		Election:   e,
		Candidates: cands,
		Roll:       &roll,
		Attendance: []election.Attendance{{ID: e.ID + "-att", Election: e.ID, Eligible: roll.Eligible, Present: present}},
		Sheets: []election.TallySheet{{
			ID: e.ID + "-r1", Election: e.ID, Round: 1, Kind: election.RoundFormal,
			Issued: present, Returned: present, Valid: present, Invalid: 0,
			Votes: votes, Signers: []string{"监票人甲", "计票人乙"},
		}},
	}
}

func TestEvaluateCleanSeed(t *testing.T) {
	d := election.Dongliao()
	members := 0
	for i, e := range d.Elections {
		res := election.Evaluate(cleanFacts(t, d, i))
		for _, f := range res.Findings {
			if f.Outcome == election.Fail {
				t.Errorf("%s: got %s FAIL %q, want no FAIL on clean facts", e.ID, f.Rule, f.MessageEN)
			}
		}
		if !res.Held || !res.OneTimeSuccess {
			t.Errorf("%s: got held %v, one-time success %v; want true, true", e.ID, res.Held, res.OneTimeSuccess)
		}
		if want := e.Candidates[:e.Seats]; !slices.Equal(res.Elected, want) {
			t.Errorf("%s: got elected %v, want %v", e.ID, res.Elected, want)
		}
		if res.BallotsAgree != nil {
			t.Errorf("%s: got BallotsAgree %v, want nil with no ballots", e.ID, *res.BallotsAgree)
		}
		for _, r := range election.Rules() {
			if r.Type == election.TypeVillageCommittee || r.ID[0] == 'D' {
				continue
			}
			if got := res.Outcome(r.ID); got == election.Fail {
				t.Errorf("%s: rule %s: got %s, want no FAIL", e.ID, r.ID, got)
			}
			if !slices.ContainsFunc(res.Findings, func(f election.Finding) bool { return f.Rule == r.ID }) {
				t.Errorf("%s: no finding for rule %s, want every rule of the type", e.ID, r.ID)
			}
		}
		members += len(res.Elected)
	}
	if members != election.DongliaoMembers {
		t.Errorf("members elected: got %d, want %d", members, election.DongliaoMembers)
	}
}

// The acceptance case: a tally sheet with returned > issued is
// flagged P3 and the village is not a one-time success.
func TestEvaluateReturnedOverIssued(t *testing.T) {
	d := election.Dongliao()
	f := cleanFacts(t, d, 0)
	f.Sheets[0].Returned = f.Sheets[0].Issued + 1
	f.Sheets[0].Valid = f.Sheets[0].Returned
	res := election.Evaluate(f)
	if got := res.Outcome(election.P3); got != election.Fail {
		t.Errorf("P3: got %s, want FAIL", got)
	}
	if res.OneTimeSuccess {
		t.Error("OneTimeSuccess: got true, want false")
	}
	if !res.Held {
		t.Error("Held: got false, want true")
	}
	if len(res.Elected) != 0 {
		t.Errorf("Elected: got %v, want none from a void round", res.Elected)
	}
	p3 := findingsOf(res, election.P3)
	if len(p3) != 1 || !strings.HasPrefix(p3[0].Message, "收回选票多于发出选票：本轮选举无效，须重新选举") {
		t.Errorf("P3 findings: got %+v, want one saying the round is void", p3)
	}
	if !slices.Contains(p3[0].Evidence, election.Ref{Collection: "tally_sheet", ID: f.Sheets[0].ID}) {
		t.Errorf("P3 evidence: got %v, want the sheet", p3[0].Evidence)
	}

	// A RERUN round elects; the village is still not a one-time success.
	rerun := f.Sheets[0]
	rerun.ID, rerun.Round, rerun.Kind = "rerun", 2, election.RoundRerun
	rerun.Returned, rerun.Valid = rerun.Issued, rerun.Issued
	f.Sheets = append(f.Sheets, rerun)
	res = election.Evaluate(f)
	if want := f.Election.Candidates[:f.Election.Seats]; !slices.Equal(res.Elected, want) {
		t.Errorf("after RERUN: got elected %v, want %v", res.Elected, want)
	}
	if res.OneTimeSuccess || res.Outcome(election.P3) != election.Fail || res.Outcome(election.P7) != election.Pass {
		t.Errorf("after RERUN: got one-time %v, P3 %s, P7 %s; want false, FAIL, PASS", res.OneTimeSuccess, res.Outcome(election.P3), res.Outcome(election.P7))
	}
}

func findingsOf(res election.Result, rule election.RuleID) []election.Finding {
	var out []election.Finding
	for _, f := range res.Findings {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

// threeSeats is a small Party election: 3 seats, 4 candidates, 50 eligible.
func threeSeats() election.ElectionFacts {
	const id = "220422100201-PC"
	e := election.Election{
		ID: id, Village: "220422100201", Type: election.TypePartyCommittee, Seats: 3,
		Date: "2026-03-07", Status: election.StatusLocked,
		Candidates: []string{id + "-C1", id + "-C2", id + "-C3", id + "-C4"},
	}
	return election.ElectionFacts{
		Election:   e,
		Roll:       &election.RollCount{Election: id, FullMembers: 52, Eligible: 50, Exclusions: 2},
		Attendance: []election.Attendance{{ID: "att", Election: id, Eligible: 50, Present: 45}},
	}
}

func sheet(id string, round int, kind string, n int, yes ...int) election.TallySheet {
	const e = "220422100201-PC"
	s := election.TallySheet{
		ID: id, Election: e, Round: round, Kind: kind,
		Issued: n, Returned: n, Valid: n, Votes: make(map[string]election.Votes),
		Signers: []string{"监票人甲"},
	}
	for i, y := range yes {
		s.Votes[e+"-C"+string(rune('1'+i))] = election.Votes{Yes: y, No: n - y}
	}
	return s
}

func c(n int) string { return "220422100201-PC-C" + string(rune('0'+n)) }

func TestEvaluateRounds(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(f *election.ElectionFacts)
		elected   []string
		oneTime   bool
		outcomes  map[election.RuleID]election.Outcome
		roundKind []string
	}{
		{
			name: "OneTimeSuccess",
			edit: func(f *election.ElectionFacts) {
				f.Sheets = []election.TallySheet{sheet("s1", 1, election.RoundFormal, 45, 40, 35, 30, 10)}
			},
			elected:  []string{c(1), c(2), c(3)},
			oneTime:  true,
			outcomes: map[election.RuleID]election.Outcome{election.P5: election.Pass, election.P6: election.Pass, election.P7: election.Pass},
		},
		{
			name: "TooManyPassTakeByVotes",
			edit: func(f *election.ElectionFacts) {
				f.Sheets = []election.TallySheet{sheet("s1", 1, election.RoundFormal, 45, 30, 40, 35, 25)}
			},
			elected:  []string{c(2), c(3), c(1)},
			oneTime:  true,
			outcomes: map[election.RuleID]election.Outcome{election.P6: election.Pass},
		},
		{
			name: "TieAtCutoffNeedsTieBreak",
			edit: func(f *election.ElectionFacts) {
				f.Sheets = []election.TallySheet{sheet("s1", 1, election.RoundFormal, 45, 40, 35, 30, 30)}
			},
			elected:  []string{c(1), c(2)},
			outcomes: map[election.RuleID]election.Outcome{election.P6: election.Fail, election.P7: election.Fail},
		},
		{
			name: "TieBreakResolves",
			edit: func(f *election.ElectionFacts) {
				tb := sheet("s2", 2, election.RoundTieBreak, 45, 0, 0, 20, 25)
				f.Sheets = []election.TallySheet{sheet("s1", 1, election.RoundFormal, 45, 40, 35, 30, 30), tb}
			},
			elected:  []string{c(1), c(2), c(4)},
			outcomes: map[election.RuleID]election.Outcome{election.P6: election.Pass, election.P7: election.Pass},
		},
		{
			name: "ShortfallThenAdditional",
			edit: func(f *election.ElectionFacts) {
				f.Sheets = []election.TallySheet{
					sheet("s1", 1, election.RoundFormal, 45, 40, 35, 22, 20),
					sheet("s2", 2, election.RoundAdditional, 44, 0, 0, 30, 14),
				}
			},
			elected:   []string{c(1), c(2), c(3)},
			outcomes:  map[election.RuleID]election.Outcome{election.P5: election.Pass, election.P7: election.Pass},
			roundKind: []string{election.RoundFormal, election.RoundAdditional},
		},
		{
			name: "ShortfallUnfilled",
			edit: func(f *election.ElectionFacts) {
				f.Sheets = []election.TallySheet{sheet("s1", 1, election.RoundFormal, 45, 40, 35, 22, 20)}
			},
			elected:  []string{c(1), c(2)},
			outcomes: map[election.RuleID]election.Outcome{election.P7: election.Fail},
		},
		{
			name: "VotedSeatReductionApproved",
			edit: func(f *election.ElectionFacts) {
				s := sheet("s1", 1, election.RoundFormal, 45, 40, 35, 22, 20)
				s.SeatReduction = &election.SeatReduction{NewSeats: 2, VotesFor: 23}
				f.Sheets = []election.TallySheet{s}
				f.Approvals = []election.Approval{{ID: "ap", Election: f.Election.ID, Kind: election.ApprovalSeatReduction, ApprovedBy: "镇党委", ApprovedAt: "2026-03-07T16:00:00+08:00"}}
			},
			elected: []string{c(1), c(2)},
			// The reduction carries, but a committee of 2 breaks P11.
			outcomes: map[election.RuleID]election.Outcome{election.P7: election.Pass, election.P11: election.Fail},
		},
		{
			name: "SeatReductionVoteShort",
			edit: func(f *election.ElectionFacts) {
				s := sheet("s1", 1, election.RoundFormal, 45, 40, 35, 22, 20)
				s.SeatReduction = &election.SeatReduction{NewSeats: 2, VotesFor: 22}
				f.Sheets = []election.TallySheet{s}
			},
			elected:  []string{c(1), c(2)},
			outcomes: map[election.RuleID]election.Outcome{election.P7: election.Fail},
		},
		{
			name: "NoQuorumVoidsEveryRound",
			edit: func(f *election.ElectionFacts) {
				f.Attendance[0].Present = 39
				f.Sheets = []election.TallySheet{sheet("s1", 1, election.RoundFormal, 39, 38, 37, 36, 1)}
			},
			outcomes: map[election.RuleID]election.Outcome{election.P1: election.Fail, election.P7: election.NotApplicable},
		},
		{
			name: "NoAttendanceNoWinners",
			edit: func(f *election.ElectionFacts) {
				f.Attendance = nil
				f.Sheets = []election.TallySheet{sheet("s1", 1, election.RoundFormal, 45, 40, 35, 30, 10)}
			},
			outcomes: map[election.RuleID]election.Outcome{election.P5: election.Review, election.P7: election.Review},
		},
		{
			name: "DeclaredWinnerBelowHalf",
			edit: func(f *election.ElectionFacts) {
				s := sheet("s1", 1, election.RoundFormal, 45, 40, 35, 22, 20)
				s.Elected = []string{c(1), c(2), c(3)}
				f.Sheets = []election.TallySheet{s}
			},
			elected:  []string{c(1), c(2)},
			outcomes: map[election.RuleID]election.Outcome{election.P5: election.Fail},
		},
		{
			name: "DeclaredOmitsWinner",
			edit: func(f *election.ElectionFacts) {
				s := sheet("s1", 1, election.RoundFormal, 45, 40, 35, 30, 10)
				s.Elected = []string{c(1), c(2)}
				f.Sheets = []election.TallySheet{s}
			},
			elected:  []string{c(1), c(2), c(3)},
			oneTime:  true, // the counts fill every seat; the sheet's omission is for review
			outcomes: map[election.RuleID]election.Outcome{election.P6: election.Review},
		},
		{
			name: "SecretaryApproved",
			edit: func(f *election.ElectionFacts) {
				sec := sheet("sec", 1, election.RoundSecretary, 3, 3, 0, 0)
				f.Sheets = []election.TallySheet{sheet("s1", 1, election.RoundFormal, 45, 40, 35, 30, 10), sec}
				f.Approvals = []election.Approval{{ID: "ap", Election: f.Election.ID, Kind: election.ApprovalSecretary, ApprovedBy: "镇党委", ApprovedAt: "2026-03-08T10:00:00+08:00"}}
			},
			elected:   []string{c(1), c(2), c(3)},
			oneTime:   true,
			outcomes:  map[election.RuleID]election.Outcome{election.P10: election.Pass},
			roundKind: []string{election.RoundFormal, election.RoundSecretary},
		},
		{
			name: "SecretaryNotACommitteeMember",
			edit: func(f *election.ElectionFacts) {
				sec := sheet("sec", 1, election.RoundSecretary, 3, 0, 0, 0, 3)
				f.Sheets = []election.TallySheet{sheet("s1", 1, election.RoundFormal, 45, 40, 35, 30, 10), sec}
			},
			elected:  []string{c(1), c(2), c(3)},
			oneTime:  true,
			outcomes: map[election.RuleID]election.Outcome{election.P10: election.Fail},
		},
		{
			name: "SecretaryAwaitingApproval",
			edit: func(f *election.ElectionFacts) {
				sec := sheet("sec", 1, election.RoundSecretary, 3, 0, 2, 1)
				f.Sheets = []election.TallySheet{sheet("s1", 1, election.RoundFormal, 45, 40, 35, 30, 10), sec}
			},
			elected:  []string{c(1), c(2), c(3)},
			oneTime:  true,
			outcomes: map[election.RuleID]election.Outcome{election.P10: election.Review},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := threeSeats()
			tt.edit(&f)
			res := election.Evaluate(f)
			if !slices.Equal(res.Elected, tt.elected) && len(res.Elected)+len(tt.elected) > 0 {
				t.Errorf("Elected: got %v, want %v", res.Elected, tt.elected)
			}
			if res.OneTimeSuccess != tt.oneTime {
				t.Errorf("OneTimeSuccess: got %v, want %v", res.OneTimeSuccess, tt.oneTime)
			}
			for rule, want := range tt.outcomes {
				if got := res.Outcome(rule); got != want {
					t.Errorf("%s: got %s, want %s; findings %+v", rule, got, want, findingsOf(res, rule))
				}
			}
			if tt.roundKind != nil {
				var kinds []string
				for _, r := range res.Rounds {
					kinds = append(kinds, r.Kind)
				}
				if !slices.Equal(kinds, tt.roundKind) {
					t.Errorf("round kinds: got %v, want %v", kinds, tt.roundKind)
				}
			}
		})
	}
}

func TestEvaluateSecretary(t *testing.T) {
	f := threeSeats()
	f.Sheets = []election.TallySheet{sheet("s1", 1, election.RoundFormal, 45, 40, 35, 30, 10), sheet("sec", 1, election.RoundSecretary, 3, 0, 2, 1)}
	res := election.Evaluate(f)
	if res.Secretary != c(2) {
		t.Errorf("Secretary: got %q, want %q", res.Secretary, c(2))
	}
}

func TestEvaluateAmendment(t *testing.T) {
	f := threeSeats()
	s := sheet("s1", 1, election.RoundFormal, 45, 40, 35, 30, 10)
	s.Returned, s.Valid = 46, 46 // a transcription error
	f.Sheets = []election.TallySheet{s}
	fixed := 45
	amendment := election.Amendment{
		ID: "a1", Sheet: "s1", Reason: "录入错误", Returned: &fixed, Valid: &fixed,
		Signers: election.Signers{Station: "监票人甲", Supervisor: "督导乙"},
	}

	t.Run("OK", func(t *testing.T) {
		f := f
		f.Amendments = []election.Amendment{amendment}
		res := election.Evaluate(f)
		if res.Outcome(election.P3) != election.Pass || res.Outcome(election.D1) != election.Pass || !res.OneTimeSuccess {
			t.Errorf("got P3 %s, D1 %s, one-time %v; want PASS, PASS, true", res.Outcome(election.P3), res.Outcome(election.D1), res.OneTimeSuccess)
		}
		if got := res.Rounds[0].Amendments; !slices.Equal(got, []string{"a1"}) {
			t.Errorf("round amendments: got %v, want [a1]", got)
		}
		d1 := findingsOf(res, election.D1)
		if len(d1) != 1 || !strings.Contains(d1[0].MessageEN, "returned 46→45") {
			t.Errorf("D1: got %+v, want one naming returned 46→45", d1)
		}
	})
	t.Run("ErrMissingSignature", func(t *testing.T) {
		f := f
		a := amendment
		a.Signers.Supervisor = ""
		f.Amendments = []election.Amendment{a}
		res := election.Evaluate(f)
		if res.Outcome(election.D1) != election.Fail || res.Outcome(election.P3) != election.Fail || res.OneTimeSuccess {
			t.Errorf("got D1 %s, P3 %s, one-time %v; want FAIL, FAIL (amendment not applied), false", res.Outcome(election.D1), res.Outcome(election.P3), res.OneTimeSuccess)
		}
	})
	t.Run("ErrUnknownSheet", func(t *testing.T) {
		f := f
		a := amendment
		a.Sheet = "s9"
		f.Amendments = []election.Amendment{a}
		if res := election.Evaluate(f); res.Outcome(election.D1) != election.Fail {
			t.Errorf("D1: got %s, want FAIL", res.Outcome(election.D1))
		}
	})
	t.Run("ErrAmendmentsDisagree", func(t *testing.T) {
		f := f
		other, n := amendment, 44
		other.ID, other.Returned = "a2", &n
		f.Amendments = []election.Amendment{amendment, other}
		res := election.Evaluate(f)
		if res.Outcome(election.D2) != election.Review || len(res.Elected) != 0 || !res.Rounds[0].Conflict || res.OneTimeSuccess {
			t.Errorf("got D2 %s, elected %v, conflict %v, one-time %v; want REVIEW, none, true, false",
				res.Outcome(election.D2), res.Elected, res.Rounds[0].Conflict, res.OneTimeSuccess)
		}
	})
}

func TestEvaluateConflicts(t *testing.T) {
	t.Run("TwoSheetsOneRound", func(t *testing.T) {
		f := threeSeats()
		f.Sheets = []election.TallySheet{
			sheet("s1", 1, election.RoundFormal, 45, 40, 35, 30, 10),
			sheet("s2", 1, election.RoundFormal, 45, 40, 35, 10, 30),
		}
		res := election.Evaluate(f)
		d2 := findingsOf(res, election.D2)
		if len(d2) != 1 || len(d2[0].Evidence) != 2 {
			t.Fatalf("D2: got %+v, want one conflict naming both sheets", d2)
		}
		if len(res.Elected) != 0 || res.OneTimeSuccess || res.Outcome(election.P7) != election.Review {
			t.Errorf("got elected %v, one-time %v, P7 %s; want nothing decided, P7 REVIEW", res.Elected, res.OneTimeSuccess, res.Outcome(election.P7))
		}
		if got := res.Rounds[0].Sheets; !slices.Equal(got, []string{"s1", "s2"}) {
			t.Errorf("round sheets: got %v, want [s1 s2]", got)
		}
	})
	t.Run("IdenticalCopiesAreNoConflict", func(t *testing.T) {
		f := threeSeats()
		f.Sheets = []election.TallySheet{
			sheet("s1", 1, election.RoundFormal, 45, 40, 35, 30, 10),
			sheet("s2", 1, election.RoundFormal, 45, 40, 35, 30, 10),
		}
		res := election.Evaluate(f)
		if res.Outcome(election.D2) != election.NotApplicable || !res.OneTimeSuccess {
			t.Errorf("got D2 %s, one-time %v; want no conflict, true", res.Outcome(election.D2), res.OneTimeSuccess)
		}
	})
	t.Run("TwoAttendances", func(t *testing.T) {
		f := threeSeats()
		f.Attendance = append(f.Attendance, election.Attendance{ID: "att2", Election: f.Election.ID, Eligible: 50, Present: 41})
		f.Sheets = []election.TallySheet{sheet("s1", 1, election.RoundFormal, 45, 40, 35, 30, 10)}
		res := election.Evaluate(f)
		if res.Outcome(election.D2) != election.Review || res.Outcome(election.P1) != election.Review || len(res.Elected) != 0 {
			t.Errorf("got D2 %s, P1 %s, elected %v; want REVIEW, REVIEW, none", res.Outcome(election.D2), res.Outcome(election.P1), res.Elected)
		}
	})
	t.Run("FactsOfOtherElectionsIgnored", func(t *testing.T) {
		f := threeSeats()
		other := sheet("x", 1, election.RoundFormal, 45, 0, 0, 0, 0)
		other.Election = "220422100202-PC"
		f.Sheets = []election.TallySheet{sheet("s1", 1, election.RoundFormal, 45, 40, 35, 30, 10), other}
		if res := election.Evaluate(f); !res.OneTimeSuccess || res.Outcome(election.D2) != election.NotApplicable {
			t.Errorf("got one-time %v, D2 %s; want true, NOT_APPLICABLE", res.OneTimeSuccess, res.Outcome(election.D2))
		}
	})
}

func TestEvaluateBallots(t *testing.T) {
	f := threeSeats()
	f.Attendance[0].Present = 4
	f.Attendance[0].Eligible = 4
	f.Roll = nil
	s := sheet("s1", 1, election.RoundFormal, 4, 4, 3, 3, 0)
	s.Valid, s.Invalid = 3, 1
	s.Votes[c(1)] = election.Votes{Yes: 3}
	s.Votes[c(2)] = election.Votes{Yes: 3}
	s.Votes[c(3)] = election.Votes{Yes: 3}
	s.Votes[c(4)] = election.Votes{No: 3}
	f.Sheets = []election.TallySheet{s}
	yes3 := map[string]string{c(1): "yes", c(2): "yes", c(3): "yes", c(4): "no"}
	ballot := func(id string, serial int, marks map[string]string, writeIns ...string) election.Ballot {
		return election.Ballot{ID: id, Election: f.Election.ID, Round: 1, Serial: serial, Marks: marks, WriteIns: writeIns}
	}
	f.Ballots = []election.Ballot{
		ballot("b1", 1, yes3), ballot("b2", 2, yes3), ballot("b3", 3, yes3),
		ballot("b4", 4, map[string]string{c(1): "yes", c(2): "yes", c(3): "yes"}, "王某"), // seats + 1: invalid
	}
	res := election.Evaluate(f)
	if res.BallotsAgree == nil || !*res.BallotsAgree {
		t.Fatalf("BallotsAgree: got %v, want true; findings %+v", res.BallotsAgree, findingsOf(res, election.P4))
	}
	var invalid []election.Finding
	for _, fd := range findingsOf(res, election.P4) {
		if fd.Outcome == election.Fail {
			invalid = append(invalid, fd)
		}
	}
	// b4 is invalid (CheckBallot fails it) and the sheet counts it so: the
	// rule worked, nothing to flag.
	if got := election.CheckBallot(f.Ballots[3], 3); got.Outcome != election.Fail {
		t.Errorf("CheckBallot(b4): got %s, want FAIL", got.Outcome)
	}
	if len(invalid) != 0 {
		t.Errorf("a correctly counted invalid ballot was flagged: %+v", invalid)
	}

	// One yes read as no: the sheet and the ballots disagree.
	f.Ballots[0] = ballot("b1", 1, map[string]string{c(1): "no", c(2): "yes", c(3): "yes", c(4): "no"})
	res = election.Evaluate(f)
	if res.BallotsAgree == nil || *res.BallotsAgree {
		t.Fatalf("BallotsAgree after misreading: got %v, want false", res.BallotsAgree)
	}
	if !slices.ContainsFunc(findingsOf(res, election.P4), func(fd election.Finding) bool {
		return fd.Outcome == election.Review && strings.Contains(fd.MessageEN, c(1)+".yes 3≠2")
	}) {
		t.Errorf("P4: got %+v, want a REVIEW naming %s.yes 3≠2", findingsOf(res, election.P4), c(1))
	}

	// Two different ballots with one serial are a conflict, not compared.
	f.Ballots = append(f.Ballots, ballot("b5", 2, yes3), ballot("b6", 2, map[string]string{c(1): "no"}))
	res = election.Evaluate(f)
	if res.Outcome(election.D2) != election.Review || res.BallotsAgree != nil {
		t.Errorf("duplicate serial: got D2 %s, BallotsAgree %v; want REVIEW, nil", res.Outcome(election.D2), res.BallotsAgree)
	}
}

// Every replica holding the same facts shows the same provisional state:
// Evaluate depends on the set of facts, never their order or repetition.
func TestEvaluateOrderIndependent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// Uniform bytes: rapid's own byte generator favours small values,
		// which would rarely put two sheets in one round.
		rng := rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 1))
		data := make([]byte, rapid.IntRange(0, 400).Draw(t, "len"))
		for i := range data {
			data[i] = byte(rng.UintN(256))
		}
		f := factsFrom(data)
		want := election.Evaluate(f)
		g := f
		g.Candidates = shuffled(rng, f.Candidates)
		g.Roles = shuffled(rng, f.Roles)
		g.Attendance = shuffled(rng, append(slices.Clone(f.Attendance), f.Attendance...))
		g.Sheets = shuffled(rng, f.Sheets)
		g.Amendments = shuffled(rng, f.Amendments)
		g.Ballots = shuffled(rng, append(slices.Clone(f.Ballots), f.Ballots...))
		g.Approvals = shuffled(rng, f.Approvals)
		got := election.Evaluate(g)
		if !reflect.DeepEqual(got, want) {
			a, _ := json.Marshal(got)
			b, _ := json.Marshal(want)
			t.Fatalf("Evaluate after shuffling and repeating facts:\n got %s\nwant %s", a, b)
		}
	})
}

func shuffled[T any](rng *rand.Rand, xs []T) []T {
	out := slices.Clone(xs)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func TestEvaluateVillageCommittee(t *testing.T) {
	const id = "220422100201-VC"
	vcFacts := func(sexes ...string) election.ElectionFacts {
		f := election.ElectionFacts{
			Election: election.Election{ID: id, Village: "220422100201", Type: election.TypeVillageCommittee, Seats: 3, Date: "2026-05-16", Status: election.StatusLocked},
			Roll:     &election.RollCount{Election: id, Eligible: 1000, PublishedOn: "2026-04-26"},
			Attendance: []election.Attendance{
				{ID: "att", Election: id, Eligible: 1000, Present: 640},
			},
		}
		s := election.TallySheet{ID: "s1", Election: id, Round: 1, Kind: election.RoundFormal, Issued: 650, Returned: 600, Valid: 600,
			Votes: make(map[string]election.Votes), Signers: []string{"甲"}}
		for i, sex := range sexes {
			c := id + "-C" + string(rune('1'+i))
			f.Election.Candidates = append(f.Election.Candidates, c)
			f.Candidates = append(f.Candidates, election.Candidate{ID: c, Election: id, Sex: sex})
			s.Votes[c] = election.Votes{Yes: 500 - 50*i, No: 100 + 50*i}
		}
		f.Sheets = []election.TallySheet{s}
		return f
	}

	t.Run("OK", func(t *testing.T) {
		res := election.Evaluate(vcFacts("M", "F", "M", "F"))
		if !res.OneTimeSuccess || res.Outcome(election.V1) != election.Pass || len(res.Elected) != 3 {
			t.Errorf("got one-time %v, V1 %s, elected %v; want true, PASS, three", res.OneTimeSuccess, res.Outcome(election.V1), res.Elected)
		}
		for _, r := range election.Rules() {
			isVC := r.Type == election.TypeVillageCommittee || r.ID == election.P3 || r.ID == election.P4 || r.ID == election.P6
			has := len(findingsOf(res, r.ID)) > 0
			if isVC != has && r.ID[0] != 'D' {
				t.Errorf("rule %s: got findings %v, want %v", r.ID, has, isVC)
			}
			if res.Outcome(r.ID) == election.Fail {
				t.Errorf("rule %s: got FAIL, want none", r.ID)
			}
		}
	})
	t.Run("ErrNoWoman", func(t *testing.T) {
		// C2 (the only woman) loses: 300 of 600 is exactly half.
		f := vcFacts("M", "F", "M", "M")
		f.Sheets[0].Votes[id+"-C2"] = election.Votes{Yes: 300, No: 300}
		f.Sheets[0].Votes[id+"-C4"] = election.Votes{Yes: 350, No: 250}
		res := election.Evaluate(f)
		if res.Outcome(election.V1) != election.Fail || res.Outcome(election.V7) != election.Review {
			t.Errorf("got V1 %s, V7 %s; want FAIL, REVIEW (exactly half)", res.Outcome(election.V1), res.Outcome(election.V7))
		}
	})
	t.Run("AdditionalExactlyOneThird", func(t *testing.T) {
		f := vcFacts("M", "F", "M", "F")
		f.Sheets[0].Votes[id+"-C3"] = election.Votes{Yes: 250, No: 350}
		f.Sheets[0].Votes[id+"-C4"] = election.Votes{Yes: 240, No: 360}
		add := election.TallySheet{ID: "s2", Election: id, Round: 2, Kind: election.RoundAdditional, Issued: 650, Returned: 600, Valid: 600,
			Votes: map[string]election.Votes{id + "-C3": {Yes: 200}, id + "-C4": {Yes: 190}}, Signers: []string{"甲"}}
		f.Sheets = append(f.Sheets, add)
		res := election.Evaluate(f)
		if !slices.Contains(res.Elected, id+"-C3") || res.Outcome(election.V8) != election.Pass || res.OneTimeSuccess {
			t.Errorf("got elected %v, V8 %s, one-time %v; want C3 elected with exactly a third, PASS, false", res.Elected, res.Outcome(election.V8), res.OneTimeSuccess)
		}
		add.Votes[id+"-C3"] = election.Votes{Yes: 199}
		f.Sheets[1] = add
		if res := election.Evaluate(f); slices.Contains(res.Elected, id+"-C3") || res.Outcome(election.V8) != election.Fail {
			t.Errorf("below a third: got elected %v, V8 %s; want C3 not elected, FAIL (seat unfilled)", res.Elected, res.Outcome(election.V8))
		}
	})
}
