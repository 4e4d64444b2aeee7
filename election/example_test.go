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
