package sim_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/httpapi"
	"villagesync/server/sqlite"
	"villagesync/sim"
)

// playCounty plays a whole season in process and returns the result.
func playCounty(tb testing.TB, seed uint64, cut string) *sim.Result {
	tb.Helper()
	ctx := context.Background()
	dir := fastDir(tb)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	clock := sim.NewSimClock(time.Date(2026, 2, 1, 8, 0, 0, 0, time.FixedZone("CST", 8*3600)))
	store, err := sqlite.Open(ctx, filepath.Join(dir, "server.db"), logger)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = store.Close() })
	svc, err := server.New(ctx, store, server.Config{CountyCode: election.DongliaoCode, Logger: logger, Now: clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := svc.Seed(ctx, election.Dongliao()); err != nil {
		tb.Fatal(err)
	}
	c := &sim.County{Seed: seed, Service: svc, Store: store, Clock: clock, Logger: logger,
		Handler: httpapi.New(svc, httpapi.Config{Logger: logger, Limits: httpapi.SharedAddress()}), Dir: filepath.Join(dir, "devices"), Cut: cut}
	res, err := c.Run(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// TestCountySeason is issue 4's acceptance: the Dongliao figures, from the
// server's own reconciliation of what the devices synced, with nothing lost
// or duplicated and every injected conflict detected.
func TestCountySeason(t *testing.T) {
	if testing.Short() {
		t.Skip("plays 250 devices through a whole season")
	}
	if raceEnabled {
		t.Skip("250 devices under the race detector take too long; the plain `go test ./...` pass runs this test, and TestFaultyLinks covers the same paths under -race")
	}
	res := playCounty(t, 7, "")
	c := res.Report.County
	s := res.Sync
	t.Logf("county: %+v", c)
	t.Logf("sync: %+v", s)
	checks := []struct {
		name      string
		got, want float64
	}{
		{"villages", float64(c.Villages), 235},
		{"held_on_time", float64(c.HeldOnTimeVillages), 235},
		{"one_time_success", float64(c.OneTimeSuccessVillages), 235},
		{"members_elected", float64(c.MembersElected), 782},
		{"avg_age", c.AvgAge, 43.4},
		{"prev_avg_age", c.PrevAvgAge, 46.1},
		{"college", float64(c.College), 199},
		{"college_share", c.CollegeShare, 0.254},
		{"prev_college_share", c.PrevCollegeShare, 0.149},
		{"problems_found", float64(c.ProblemsFound), 52},
		{"problems_rectified", float64(c.ProblemsRectified), 52},
		{"inspection_problems_found", float64(c.InspectionProblemsFound), 15},
		{"inspection_problems_rectified", float64(c.InspectionProblemsRectified), 15},
		{"key_villages", float64(c.KeyVillages), 8},
		{"training_sessions", float64(c.TrainingSessions), 32},
		{"lost", float64(s.Lost), 0},
		{"duplicated", float64(s.Duplicated), 0},
		{"unverified", float64(s.Unverified), 0},
		{"open_conflicts", float64(c.OpenConflicts), 0},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	switch {
	case c.SupervisionVisits < 940:
		t.Errorf("supervision_visits: got %d, want ≥ 940", c.SupervisionVisits)
	case c.TrainingAttendance < 1200:
		t.Errorf("training_attendance: got %d, want ≥ 1200", c.TrainingAttendance)
	case c.ReturnedMembers < 530:
		t.Errorf("returned_members: got %d, want ≥ 530", c.ReturnedMembers)
	case s.ConflictsInjected == 0 || s.ConflictsDetected != s.ConflictsInjected:
		t.Errorf("conflicts: %d injected, %d detected", s.ConflictsInjected, s.ConflictsDetected)
	case s.Relayed == 0:
		t.Errorf("no change was relayed: the season has villages with no link")
	case s.ChangesOnServer != s.ChangesCreated:
		t.Errorf("changes on server %d, created %d", s.ChangesOnServer, s.ChangesCreated)
	}
}

// fastDir is a memory-backed temporary directory where there is one: the
// season's 250 device databases fsync every capture.
func fastDir(tb testing.TB) string {
	tb.Helper()
	base := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "villagesync-county-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// TestCountyCutVillage shows the figures come from what reached the
// server: a village whose laptop never syncs again after enrollment, and
// whose data nobody carries, is missing from the report, and its changes
// are counted as still waiting on the laptop, not as lost.
func TestCountyCutVillage(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("plays 250 devices through a whole season (see TestCountySeason)")
	}
	season, err := sim.GenerateSeason(election.Dongliao(), 7)
	if err != nil {
		t.Fatal(err)
	}
	cut := quietVillage(t, season)
	seats := 0
	for _, e := range election.Dongliao().Elections {
		if e.Village == cut {
			seats = e.Seats
		}
	}
	res := playCounty(t, 7, cut)
	c, s := res.Report.County, res.Sync
	if c.HeldOnTimeVillages != 234 || c.OneTimeSuccessVillages != 234 || c.MembersElected != 782-seats {
		t.Errorf("with %s cut: got held %d, one-time %d, members %d; want 234, 234, %d",
			cut, c.HeldOnTimeVillages, c.OneTimeSuccessVillages, c.MembersElected, 782-seats)
	}
	if s.Lost != 0 || s.Duplicated != 0 || s.Undelivered == 0 {
		t.Errorf("got lost %d, duplicated %d, undelivered %d; want 0, 0, > 0", s.Lost, s.Duplicated, s.Undelivered)
	}
	for _, v := range res.Report.Villages {
		if v.Code == cut && (v.HeldOnTime || v.OneTimeSuccess) {
			t.Errorf("village %s: got %+v, want not held", cut, v)
		}
	}
}

// quietVillage picks a village no one but its own station writes about, so
// cutting its link blocks no other device.
func quietVillage(tb testing.TB, s *sim.Season) string {
	tb.Helper()
	busy := map[string]bool{}
	for _, inj := range s.Injected {
		busy[inj.Village] = true
	}
	for _, d := range s.Devices {
		for _, st := range d.Steps {
			if st.Collection == "problem" || st.Collection == "rectification" {
				busy[d.Scope] = true
				busy[string(st.ID[:min(12, len(st.ID))])] = true
			}
		}
	}
	for _, v := range election.Dongliao().Villages {
		if !busy[v.Code] {
			return v.Code
		}
	}
	tb.Fatal("no quiet village")
	return ""
}
