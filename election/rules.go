package election

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// RuleID names a rule facts are checked against: P1–P11 for Party
// committee elections, V1–V12 for villagers' committee elections, and
// D1–D3, villagesync's own checks on the records themselves.
type RuleID string

// The rules. [Rules] describes each one; docs/domain.md gives the sources.
const (
	P1  RuleID = "P1"  // quorum: present × 5 > eligible × 4
	P2  RuleID = "P2"  // candidate margin 差额: (candidates − seats) × 5 ≥ seats
	P3  RuleID = "P3"  // returned ≤ issued
	P4  RuleID = "P4"  // ballot validity and tally arithmetic
	P5  RuleID = "P5"  // threshold: 2 × yes > present
	P6  RuleID = "P6"  // more passers than seats: take by votes, tie → TIE_BREAK
	P7  RuleID = "P7"  // fewer passers than seats: 另行选举 or a voted seat reduction
	P8  RuleID = "P8"  // scrutineers are not candidates
	P9  RuleID = "P9"  // no proxy: issued ≤ present
	P10 RuleID = "P10" // secretary elected by the new committee, approved
	P11 RuleID = "P11" // committee size consistent with membership

	V1  RuleID = "V1"  // 3–7 members, at least one woman
	V2  RuleID = "V2"  // five-year term
	V3  RuleID = "V3"  // no voter registered twice
	V4  RuleID = "V4"  // voter list published ≥ 20 days before
	V5  RuleID = "V5"  // more candidates than seats
	V6  RuleID = "V6"  // turnout: 2 × voted > registered
	V7  RuleID = "V7"  // threshold: 2 × votes > voted
	V8  RuleID = "V8"  // 另行选举: 3 × votes ≥ ballots cast; seats filled
	V9  RuleID = "V9"  // secret ballot, public count
	V10 RuleID = "V10" // written proxies
	V11 RuleID = "V11" // forged ballots or false counts
	V12 RuleID = "V12" // election files archived

	D1 RuleID = "D1" // a tally amendment cites its sheet and carries two signatures
	D2 RuleID = "D2" // one fact per slot
	D3 RuleID = "D3" // rectification events are consistent
)

// Outcome is the result of checking one rule.
type Outcome string

const (
	// Pass: the facts satisfy the rule.
	Pass Outcome = "PASS"
	// Fail: the facts break the rule; the message says what that means
	// (a round void, a ballot invalid, seats unfilled...). The facts are
	// still stored: a failure is flagged for the county, never refused.
	Fail Outcome = "FAIL"
	// Review: a boundary case or missing evidence; a person must look.
	Review Outcome = "REVIEW"
	// NotApplicable: the rule does not apply to these facts, or the law
	// gives no condition a record can be checked against.
	NotApplicable Outcome = "NOT_APPLICABLE"
)

// severity orders outcomes from the least to the most serious.
func (o Outcome) severity() int {
	switch o {
	case Pass:
		return 1
	case Review:
		return 2
	case Fail:
		return 3
	}
	return 0
}

// Ref names a record: its collection and id.
type Ref struct {
	Collection string `json:"collection"`
	ID         string `json:"id"`
}

// Finding is the result of checking one rule against some facts: the
// outcome, a plain sentence for the operator in Chinese and in English, and
// the records the finding rests on.
type Finding struct {
	Rule      RuleID  `json:"rule"`
	Outcome   Outcome `json:"outcome"`
	Message   string  `json:"message"`    // zh-CN
	MessageEN string  `json:"message_en"` // English
	Evidence  []Ref   `json:"evidence,omitempty"`
}

func finding(rule RuleID, o Outcome, zh, en string) Finding {
	return Finding{Rule: rule, Outcome: o, Message: zh, MessageEN: en}
}

// with returns f with refs added to its evidence, each record once.
func (f Finding) with(refs ...Ref) Finding {
	f.Evidence = slices.Clip(f.Evidence)
	for _, r := range refs {
		if !slices.Contains(f.Evidence, r) {
			f.Evidence = append(f.Evidence, r)
		}
	}
	return f
}

// Rule describes one rule: what it checks and where it comes from.
type Rule struct {
	ID        RuleID
	Title     string // zh-CN
	TitleEN   string
	Source    string
	Condition string
	// Type is the election type the rule applies to, or "" for both.
	Type string
}

var rules = []Rule{
	{P1, "到会人数", "Quorum", "《中国共产党基层组织选举工作条例》(2020); 1990 暂行条例", "present × 5 > eligible × 4; exactly 4/5 needs review; eligible = full members − approved exclusions", TypePartyCommittee},
	{P2, "差额选举", "Candidate margin", "条例 (2020) 第十三条", "(candidates − seats) × 5 ≥ seats", TypePartyCommittee},
	{P3, "收回选票", "Returned vs issued", "条例 (2020); 1990 暂行条例", "returned ≤ issued, else the round is void and must be re-run", ""},
	{P4, "选票有效", "Ballot validity", "条例 (2020); 1990 暂行条例", "per ballot yes marks + write-ins ≤ seats; valid + invalid = returned; yes + no + abstain ≤ valid", ""},
	{P5, "当选票数", "Election threshold", "条例 (2020); 1990 暂行条例", "2 × yes > present; exactly half is not elected", TypePartyCommittee},
	{P6, "按得票多少", "Too many pass", "1990 暂行条例; 《新编基层党务工作手册》", "passers taken by votes; a tie at the cut-off needs a TIE_BREAK round", ""},
	{P7, "另行选举", "Seats unfilled", "1990 暂行条例; 《新编基层党务工作手册》", "elected = seats, or an ADDITIONAL round, or a seat reduction voted by more than half of those present", TypePartyCommittee},
	{P8, "监票人", "Scrutineers", "条例 (2020) 第二十二条", "no scrutineer is a candidate", TypePartyCommittee},
	{P9, "不得委托", "No proxy", "条例 (2020) 第二十四条", "no proxies; issued ≤ present", TypePartyCommittee},
	{P10, "书记选举", "Secretary", "条例 (2020); 1990 暂行条例", "elected by the new committee from its members with more than half; approval recorded", TypePartyCommittee},
	{P11, "委员会人数", "Committee size", "《中国共产党支部工作条例（试行）》", "≥ 7 full members: 3–5 seats, at most 7; < 7: a secretary and at most one deputy", TypePartyCommittee},
	{V1, "委员会组成", "Committee composition", "村民委员会组织法 第六条", "3 ≤ seats ≤ 7; at least one woman elected", TypeVillageCommittee},
	{V2, "任期", "Term", "村民委员会组织法 第十一条", "five-year term: no condition on one election's records", TypeVillageCommittee},
	{V3, "选民登记", "Voter registration", "村民委员会组织法 第十三条", "nobody registered twice, in one village or two", TypeVillageCommittee},
	{V4, "名单公布", "Voter list notice", "村民委员会组织法 第十四条", "voter list published ≥ 20 days before election day", TypeVillageCommittee},
	{V5, "差额", "Candidate margin", "村民委员会组织法 第十五条", "candidates > seats", TypeVillageCommittee},
	{V6, "投票人数", "Turnout", "村民委员会组织法 第十五条", "2 × voted > registered", TypeVillageCommittee},
	{V7, "当选票数", "Election threshold", "村民委员会组织法 第十五条", "2 × votes > voted", TypeVillageCommittee},
	{V8, "另行选举", "Additional round", "村民委员会组织法 第十五条", "an ADDITIONAL round winner needs 3 × votes ≥ ballots cast; seats filled", TypeVillageCommittee},
	{V9, "秘密投票", "Secret ballot", "村民委员会组织法 第十五条", "secret ballot, public count, result announced on the spot: procedure, not data", TypeVillageCommittee},
	{V10, "委托投票", "Proxies", "村民委员会组织法 第十五条", "written proxies to close relatives, listed publicly; limits are provincial", TypeVillageCommittee},
	{V11, "虚报票数", "False counts", "村民委员会组织法 第十七条", "ballots recorded one by one agree with the tally sheet", TypeVillageCommittee},
	{V12, "选举档案", "Archive", "村民委员会组织法 第三十四条", "election files and ballots archived: retention, not a condition", TypeVillageCommittee},
	{D1, "计票单更正", "Tally amendment", "villagesync (SPEC §4)", "an amendment cites a sheet of the election and carries a station and a supervisor signature", ""},
	{D2, "记录冲突", "Conflicting facts", "villagesync (SPEC §5.8)", "one fact per slot: two different facts for one slot are a conflict for the county", ""},
	{D3, "整改状态", "Rectification status", "villagesync (SPEC §4)", "OPEN → IN_PROGRESS → RECTIFIED → VERIFIED, without regressions or contradictions", ""},
}

