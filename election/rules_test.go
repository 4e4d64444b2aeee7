package election_test

import (
	"math"
	"slices"
	"strings"
	"testing"

	"villagesync/election"
)

// check is one boundary case: a finding and the outcome it should have.
type check struct {
	name string
	got  election.Finding
	rule election.RuleID
	want election.Outcome
}

func runChecks(t *testing.T, checks []check) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got.Rule != c.rule || c.got.Outcome != c.want {
				t.Errorf("got %s %s (%q), want %s %s", c.got.Rule, c.got.Outcome, c.got.MessageEN, c.rule, c.want)
			}
			if c.got.Message == "" || c.got.MessageEN == "" {
				t.Errorf("got messages %q / %q, want both", c.got.Message, c.got.MessageEN)
			}
		})
	}
}

const (
	pass = election.Pass
	fail = election.Fail
	rev  = election.Review
	na   = election.NotApplicable
)

func TestCheckQuorum(t *testing.T) {
	runChecks(t, []check{
		{"AboveFourFifths", election.CheckQuorum(50, 41), election.P1, pass},
		{"ExactlyFourFifths", election.CheckQuorum(50, 40), election.P1, rev},
		{"BelowFourFifths", election.CheckQuorum(50, 39), election.P1, fail},
		// 4/5 of 47 is 37.6: 38 is above, 37 below, and no count is exact.
		{"AboveNotIntegral", election.CheckQuorum(47, 38), election.P1, pass},
		{"BelowNotIntegral", election.CheckQuorum(47, 37), election.P1, fail},
		{"AllPresent", election.CheckQuorum(5, 5), election.P1, pass},
		{"MorePresentThanEligible", election.CheckQuorum(50, 51), election.P1, rev},
		{"NoneEligible", election.CheckQuorum(0, 0), election.P1, rev},
		{"Huge", election.CheckQuorum(math.MaxInt32, math.MaxInt32), election.P1, pass},
	})
}

func TestCheckRoll(t *testing.T) {
	roll := election.RollCount{FullMembers: 52, Eligible: 50, Exclusions: 2}
	runChecks(t, []check{
		{"Agrees", election.CheckRoll(roll, 50), election.P1, pass},
		{"SignInDiffers", election.CheckRoll(roll, 51), election.P1, rev},
		{"RollArithmetic", election.CheckRoll(election.RollCount{FullMembers: 52, Eligible: 51, Exclusions: 2}, 51), election.P1, rev},
	})
}

func TestCheckMargin(t *testing.T) {
	runChecks(t, []check{
		// The minimum candidates for 3, 4, 5 and 7 seats are 4, 5, 6 and 9.
		{"3of4", election.CheckMargin(3, 4), election.P2, pass},
		{"3of3", election.CheckMargin(3, 3), election.P2, fail},
		{"4of5", election.CheckMargin(4, 5), election.P2, pass},
		{"4of4", election.CheckMargin(4, 4), election.P2, fail},
		{"5of6", election.CheckMargin(5, 6), election.P2, pass},
		{"5of5", election.CheckMargin(5, 5), election.P2, fail},
		{"7of9", election.CheckMargin(7, 9), election.P2, pass},
		{"7of8", election.CheckMargin(7, 8), election.P2, fail},
		{"10of12Exact20Percent", election.CheckMargin(10, 12), election.P2, pass},
		{"10of11", election.CheckMargin(10, 11), election.P2, fail},
		{"NoSeats", election.CheckMargin(0, 3), election.P2, rev},
	})
	if got := election.CheckMargin(7, 8).Message; !strings.Contains(got, "至少须9名") {
		t.Errorf("CheckMargin(7, 8) message: got %q, want it to name the 9 needed", got)
	}
}

func TestCheckReturned(t *testing.T) {
	runChecks(t, []check{
		{"Equal", election.CheckReturned(40, 40), election.P3, pass},
		{"OneFewer", election.CheckReturned(40, 39), election.P3, pass},
		{"IssuedPlusOne", election.CheckReturned(40, 41), election.P3, fail},
	})
	if got := election.CheckReturned(40, 41).Message; !strings.HasPrefix(got, "收回选票多于发出选票：本轮选举无效，须重新选举") {
		t.Errorf("CheckReturned(40, 41) message: got %q", got)
	}
}

