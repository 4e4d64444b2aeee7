package election

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// ElectionFacts are the records held about one election: its reference
// data and every fact recorded about it, in any order. Facts about another
// election are ignored; amendments belong to the election of the sheet they
// cite. Records need their ID set.
type ElectionFacts struct {
	Election   Election
	Candidates []Candidate
	Roll       *RollCount
	Roles      []RoleAssignment
	Attendance []Attendance
	Sheets     []TallySheet
	Amendments []Amendment
	Ballots    []Ballot
	Approvals  []Approval
}

// Result is what the facts of one election show, recomputed from them alone.
type Result struct {
	// Findings holds one or more findings for every rule of the election's
	// type (P1–P11 or V1–V12, plus P3, P4 and P6 for both), and D1–D2
	// findings about amendments and conflicts, ordered by rule as [Rules]
	// lists them, then by round.
	Findings []Finding `json:"findings"`
	// Elected are the committee members elected, by round, by votes within
	// a round. While a conflict is open it holds what the rounds before the
	// conflict decided.
	Elected []string `json:"elected"`
	// Secretary is the committee member the SECRETARY plenary elected, or "".
	Secretary string `json:"secretary,omitempty"`
	// Rounds are the committee rounds in order, then the SECRETARY rounds.
	Rounds []RoundResult `json:"rounds"`
	// OneTimeSuccess (一次性选举成功): every seat filled in the first round,
	// a FORMAL one, with no other committee round (ADDITIONAL, RERUN,
	// TIE_BREAK or a second FORMAL), no seat reduction, no open conflict, and
	// no FAIL in P1, P3, P9 or V6.
	OneTimeSuccess bool `json:"one_time_success"`
	// Held: at least one committee round has a tally sheet.
	Held bool `json:"held"`
	// BallotsAgree tells whether the ballots recorded one by one agree with
	// the tally sheets of their rounds; nil when no round has both.
	BallotsAgree *bool `json:"ballots_agree"`
}

// Outcome returns the most serious outcome among r's findings for rule:
// Fail, then Review, then Pass; NotApplicable when there are none else.
// It is the cell of the county's rule matrix.
func (r Result) Outcome(rule RuleID) Outcome {
	worst := NotApplicable
	for _, f := range r.Findings {
		if f.Rule == rule && f.Outcome.severity() > worst.severity() {
			worst = f.Outcome
		}
	}
	return worst
}

// RoundResult is what one round decided.
type RoundResult struct {
	Round int    `json:"round"`
	Kind  string `json:"kind"`
	// Sheets are the ids of the tally sheets for the round: more than one
	// when they are copies or when they conflict.
	Sheets     []string `json:"sheets"`
	Amendments []string `json:"amendments,omitempty"`
	// Seats open in the round (应选人数), 0 when unknown.
	Seats int `json:"seats"`
	// Electorate the threshold counts against: members present (Party
	// committee), ballots cast (villagers' committee) or committee members
	// (SECRETARY); 0 when unknown.
	Electorate int `json:"electorate"`
	// Void: the round does not count (returned > issued, no quorum, or
	// turnout not above half).
	Void bool `json:"void"`
	// Conflict: the round's sheets disagree, or amendments to it do; no
	// result is derived from it until the county resolves the conflict.
	Conflict bool     `json:"conflict"`
	Passed   []string `json:"passed,omitempty"`  // over the threshold, by votes
	Elected  []string `json:"elected,omitempty"` // certain of a seat
	Tied     []string `json:"tied,omitempty"`    // tied at the cut-off
}

// Evaluate checks the facts of one election against every rule of its type
// and derives its result: who is elected in which round, whether it is a
// one-time success, and whether recorded ballots agree with the tally
// sheets. It never decides silently: where facts conflict it derives nothing
// from them and says so. The result depends only on the set of facts, not
// their order, so every replica holding the same facts shows the same
// provisional state.
func Evaluate(f ElectionFacts) Result {
	ev := newEvaluation(f)
	ev.reference()
	ev.attendance()
	ev.committee()
	ev.secretary()
	ev.ballots()
	ev.final()
	return ev.res
}

