package election

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// rectificationRank orders the rectification states.
var rectificationRank = map[string]int{
	RectificationOpen:       0,
	RectificationInProgress: 1,
	RectificationRectified:  2,
	RectificationVerified:   3,
}

// RectificationStatus derives the status of one problem from its
// rectification events (整改): OPEN → IN_PROGRESS → RECTIFIED → VERIFIED.
// A problem with no events is OPEN.
//
// Events are ordered by their hybrid logical clock (Wall, then Logical),
// then Device and Seq, so every replica derives the same status from the
// same events, whatever order they arrived in. The status is that of the
// last event. Nothing is decided silently: contradictions are returned as
// D3 findings for review, naming the events:
//
//   - a regression, an event whose status is earlier than the status
//     before it (a reopened problem);
//   - VERIFIED with no RECTIFIED since the problem was last reopened;
//   - two concurrent events that disagree: from different devices, with
//     different statuses, and either the same clock reading or the same
//     After (each author had seen the same latest event, so neither saw
//     the other's);
//   - an event with an unknown status, which is otherwise ignored.
func RectificationStatus(events []RectificationEvent) (status string, contradictions []Finding) {
	evs := slices.Clone(events)
	slices.SortFunc(evs, func(a, b RectificationEvent) int {
		return cmp.Or(
			cmp.Compare(a.Wall, b.Wall),
			cmp.Compare(a.Logical, b.Logical),
			strings.Compare(a.Device, b.Device),
			cmp.Compare(a.Seq, b.Seq),
			strings.Compare(a.ID, b.ID),
			strings.Compare(a.Status, b.Status),
			strings.Compare(a.After, b.After),
		)
	})
	evs = slices.CompactFunc(evs, func(a, b RectificationEvent) bool { return a == b })

	ref := func(e RectificationEvent) Ref { return Ref{"rectification", e.ID} }
	status = RectificationOpen
	var last *RectificationEvent
	rectified := false
	for i := range evs {
		e := &evs[i]
		r, ok := rectificationRank[e.Status]
		if !ok {
			contradictions = append(contradictions, finding(D3, Review,
				fmt.Sprintf("整改记录的状态%q未知，已忽略。", e.Status),
				fmt.Sprintf("Rectification event with unknown status %q: ignored.", e.Status)).with(ref(*e)))
			continue
		}
		if r < rectificationRank[status] {
			f := finding(D3, Review,
				fmt.Sprintf("整改状态由%s退回%s：须核实问题是否重新整改。", status, e.Status),
				fmt.Sprintf("The status went back from %s to %s: check whether the problem was reopened.", status, e.Status))
			if last != nil {
				f = f.with(ref(*last))
			}
			contradictions = append(contradictions, f.with(ref(*e)))
		}
		switch {
		case e.Status == RectificationRectified:
			rectified = true
		case e.Status == RectificationVerified && !rectified:
			contradictions = append(contradictions, finding(D3, Review,
				"问题未经整改完成（RECTIFIED）即被验收（VERIFIED）：须核实。",
				"VERIFIED with no RECTIFIED before it: check the rectification.").with(ref(*e)))
		case r < rectificationRank[RectificationRectified]:
			rectified = false
		}
		status, last = e.Status, e
	}

	// Concurrent events that disagree.
	groups := make(map[string][]RectificationEvent)
	for _, e := range evs {
		clock := "clock/" + strconv.FormatInt(e.Wall, 10) + "." + strconv.FormatUint(uint64(e.Logical), 10)
		groups[clock] = append(groups[clock], e)
		if e.After != "" {
			groups["after/"+e.After] = append(groups["after/"+e.After], e)
		}
	}
	seen := make(map[string]bool)
	for _, k := range sortedKeys(groups) {
		g := groups[k]
		devices := make(map[string]bool)
		statuses := make(map[string]bool)
		for _, e := range g {
			devices[e.Device] = true
			statuses[e.Status] = true
		}
		if len(devices) < 2 || len(statuses) < 2 {
			continue
		}
		var refs []Ref
		var ids []string
		for _, e := range g {
			refs = append(refs, ref(e))
			ids = append(ids, e.ID)
		}
		if key := strings.Join(ids, "\x00"); seen[key] {
			continue
		} else {
			seen[key] = true
		}
		contradictions = append(contradictions, finding(D3, Review,
			fmt.Sprintf("%d台设备同时记录了不同的整改状态（%s）：须由县里核实。", len(devices), strings.Join(sortedKeys(statuses), "、")),
			fmt.Sprintf("%d devices recorded different statuses concurrently (%s): the county must check.", len(devices), strings.Join(sortedKeys(statuses), ", "))).with(refs...))
	}
	return status, contradictions
}