func TestCheckBallot(t *testing.T) {
	b := func(yes, no int, writeIns ...string) election.Ballot {
		m := make(map[string]string)
		for i := range yes {
			m["y"+string(rune('a'+i))] = election.MarkYes
		}
		for i := range no {
			m["n"+string(rune('a'+i))] = election.MarkNo
		}
		return election.Ballot{Serial: 7, Marks: m, WriteIns: writeIns}
	}
	runChecks(t, []check{
		{"Seats", election.CheckBallot(b(3, 2), 3), election.P4, pass},
		{"SeatsPlusOne", election.CheckBallot(b(4, 1), 3), election.P4, fail},
		{"WriteInFillsLastSeat", election.CheckBallot(b(2, 0, "王某"), 3), election.P4, pass},
		{"WriteInOverSeats", election.CheckBallot(b(3, 0, "王某"), 3), election.P4, fail},
		{"NoAndAbstainDoNotCount", election.CheckBallot(b(0, 5), 3), election.P4, pass},
		{"Blank", election.CheckBallot(b(0, 0), 3), election.P4, pass},
	})
}

func TestCheckTally(t *testing.T) {
	s := election.TallySheet{Returned: 40, Valid: 39, Invalid: 1, Votes: map[string]election.Votes{"c1": {Yes: 30, No: 5, Abstain: 4}}}
	over := s
	over.Votes = map[string]election.Votes{"c1": {Yes: 30, No: 5, Abstain: 5}}
	short := s
	short.Invalid = 0
	runChecks(t, []check{
		{"Adds", election.CheckTally(s), election.P4, pass},
		{"ValidPlusInvalidShort", election.CheckTally(short), election.P4, fail},
		{"CandidateOverValid", election.CheckTally(over), election.P4, fail},
	})
}

func TestCheckThreshold(t *testing.T) {
	sheet := func(yes int, declared ...string) election.TallySheet {
		s := election.TallySheet{Votes: map[string]election.Votes{"c1": {Yes: yes}}}
		if declared != nil {
			s.Elected = declared
		}
		return s
	}
	runChecks(t, []check{
		{"HalfPlusOne", election.CheckThreshold(40, sheet(21)), election.P5, pass},
		{"ExactlyHalf", election.CheckThreshold(40, sheet(20)), election.P5, rev},
		{"BelowHalf", election.CheckThreshold(40, sheet(19)), election.P5, pass},
		{"OddPresentJustAbove", election.CheckThreshold(41, sheet(21)), election.P5, pass},
		{"DeclaredHalfPlusOne", election.CheckThreshold(40, sheet(21, "c1")), election.P5, pass},
		{"DeclaredExactlyHalf", election.CheckThreshold(40, sheet(20, "c1")), election.P5, fail},
		{"DeclaredUnknown", election.CheckThreshold(40, sheet(30, "c9")), election.P5, fail},
		{"PresentUnknown", election.CheckThreshold(0, sheet(1)), election.P5, rev},
		{"WriteInPasses", election.CheckThreshold(40, election.TallySheet{WriteIns: map[string]int{"王某": 21}}), election.P5, rev},
		{"WriteInHalf", election.CheckThreshold(40, election.TallySheet{WriteIns: map[string]int{"王某": 20}}), election.P5, pass},
	})
}

func TestCheckTooManyPass(t *testing.T) {
	passers := []election.Count{{"c1", 40}, {"c2", 35}, {"c3", 30}, {"c4", 25}}
	tied := []election.Count{{"c1", 40}, {"c2", 35}, {"c3", 30}, {"c4", 30}}
	runChecks(t, []check{
		{"FewerThanSeats", election.CheckTooManyPass(3, passers[:2], nil, false), election.P6, pass},
		{"EqualSeats", election.CheckTooManyPass(3, passers[:3], nil, false), election.P6, pass},
		{"MoreTakeByVotes", election.CheckTooManyPass(3, passers, nil, false), election.P6, pass},
		{"TieAtCutoff", election.CheckTooManyPass(3, tied, nil, false), election.P6, fail},
		{"TieAtCutoffTieBreakRecorded", election.CheckTooManyPass(3, tied, nil, true), election.P6, pass},
		{"TieAboveCutoff", election.CheckTooManyPass(3, []election.Count{{"c1", 40}, {"c2", 40}, {"c3", 30}, {"c4", 25}}, nil, false), election.P6, pass},
		{"DeclaredBeyondCutoff", election.CheckTooManyPass(3, passers, []string{"c1", "c2", "c4"}, false), election.P6, fail},
		{"DeclaredTied", election.CheckTooManyPass(3, tied, []string{"c1", "c2", "c3"}, true), election.P6, fail},
		{"DeclaredOmitsWinner", election.CheckTooManyPass(3, passers, []string{"c1", "c2"}, false), election.P6, rev},
		{"DeclaredAgrees", election.CheckTooManyPass(3, passers, []string{"c3", "c2", "c1"}, false), election.P6, pass},
		{"NoSeats", election.CheckTooManyPass(0, passers, nil, false), election.P6, pass},
	})
}