// evaluation is the state of one Evaluate call.
type evaluation struct {
	e     Election
	vc    bool
	order map[string]int // candidate id → ballot position
	cands map[string]Candidate

	roll      *RollCount
	roles     []RoleAssignment
	atts      []Attendance
	sheets    []TallySheet
	amends    []Amendment
	ballotsIn []Ballot
	approvals []Approval

	// attendance
	att      Attendance
	attKnown bool
	attRefs  []Ref

	// rounds
	slots       []*slot // committee rounds, by round
	secSlots    []*slot // SECRETARY rounds, by round
	seats       int     // seats after a valid reduction
	elected     []string
	tied        []string
	tieSeats    int
	known       bool // false once a conflict or a missing count hides the result
	anyValid    bool // some committee round was valid and derived
	reduction   *SeatReduction
	reduceRefs  []Ref
	quorumFail  bool
	roundResult map[*slot]int // index into res.Rounds

	res Result
}

// slot is one round's sheets: every distinct effective content, each with
// the records it rests on.
type slot struct {
	round     int
	secretary bool
	views     []sheetView
	conflict  bool
}

// sheetView is a sheet with its amendments applied.
type sheetView struct {
	s        TallySheet
	refs     []Ref    // the sheets with this content and their amendments
	sheets   []string // their ids
	amends   []string
	conflict bool // amendments to it disagree
}

func newEvaluation(f ElectionFacts) *evaluation {
	e := f.Election
	ev := &evaluation{
		e:           e,
		vc:          e.Type == TypeVillageCommittee,
		order:       make(map[string]int, len(e.Candidates)),
		cands:       make(map[string]Candidate),
		seats:       e.Seats,
		known:       true,
		roundResult: make(map[*slot]int),
	}
	for i, c := range e.Candidates {
		if _, dup := ev.order[c]; !dup {
			ev.order[c] = i
		}
	}
	for _, c := range sortFacts(f.Candidates, func(c Candidate) string { return c.ID }) {
		if c.Election == e.ID {
			if _, dup := ev.cands[c.ID]; !dup {
				ev.cands[c.ID] = c
			}
		}
	}
	if f.Roll != nil && f.Roll.Election == e.ID {
		rc := *f.Roll
		ev.roll = &rc
	}
	mine := func(election string) bool { return election == e.ID }
	ev.roles = filter(sortFacts(f.Roles, func(r RoleAssignment) string { return r.ID }), func(r RoleAssignment) bool { return mine(r.Election) })
	ev.atts = filter(sortFacts(f.Attendance, func(a Attendance) string { return a.ID }), func(a Attendance) bool { return mine(a.Election) })
	ev.sheets = filter(sortFacts(f.Sheets, func(s TallySheet) string { return s.ID }), func(s TallySheet) bool { return mine(s.Election) })
	ev.amends = sortFacts(f.Amendments, func(a Amendment) string { return a.ID })
	ev.ballotsIn = filter(sortFacts(f.Ballots, func(b Ballot) string { return b.ID }), func(b Ballot) bool { return mine(b.Election) })
	ev.approvals = filter(sortFacts(f.Approvals, func(a Approval) string { return a.ID }), func(a Approval) bool { return mine(a.Election) })
	return ev
}

func (ev *evaluation) add(f Finding) { ev.res.Findings = append(ev.res.Findings, f) }

func (ev *evaluation) electionRef() Ref { return Ref{"election", ev.e.ID} }

// approved reports whether an approval of kind is recorded, and its refs.
func (ev *evaluation) approved(kind string) (bool, []Ref) {
	var refs []Ref
	for _, a := range ev.approvals {
		if a.Kind == kind {
			refs = append(refs, Ref{"approval", a.ID})
		}
	}
	return len(refs) > 0, refs
}

