package election

// Warnings runs the rules that can be checked on one record alone, at
// capture time on the laptop, so the operator sees at once that, say, a
// tally sheet has more ballots returned than issued. It returns only the
// findings that fail or need review, and never an error: a record that
// breaks a rule is still the record of what happened and is stored all the
// same. A body it cannot read yields no warnings (refusing malformed records
// is [Collection.Validate]'s job). The findings carry no evidence: they are
// about the record being captured.
//
// The checks: tally_sheet P3 and P4 (arithmetic); attendance P1 and P9
// (Party committee) or V10 (villagers' committee), the type read from the
// election id; election P2 (Party committee) or V1 and V5 (villagers'
// committee); roll_count P1 (the roll's own arithmetic), and V3 for
// registrants listed twice; tally_amendment P3 when it corrects both issued
// and returned, and D1 for a missing signature. r is accepted for checks
// that need records the body names; none of today's checks do.
func Warnings(collection string, body []byte, r Resolver) []Finding {
	var fs []Finding
	switch collection {
	case "tally_sheet":
		s, err := DecodeTallySheet(body)
		if err != nil {
			return nil
		}
		fs = append(fs, CheckReturned(s.Issued, s.Returned), CheckTally(s))
	case "attendance":
		a, err := DecodeAttendance(body)
		if err != nil {
			return nil
		}
		_, typ, _ := splitElectionID(a.Election)
		if typ == TypeVillageCommittee {
			fs = append(fs, CheckProxies(a.Proxies))
		} else {
			fs = append(fs, CheckQuorum(a.Eligible, a.Present), CheckNoProxy(a.Present, 0, a.Proxies))
		}
	case "election":
		e, err := DecodeElection(body)
		if err != nil {
			return nil
		}
		if e.Type == TypeVillageCommittee {
			fs = append(fs, CheckVCComposition(e.Seats, nil), CheckVCMargin(e.Seats, len(e.Candidates)))
		} else {
			fs = append(fs, CheckMargin(e.Seats, len(e.Candidates)))
		}
	case "roll_count":
		rc, err := DecodeRollCount(body)
		if err != nil {
			return nil
		}
		fs = append(fs, CheckRoll(rc, rc.Eligible), CheckRegistrants([]RollCount{rc}))
	case "tally_amendment":
		a, err := DecodeAmendment(body)
		if err != nil {
			return nil
		}
		if a.Issued != nil && a.Returned != nil {
			fs = append(fs, CheckReturned(*a.Issued, *a.Returned))
		}
		fs = append(fs, CheckAmendment(a, &TallySheet{ID: a.Sheet}))
	}
	var out []Finding
	for _, f := range fs {
		if f.Outcome == Fail || f.Outcome == Review {
			out = append(out, f)
		}
	}
	return out
}