func TestCheckShortfall(t *testing.T) {
	red := func(newSeats, votesFor int) *election.SeatReduction {
		return &election.SeatReduction{NewSeats: newSeats, VotesFor: votesFor}
	}
	runChecks(t, []check{
		{"Filled", election.CheckShortfall(5, 5, nil, 40, false), election.P7, pass},
		{"OneShort", election.CheckShortfall(5, 4, nil, 40, false), election.P7, fail},
		{"ReductionHalfPlusOne", election.CheckShortfall(5, 4, red(4, 21), 40, true), election.P7, pass},
		{"ReductionExactlyHalf", election.CheckShortfall(5, 4, red(4, 20), 40, true), election.P7, fail},
		{"ReductionNotApproved", election.CheckShortfall(5, 4, red(4, 21), 40, false), election.P7, rev},
		{"ReductionStillShort", election.CheckShortfall(5, 3, red(4, 21), 40, true), election.P7, fail},
		{"ReductionNotReducing", election.CheckShortfall(5, 5, red(5, 21), 40, true), election.P7, rev},
		{"ApprovalWithoutVote", election.CheckShortfall(5, 4, nil, 40, true), election.P7, fail},
	})
}

func TestCheckRoles(t *testing.T) {
	cands := []string{"c1", "c2", "c3", "c4"}
	role := func(person, r string) election.RoleAssignment {
		return election.RoleAssignment{Person: person, Role: r}
	}
	runChecks(t, []check{
		{"None", election.CheckRoles(nil, cands), election.P8, na},
		{"ScrutineerNotCandidate", election.CheckRoles([]election.RoleAssignment{role("p1", election.RoleScrutineer), role("p2", election.RoleCounter)}, cands), election.P8, pass},
		{"ScrutineerIsCandidate", election.CheckRoles([]election.RoleAssignment{role("c2", election.RoleScrutineer)}, cands), election.P8, fail},
		{"ChiefScrutineerIsCandidate", election.CheckRoles([]election.RoleAssignment{role("p1", election.RoleScrutineer), role("c1", election.RoleChiefScrutineer)}, cands), election.P8, fail},
		{"CounterIsCandidate", election.CheckRoles([]election.RoleAssignment{role("p1", election.RoleScrutineer), role("c3", election.RoleCounter)}, cands), election.P8, rev},
		{"NoScrutineer", election.CheckRoles([]election.RoleAssignment{role("p2", election.RoleTeller)}, cands), election.P8, rev},
	})
}

func TestCheckNoProxy(t *testing.T) {
	runChecks(t, []check{
		{"IssuedEqualsPresent", election.CheckNoProxy(45, 45, 0), election.P9, pass},
		{"IssuedBelowPresent", election.CheckNoProxy(45, 44, 0), election.P9, pass},
		{"IssuedPresentPlusOne", election.CheckNoProxy(45, 46, 0), election.P9, fail},
		{"OneProxy", election.CheckNoProxy(45, 45, 1), election.P9, fail},
	})
}