// reference checks the election's reference data.
func (ev *evaluation) reference() {
	e := ev.e
	if ev.vc {
		ev.add(CheckVCMargin(e.Seats, len(e.Candidates)).with(ev.electionRef()))
		ev.add(CheckTerm())
		var pub string
		if ev.roll != nil {
			pub = ev.roll.PublishedOn
			ev.add(CheckRegistrants([]RollCount{*ev.roll}).with(Ref{"roll_count", ev.roll.Election}))
		}
		ev.add(CheckVoterListNotice(pub, e.Date).with(ev.electionRef()))
		ev.add(CheckSecretBallot())
		ev.add(CheckArchive())
		return
	}
	ev.add(CheckMargin(e.Seats, len(e.Candidates)).with(ev.electionRef()))
	refs := make([]Ref, 0, len(ev.roles))
	for _, r := range ev.roles {
		refs = append(refs, Ref{"role_assignment", r.ID})
	}
	ev.add(CheckRoles(ev.roles, e.Candidates).with(refs...))
}

// attendance settles the sign-in count and checks the quorum.
func (ev *evaluation) attendance() {
	groups := distinct(ev.atts, func(a Attendance) string { a.ID = ""; return canonical(a) })
	for _, a := range ev.atts {
		ev.attRefs = append(ev.attRefs, Ref{"attendance", a.ID})
	}
	switch len(groups) {
	case 0:
		return
	case 1:
		ev.att, ev.attKnown = groups[0][0], true
	default:
		ev.add(conflict("到会登记", "attendance", ev.attRefs))
		if !ev.vc {
			ev.add(finding(P1, Review, "到会登记存在冲突，无法核对法定人数。", "The attendance records conflict: the quorum cannot be checked.").with(ev.attRefs...))
		}
		return
	}
	if ev.vc {
		ev.add(CheckProxies(ev.att.Proxies).with(ev.attRefs...))
		return
	}
	q := CheckQuorum(ev.att.Eligible, ev.att.Present).with(ev.attRefs...)
	ev.quorumFail = q.Outcome == Fail
	ev.add(q)
	if ev.roll != nil {
		_, refs := ev.approved(ApprovalQuorumExclusion)
		ev.add(CheckRoll(*ev.roll, ev.att.Eligible).with(append([]Ref{{"roll_count", ev.roll.Election}}, append(ev.attRefs, refs...)...)...))
	}
}

// buildSlots applies amendments to their sheets and groups the sheets by
// round.
func (ev *evaluation) buildSlots() {
	views := make([]sheetView, len(ev.sheets))
	for i, s := range ev.sheets {
		views[i] = sheetView{s: s, refs: []Ref{{"tally_sheet", s.ID}}, sheets: []string{s.ID}}
	}
	pending := make(map[int][]Amendment)
	for _, a := range ev.amends {
		var hit []int
		for i, s := range ev.sheets {
			if s.ID == a.Sheet {
				hit = append(hit, i)
			}
		}
		var sheet *TallySheet
		if len(hit) > 0 {
			sheet = &ev.sheets[hit[0]]
		}
		f := CheckAmendment(a, sheet).with(Ref{"tally_amendment", a.ID})
		if sheet != nil {
			f = f.with(Ref{"tally_sheet", a.Sheet})
		}
		ev.add(f)
		if f.Outcome == Fail {
			continue
		}
		for _, i := range hit {
			pending[i] = append(pending[i], a)
		}
	}
	for _, i := range slices.Sorted(maps.Keys(pending)) {
		v := &views[i]
		var ok bool
		v.s, ok = amend(v.s, pending[i])
		for _, a := range pending[i] {
			v.refs = append(v.refs, Ref{"tally_amendment", a.ID})
			v.amends = append(v.amends, a.ID)
		}
		if !ok {
			v.conflict = true
			ev.add(conflict("计票单"+v.s.ID+"的更正", "the amendments of tally sheet "+v.s.ID, v.refs))
		}
	}

	bySlot := make(map[[2]int][]sheetView)
	for _, v := range views {
		key := [2]int{0, v.s.Round}
		if v.s.Kind == RoundSecretary {
			key[0] = 1
		}
		bySlot[key] = append(bySlot[key], v)
	}
	keys := slices.SortedFunc(maps.Keys(bySlot), func(a, b [2]int) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	})
	for _, k := range keys {
		sl := &slot{round: k[1], secretary: k[0] == 1}
		for _, g := range distinct(bySlot[k], func(v sheetView) string { v.s.ID = ""; return canonical(v.s) }) {
			merged := g[0]
			for _, v := range g[1:] {
				merged.refs = append(slices.Clip(merged.refs), v.refs...)
				merged.sheets = append(slices.Clip(merged.sheets), v.sheets...)
				merged.amends = append(slices.Clip(merged.amends), v.amends...)
				merged.conflict = merged.conflict || v.conflict
			}
			sl.views = append(sl.views, merged)
			sl.conflict = sl.conflict || merged.conflict
		}
		if len(sl.views) > 1 {
			sl.conflict = true
			var refs []Ref
			for _, v := range sl.views {
				refs = append(refs, v.refs...)
			}
			zh, en := fmt.Sprintf("第%d轮计票单", sl.round), fmt.Sprintf("round %d's tally sheet", sl.round)
			if sl.secretary {
				zh, en = fmt.Sprintf("第%d轮书记选举计票单", sl.round), fmt.Sprintf("secretary round %d's tally sheet", sl.round)
			}
			ev.add(conflict(zh, en, refs))
		}
		if sl.secretary {
			ev.secSlots = append(ev.secSlots, sl)
		} else {
			ev.slots = append(ev.slots, sl)
		}
	}
}