// ruleIndex gives each rule's position in rules: the order of findings.
var ruleIndex = func() map[RuleID]int {
	m := make(map[RuleID]int, len(rules))
	for i, r := range rules {
		m[r.ID] = i
	}
	return m
}()

// Rules returns every rule in order: P1–P11, V1–V12, D1–D3.
func Rules() []Rule { return slices.Clone(rules) }

// Count is a candidate's yes votes in one round.
type Count struct {
	Candidate string
	Yes       int
}

// Integer products are taken in int64: counts are at most 2³¹−1, so
// 5 × count and 2 × count are exact.
func mul(k, n int) int64 { return int64(k) * int64(n) }

// P1

// CheckQuorum is rule P1: a members' meeting may vote only if those present
// with a vote are more than four fifths of those eligible. Exactly four
// fifths needs review: some local rules read "not less than".
func CheckQuorum(eligible, present int) Finding {
	switch {
	case eligible <= 0:
		return finding(P1, Review,
			fmt.Sprintf("应到会有选举权的党员为%d人：名册有误，须核实。", eligible),
			fmt.Sprintf("%d members eligible to vote: the roll is wrong and must be checked.", eligible))
	case present > eligible:
		return finding(P1, Review,
			fmt.Sprintf("实到会%d人，多于应到会%d人：名册或签到有误，须核实。", present, eligible),
			fmt.Sprintf("%d present, more than the %d eligible: the roll or the sign-in is wrong and must be checked.", present, eligible))
	case mul(5, present) > mul(4, eligible):
		return finding(P1, Pass,
			fmt.Sprintf("应到会%d人，实到会%d人，超过五分之四，会议有效。", eligible, present),
			fmt.Sprintf("%d of %d eligible members present: more than four fifths, the meeting may vote.", present, eligible))
	case mul(5, present) == mul(4, eligible):
		return finding(P1, Review,
			fmt.Sprintf("应到会%d人，实到会%d人，恰好为五分之四，未超过五分之四：须核实会议是否有效。", eligible, present),
			fmt.Sprintf("%d of %d eligible members present: exactly four fifths, not more; whether the meeting was quorate needs review.", present, eligible))
	}
	return finding(P1, Fail,
		fmt.Sprintf("应到会%d人，实到会%d人，未超过五分之四：会议无效，不得进行选举，须另行召开党员大会。", eligible, present),
		fmt.Sprintf("%d of %d eligible members present: not more than four fifths; the meeting is not quorate, no vote may be held and it must be reconvened.", present, eligible))
}

// CheckRoll is the second half of rule P1, its denominator: the roll's
// eligible count must be its full members less its approved exclusions, and
// the eligible count signed in on the day (attendanceEligible) must be the
// roll's. Exclusions in a roll are approved by construction: the county
// authors the roll.
func CheckRoll(roll RollCount, attendanceEligible int) Finding {
	switch {
	case roll.Eligible != roll.FullMembers-roll.Exclusions:
		return finding(P1, Review,
			fmt.Sprintf("名册有选举权%d人，不等于正式党员%d人减去经批准不计入的%d人：须核实名册。", roll.Eligible, roll.FullMembers, roll.Exclusions),
			fmt.Sprintf("The roll's %d eligible is not its %d full members less %d approved exclusions: check the roll.", roll.Eligible, roll.FullMembers, roll.Exclusions))
	case attendanceEligible != roll.Eligible:
		return finding(P1, Review,
			fmt.Sprintf("签到登记的应到会人数%d与名册有选举权人数%d不符：须核实。", attendanceEligible, roll.Eligible),
			fmt.Sprintf("The sign-in's %d eligible differs from the roll's %d: check which is right.", attendanceEligible, roll.Eligible))
	}
	return finding(P1, Pass,
		fmt.Sprintf("应到会%d人与名册一致（正式党员%d人，经批准不计入%d人）。", roll.Eligible, roll.FullMembers, roll.Exclusions),
		fmt.Sprintf("%d eligible agrees with the roll (%d full members, %d approved exclusions).", roll.Eligible, roll.FullMembers, roll.Exclusions))
}

// P2

// CheckMargin is rule P2: the candidates must outnumber the seats by at
// least 20% of the seats, rounded up (差额): (candidates − seats) × 5 ≥ seats.
func CheckMargin(seats, candidates int) Finding {
	if seats <= 0 {
		return finding(P2, Review,
			fmt.Sprintf("应选人数为%d：须核实选举设置。", seats),
			fmt.Sprintf("%d seats: check the election set-up.", seats))
	}
	least := seats + (seats+4)/5
	if mul(5, candidates-seats) >= int64(seats) {
		return finding(P2, Pass,
			fmt.Sprintf("应选%d名，候选人%d名，差额不少于应选人数的20%%（至少%d名）。", seats, candidates, least),
			fmt.Sprintf("%d candidates for %d seats: a margin of at least 20%% (at least %d candidates).", candidates, seats, least))
	}
	return finding(P2, Fail,
		fmt.Sprintf("应选%d名，候选人%d名，差额少于应选人数的20%%（至少须%d名）：候选人名单不符合规定，不得进行选举。", seats, candidates, least),
		fmt.Sprintf("%d candidates for %d seats: a margin below 20%% (at least %d needed); the list does not comply and the election must not proceed.", candidates, seats, least))
}