func TestCheckSecretary(t *testing.T) {
	committee := []string{"c1", "c2", "c3", "c4", "c5"}
	s := func(issued int, votes map[string]int, declared ...string) election.TallySheet {
		sh := election.TallySheet{Issued: issued, Returned: issued, Valid: issued, Votes: make(map[string]election.Votes)}
		for c, y := range votes {
			sh.Votes[c] = election.Votes{Yes: y}
		}
		if declared != nil {
			sh.Elected = declared
		}
		return sh
	}
	runChecks(t, []check{
		{"HalfPlusOneApproved", election.CheckSecretary(committee, s(5, map[string]int{"c1": 3, "c2": 2}), true), election.P10, pass},
		{"HalfPlusOneAwaitingApproval", election.CheckSecretary(committee, s(5, map[string]int{"c1": 3}), false), election.P10, rev},
		// 2 of a committee of 4 is exactly half: nobody is elected.
		{"ExactlyHalf", election.CheckSecretary(committee[:4], s(4, map[string]int{"c1": 2, "c2": 2}), true), election.P10, fail},
		{"NotAMember", election.CheckSecretary(committee, s(5, map[string]int{"c1": 4, "x9": 1}), true), election.P10, fail},
		{"MoreBallotsThanMembers", election.CheckSecretary(committee, s(6, map[string]int{"c1": 5}), true), election.P10, fail},
		{"DeclaredOther", election.CheckSecretary(committee, s(5, map[string]int{"c1": 4, "c2": 1}, "c2"), true), election.P10, fail},
		{"NoCommittee", election.CheckSecretary(nil, s(5, map[string]int{"c1": 4}), true), election.P10, rev},
	})
}

func TestCheckCommitteeSize(t *testing.T) {
	runChecks(t, []check{
		{"Seven3", election.CheckCommitteeSize(7, 3), election.P11, pass},
		{"Seven5", election.CheckCommitteeSize(7, 5), election.P11, pass},
		{"Seven2", election.CheckCommitteeSize(7, 2), election.P11, fail},
		{"Many6", election.CheckCommitteeSize(90, 6), election.P11, rev},
		{"Many7", election.CheckCommitteeSize(90, 7), election.P11, rev},
		{"Many8", election.CheckCommitteeSize(90, 8), election.P11, fail},
		{"Six2", election.CheckCommitteeSize(6, 2), election.P11, pass},
		{"Six3", election.CheckCommitteeSize(6, 3), election.P11, fail},
	})
}

func TestCheckSeatPlan(t *testing.T) {
	plan := func(parts ...int) []int { // seats, villages, seats, villages...
		var seats []int
		for i := 0; i+1 < len(parts); i += 2 {
			for range parts[i+1] {
				seats = append(seats, parts[i])
			}
		}
		return seats
	}
	runChecks(t, []check{
		{"Dongliao", election.CheckSeatPlan(plan(3, 196, 5, 38, 4, 1), 782), election.P11, pass},
		{"WithSevens", election.CheckSeatPlan(plan(3, 200, 5, 30, 7, 4, 4, 1), 782), election.P11, pass},
		{"OddOnly", election.CheckSeatPlan(plan(3, 197, 5, 38), 781), election.P11, pass},
		{"OddOnlyCannotReach782", election.CheckSeatPlan(plan(3, 196, 5, 39), 782), election.P11, fail},
	})
	if got := election.CheckSeatPlan(plan(3, 196, 5, 39), 782).MessageEN; !strings.Contains(got, "even size") {
		t.Errorf("odd-only plan message: got %q, want the parity explained", got)
	}
	var d []int
	for _, e := range election.Dongliao().Elections {
		d = append(d, e.Seats)
	}
	if got := election.CheckSeatPlan(d, election.DongliaoMembers); got.Outcome != pass {
		t.Errorf("Dongliao seat plan: got %s %q, want PASS", got.Outcome, got.MessageEN)
	}
}

func TestCheckVCComposition(t *testing.T) {
	cand := func(sexes ...string) []election.Candidate {
		var cs []election.Candidate
		for i, s := range sexes {
			cs = append(cs, election.Candidate{ID: "c" + string(rune('1'+i)), Sex: s})
		}
		return cs
	}
	runChecks(t, []check{
		{"Three", election.CheckVCComposition(3, nil), election.V1, pass},
		{"Seven", election.CheckVCComposition(7, nil), election.V1, pass},
		{"Two", election.CheckVCComposition(2, nil), election.V1, fail},
		{"Eight", election.CheckVCComposition(8, nil), election.V1, fail},
		{"OneWoman", election.CheckVCComposition(3, cand("M", "F", "M")), election.V1, pass},
		{"NoWoman", election.CheckVCComposition(3, cand("M", "M", "M")), election.V1, fail},
		{"NoKnownWoman", election.CheckVCComposition(3, cand("M", "", "M")), election.V1, rev},
		{"Incomplete", election.CheckVCComposition(3, cand("M", "M")), election.V1, pass},
	})
}