// amend applies amendments to s in order. ok is false if two of them give
// one field different values; s is then amended by the first of each.
func amend(s TallySheet, as []Amendment) (_ TallySheet, ok bool) {
	s.Votes = maps.Clone(s.Votes)
	s.WriteIns = maps.Clone(s.WriteIns)
	s.Elected = slices.Clone(s.Elected)
	set := make(map[string]string)
	ok = true
	put := func(field, value string) bool {
		if prev, seen := set[field]; seen {
			ok = ok && prev == value
			return false
		}
		set[field] = value
		return true
	}
	num := func(field string, dst *int, v *int) {
		if v != nil && put(field, strconv.Itoa(*v)) {
			*dst = *v
		}
	}
	for _, a := range as {
		num("issued", &s.Issued, a.Issued)
		num("returned", &s.Returned, a.Returned)
		num("valid", &s.Valid, a.Valid)
		num("invalid", &s.Invalid, a.Invalid)
		for _, c := range sortedKeys(a.Votes) {
			if put("votes."+c, canonical(a.Votes[c])) {
				if s.Votes == nil {
					s.Votes = make(map[string]Votes)
				}
				s.Votes[c] = a.Votes[c]
			}
		}
		for _, w := range sortedKeys(a.WriteIns) {
			if put("write_ins."+w, strconv.Itoa(a.WriteIns[w])) {
				if s.WriteIns == nil {
					s.WriteIns = make(map[string]int)
				}
				s.WriteIns[w] = a.WriteIns[w]
			}
		}
		if a.Elected != nil && put("elected", canonical(a.Elected)) {
			s.Elected = slices.Clone(a.Elected)
		}
	}
	return s, ok
}

// committee checks and derives the committee rounds in order.
func (ev *evaluation) committee() {
	ev.buildSlots()
	ev.res.Held = len(ev.slots) > 0
	for i, sl := range ev.slots {
		rr := ev.newRound(sl)
		for _, v := range sl.views {
			ev.checkSheet(v)
		}
		s := sl.views[0].s
		switch s.Kind {
		case RoundFormal, RoundRerun:
			rr.Seats = ev.e.Seats
		case RoundAdditional:
			rr.Seats = ev.seats - len(ev.elected)
		case RoundTieBreak:
			rr.Seats = ev.tieSeats
		}
		if ev.vc {
			rr.Electorate = s.Returned
		} else if ev.attKnown {
			rr.Electorate = ev.att.Present
		}
		switch {
		case sl.conflict:
			ev.known = false
		case CheckReturned(s.Issued, s.Returned).Outcome == Fail,
			!ev.vc && ev.quorumFail,
			ev.vc && ev.attKnown && CheckTurnout(ev.att.Eligible, s.Returned).Outcome == Fail:
			rr.Void = true
		case !ev.known:
		case !ev.vc && !ev.attKnown:
			ev.add(finding(P5, Review,
				fmt.Sprintf("第%d轮：到会人数未登记或存在冲突，无法确定当选。", sl.round),
				fmt.Sprintf("Round %d: attendance is not recorded or conflicts, so the winners cannot be determined.", sl.round)).with(sl.views[0].refs...))
			ev.known = false
		default:
			ev.derive(sl, rr, ev.tieBreakAfter(i))
		}
		ev.res.Rounds[ev.roundResult[sl]] = *rr
	}
}