// P3

// CheckReturned is rule P3: a round is valid only if no more ballots were
// returned than issued; otherwise it is void and must be re-run.
func CheckReturned(issued, returned int) Finding {
	if returned <= issued {
		return finding(P3, Pass,
			fmt.Sprintf("发出选票%d张，收回%d张，收回不多于发出，本轮选举有效。", issued, returned),
			fmt.Sprintf("%d ballots issued, %d returned: not more returned than issued, the round is valid.", issued, returned))
	}
	return finding(P3, Fail,
		fmt.Sprintf("收回选票多于发出选票：本轮选举无效，须重新选举（发出%d张，收回%d张）。", issued, returned),
		fmt.Sprintf("More ballots returned than issued: the round is void and must be re-run (%d issued, %d returned).", issued, returned))
}

// P4

// CheckBallot is rule P4 for one ballot: the names it chooses, its yes
// marks plus its write-ins, must not outnumber the seats of its round
// (seats); otherwise the ballot is invalid (Fail) and must be counted as
// such. An invalid ballot does not void the round.
func CheckBallot(b Ballot, seats int) Finding {
	yes := 0
	for _, m := range b.Marks {
		if m == MarkYes {
			yes++
		}
	}
	chosen := yes + len(b.WriteIns)
	if chosen <= seats {
		return finding(P4, Pass,
			fmt.Sprintf("第%d号选票所选%d人，不多于应选%d人，有效。", b.Serial, chosen, seats),
			fmt.Sprintf("Ballot %d chooses %d, not more than the %d seats: valid.", b.Serial, chosen, seats))
	}
	return finding(P4, Fail,
		fmt.Sprintf("第%d号选票所选%d人（赞成%d人，另选他人%d人），多于应选%d人：此票无效。", b.Serial, chosen, yes, len(b.WriteIns), seats),
		fmt.Sprintf("Ballot %d chooses %d (%d yes, %d written in), more than the %d seats: the ballot is invalid.", b.Serial, chosen, yes, len(b.WriteIns), seats))
}

// CheckTally is rule P4 for a tally sheet's arithmetic: valid + invalid =
// returned, and no candidate's yes + no + abstain exceeds the valid ballots.
func CheckTally(s TallySheet) Finding {
	if s.Valid+s.Invalid != s.Returned {
		return finding(P4, Fail,
			fmt.Sprintf("有效票%d张加无效票%d张不等于收回选票%d张：计票有误，须核实。", s.Valid, s.Invalid, s.Returned),
			fmt.Sprintf("%d valid plus %d invalid is not the %d returned: the count is wrong and must be checked.", s.Valid, s.Invalid, s.Returned))
	}
	for _, c := range sortedKeys(s.Votes) {
		v := s.Votes[c]
		if n := int64(v.Yes) + int64(v.No) + int64(v.Abstain); n > int64(s.Valid) {
			return finding(P4, Fail,
				fmt.Sprintf("候选人%s的赞成、反对、弃权合计%d，多于有效票%d张：计票有误，须核实。", c, n, s.Valid),
				fmt.Sprintf("Candidate %s has %d yes, no and abstain in all, more than the %d valid ballots: the count is wrong and must be checked.", c, n, s.Valid))
		}
	}
	return finding(P4, Pass,
		fmt.Sprintf("有效票%d张、无效票%d张，合计等于收回选票%d张。", s.Valid, s.Invalid, s.Returned),
		fmt.Sprintf("%d valid and %d invalid add up to the %d returned.", s.Valid, s.Invalid, s.Returned))
}

// CheckBallots is rule P4 across a round: the ballots recorded one by one
// as they were read out must agree with the round's tally sheet, once every
// ballot choosing more than seats is counted invalid. It compares the
// returned, valid and invalid counts, every candidate's yes, no and abstain,
// and the write-ins. A disagreement needs review: the signed paper sheet is
// the primary record. With no ballots it is NotApplicable.
func CheckBallots(s TallySheet, ballots []Ballot, seats int) Finding {
	return checkBallots(P4, s, ballots, seats)
}

// P5

// CheckThreshold is rule P5 for one round of a Party committee election: a
// candidate is elected only with yes votes from more than half of the
// members present with a vote (2 × yes > present); exactly half is not
// elected. It fails if the sheet declares elected a candidate below the
// threshold, and needs review if a candidate sits at exactly half or a
// written-in name passes the threshold (whether a write-in may take a seat
// is for the county to decide, never this package).
func CheckThreshold(present int, s TallySheet) Finding {
	return threshold(P5, "到会有选举权人数", "members present", present, s)
}

// threshold checks 2 × yes > electorate for the candidates of s.
func threshold(rule RuleID, zhBase, enBase string, electorate int, s TallySheet) Finding {
	if electorate <= 0 {
		return finding(rule, Review,
			fmt.Sprintf("%s为%d，无法确定当选。", zhBase, electorate),
			fmt.Sprintf("%d %s: the winners cannot be determined.", electorate, enBase))
	}
	passes := func(yes int) bool { return mul(2, yes) > int64(electorate) }
	for _, c := range s.Elected {
		if yes := s.Votes[c].Yes; !passes(yes) {
			return finding(rule, Fail,
				fmt.Sprintf("计票单将%s列为当选，但其赞成票%d未超过%s%d的一半：不能当选。", c, yes, zhBase, electorate),
				fmt.Sprintf("The sheet declares %s elected with %d yes, not more than half of the %d %s: not elected.", c, yes, electorate, enBase))
		}
	}
	var passed, half []string
	for _, c := range sortedKeys(s.Votes) {
		switch yes := s.Votes[c].Yes; {
		case passes(yes):
			passed = append(passed, c)
		case mul(2, yes) == int64(electorate):
			half = append(half, c)
		}
	}
	if len(half) > 0 {
		return finding(rule, Review,
			fmt.Sprintf("%s的赞成票恰好为%s%d的一半，未超过半数，不能当选：须核实计票。", strings.Join(half, "、"), zhBase, electorate),
			fmt.Sprintf("%s received exactly half of the %d %s, not more: not elected; check the count.", strings.Join(half, ", "), electorate, enBase))
	}
	for _, w := range sortedKeys(s.WriteIns) {
		if n := s.WriteIns[w]; passes(n) {
			return finding(rule, Review,
				fmt.Sprintf("另选他人“%s”得票%d，超过%s%d的一半：能否当选须由县委组织部审核。", w, n, zhBase, electorate),
				fmt.Sprintf("The written-in name %q received %d, more than half of the %d %s: whether it takes a seat is for the county to decide.", w, n, electorate, enBase))
		}
	}
	return finding(rule, Pass,
		fmt.Sprintf("赞成票超过%s%d一半的候选人：%s。", zhBase, electorate, listOr(passed, "无", "、")),
		fmt.Sprintf("Candidates with more than half of the %d %s: %s.", electorate, enBase, listOr(passed, "none", ", ")))
}