func TestCheckUncheckable(t *testing.T) {
	runChecks(t, []check{
		{"V2", election.CheckTerm(), election.V2, na},
		{"V9", election.CheckSecretBallot(), election.V9, na},
		{"V12", election.CheckArchive(), election.V12, na},
	})
}

func TestCheckRegistrants(t *testing.T) {
	a := election.RollCount{Election: "220422100201-VC", Registrants: []string{"p1", "p2", "p3"}}
	b := election.RollCount{Election: "220422100202-VC", Registrants: []string{"p4", "p3"}}
	twice := election.RollCount{Election: "220422100201-VC", Registrants: []string{"p1", "p1"}}
	runChecks(t, []check{
		{"NoList", election.CheckRegistrants([]election.RollCount{{Election: "x"}}), election.V3, na},
		{"OneVillage", election.CheckRegistrants([]election.RollCount{a}), election.V3, pass},
		{"TwoVillagesDistinct", election.CheckRegistrants([]election.RollCount{a, {Election: "y", Registrants: []string{"p9"}}}), election.V3, pass},
		{"TwoVillages", election.CheckRegistrants([]election.RollCount{a, b}), election.V3, fail},
		{"TwiceInOne", election.CheckRegistrants([]election.RollCount{twice}), election.V3, fail},
	})
	f := election.CheckRegistrants([]election.RollCount{a, b})
	want := []election.Ref{{Collection: "roll_count", ID: a.Election}, {Collection: "roll_count", ID: b.Election}}
	if !slices.Equal(f.Evidence, want) {
		t.Errorf("evidence: got %v, want %v", f.Evidence, want)
	}
}

func TestCheckVoterListNotice(t *testing.T) {
	runChecks(t, []check{
		{"TwentyDays", election.CheckVoterListNotice("2026-02-15", "2026-03-07"), election.V4, pass},
		{"NineteenDays", election.CheckVoterListNotice("2026-02-16", "2026-03-07"), election.V4, fail},
		{"AcrossYear", election.CheckVoterListNotice("2025-12-12", "2026-01-01"), election.V4, pass},
		{"NotRecorded", election.CheckVoterListNotice("", "2026-03-07"), election.V4, rev},
		{"AfterElection", election.CheckVoterListNotice("2026-03-08", "2026-03-07"), election.V4, fail},
	})
}

func TestCheckVCMargin(t *testing.T) {
	runChecks(t, []check{
		{"OneMore", election.CheckVCMargin(5, 6), election.V5, pass},
		{"Equal", election.CheckVCMargin(5, 5), election.V5, fail},
	})
}

func TestCheckTurnout(t *testing.T) {
	runChecks(t, []check{
		{"HalfPlusOne", election.CheckTurnout(1000, 501), election.V6, pass},
		{"ExactlyHalf", election.CheckTurnout(1000, 500), election.V6, fail},
		{"OddJustAbove", election.CheckTurnout(999, 500), election.V6, pass},
		{"OddJustBelow", election.CheckTurnout(999, 499), election.V6, fail},
		{"NoneRegistered", election.CheckTurnout(0, 0), election.V6, rev},
	})
}

func TestCheckVCThreshold(t *testing.T) {
	s := func(returned, yes int, declared ...string) election.TallySheet {
		sh := election.TallySheet{Returned: returned, Votes: map[string]election.Votes{"c1": {Yes: yes}}}
		if declared != nil {
			sh.Elected = declared
		}
		return sh
	}
	runChecks(t, []check{
		{"HalfPlusOne", election.CheckVCThreshold(s(600, 301, "c1")), election.V7, pass},
		{"ExactlyHalfDeclared", election.CheckVCThreshold(s(600, 300, "c1")), election.V7, fail},
		{"ExactlyHalf", election.CheckVCThreshold(s(600, 300)), election.V7, rev},
	})
}