// newRound appends the round result of sl and returns it for filling in.
func (ev *evaluation) newRound(sl *slot) *RoundResult {
	rr := RoundResult{Round: sl.round, Kind: sl.views[0].s.Kind, Conflict: sl.conflict}
	if sl.secretary {
		rr.Kind = RoundSecretary
	}
	for _, v := range sl.views {
		rr.Sheets = append(rr.Sheets, v.sheets...)
		rr.Amendments = append(rr.Amendments, v.amends...)
	}
	ev.roundResult[sl] = len(ev.res.Rounds)
	ev.res.Rounds = append(ev.res.Rounds, rr)
	return &rr
}

// checkSheet checks one version of a round's sheet on its own.
func (ev *evaluation) checkSheet(v sheetView) {
	s := v.s
	ev.add(CheckReturned(s.Issued, s.Returned).with(v.refs...))
	ev.add(CheckTally(s).with(v.refs...))
	if s.Kind == RoundSecretary {
		return
	}
	switch {
	case ev.vc && ev.attKnown:
		ev.add(CheckTurnout(ev.att.Eligible, s.Returned).with(append(slices.Clone(v.refs), ev.attRefs...)...))
	case ev.vc:
		ev.add(finding(V6, Review,
			fmt.Sprintf("第%d轮：登记选民人数未登记或存在冲突，无法核对投票人数是否过半。", s.Round),
			fmt.Sprintf("Round %d: the registered voters are not recorded or conflict, so turnout cannot be checked.", s.Round)).with(v.refs...))
	case ev.attKnown:
		ev.add(CheckNoProxy(ev.att.Present, s.Issued, ev.att.Proxies).with(append(slices.Clone(v.refs), ev.attRefs...)...))
	}
}

// tieBreakAfter reports whether a committee round after slots[i] is a
// TIE_BREAK round.
func (ev *evaluation) tieBreakAfter(i int) bool {
	return slices.ContainsFunc(ev.slots[i+1:], func(sl *slot) bool { return sl.views[0].s.Kind == RoundTieBreak })
}