// P6

// CheckTooManyPass is rule P6 for one round with open seats: the passers
// are taken in order of votes until the seats are full. A tie at the
// cut-off fails unless a later TIE_BREAK round is recorded (tieBreak). It
// also compares the winners the sheet declares (declared, nil when the sheet
// declares none) with the winners by votes: declaring a passer ranked
// outside the seats, or one tied at the cut-off, fails; omitting a winner
// needs review.
func CheckTooManyPass(open int, passers []Count, declared []string, tieBreak bool) Finding {
	ranked := rank(passers)
	elected, tied := cutoff(open, ranked)
	if declared != nil {
		for _, c := range declared {
			if i := slices.IndexFunc(ranked, func(x Count) bool { return x.Candidate == c }); i >= 0 && !slices.Contains(elected, c) {
				return finding(P6, Fail,
					fmt.Sprintf("计票单将%s列为当选，但按得票多少其不在应选%d名之内（或与他人得票相等）：不能当选。", c, open),
					fmt.Sprintf("The sheet declares %s elected, but by votes it is not within the %d seats (or is tied): not elected.", c, open))
			}
		}
		for _, c := range elected {
			if !slices.Contains(declared, c) {
				return finding(P6, Review,
					fmt.Sprintf("%s按得票多少应当选，但计票单未列为当选：须核实。", c),
					fmt.Sprintf("%s is elected by votes, but the sheet does not declare it: check the sheet.", c))
			}
		}
	}
	switch {
	case len(tied) > 0 && !tieBreak:
		return finding(P6, Fail,
			fmt.Sprintf("超过半数的%d人多于应选%d名，且%s在最后名额处得票相等（各%d票）：须就得票相等的候选人再次投票（TIE_BREAK）。", len(ranked), open, strings.Join(tied, "、"), votesOf(ranked, tied[0])),
			fmt.Sprintf("%d passed for %d seats and %s tie at the cut-off (%d each): a TIE_BREAK vote among them is needed.", len(ranked), open, strings.Join(tied, ", "), votesOf(ranked, tied[0])))
	case len(tied) > 0:
		return finding(P6, Pass,
			fmt.Sprintf("超过半数的%d人多于应选%d名，%s在最后名额处得票相等，已记录再次投票。", len(ranked), open, strings.Join(tied, "、")),
			fmt.Sprintf("%d passed for %d seats; %s tie at the cut-off and a TIE_BREAK round is recorded.", len(ranked), open, strings.Join(tied, ", ")))
	case len(ranked) > open:
		return finding(P6, Pass,
			fmt.Sprintf("超过半数的%d人多于应选%d名，按得票多少取前%d名：%s。", len(ranked), open, open, strings.Join(elected, "、")),
			fmt.Sprintf("%d passed for %d seats; the first %d by votes are elected: %s.", len(ranked), open, open, strings.Join(elected, ", ")))
	}
	return finding(P6, Pass,
		fmt.Sprintf("超过半数的%d人不多于应选%d名。", len(ranked), open),
		fmt.Sprintf("%d passed, not more than the %d seats.", len(ranked), open))
}

// rank sorts passers by votes, most first, keeping the given order among
// equals.
func rank(passers []Count) []Count {
	ranked := slices.Clone(passers)
	slices.SortStableFunc(ranked, func(a, b Count) int { return cmp.Compare(b.Yes, a.Yes) })
	return ranked
}

// cutoff takes ranked passers into open seats: elected are those certain of
// a seat; tied, if any, are those tied at the last seat, to be decided by a
// TIE_BREAK round for the open seats elected leaves.
func cutoff(open int, ranked []Count) (elected, tied []string) {
	if open <= 0 {
		return nil, nil
	}
	if len(ranked) <= open {
		for _, c := range ranked {
			elected = append(elected, c.Candidate)
		}
		return elected, nil
	}
	last := ranked[open-1].Yes
	if ranked[open].Yes != last {
		for _, c := range ranked[:open] {
			elected = append(elected, c.Candidate)
		}
		return elected, nil
	}
	for _, c := range ranked {
		switch {
		case c.Yes > last:
			elected = append(elected, c.Candidate)
		case c.Yes == last:
			tied = append(tied, c.Candidate)
		}
	}
	return elected, tied
}

func votesOf(ranked []Count, candidate string) int {
	for _, c := range ranked {
		if c.Candidate == candidate {
			return c.Yes
		}
	}
	return 0
}

// P7

// CheckShortfall is rule P7: when fewer passed than seats, the shortfall
// must be filled by an ADDITIONAL round (另行选举) or, if the seats are
// reduced instead, by a reduction voted by more than half of those present
// (2 × votes_for > present) and approved by the township (approved). A
// reduction approval without a recorded vote fails, as does a shortfall
// with neither. elected counts the winners of every round.
func CheckShortfall(seats, elected int, r *SeatReduction, present int, approved bool) Finding {
	switch {
	case r == nil && approved:
		return finding(P7, Fail,
			"有减少职数的批准记录，但没有党员大会表决减少职数的记录：减少职数须经到会党员半数以上同意。",
			"A seat reduction is approved but no members' vote on it is recorded: a reduction needs more than half of those present.")
	case r == nil && elected >= seats:
		return finding(P7, Pass,
			fmt.Sprintf("应选%d名，当选%d名，名额已选满。", seats, elected),
			fmt.Sprintf("%d elected for %d seats: every seat is filled.", elected, seats))
	case r == nil:
		return finding(P7, Fail,
			fmt.Sprintf("应选%d名，当选%d名，缺%d名：须对不足的名额另行选举，或经党员大会表决减少职数。", seats, elected, seats-elected),
			fmt.Sprintf("%d elected for %d seats, %d short: the shortfall needs an ADDITIONAL round or a voted seat reduction.", elected, seats, seats-elected))
	case r.NewSeats >= seats:
		return finding(P7, Review,
			fmt.Sprintf("表决的职数%d不少于原职数%d，不是减少职数：须核实。", r.NewSeats, seats),
			fmt.Sprintf("The voted seat count %d is not below the %d seats: not a reduction; check the record.", r.NewSeats, seats))
	case mul(2, r.VotesFor) <= int64(present):
		return finding(P7, Fail,
			fmt.Sprintf("减少职数的表决赞成%d人，未超过到会人数%d的一半：减少职数不成立，须另行选举。", r.VotesFor, present),
			fmt.Sprintf("The seat reduction had %d votes for, not more than half of the %d present: it does not carry; an ADDITIONAL round is needed.", r.VotesFor, present))
	case elected < r.NewSeats:
		return finding(P7, Fail,
			fmt.Sprintf("减少职数后应选%d名，当选%d名，仍缺%d名：须另行选举。", r.NewSeats, elected, r.NewSeats-elected),
			fmt.Sprintf("%d elected for the %d seats left after the reduction, %d short: an ADDITIONAL round is needed.", elected, r.NewSeats, r.NewSeats-elected))
	case !approved:
		return finding(P7, Review,
			fmt.Sprintf("党员大会已表决将职数由%d减为%d（赞成%d人），尚无上级批准记录。", seats, r.NewSeats, r.VotesFor),
			fmt.Sprintf("The meeting voted to reduce the seats from %d to %d (%d for); no township approval is recorded.", seats, r.NewSeats, r.VotesFor))
	}
	return finding(P7, Pass,
		fmt.Sprintf("经党员大会表决（赞成%d人）并经批准，职数由%d减为%d，已选满。", r.VotesFor, seats, r.NewSeats),
		fmt.Sprintf("Seats reduced from %d to %d by a vote of %d and approved; every seat is filled.", seats, r.NewSeats, r.VotesFor))
}

