package server_test

import (
	"fmt"
	"testing"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/httpapi/httptestutil"
)

// BenchmarkReport measures the county report right after the log moved,
// so that the assessment is rebuilt: every village's election run by the
// book with ballotsPerVillage ballots recorded one by one.
func BenchmarkReport(b *testing.B) {
	const ballotsPerVillage = 50
	e := httptestutil.NewEnv(b)
	ctx := b.Context()
	for _, v := range e.Dataset.Villages {
		s := e.Enroll(b, election.RoleStation, v.Code)
		el, _ := e.ElectionOf(b, v.Code)
		s.Author(b, "attendance", el.ID+"-att", e.CleanAttendance(b, v.Code))
		s.Author(b, "tally_sheet", el.ID+"-R1", e.CleanSheet(b, v.Code))
		for i := range ballotsPerVillage {
			marks := make(map[string]string)
			for j, c := range el.Candidates {
				marks[c] = election.MarkYes
				if j >= el.Seats {
					marks[c] = election.MarkNo
				}
			}
			s.Author(b, "ballot", fmt.Sprintf("%s-B%d", el.ID, i+1), map[string]any{
				"election": el.ID, "round": 1, "serial": i + 1, "marks": marks, "write_ins": []string{},
			})
		}
		e.SyncAll(b, s)
	}
	county := &server.Principal{Subject: "bench", Scope: election.Scope{Role: election.RoleCounty, Code: election.DongliaoCode}}
	sup := e.Enroll(b, election.RoleSupervisor, e.Township(0))
	b.ResetTimer()
	for i := range b.N {
		// One change moves the log, so every report rebuilds.
		sup.Author(b, "supervision_visit", fmt.Sprintf("v%d", i), map[string]any{
			"village": e.Village(0, 0), "round": 1, "visited_at": "2026-03-07T09:00:00+08:00", "notes": "",
		})
		b.StopTimer()
		e.SyncAll(b, sup)
		b.StartTimer()
		rep, err := e.Service.Report(ctx, county)
		if err != nil {
			b.Fatal(err)
		}
		if rep.County.MembersElected != election.DongliaoMembers {
			b.Fatalf("got %d members, want %d", rep.County.MembersElected, election.DongliaoMembers)
		}
	}
}