// derive decides who a valid, undisputed round elects.
func (ev *evaluation) derive(sl *slot, rr *RoundResult, tieBreakLater bool) {
	s, refs := sl.views[0].s, sl.views[0].refs
	switch s.Kind {
	case RoundFormal, RoundRerun:
		ev.elected, ev.tied, ev.tieSeats = nil, nil, 0
		ev.seats, ev.reduction, ev.reduceRefs = ev.e.Seats, nil, nil
	case RoundAdditional:
		ev.tied, ev.tieSeats = nil, 0
	case RoundTieBreak:
	default:
		ev.add(finding(P6, Review,
			fmt.Sprintf("第%d轮的轮次类型%q未知：不据此计算结果。", sl.round, s.Kind),
			fmt.Sprintf("Round %d has an unknown kind %q: no result is derived from it.", sl.round, s.Kind)).with(refs...))
		ev.known = false
		return
	}
	ev.anyValid = true
	open := rr.Seats
	if open <= 0 {
		rule := P7
		if ev.vc {
			rule = V8
		}
		ev.add(finding(rule, Review,
			fmt.Sprintf("第%d轮（%s）没有空缺名额可选。", sl.round, s.Kind),
			fmt.Sprintf("Round %d (%s) has no open seat to fill.", sl.round, s.Kind)).with(refs...))
		return
	}

	var passers []Count
	if s.Kind == RoundTieBreak {
		for _, c := range ev.tied {
			passers = append(passers, Count{c, s.Votes[c].Yes})
		}
	} else {
		var check Finding
		var passes func(yes int) bool
		switch {
		case ev.vc && s.Kind == RoundAdditional:
			check = CheckAdditionalVC(s)
			passes = func(yes int) bool { return yes > 0 && mul(3, yes) >= int64(s.Returned) }
		case ev.vc:
			check = CheckVCThreshold(s)
			passes = func(yes int) bool { return mul(2, yes) > int64(s.Returned) }
		default:
			check = CheckThreshold(ev.att.Present, s)
			passes = func(yes int) bool { return mul(2, yes) > int64(ev.att.Present) }
		}
		ev.add(check.with(refs...))
		for _, c := range ev.ballotOrder(s.Votes) {
			if yes := s.Votes[c].Yes; passes(yes) && !slices.Contains(ev.elected, c) {
				passers = append(passers, Count{c, yes})
			}
		}
	}
	ev.add(CheckTooManyPass(open, passers, s.Elected, tieBreakLater).with(refs...))
	ranked := rank(passers)
	elected, tied := cutoff(open, ranked)
	for _, c := range ranked {
		rr.Passed = append(rr.Passed, c.Candidate)
	}
	rr.Elected, rr.Tied = elected, tied
	ev.elected = append(ev.elected, elected...)
	ev.tied, ev.tieSeats = tied, 0
	if len(tied) > 0 {
		ev.tieSeats = open - len(elected)
	}

	if r := s.SeatReduction; r != nil {
		if ev.vc {
			ev.add(finding(V8, Review,
				fmt.Sprintf("第%d轮计票单记录了减少职数：村民委员会选举不适用减少职数，须另行选举。", sl.round),
				fmt.Sprintf("Round %d records a seat reduction: villagers' committee elections fill seats by ADDITIONAL rounds, not reductions.", sl.round)).with(refs...))
			return
		}
		ev.reduction, ev.reduceRefs = r, refs
		if mul(2, r.VotesFor) > int64(ev.att.Present) && r.NewSeats < ev.seats {
			ev.seats = r.NewSeats
		}
	}
}

// ballotOrder returns the candidates of votes in ballot order; names not on
// the ballot follow, sorted.
func (ev *evaluation) ballotOrder(votes map[string]Votes) []string {
	keys := sortedKeys(votes)
	slices.SortStableFunc(keys, func(a, b string) int {
		ia, oka := ev.order[a]
		ib, okb := ev.order[b]
		switch {
		case oka && okb:
			return cmp.Compare(ia, ib)
		case oka:
			return -1
		case okb:
			return 1
		}
		return 0
	})
	return keys
}

// secretary checks the SECRETARY plenary rounds (P10).
func (ev *evaluation) secretary() {
	approved, approvalRefs := ev.approved(ApprovalSecretary)
	complete := ev.known && ev.anyValid && len(ev.elected) > 0 && len(ev.elected) >= ev.seats
	reviewed := false
	for _, sl := range ev.secSlots {
		rr := ev.newRound(sl)
		rr.Seats = 1
		rr.Electorate = len(ev.elected)
		for _, v := range sl.views {
			ev.checkSheet(v)
		}
		s, refs := sl.views[0].s, sl.views[0].refs
		switch {
		case ev.vc:
			ev.add(finding(D2, Review,
				fmt.Sprintf("第%d轮为书记选举，但本次是村民委员会选举：不据此计算结果。", sl.round),
				fmt.Sprintf("Round %d is a secretary plenary, but this is a villagers' committee election: no result is derived from it.", sl.round)).with(refs...))
		case sl.conflict:
		case !complete:
			if !reviewed {
				ev.add(finding(P10, Review,
					"新一届委员会尚未选齐或结果待定：书记选举待委员会选齐后核对。",
					"The new committee is not complete or its result is pending: the secretary vote is checked once it is.").with(refs...))
				reviewed = true
			}
		case CheckReturned(s.Issued, s.Returned).Outcome == Fail:
			rr.Void = true
		default:
			f := CheckSecretary(ev.elected, s, approved).with(append(slices.Clone(refs), approvalRefs...)...)
			ev.add(f)
			if w, ok := secretaryWinner(ev.elected, s); ok && f.Outcome != Fail {
				rr.Elected = []string{w}
				if ev.res.Secretary == "" {
					ev.res.Secretary = w
				}
			}
		}
		ev.res.Rounds[ev.roundResult[sl]] = *rr
	}
	if len(ev.secSlots) == 0 && !ev.vc && ev.e.Status == StatusCertified {
		ev.add(finding(P10, Review,
			"选举已确认，但未记录书记选举。",
			"The election is certified but no secretary vote is recorded.").with(ev.electionRef()))
	}
}