// P8

// CheckRoles is rule P8: scrutineers (监票人, and the chief scrutineer
// 总监票人) are chosen from members who are not candidates. A counter or
// teller who is a candidate needs review: the text we could read binds only
// scrutineers, though most election rules bar candidates from counting too.
// With no roles recorded it is NotApplicable.
func CheckRoles(roles []RoleAssignment, candidates []string) Finding {
	if len(roles) == 0 {
		return finding(P8, NotApplicable, "未登记监票人、计票人。", "No election roles are recorded.")
	}
	scrutineers := 0
	var review *Finding
	for _, r := range roles {
		isCandidate := slices.Contains(candidates, r.Person)
		switch r.Role {
		case RoleScrutineer, RoleChiefScrutineer:
			scrutineers++
			if isCandidate {
				return finding(P8, Fail,
					fmt.Sprintf("监票人%s是候选人：监票人须由不是候选人的党员担任。", r.Person),
					fmt.Sprintf("Scrutineer %s is a candidate: scrutineers must be members who are not candidates.", r.Person))
			}
		default:
			if isCandidate && review == nil {
				f := finding(P8, Review,
					fmt.Sprintf("计票人或唱票人%s是候选人：须核实。", r.Person),
					fmt.Sprintf("Counter or teller %s is a candidate: check the appointment.", r.Person))
				review = &f
			}
		}
	}
	switch {
	case review != nil:
		return *review
	case scrutineers == 0:
		return finding(P8, Review, "未登记监票人。", "No scrutineer is recorded.")
	}
	return finding(P8, Pass, "监票人、计票人均不是候选人。", "No scrutineer or counter is a candidate.")
}

// P9

// CheckNoProxy is rule P9: absent members cannot vote by proxy, so no proxy
// vote may be recorded and no more ballots issued than members present.
func CheckNoProxy(present, issued, proxies int) Finding {
	switch {
	case proxies > 0:
		return finding(P9, Fail,
			fmt.Sprintf("登记了%d张委托投票：党员不能委托他人代为投票。", proxies),
			fmt.Sprintf("%d proxy votes recorded: members cannot vote by proxy.", proxies))
	case issued > present:
		return finding(P9, Fail,
			fmt.Sprintf("发出选票%d张，多于实到会有选举权的党员%d人：不能代为投票。", issued, present),
			fmt.Sprintf("%d ballots issued, more than the %d members present: nobody may vote for an absent member.", issued, present))
	}
	return finding(P9, Pass,
		fmt.Sprintf("发出选票%d张，不多于实到会%d人。", issued, present),
		fmt.Sprintf("%d ballots issued, not more than the %d present.", issued, present))
}

// P10

// CheckSecretary is rule P10 for one SECRETARY plenary sheet: the new
// committee (committee, the members elected) elects the secretary from its
// own members, with yes votes from more than half of the committee, and the
// result is reported for approval (approved). Votes for anyone outside the
// committee, more ballots than members, no majority winner, a tie at the
// top, or a declared winner other than the majority winner fail; a missing
// approval needs review.
func CheckSecretary(committee []string, s TallySheet, approved bool) Finding {
	n := len(committee)
	if n == 0 {
		return finding(P10, Review, "新一届委员会尚未选出，无法核对书记选举。", "The new committee is not elected yet: the secretary vote cannot be checked.")
	}
	for _, c := range sortedKeys(s.Votes) {
		if !slices.Contains(committee, c) {
			return finding(P10, Fail,
				fmt.Sprintf("书记选举的候选人%s不是新一届委员会委员：书记须从委员中选举。", c),
				fmt.Sprintf("Secretary candidate %s is not a member of the new committee: the secretary is elected from its members.", c))
		}
	}
	if s.Issued > n {
		return finding(P10, Fail,
			fmt.Sprintf("书记选举发出选票%d张，多于委员%d人：书记由委员会选举。", s.Issued, n),
			fmt.Sprintf("%d ballots issued for the secretary vote, more than the %d committee members who elect.", s.Issued, n))
	}
	winner, ok := secretaryWinner(committee, s)
	if !ok {
		return finding(P10, Fail,
			fmt.Sprintf("无人获得委员会%d名委员中过半数的赞成票（或得票最多者得票相等）：书记未选出。", n),
			fmt.Sprintf("Nobody received yes votes from more than half of the %d committee members (or the leaders tie): no secretary is elected.", n))
	}
	if s.Elected != nil && !slices.Equal(s.Elected, []string{winner}) {
		return finding(P10, Fail,
			fmt.Sprintf("计票单列为当选的%s与按票数当选的%s不一致。", listOr(s.Elected, "无", "、"), winner),
			fmt.Sprintf("The sheet declares %s elected, but by votes %s is.", listOr(s.Elected, "nobody", ", "), winner))
	}
	if !approved {
		return finding(P10, Review,
			fmt.Sprintf("委员会选举%s为书记，尚待上级党组织批准。", winner),
			fmt.Sprintf("The committee elected %s secretary; the higher Party organisation's approval is not recorded yet.", winner))
	}
	return finding(P10, Pass,
		fmt.Sprintf("委员会选举%s为书记，已经上级党组织批准。", winner),
		fmt.Sprintf("The committee elected %s secretary, and the election is approved.", winner))
}

// secretaryWinner returns the committee member with the most yes votes in
// s, if that is more than half of the committee and not tied.
func secretaryWinner(committee []string, s TallySheet) (string, bool) {
	best, top, tie := "", -1, false
	for _, c := range sortedKeys(s.Votes) {
		if !slices.Contains(committee, c) {
			continue
		}
		switch yes := s.Votes[c].Yes; {
		case yes > top:
			best, top, tie = c, yes, false
		case yes == top:
			tie = true
		}
	}
	if best == "" || tie || mul(2, top) <= int64(len(committee)) {
		return "", false
	}
	return best, true
}

// P11