func TestCheckAdditionalVC(t *testing.T) {
	s := func(returned, yes int, declared ...string) election.TallySheet {
		return election.TallySheet{Returned: returned, Votes: map[string]election.Votes{"c1": {Yes: yes}}, Elected: declared}
	}
	runChecks(t, []check{
		{"ExactlyThird", election.CheckAdditionalVC(s(600, 200, "c1")), election.V8, pass},
		{"BelowThird", election.CheckAdditionalVC(s(600, 199, "c1")), election.V8, fail},
		{"BelowThirdNotDeclared", election.CheckAdditionalVC(s(600, 199)), election.V8, pass},
		{"NotIntegral", election.CheckAdditionalVC(s(601, 201, "c1")), election.V8, pass},
		{"NotIntegralBelow", election.CheckAdditionalVC(s(601, 200, "c1")), election.V8, fail},
	})
	runChecks(t, []check{
		{"Filled", election.CheckVCShortfall(5, 5), election.V8, pass},
		{"Short", election.CheckVCShortfall(5, 4), election.V8, fail},
	})
}

func TestCheckProxies(t *testing.T) {
	runChecks(t, []check{
		{"None", election.CheckProxies(0), election.V10, pass},
		{"One", election.CheckProxies(1), election.V10, rev},
	})
}

func TestCheckBallotsAndFalseCount(t *testing.T) {
	s := election.TallySheet{Returned: 2, Valid: 2, Votes: map[string]election.Votes{"c1": {Yes: 2}, "c2": {Yes: 1, No: 1}}, WriteIns: map[string]int{"王某": 1}}
	ballots := []election.Ballot{
		{Serial: 1, Marks: map[string]string{"c1": "yes", "c2": "yes"}},
		{Serial: 2, Marks: map[string]string{"c1": "yes", "c2": "no"}, WriteIns: []string{"王某"}},
	}
	wrong := slices.Clone(ballots)
	wrong[0] = election.Ballot{Serial: 1, Marks: map[string]string{"c1": "yes", "c2": "abstain"}}
	runChecks(t, []check{
		{"P4Agree", election.CheckBallots(s, ballots, 2), election.P4, pass},
		{"P4Disagree", election.CheckBallots(s, wrong, 2), election.P4, rev},
		{"P4None", election.CheckBallots(s, nil, 2), election.P4, na},
		// With one seat both ballots are over-marked and invalid.
		{"P4SeatsMatter", election.CheckBallots(s, ballots, 1), election.P4, rev},
		{"V11Agree", election.CheckFalseCount(s, ballots, 2), election.V11, pass},
		{"V11Disagree", election.CheckFalseCount(s, wrong, 2), election.V11, rev},
	})
}

func TestCheckAmendment(t *testing.T) {
	n := 40
	a := election.Amendment{Sheet: "s1", Reason: "录入错误", Returned: &n, Signers: election.Signers{Station: "甲", Supervisor: "乙"}}
	s := &election.TallySheet{ID: "s1", Returned: 41}
	noSup := a
	noSup.Signers.Supervisor = " "
	noStation := a
	noStation.Signers.Station = ""
	runChecks(t, []check{
		{"OK", election.CheckAmendment(a, s), election.D1, pass},
		{"UnknownSheet", election.CheckAmendment(a, nil), election.D1, fail},
		{"NoSupervisor", election.CheckAmendment(noSup, s), election.D1, fail},
		{"NoStation", election.CheckAmendment(noStation, s), election.D1, fail},
	})
}

func TestRules(t *testing.T) {
	rules := election.Rules()
	var ids []string
	for _, r := range rules {
		ids = append(ids, string(r.ID))
		if r.Title == "" || r.TitleEN == "" || r.Source == "" || r.Condition == "" {
			t.Errorf("rule %s: got %+v, want title, source and condition", r.ID, r)
		}
	}
	want := "P1 P2 P3 P4 P5 P6 P7 P8 P9 P10 P11 V1 V2 V3 V4 V5 V6 V7 V8 V9 V10 V11 V12 D1 D2 D3"
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("Rules(): got %s, want %s", got, want)
	}
	rules[0].Title = "changed"
	if election.Rules()[0].Title == "changed" {
		t.Error("Rules(): got shared slice, want a copy")
	}
}

func TestResultOutcome(t *testing.T) {
	res := election.Result{Findings: []election.Finding{
		{Rule: election.P4, Outcome: pass}, {Rule: election.P4, Outcome: fail}, {Rule: election.P4, Outcome: rev},
		{Rule: election.P5, Outcome: pass}, {Rule: election.P5, Outcome: na},
	}}
	for rule, want := range map[election.RuleID]election.Outcome{election.P4: fail, election.P5: pass, election.P6: na} {
		if got := res.Outcome(rule); got != want {
			t.Errorf("Outcome(%s): got %s, want %s", rule, got, want)
		}
	}
}
