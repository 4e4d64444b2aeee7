package election_test

import (
	"strings"
	"testing"

	"villagesync/election"
)

func TestWarnings(t *testing.T) {
	tests := []struct {
		name, collection, body string
		want                   []string // "rule outcome"
	}{
		{"CleanTally", "tally_sheet", tallyOK, nil},
		{"ReturnedOverIssued", "tally_sheet", strings.Replace(tallyOK, `"returned":40`, `"returned":41`, 1), []string{"P3 FAIL", "P4 FAIL"}},
		{"ValidPlusInvalid", "tally_sheet", strings.Replace(tallyOK, `"invalid":1`, `"invalid":2`, 1), []string{"P4 FAIL"}},
		{"QuorumOK", "attendance", `{"election":"220422100201-PC","eligible":50,"present":41}`, nil},
		{"QuorumExact", "attendance", `{"election":"220422100201-PC","eligible":50,"present":40}`, []string{"P1 REVIEW"}},
		{"QuorumFail", "attendance", `{"election":"220422100201-PC","eligible":50,"present":39}`, []string{"P1 FAIL"}},
		{"PartyProxy", "attendance", `{"election":"220422100201-PC","eligible":50,"present":45,"proxies":1}`, []string{"P9 FAIL"}},
		{"VillageProxy", "attendance", `{"election":"220422100201-VC","eligible":500,"present":300,"proxies":1}`, []string{"V10 REVIEW"}},
		{"VillageLowAttendanceIsNoQuorumRule", "attendance", `{"election":"220422100201-VC","eligible":500,"present":100}`, nil},
		{"ElectionNoMargin", "election", `{"village":"220422100201","type":"PARTY_COMMITTEE","seats":3,"date":"2026-03-07","status":"DRAFT","candidates":["a","b","c"]}`, []string{"P2 FAIL"}},
		{"ElectionVC", "election", `{"village":"220422100201","type":"VILLAGE_COMMITTEE","seats":8,"date":"2026-05-07","status":"DRAFT","candidates":["a","b","c"]}`, []string{"V1 FAIL", "V5 FAIL"}},
		{"RollArithmetic", "roll_count", `{"election":"220422100201-PC","full_members":60,"eligible":59,"exclusions":2}`, []string{"P1 REVIEW"}},
		{"RollTwice", "roll_count", `{"election":"220422100201-VC","full_members":0,"eligible":2,"exclusions":0,"registrants":["v1","v1"]}`, []string{"P1 REVIEW", "V3 FAIL"}},
		{"AmendmentReturnedOverIssued", "tally_amendment", `{"sheet":"t-own","reason":"r","signers":{"station":"甲","supervisor":"乙"},"issued":40,"returned":41}`, []string{"P3 FAIL"}},
		{"AmendmentNoSupervisor", "tally_amendment", `{"sheet":"t-own","reason":"r","signers":{"station":"甲","supervisor":""},"returned":40}`, []string{"D1 FAIL"}},
		{"Malformed", "tally_sheet", `{"issued":`, nil},
		{"Ballot", "ballot", `{"election":"220422100201-PC","round":1,"serial":1,"marks":{},"write_ins":[]}`, nil},
		{"UnknownCollection", "nope", `{}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range election.Warnings(tt.collection, []byte(tt.body), known) {
				got = append(got, string(f.Rule)+" "+string(f.Outcome))
			}
			if strings.Join(got, ", ") != strings.Join(tt.want, ", ") {
				t.Errorf("Warnings: got %v, want %v", got, tt.want)
			}
		})
	}
	w := election.Warnings("tally_sheet", []byte(strings.Replace(tallyOK, `"returned":40`, `"returned":41`, 1)), known)
	if len(w) == 0 || !strings.HasPrefix(w[0].Message, "收回选票多于发出选票：本轮选举无效，须重新选举") {
		t.Errorf("P3 warning: got %+v, want the operator told the round is void", w)
	}
}
