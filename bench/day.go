package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	client "villagesync/client-sdk"
	"villagesync/election"
	"villagesync/sim"
)

// stationDay is one village's election day as its station laptop captures
// it (package sim's season): the returned members signing in, attendance,
// every ballot, the FORMAL tally sheet and the SECRETARY plenary's sheet.
type stationDay struct {
	Village, Township, Election string
	Steps                       []sim.Step
}

// electionDays returns every village's election day, the largest first
// (most records), ties by village code, so that a seed always gives the
// same order.
func electionDays(s *sim.Season) ([]stationDay, error) {
	var days []stationDay
	for _, d := range s.Devices {
		// Primary station laptops only: a season's second laptops (its
		// injected double entries) are named after their first.
		if d.Role != election.RoleStation || len(d.Name) != len("station-")+election.VillageCodeLen {
			continue
		}
		first := slices.IndexFunc(d.Steps, func(st sim.Step) bool { return st.Collection == "ballot" })
		if first < 0 {
			continue
		}
		y, m, dd := d.Steps[first].At.Date()
		day := stationDay{Village: d.Scope, Township: election.TownshipOf(d.Scope)}
		for _, st := range d.Steps {
			if sy, sm, sd := st.At.Date(); sy == y && sm == m && sd == dd {
				day.Steps = append(day.Steps, st)
			}
		}
		day.Election = jsonString(d.Steps[first].Body, "election")
		days = append(days, day)
	}
	if len(days) == 0 {
		return nil, errors.New("the season has no election day")
	}
	slices.SortStableFunc(days, func(a, b stationDay) int {
		return cmp.Or(cmp.Compare(len(b.Steps), len(a.Steps)), strings.Compare(a.Village, b.Village))
	})
	return days, nil
}

// syncPoint reports whether a station syncs right after capturing st: once
// attendance is in (the morning), after each tally sheet (the count, the
// secretary's plenary). The day's last capture is always followed by one.
func syncPoint(st sim.Step) bool {
	return st.Collection == "attendance" || st.Collection == "tally_sheet"
}

// record is one record that crossed the wire: its collection, id and body.
type record struct {
	Collection, ID string
	Body           []byte
}

// syncStat is what one sync of a station moved.
type syncStat struct {
	Report  client.Report
	Wire    wireStats     // as the link counted it
	Elapsed time.Duration // on the link's clock
	Pushed  []record      // records captured since the previous sync
	Pulled  []record      // records of other devices this sync brought
}

// syncFunc runs one sync of a station and says what it moved.
type syncFunc func(ctx context.Context) (syncStat, error)

// playDay captures day's steps on dev in order and syncs after each step
// syncAt says (nil: the day's sync points, syncPoint) and after the last
// one. visit, if set, runs before the last sync and returns the
// records it put on the server for this station to pull (a supervisor's
// visit to the village on election day), so that the last sync both pushes
// and pulls. setClock, if set, moves the clock device and server share to
// each step's time before the step is captured. capture, if set, is called
// with each capture's duration.
func playDay(ctx context.Context, dev *client.Device, day stationDay, setClock func(time.Time), syncAt func(sim.Step) bool, sync syncFunc, visit func(ctx context.Context) ([]record, error), capture func(st sim.Step, d time.Duration)) ([]syncStat, error) {
	if syncAt == nil {
		syncAt = syncPoint
	}
	var (
		out     []syncStat
		pending []record
	)
	for i, st := range day.Steps {
		if setClock != nil {
			setClock(st.At)
		}
		t0 := time.Now()
		if _, err := dev.Put(ctx, st.Collection, st.ID, st.Body); err != nil {
			return out, fmt.Errorf("capture %s %s: %w", st.Collection, st.ID, err)
		}
		if capture != nil {
			capture(st, time.Since(t0))
		}
		pending = append(pending, record{st.Collection, st.ID, st.Body})
		last := i == len(day.Steps)-1
		if !last && !syncAt(st) {
			continue
		}
		var pulled []record
		if last && visit != nil {
			var err error
			if pulled, err = visit(ctx); err != nil {
				return out, err
			}
		}
		s, err := sync(ctx)
		if err != nil {
			return out, err
		}
		if s.Report.Pushed != len(pending) || s.Report.Pulled != len(pulled) || s.Report.Pending != 0 {
			return out, fmt.Errorf("sync %d of %s: pushed %d, pulled %d, %d pending; want %d pushed, %d pulled, 0 pending",
				len(out)+1, day.Village, s.Report.Pushed, s.Report.Pulled, s.Report.Pending, len(pending), len(pulled))
		}
		s.Pushed, s.Pulled = pending, pulled
		out = append(out, s)
		pending = nil
	}
	return out, nil
}

// supervisorVisit returns the visit of playDay: the township's supervisor
// team records its election-day visit to the village and syncs it.
func supervisorVisit(sup *client.Device, day stationDay) func(ctx context.Context) ([]record, error) {
	return func(ctx context.Context) ([]record, error) {
		at := day.Steps[len(day.Steps)-1].At.Add(-time.Hour)
		body := fmt.Appendf(nil, `{"village":%q,"round":4,"visited_at":%q,"notes":"选举日到村现场督导，程序规范"}`,
			day.Village, at.Format(time.RFC3339))
		id := day.Village + "-V-ED"
		ch, err := sup.Put(ctx, "supervision_visit", id, body)
		if err != nil {
			return nil, fmt.Errorf("supervisor visit to %s: %w", day.Village, err)
		}
		if _, err := sup.Sync(ctx); err != nil {
			return nil, fmt.Errorf("supervisor sync: %w", err)
		}
		return []record{{"supervision_visit", id, ch.Body}}, nil
	}
}

// jsonString returns a top-level string field of a compact JSON object
// produced by syncproto.Marshal, or "".
func jsonString(body []byte, field string) string {
	key := `"` + field + `":"`
	_, rest, ok := strings.Cut(string(body), key)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}
