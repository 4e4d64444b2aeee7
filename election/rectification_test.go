package election_test

import (
	"slices"
	"strings"
	"testing"

	"villagesync/election"
)

func TestRectificationStatus(t *testing.T) {
	ev := func(id, status string, wall int64, device string, seq uint64) election.RectificationEvent {
		return election.RectificationEvent{ID: id, Problem: "p1", Status: status, Wall: wall, Device: device, Seq: seq}
	}
	after := func(e election.RectificationEvent, a string) election.RectificationEvent {
		e.After = a
		return e
	}
	tests := []struct {
		name           string
		events         []election.RectificationEvent
		want           string
		contradictions []string // ids named by each contradiction, joined
	}{
		{"None", nil, election.RectificationOpen, nil},
		{"Forward", []election.RectificationEvent{
			ev("r1", "OPEN", 100, "st", 1), ev("r2", "IN_PROGRESS", 200, "st", 2),
			ev("r3", "RECTIFIED", 300, "st", 3), ev("r4", "VERIFIED", 400, "sup", 7),
		}, election.RectificationVerified, nil},
		{"ArrivalOrderDoesNotMatter", []election.RectificationEvent{
			ev("r4", "VERIFIED", 400, "sup", 7), ev("r2", "IN_PROGRESS", 200, "st", 2),
			ev("r3", "RECTIFIED", 300, "st", 3), ev("r1", "OPEN", 100, "st", 1),
		}, election.RectificationVerified, nil},
		{"SkipsToRectified", []election.RectificationEvent{ev("r1", "OPEN", 100, "st", 1), ev("r2", "RECTIFIED", 200, "st", 2)}, election.RectificationRectified, nil},
		{"VerifiedWithoutRectified", []election.RectificationEvent{
			ev("r1", "IN_PROGRESS", 100, "st", 1), ev("r2", "VERIFIED", 200, "sup", 1),
		}, election.RectificationVerified, []string{"r2"}},
		{"Regression", []election.RectificationEvent{
			ev("r1", "RECTIFIED", 100, "st", 1), ev("r2", "VERIFIED", 200, "sup", 1), ev("r3", "IN_PROGRESS", 300, "sup", 2),
		}, election.RectificationInProgress, []string{"r2 r3"}},
		{"ReopenedThenVerifiedAgain", []election.RectificationEvent{
			ev("r1", "RECTIFIED", 100, "st", 1), ev("r2", "IN_PROGRESS", 200, "sup", 1), ev("r3", "VERIFIED", 300, "sup", 2),
		}, election.RectificationVerified, []string{"r1 r2", "r3"}},
		{"SameClockDifferentDevices", []election.RectificationEvent{
			ev("r1", "OPEN", 100, "st", 1), ev("r2", "RECTIFIED", 200, "st", 2), ev("r3", "IN_PROGRESS", 200, "sup", 1),
		}, election.RectificationInProgress, []string{"r2 r3", "r2 r3"}},
		{"SameAfterDifferentDevices", []election.RectificationEvent{
			ev("r1", "OPEN", 100, "st", 1), after(ev("r2", "RECTIFIED", 200, "st", 2), "r1"), after(ev("r3", "IN_PROGRESS", 250, "sup", 1), "r1"),
		}, election.RectificationInProgress, []string{"r2 r3", "r2 r3"}},
		{"SameAfterSameStatus", []election.RectificationEvent{
			ev("r1", "OPEN", 100, "st", 1), after(ev("r2", "RECTIFIED", 200, "st", 2), "r1"), after(ev("r3", "RECTIFIED", 250, "sup", 1), "r1"),
		}, election.RectificationRectified, nil},
		{"SameDeviceSameClock", []election.RectificationEvent{ev("r1", "OPEN", 100, "st", 1), ev("r2", "IN_PROGRESS", 100, "st", 2)}, election.RectificationInProgress, nil},
		{"UnknownStatus", []election.RectificationEvent{ev("r1", "DONE", 100, "st", 1)}, election.RectificationOpen, []string{"r1"}},
		{"DuplicateIgnored", []election.RectificationEvent{ev("r1", "IN_PROGRESS", 100, "st", 1), ev("r1", "IN_PROGRESS", 100, "st", 1)}, election.RectificationInProgress, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, cs := election.RectificationStatus(tt.events)
			if status != tt.want {
				t.Errorf("status: got %s, want %s", status, tt.want)
			}
			var got []string
			for _, c := range cs {
				if c.Rule != election.D3 || c.Outcome != election.Review {
					t.Errorf("contradiction: got %s %s, want D3 REVIEW", c.Rule, c.Outcome)
				}
				var ids []string
				for _, r := range c.Evidence {
					ids = append(ids, r.ID)
				}
				got = append(got, strings.Join(ids, " "))
			}
			if !slices.Equal(got, tt.contradictions) {
				t.Errorf("contradictions: got %q, want %q", got, tt.contradictions)
			}
		})
	}
}