// ballots checks the ballots recorded one by one against their rounds.
func (ev *evaluation) ballots() {
	byRound := make(map[int][]Ballot)
	for _, b := range ev.ballotsIn {
		byRound[b.Round] = append(byRound[b.Round], b)
	}
	rule := P4
	if ev.vc {
		rule = V11
	}
	for _, round := range slices.Sorted(maps.Keys(byRound)) {
		var sl *slot
		for _, cand := range append(slices.Clone(ev.slots), ev.secSlots...) {
			if cand.round == round {
				sl = cand
				break
			}
		}
		seats := 0
		if sl != nil {
			seats = ev.res.Rounds[ev.roundResult[sl]].Seats
		}

		// One ballot per serial.
		bySerial := make(map[int][]Ballot)
		for _, b := range byRound[round] {
			bySerial[b.Serial] = append(bySerial[b.Serial], b)
		}
		var list []Ballot
		var refs []Ref
		disputed := false
		for _, serial := range slices.Sorted(maps.Keys(bySerial)) {
			same := bySerial[serial]
			var srefs []Ref
			for _, b := range same {
				srefs = append(srefs, Ref{"ballot", b.ID})
			}
			refs = append(refs, srefs...)
			groups := distinct(same, func(b Ballot) string { b.ID = ""; return canonical(b) })
			if len(groups) > 1 {
				disputed = true
				ev.add(conflict(fmt.Sprintf("第%d轮第%d号选票", round, serial), fmt.Sprintf("round %d ballot %d", round, serial), srefs))
				continue
			}
			// A ballot with more marks than seats is invalid (P4), which is
			// the rule working, not a violation: it is counted among the
			// invalid ballots below, and only a sheet that disagrees with
			// the recount is a finding.
			list = append(list, groups[0][0])
		}
		if sl == nil || sl.conflict || disputed || seats <= 0 {
			continue
		}
		f := checkBallots(rule, sl.views[0].s, list, seats).with(append(slices.Clone(sl.views[0].refs), refs...)...)
		ev.add(f)
		agree := f.Outcome == Pass
		if ev.res.BallotsAgree != nil {
			agree = agree && *ev.res.BallotsAgree
		}
		ev.res.BallotsAgree = &agree
	}
}

