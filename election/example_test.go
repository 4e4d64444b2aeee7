package election_test

import (
	"fmt"

	"villagesync/election"
)

// A station laptop records a tally sheet; the server validates it, learns
// which village it is about, and checks the device's scope before storing it.
func ExampleCollection_Validate() {
	sheets, _ := election.LookupCollection("tally_sheet")
	body := []byte(`{"election":"220422100201-PC","round":1,"kind":"FORMAL",
		"issued":40,"returned":41,"valid":40,"invalid":1,
		"votes":{"220422100201-PC-C1":{"yes":30,"no":6,"abstain":4}},
		"signers":["监票人甲"]}`)

	// More ballots returned than issued breaks rule P3, but the record is
	// well-formed: it is stored and flagged, not refused.
	place, err := sheets.Validate("sheet-1", body, known)
	fmt.Println(place, err)

	device := election.Scope{Role: election.RoleStation, Code: "220422100201"}
	fmt.Println(device.CanAuthor("tally_sheet", place))

	neighbour := election.Scope{Role: election.RoleStation, Code: "220422100202"}
	fmt.Println(neighbour.CanAuthor("tally_sheet", place), neighbour.CanRead("tally_sheet", place))

	_, err = sheets.Validate("sheet-2", []byte(`{"election":"220422100201-PC","round":"1"}`), known)
	fmt.Println(err)
	// Output:
	// {220422100 220422100201} <nil>
	// true
	// false false
	// tally_sheet.round: got string, want integer
}

// The county's view of one village: the facts a station recorded are checked
// against every rule and the result is recomputed from them.
func ExampleEvaluate() {
	const id = "220422100201-PC"
	facts := election.ElectionFacts{
		Election: election.Election{
			ID: id, Village: "220422100201", Type: election.TypePartyCommittee,
			Seats: 3, Date: "2026-03-07", Status: election.StatusLocked,
			Candidates: []string{id + "-C1", id + "-C2", id + "-C3", id + "-C4"},
		},
		Roll:       &election.RollCount{Election: id, FullMembers: 52, Eligible: 50, Exclusions: 2},
		Attendance: []election.Attendance{{ID: "att-1", Election: id, Eligible: 50, Present: 45}},
		Sheets: []election.TallySheet{{
			ID: "sheet-1", Election: id, Round: 1, Kind: election.RoundFormal,
			Issued: 45, Returned: 46, Valid: 46, Invalid: 0, // one ballot too many came back
			Votes: map[string]election.Votes{
				id + "-C1": {Yes: 40, No: 6}, id + "-C2": {Yes: 35, No: 11},
				id + "-C3": {Yes: 30, No: 16}, id + "-C4": {Yes: 10, No: 36},
			},
			Signers: []string{"监票人甲", "计票人乙"},
		}},
	}
	res := election.Evaluate(facts)
	fmt.Println(res.Outcome(election.P1), res.Outcome(election.P3), res.OneTimeSuccess, len(res.Elected))
	for _, f := range res.Findings {
		if f.Outcome == election.Fail {
			fmt.Println(f.Rule, f.Message)
		}
	}
	// Output:
	// PASS FAIL false 0
	// P3 收回选票多于发出选票：本轮选举无效，须重新选举（发出45张，收回46张）。
}