// CheckCommitteeSize is rule P11: a branch with at least 7 full members
// sets up a committee of 3 to 5 members, at most 7 (6 or 7 needs review);
// with fewer than 7 it has a secretary and at most one deputy.
func CheckCommitteeSize(fullMembers, seats int) Finding {
	switch {
	case fullMembers >= 7 && seats >= 3 && seats <= 5:
		return finding(P11, Pass,
			fmt.Sprintf("正式党员%d人，委员会%d人，符合3至5人的规定。", fullMembers, seats),
			fmt.Sprintf("%d full members and a committee of %d: within 3 to 5.", fullMembers, seats))
	case fullMembers >= 7 && (seats == 6 || seats == 7):
		return finding(P11, Review,
			fmt.Sprintf("正式党员%d人，委员会%d人：一般为3至5人，最多不超过7人，须核实。", fullMembers, seats),
			fmt.Sprintf("%d full members and a committee of %d: usually 3 to 5, at most 7; check why.", fullMembers, seats))
	case fullMembers >= 7:
		return finding(P11, Fail,
			fmt.Sprintf("正式党员%d人，委员会%d人：应为3至5人，最多不超过7人。", fullMembers, seats),
			fmt.Sprintf("%d full members and a committee of %d: it must have 3 to 5, at most 7.", fullMembers, seats))
	case seats <= 2:
		return finding(P11, Pass,
			fmt.Sprintf("正式党员%d人，不足7人，设书记（可设副书记1人），职数%d。", fullMembers, seats),
			fmt.Sprintf("%d full members, fewer than 7: a secretary and at most one deputy; %d seats.", fullMembers, seats))
	}
	return finding(P11, Fail,
		fmt.Sprintf("正式党员%d人，不足7人，不设委员会，只设书记（可设副书记1人），职数%d不符。", fullMembers, seats),
		fmt.Sprintf("%d full members, fewer than 7: no committee, only a secretary and at most one deputy; %d seats do not fit.", fullMembers, seats))
}

// CheckSeatPlan is rule P11 across a county: the planned seats of its
// elections (one entry per election) must add up to the members the county
// reports. When every committee has an odd size, an odd number of them
// cannot add up to an even total (nor an even number to an odd one); the
// message says so.
func CheckSeatPlan(seats []int, members int) Finding {
	sum, odd := 0, true
	for _, s := range seats {
		sum += s
		odd = odd && s%2 != 0
	}
	if sum == members {
		return finding(P11, Pass,
			fmt.Sprintf("%d个村的职数合计%d，与%d相符。", len(seats), sum, members),
			fmt.Sprintf("The %d elections' seats add up to %d, as reported.", len(seats), sum))
	}
	zh := fmt.Sprintf("%d个村的职数合计%d，不等于%d。", len(seats), sum, members)
	en := fmt.Sprintf("The %d elections' seats add up to %d, not %d.", len(seats), sum, members)
	if odd && len(seats) > 0 && len(seats)%2 != members%2 {
		zh += fmt.Sprintf("各村职数都是奇数，%d个奇数之和不可能是%d：至少须有一个村为偶数职数。", len(seats), members)
		en += fmt.Sprintf(" Every committee has an odd size, and %d odd numbers cannot add up to %d: at least one committee must have an even size.", len(seats), members)
	}
	return finding(P11, Fail, zh, en)
}

// V1

// CheckVCComposition is rule V1: a villagers' committee has 3 to 7 members
// and at least one woman. The women check runs once every seat is filled
// (elected are the winners' candidate records); a winner whose sex is not
// recorded makes a committee with no known woman a case for review.
func CheckVCComposition(seats int, elected []Candidate) Finding {
	if seats < 3 || seats > 7 {
		return finding(V1, Fail,
			fmt.Sprintf("村民委员会由主任、副主任和委员共三至七人组成，应选%d人不符。", seats),
			fmt.Sprintf("A villagers' committee has 3 to 7 members; %d seats do not fit.", seats))
	}
	if len(elected) < seats {
		return finding(V1, Pass,
			fmt.Sprintf("应选%d人，符合三至七人；妇女成员待选举结果核对。", seats),
			fmt.Sprintf("%d seats, within 3 to 7; women members are checked once the seats are filled.", seats))
	}
	women, unknown := 0, 0
	for _, c := range elected {
		switch c.Sex {
		case SexFemale:
			women++
		case SexMale:
		default:
			unknown++
		}
	}
	switch {
	case women == 0 && unknown > 0:
		return finding(V1, Review,
			fmt.Sprintf("当选的%d人中没有登记为女性的成员，%d人性别未登记：须核实是否有妇女成员。", len(elected), unknown),
			fmt.Sprintf("None of the %d elected is recorded as a woman and %d have no sex recorded: check for a woman member.", len(elected), unknown))
	case women == 0:
		return finding(V1, Fail,
			fmt.Sprintf("当选的%d人中没有妇女成员：村民委员会成员中应当有妇女成员。", len(elected)),
			fmt.Sprintf("None of the %d elected is a woman: the committee must have a woman member.", len(elected)))
	}
	return finding(V1, Pass,
		fmt.Sprintf("当选%d人，其中妇女%d人。", len(elected), women),
		fmt.Sprintf("%d elected, %d of them women.", len(elected), women))
}

// V2

// CheckTerm is rule V2, the five-year term. The records of one election
// carry no condition to check, so it is NotApplicable, with the reason.
func CheckTerm() Finding {
	return finding(V2, NotApplicable,
		"村民委员会每届任期五年（第十一条）：单次选举的记录中没有可检查的条件。",
		"The committee serves five years (Art. 11): one election's records carry no condition to check.")
}

// V3

// CheckRegistrants is rule V3: nobody may be registered to vote twice, in
// one village's list or in two. rolls are the voter lists to compare (one
// election's, or a whole county's); a roll with no registrants recorded is
// skipped, and with none at all the rule is NotApplicable.
func CheckRegistrants(rolls []RollCount) Finding {
	where := make(map[string][]string) // person → elections
	listed := 0
	for _, rc := range rolls {
		for _, p := range rc.Registrants {
			where[p] = append(where[p], rc.Election)
			listed++
		}
	}
	if listed == 0 {
		return finding(V3, NotApplicable, "未记录选民名单。", "No voter list is recorded.")
	}
	var dups []string
	var refs []Ref
	for _, p := range sortedKeys(where) {
		if es := where[p]; len(es) > 1 {
			dups = append(dups, p+"（"+strings.Join(es, "、")+"）")
			for _, e := range es {
				if r := (Ref{"roll_count", e}); !slices.Contains(refs, r) {
					refs = append(refs, r)
				}
			}
		}
	}
	if len(dups) > 0 {
		const most = 5
		shown := dups[:min(len(dups), most)]
		return finding(V3, Fail,
			fmt.Sprintf("%d名选民重复登记：%s。同一选民不得重复登记、不得在两个村登记参加选举。", len(dups), strings.Join(shown, "；")),
			fmt.Sprintf("%d voters registered more than once: %s. Nobody may register twice or in two villages.", len(dups), strings.Join(shown, "; "))).with(refs...)
	}
	return finding(V3, Pass,
		fmt.Sprintf("%d名登记选民无重复登记。", listed),
		fmt.Sprintf("%d registered voters, none registered twice.", listed))
}