// final checks the result as a whole and orders the findings.
func (ev *evaluation) final() {
	e := ev.e
	held := ev.res.Held
	switch {
	case !held:
	case !ev.known:
		rule := P7
		if ev.vc {
			rule = V8
		}
		ev.add(finding(rule, Review,
			"结果待冲突解决或到会人数登记后确定。",
			"The result is pending until the conflict is resolved or the attendance is recorded.").with(ev.electionRef()))
	case !ev.anyValid:
		// Every round was void: P1, P3 or V6 says why and what to do.
	case ev.vc:
		ev.add(CheckVCShortfall(e.Seats, len(ev.elected)).with(ev.lastRoundRefs()...))
	default:
		approved, refs := ev.approved(ApprovalSeatReduction)
		refs = append(append(ev.lastRoundRefs(), ev.reduceRefs...), refs...)
		ev.add(CheckShortfall(e.Seats, len(ev.elected), ev.reduction, ev.att.Present, approved).with(refs...))
	}
	if !held && !ev.vc && ev.attKnown && ev.att.Proxies > 0 {
		ev.add(CheckNoProxy(ev.att.Present, 0, ev.att.Proxies).with(ev.attRefs...))
	}

	if ev.vc {
		if held && ev.known && ev.anyValid && len(ev.elected) >= e.Seats {
			var winners []Candidate
			for _, id := range ev.elected {
				c, ok := ev.cands[id]
				if !ok {
					c = Candidate{ID: id}
				}
				winners = append(winners, c)
			}
			ev.add(CheckVCComposition(e.Seats, winners).with(ev.electionRef()))
		} else {
			ev.add(CheckVCComposition(e.Seats, nil).with(ev.electionRef()))
		}
	} else if ev.roll != nil {
		ev.add(CheckCommitteeSize(ev.roll.FullMembers, ev.seats).with(Ref{"roll_count", ev.roll.Election}, ev.electionRef()))
	}

	// Every rule of the election's type appears at least once.
	typ := TypePartyCommittee
	if ev.vc {
		typ = TypeVillageCommittee
	}
	for _, r := range rules {
		applies := r.Type == typ || r.Type == "" && strings.HasPrefix(string(r.ID), "P")
		if !applies || slices.ContainsFunc(ev.res.Findings, func(f Finding) bool { return f.Rule == r.ID }) {
			continue
		}
		ev.add(finding(r.ID, NotApplicable, "尚无本规则所需的记录。", "No records this rule applies to yet."))
	}
	slices.SortStableFunc(ev.res.Findings, func(a, b Finding) int { return cmp.Compare(ruleIndex[a.Rule], ruleIndex[b.Rule]) })

	first := ev.res.Rounds
	ev.res.OneTimeSuccess = held && ev.known && len(ev.slots) == 1 && len(first) > 0 &&
		first[0].Kind == RoundFormal && !first[0].Void && !first[0].Conflict &&
		e.Seats > 0 && len(first[0].Elected) == e.Seats && ev.reduction == nil &&
		!slices.ContainsFunc(ev.res.Findings, func(f Finding) bool {
			return f.Outcome == Fail && (f.Rule == P1 || f.Rule == P3 || f.Rule == P9 || f.Rule == V6)
		})
	ev.res.Elected = append([]string{}, ev.elected...)
	if ev.res.Findings == nil {
		ev.res.Findings = []Finding{}
	}
	if ev.res.Rounds == nil {
		ev.res.Rounds = []RoundResult{}
	}
}

// lastRoundRefs are the election and the sheets of its last committee round.
func (ev *evaluation) lastRoundRefs() []Ref {
	refs := []Ref{ev.electionRef()}
	if n := len(ev.slots); n > 0 {
		refs = append(refs, ev.slots[n-1].views[0].refs...)
	}
	return refs
}

// conflict is the D2 finding for different facts claiming one slot.
func conflict(zh, en string, refs []Ref) Finding {
	return finding(D2, Review,
		fmt.Sprintf("%s有互相矛盾的记录：在县里裁定之前，不据此计算结果。", zh),
		fmt.Sprintf("There are contradictory records for %s: no result is derived from them until the county resolves the conflict.", en)).with(refs...)
}

// canonical is a deterministic encoding of v, for comparing facts.
// (encoding/json sorts map keys.)
func canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

// sortFacts orders facts by id and content and drops exact duplicates, so
// that the order facts arrive in never matters.
func sortFacts[T any](xs []T, id func(T) string) []T {
	type keyed struct {
		id, content string
		x           T
	}
	ks := make([]keyed, len(xs))
	for i, x := range xs {
		ks[i] = keyed{id(x), canonical(x), x}
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		return cmp.Or(strings.Compare(a.id, b.id), strings.Compare(a.content, b.content))
	})
	out := make([]T, 0, len(ks))
	for i, k := range ks {
		if i > 0 && ks[i-1].id == k.id && ks[i-1].content == k.content {
			continue
		}
		out = append(out, k.x)
	}
	return out
}

// distinct groups xs by key, in order of first appearance.
func distinct[T any](xs []T, key func(T) string) [][]T {
	index := make(map[string]int)
	var groups [][]T
	for _, x := range xs {
		k := key(x)
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], x)
	}
	return groups
}

func filter[T any](xs []T, keep func(T) bool) []T {
	out := xs[:0:0]
	for _, x := range xs {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}