// V4

// CheckVoterListNotice is rule V4: the voter list is published at least 20
// days before election day (both dates YYYY-MM-DD). A missing or unreadable
// date needs review.
func CheckVoterListNotice(publishedOn, electionDate string) Finding {
	p, err1 := time.Parse(time.DateOnly, publishedOn)
	e, err2 := time.Parse(time.DateOnly, electionDate)
	if err1 != nil || err2 != nil {
		return finding(V4, Review,
			"未记录选民名单公布日期或选举日期：须核实名单是否于选举日二十日前公布。",
			"The voter list's publication date or the election date is not recorded: check it was published 20 days ahead.")
	}
	days := int(e.Sub(p).Hours() / 24)
	if days >= 20 {
		return finding(V4, Pass,
			fmt.Sprintf("选民名单于选举日前%d日公布，不少于二十日。", days),
			fmt.Sprintf("The voter list was published %d days before the election: at least 20.", days))
	}
	return finding(V4, Fail,
		fmt.Sprintf("选民名单于选举日前%d日公布：应当在选举日的二十日前公布。", days),
		fmt.Sprintf("The voter list was published %d days before the election: it must be published at least 20 days ahead.", days))
}

// V5

// CheckVCMargin is rule V5: a villagers' committee election has more
// candidates than seats (the national law sets no 20% rule).
func CheckVCMargin(seats, candidates int) Finding {
	if candidates > seats {
		return finding(V5, Pass,
			fmt.Sprintf("应选%d名，候选人%d名，实行差额选举。", seats, candidates),
			fmt.Sprintf("%d candidates for %d seats: more candidates than seats.", candidates, seats))
	}
	return finding(V5, Fail,
		fmt.Sprintf("应选%d名，候选人%d名：候选人应多于应选人数。", seats, candidates),
		fmt.Sprintf("%d candidates for %d seats: there must be more candidates than seats.", candidates, seats))
}

// V6

// CheckTurnout is rule V6: a villagers' committee election is valid only if
// more than half of the registered voters vote (2 × voted > registered).
func CheckTurnout(registered, voted int) Finding {
	switch {
	case registered <= 0:
		return finding(V6, Review,
			fmt.Sprintf("登记参加选举的村民为%d人：须核实选民名单。", registered),
			fmt.Sprintf("%d registered voters: check the voter list.", registered))
	case mul(2, voted) > int64(registered):
		return finding(V6, Pass,
			fmt.Sprintf("登记选民%d人，投票%d人，超过半数，选举有效。", registered, voted),
			fmt.Sprintf("%d of %d registered voters voted: more than half, the election is valid.", voted, registered))
	}
	return finding(V6, Fail,
		fmt.Sprintf("登记选民%d人，投票%d人，未超过半数：选举无效。", registered, voted),
		fmt.Sprintf("%d of %d registered voters voted: not more than half, the election is void.", voted, registered))
}

// V7

// CheckVCThreshold is rule V7 for one round of a villagers' committee
// election: a candidate needs votes from more than half of those who voted,
// the ballots cast (2 × votes > returned). Declared winners and exact
// halves are treated as in [CheckThreshold].
func CheckVCThreshold(s TallySheet) Finding {
	return threshold(V7, "参加投票的村民人数", "voters who voted", s.Returned, s)
}

// V8

// CheckAdditionalVC is rule V8 for an ADDITIONAL round (另行选举) of a
// villagers' committee election: the candidates with the most votes win,
// but only with at least a third of the ballots cast (3 × votes ≥
// returned; a candidate with no votes never wins). Declaring a winner below
// a third fails.
func CheckAdditionalVC(s TallySheet) Finding {
	cast := s.Returned
	for _, c := range s.Elected {
		if yes := s.Votes[c].Yes; mul(3, yes) < int64(cast) {
			return finding(V8, Fail,
				fmt.Sprintf("另行选举中计票单将%s列为当选，但其得票%d少于参加投票人数%d的三分之一：不能当选。", c, yes, cast),
				fmt.Sprintf("The ADDITIONAL round declares %s elected with %d votes, less than a third of the %d ballots cast: not elected.", c, yes, cast))
		}
	}
	var passed []string
	for _, c := range sortedKeys(s.Votes) {
		if yes := s.Votes[c].Yes; yes > 0 && mul(3, yes) >= int64(cast) {
			passed = append(passed, c)
		}
	}
	return finding(V8, Pass,
		fmt.Sprintf("另行选举中得票不少于参加投票人数%d三分之一的候选人：%s。", cast, listOr(passed, "无", "、")),
		fmt.Sprintf("ADDITIONAL round candidates with at least a third of the %d ballots cast: %s.", cast, listOr(passed, "none", ", ")))
}

// CheckVCShortfall is rule V8 on the result: seats left unfilled after the
// rounds held must be filled by another ADDITIONAL round.
func CheckVCShortfall(seats, elected int) Finding {
	if elected >= seats {
		return finding(V8, Pass,
			fmt.Sprintf("应选%d名，当选%d名，名额已选满。", seats, elected),
			fmt.Sprintf("%d elected for %d seats: every seat is filled.", elected, seats))
	}
	return finding(V8, Fail,
		fmt.Sprintf("应选%d名，当选%d名，缺%d名：不足的名额须另行选举。", seats, elected, seats-elected),
		fmt.Sprintf("%d elected for %d seats, %d short: the shortfall needs an ADDITIONAL round.", elected, seats, seats-elected))
}

// V9

// CheckSecretBallot is rule V9: secret ballot, a private booth, public
// counting and the result announced on the spot. These are procedure, not
// data a record carries, so it is NotApplicable; the supervision visit
// checklist is where they are seen.
func CheckSecretBallot() Finding {
	return finding(V9, NotApplicable,
		"无记名投票、秘密写票处、公开计票、当场公布（第十五条）属于现场程序，不形成可检查的数据；由督导走访核实。",
		"Secret ballot, private booth, public count and an on-the-spot result (Art. 15) are procedure, not data; supervision visits check them.")
}

// V10

// CheckProxies is rule V10: a voter away on election day may give a close
// relative a written proxy, and the list of proxies is published. Any proxy
// recorded needs review against the written proxies and the published list;
// the number of proxies one person may hold is set by the province.
func CheckProxies(proxies int) Finding {
	if proxies <= 0 {
		return finding(V10, Pass, "未登记委托投票。", "No proxy votes recorded.")
	}
	return finding(V10, Review,
		fmt.Sprintf("登记了%d张委托投票：须核对书面委托书和公布的委托名单；每人受托数额依省级规定。", proxies),
		fmt.Sprintf("%d proxy votes recorded: check the written proxies and the published list; how many one person may hold is provincial.", proxies))
}

// V11

// CheckFalseCount is rule V11: a win obtained by forged ballots or false
// counts is void, so the ballots recorded one by one must agree with the
// tally sheet, as in [CheckBallots]. A disagreement needs review.
func CheckFalseCount(s TallySheet, ballots []Ballot, seats int) Finding {
	return checkBallots(V11, s, ballots, seats)
}

func checkBallots(rule RuleID, s TallySheet, ballots []Ballot, seats int) Finding {
	if len(ballots) == 0 {
		return finding(rule, NotApplicable, "未逐张记录选票。", "No ballots recorded one by one.")
	}
	diffs := ballotDiffs(s, ballots, seats)
	if len(diffs) == 0 {
		return finding(rule, Pass,
			fmt.Sprintf("逐张记录的%d张选票与计票单一致。", len(ballots)),
			fmt.Sprintf("The %d ballots recorded one by one agree with the tally sheet.", len(ballots)))
	}
	const most = 5
	shown := diffs[:min(len(diffs), most)]
	return finding(rule, Review,
		fmt.Sprintf("逐张记录的%d张选票与计票单不一致（计票单≠选票）：%s。须核实，以签字的纸质计票单为准。", len(ballots), strings.Join(shown, "；")),
		fmt.Sprintf("The %d ballots recorded one by one disagree with the tally sheet (sheet ≠ ballots): %s. Check against the signed paper sheet.", len(ballots), strings.Join(shown, "; ")))
}

// ballotDiffs recounts a round from its ballots and lists where the sheet
// differs: "returned 40≠39", "C1.yes 30≠29".
func ballotDiffs(s TallySheet, ballots []Ballot, seats int) []string {
	var invalid int
	count := make(map[string]Votes)
	writeIns := make(map[string]int)
	for _, b := range ballots {
		if CheckBallot(b, seats).Outcome == Fail {
			invalid++
			continue
		}
		for c, m := range b.Marks {
			v := count[c]
			switch m {
			case MarkYes:
				v.Yes++
			case MarkNo:
				v.No++
			case MarkAbstain:
				v.Abstain++
			}
			count[c] = v
		}
		for _, w := range b.WriteIns {
			writeIns[w]++
		}
	}
	var diffs []string
	diff := func(what string, sheet, recount int) {
		if sheet != recount {
			diffs = append(diffs, fmt.Sprintf("%s %d≠%d", what, sheet, recount))
		}
	}
	diff("returned", s.Returned, len(ballots))
	diff("valid", s.Valid, len(ballots)-invalid)
	diff("invalid", s.Invalid, invalid)
	for _, c := range unionKeys(s.Votes, count) {
		sv, bv := s.Votes[c], count[c]
		diff(c+".yes", sv.Yes, bv.Yes)
		diff(c+".no", sv.No, bv.No)
		diff(c+".abstain", sv.Abstain, bv.Abstain)
	}
	for _, w := range unionKeys(s.WriteIns, writeIns) {
		diff("write_ins."+w, s.WriteIns[w], writeIns[w])
	}
	return diffs
}

// V12

// CheckArchive is rule V12: election files and ballots go into the village
// archive. That is a retention duty, not a condition on records, so it is
// NotApplicable; villagesync keeps every version of every record with its
// signature.
func CheckArchive() Finding {
	return finding(V12, NotApplicable,
		"选举文件和选票存入村务档案（第三十四条）属于保管要求，不是可检查的条件；系统保留每条记录的全部版本及签名。",
		"Election files and ballots are archived (Art. 34): a retention duty, not a condition; villagesync keeps every version of every record with its signature.")
}

// D1

// CheckAmendment is rule D1: a tally amendment corrects the sheet it cites
// (sheet, nil if that sheet is not among the election's) and carries both a
// station and a supervisor signature. An amendment that fails is not
// applied.
func CheckAmendment(a Amendment, sheet *TallySheet) Finding {
	if sheet == nil {
		return finding(D1, Fail,
			fmt.Sprintf("更正单引用的计票单%s不在本次选举的记录中：未予采用。", a.Sheet),
			fmt.Sprintf("The amendment cites tally sheet %s, which is not among this election's sheets: not applied.", a.Sheet))
	}
	var missing []string
	if strings.TrimSpace(a.Signers.Station) == "" {
		missing = append(missing, "station")
	}
	if strings.TrimSpace(a.Signers.Supervisor) == "" {
		missing = append(missing, "supervisor")
	}
	if len(missing) > 0 {
		zh := map[string]string{"station": "村选举站", "supervisor": "督导"}
		var names []string
		for _, m := range missing {
			names = append(names, zh[m])
		}
		return finding(D1, Fail,
			fmt.Sprintf("更正单须由村选举站和督导双方签字，缺少%s签字：未予采用。", strings.Join(names, "和")),
			fmt.Sprintf("An amendment needs both a station and a supervisor signature; the %s signature is missing: not applied.", strings.Join(missing, " and ")))
	}
	changes := amendmentChanges(a, *sheet)
	return finding(D1, Pass,
		fmt.Sprintf("计票单%s经双方签字更正（%s）：%s。", sheet.ID, a.Reason, listOr(changes, "无改动", "，")),
		fmt.Sprintf("Tally sheet %s corrected with both signatures (%s): %s.", sheet.ID, a.Reason, listOr(changes, "no change", ", ")))
}

// amendmentChanges lists what a corrects in s: "returned 41→40".
func amendmentChanges(a Amendment, s TallySheet) []string {
	var out []string
	num := func(name string, from int, to *int) {
		if to != nil && *to != from {
			out = append(out, fmt.Sprintf("%s %d→%d", name, from, *to))
		}
	}
	num("issued", s.Issued, a.Issued)
	num("returned", s.Returned, a.Returned)
	num("valid", s.Valid, a.Valid)
	num("invalid", s.Invalid, a.Invalid)
	for _, c := range sortedKeys(a.Votes) {
		if from, to := s.Votes[c], a.Votes[c]; from != to {
			out = append(out, fmt.Sprintf("%s %d/%d/%d→%d/%d/%d", c, from.Yes, from.No, from.Abstain, to.Yes, to.No, to.Abstain))
		}
	}
	for _, w := range sortedKeys(a.WriteIns) {
		if from, to := s.WriteIns[w], a.WriteIns[w]; from != to {
			out = append(out, fmt.Sprintf("write_ins.%s %d→%d", w, from, to))
		}
	}
	if a.Elected != nil && !slices.Equal(a.Elected, s.Elected) {
		out = append(out, fmt.Sprintf("elected [%s]→[%s]", strings.Join(s.Elected, ","), strings.Join(a.Elected, ",")))
	}
	return out
}

// Helpers.

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func unionKeys[V, W any](a map[string]V, b map[string]W) []string {
	keys := sortedKeys(a)
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// listOr joins items with sep, or returns none if there are none.
func listOr(items []string, none, sep string) string {
	if len(items) == 0 {
		return none
	}
	return strings.Join(items, sep)
}
