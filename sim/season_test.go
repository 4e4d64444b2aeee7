package sim_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"villagesync/election"
	"villagesync/sim"
	"villagesync/syncproto"
)

// season7 is the season of seed 7, generated once for the tests that only
// read it.
var season7 = sync.OnceValues(func() (*sim.Season, error) {
	return sim.GenerateSeason(election.Dongliao(), 7)
})

func mustSeason7(tb testing.TB) *sim.Season {
	tb.Helper()
	s, err := season7()
	if err != nil {
		tb.Fatalf("GenerateSeason(seed 7): %v", err)
	}
	return s
}

func mustGenerate(tb testing.TB, seed uint64) *sim.Season {
	tb.Helper()
	s, err := sim.GenerateSeason(election.Dongliao(), seed)
	if err != nil {
		tb.Fatalf("GenerateSeason(seed %d): %v", seed, err)
	}
	return s
}

// located is a step with the device that captures it.
type located struct {
	dev  *sim.DeviceScript
	step sim.Step
	seq  int // 1-based position in the device's script
}

// timeline returns every step of s in capture time order; steps captured at
// the same instant keep device order.
func timeline(s *sim.Season) []located {
	var all []located
	for i := range s.Devices {
		dev := &s.Devices[i]
		for j, st := range dev.Steps {
			all = append(all, located{dev, st, j + 1})
		}
	}
	slices.SortStableFunc(all, func(a, b located) int { return a.step.At.Compare(b.step.At) })
	return all
}

// places is a Resolver over the reference data and the records replayed so
// far.
type places map[string]map[string]election.Place

func (p places) Place(collection, id string) (election.Place, bool) {
	pl, ok := p[collection][id]
	return pl, ok
}

func (p places) put(collection, id string, pl election.Place) {
	if p[collection] == nil {
		p[collection] = map[string]election.Place{}
	}
	p[collection][id] = pl
}

// TestSeasonReplays replays every step in time order the way a device and
// the server check it: the body is compact, its record id fits the wire,
// it passes its collection's Validate knowing only the reference data and
// the earlier steps, and the device's scope may author it.
func TestSeasonReplays(t *testing.T) {
	d := election.Dongliao()
	s := mustSeason7(t)
	known := places{}
	for _, rec := range d.Records() {
		known.put(rec.Collection, rec.ID, rec.Place)
	}
	counts := map[string]int{}
	for _, l := range timeline(s) {
		st := l.step
		where := fmt.Sprintf("%s step %d (%s %s)", l.dev.Name, l.seq, st.Collection, st.ID)
		canon, err := syncproto.CanonicalBody(st.Body)
		if err != nil || !bytes.Equal(canon, st.Body) {
			t.Fatalf("%s: body is not compact JSON: %s", where, st.Body)
		}
		probe := syncproto.Change{Device: "dev-sim", Seq: 1, Collection: st.Collection, ID: st.ID, Schema: 1, Body: st.Body}
		if err := probe.CheckShape(); err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		coll, ok := election.LookupCollection(st.Collection)
		if !ok {
			t.Fatalf("%s: unknown collection", where)
		}
		if _, dup := known.Place(st.Collection, st.ID); dup {
			t.Fatalf("%s: id recorded twice", where)
		}
		p, err := coll.Validate(st.ID, st.Body, known)
		if err != nil {
			t.Fatalf("%s: %v\nbody %s", where, err, st.Body)
		}
		scope := election.Scope{Role: l.dev.Role, Code: l.dev.Scope}
		if !scope.CanAuthor(st.Collection, p) {
			t.Fatalf("%s: a %s scoped %s may not author it (place %+v)", where, l.dev.Role, l.dev.Scope, p)
		}
		known.put(st.Collection, st.ID, p)
		counts[st.Collection]++
	}
	t.Logf("%d steps on %d devices: %v", len(timeline(s)), len(s.Devices), counts)
}

// TestSeasonDevices checks who captures: one station per village, one
// supervisor team per township, the county office, and a second station
// laptop per injected conflict; every script chronological in +08:00.
func TestSeasonDevices(t *testing.T) {
	d := election.Dongliao()
	s := mustSeason7(t)
	want := len(d.Villages) + len(d.Townships) + 1 + len(s.Injected)
	if len(s.Devices) != want {
		t.Fatalf("got %d devices, want %d", len(s.Devices), want)
	}
	names := map[string]bool{}
	for i, dev := range s.Devices {
		var role election.Role
		var scope string
		switch {
		case i < len(d.Villages):
			role, scope = election.RoleStation, d.Villages[i].Code
		case i < len(d.Villages)+len(d.Townships):
			role, scope = election.RoleSupervisor, d.Townships[i-len(d.Villages)].Code
		case i == len(d.Villages)+len(d.Townships):
			role, scope = election.RoleCounty, d.County.Code
		default:
			role, scope = election.RoleStation, s.Injected[i-len(d.Villages)-len(d.Townships)-1].Village
		}
		if dev.Role != role || dev.Scope != scope {
			t.Errorf("device %d (%s): got %s %s, want %s %s", i, dev.Name, dev.Role, dev.Scope, role, scope)
		}
		if names[dev.Name] || dev.Name == "" {
			t.Errorf("device %d: name %q is empty or taken", i, dev.Name)
		}
		names[dev.Name] = true
		if len(dev.Steps) == 0 {
			t.Errorf("%s: no steps", dev.Name)
		}
		for j, st := range dev.Steps {
			if _, off := st.At.Zone(); off != 8*60*60 {
				t.Fatalf("%s step %d: got zone offset %ds, want +08:00", dev.Name, j+1, off)
			}
			if j > 0 && st.At.Before(dev.Steps[j-1].At) {
				t.Fatalf("%s step %d at %v: before step %d at %v", dev.Name, j+1, st.At, j, dev.Steps[j-1].At)
			}
		}
	}
}

// body decodes a step body into a map, for the tests' own recount.
func body(tb testing.TB, st sim.Step) map[string]any {
	tb.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(st.Body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		tb.Fatalf("%s %s: %v", st.Collection, st.ID, err)
	}
	return m
}

func num(tb testing.TB, m map[string]any, key string) int {
	tb.Helper()
	n, ok := m[key].(json.Number)
	if !ok {
		tb.Fatalf("%q: got %v, want a number", key, m[key])
	}
	i, err := n.Int64()
	if err != nil {
		tb.Fatalf("%q: %v", key, err)
	}
	return int(i)
}

// TestSeasonFigures recounts the county's figures from the step bodies on
// its own and compares them with SPEC §1 and with Season.Figures.
func TestSeasonFigures(t *testing.T) {
	d := election.Dongliao()
	s := mustSeason7(t)
	var got sim.Figures
	got.Villages = len(d.Villages)
	visits := map[string]int{}
	sources := map[string]string{}
	status := map[string]string{} // problem → last status, in capture order
	groups := map[string]bool{}
	for _, l := range timeline(s) {
		st := l.step
		got.Steps++
		switch st.Collection {
		case "supervision_visit":
			m := body(t, st)
			visits[fmt.Sprintf("%s/%d", m["village"], num(t, m, "round"))]++
			got.SupervisionVisits++
		case "problem":
			sources[st.ID] = body(t, st)["source"].(string)
		case "rectification":
			m := body(t, st)
			status[m["problem"].(string)] = m["status"].(string)
		case "training_session":
			got.TrainingSessions++
			got.TrainingAttendance += num(t, body(t, st), "attendance")
		case "returned_member":
			got.ReturnedMembers++
		case "key_village":
			if body(t, st)["first_secretary"] == "" {
				t.Errorf("key village %s: no first secretary", st.ID)
			}
			got.KeyVillages++
		case "working_group":
			m := body(t, st)
			groups[m["village"].(string)] = true
			got.WorkingGroups++
			got.WorkingGroupStaff += num(t, m, "members")
		case "ballot":
			got.Ballots++
		}
	}
	for id, src := range sources {
		rectified := status[id] == election.RectificationRectified || status[id] == election.RectificationVerified
		switch src {
		case election.SourceVisit:
			got.ProblemsFound++
			if rectified {
				got.ProblemsRectified++
			}
			if status[id] == election.RectificationVerified {
				got.ProblemsVerified++
			}
		case election.SourceInspection:
			got.InspectionFound++
			if rectified {
				got.InspectionRectified++
			}
		default:
			t.Errorf("problem %s: source %q", id, src)
		}
	}
	for k, n := range visits {
		if n != 1 {
			t.Errorf("visits %s: got %d, want 1", k, n)
		}
	}
	for _, v := range d.Villages {
		if v.KeyVillage && !groups[v.Code] {
			t.Errorf("key village %s: no working group", v.Code)
		}
	}
	elections := evaluateAll(t, d, s)
	got.HeldOnTime, got.OneTimeSuccess = elections.heldOnTime, elections.oneTime
	got.MembersElected, got.AgeSum, got.College, got.InvalidBallots = elections.members, elections.ageSum, elections.college, elections.invalid

	checks := []struct {
		name      string
		got, want int
	}{
		{"held on time", got.HeldOnTime, 235},
		{"one-time success", got.OneTimeSuccess, 235},
		{"members elected", got.MembersElected, 782},
		{"college or above", got.College, 199},
		{"supervision visits", got.SupervisionVisits, 940},
		{"problems found", got.ProblemsFound, 52},
		{"problems rectified", got.ProblemsRectified, 52},
		{"problems verified", got.ProblemsVerified, 52},
		{"inspection problems found", got.InspectionFound, 15},
		{"inspection problems rectified", got.InspectionRectified, 15},
		{"key villages", got.KeyVillages, 8},
		{"working groups", got.WorkingGroups, 8},
		{"working group staff", got.WorkingGroupStaff, 24},
		{"training sessions", got.TrainingSessions, 32},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, c.got, c.want)
		}
	}
	if got.TrainingAttendance < 1200 {
		t.Errorf("training attendance: got %d, want at least 1200", got.TrainingAttendance)
	}
	if got.ReturnedMembers < 530 {
		t.Errorf("returned members: got %d, want at least 530", got.ReturnedMembers)
	}
	if avg := got.AvgAge(); avg != 43.4 {
		t.Errorf("average age: got %v (%d/%d), want 43.4", avg, got.AgeSum, got.MembersElected)
	}
	if share := got.CollegeShare(); share != 0.254 {
		t.Errorf("college share: got %v, want 0.254", share)
	}
	if got != s.Figures {
		t.Errorf("Season.Figures:\n got %+v\nwant %+v (recounted)", s.Figures, got)
	}
	t.Logf("season of seed 7: %d steps, %d ballots (%d invalid), %d devices, %d injected conflicts",
		got.Steps, got.Ballots, got.InvalidBallots, len(s.Devices), len(s.Injected))
}

// tallies are what the elections of a season show, evaluated by the tests.
type tallies struct {
	heldOnTime, oneTime, members, ageSum, college, invalid int
}

// evaluateAll evaluates every election from the primary stations' records
// and checks each round against its ballots and attendance on the way.
func evaluateAll(tb testing.TB, d *election.Dataset, s *sim.Season) tallies {
	tb.Helper()
	second := map[string]bool{}
	for _, inj := range s.Injected {
		second[inj.IDs[1]] = true
	}
	facts := map[string]*election.ElectionFacts{}
	for _, e := range d.Elections {
		facts[e.ID] = &election.ElectionFacts{Election: e}
	}
	for _, c := range d.Candidates {
		facts[c.Election].Candidates = append(facts[c.Election].Candidates, c)
	}
	for i := range d.Rolls {
		facts[d.Rolls[i].Election].Roll = &d.Rolls[i]
	}
	sheetDay := map[string]string{}
	for _, l := range timeline(s) {
		st := l.step
		var err error
		switch st.Collection {
		case "attendance":
			var a election.Attendance
			a, err = election.DecodeAttendance(st.Body)
			a.ID = st.ID
			facts[a.Election].Attendance = append(facts[a.Election].Attendance, a)
		case "tally_sheet":
			if second[st.ID] {
				continue
			}
			var sh election.TallySheet
			sh, err = election.DecodeTallySheet(st.Body)
			sh.ID = st.ID
			facts[sh.Election].Sheets = append(facts[sh.Election].Sheets, sh)
			if sh.Kind == election.RoundFormal {
				sheetDay[sh.Election] = st.At.Format(time.DateOnly)
			}
		case "ballot":
			var b election.Ballot
			b, err = election.DecodeBallot(st.Body)
			b.ID = st.ID
			facts[b.Election].Ballots = append(facts[b.Election].Ballots, b)
		case "approval":
			var a election.Approval
			a, err = election.DecodeApproval(st.Body)
			a.ID = st.ID
			facts[a.Election].Approvals = append(facts[a.Election].Approvals, a)
		}
		if err != nil {
			tb.Fatalf("%s %s: %v", st.Collection, st.ID, err)
		}
	}

	var out tallies
	for _, e := range d.Elections {
		f := facts[e.ID]
		checkRound(tb, e, f)
		res := election.Evaluate(*f)
		if got, want := slices.Sorted(slices.Values(res.Elected)), e.Candidates[:e.Seats]; !slices.Equal(got, want) {
			tb.Errorf("%s: got elected %v, want %v", e.ID, got, want)
		}
		if res.OneTimeSuccess {
			out.oneTime++
		} else {
			tb.Errorf("%s: not a one-time success: %+v", e.ID, res.Rounds)
		}
		if sheetDay[e.ID] == e.Date {
			out.heldOnTime++
		} else {
			tb.Errorf("%s: FORMAL sheet captured on %s, want %s", e.ID, sheetDay[e.ID], e.Date)
		}
		for _, fd := range res.Findings {
			if fd.Outcome == election.Fail || fd.Outcome == election.Review {
				tb.Errorf("%s: %s %s: %s", e.ID, fd.Rule, fd.Outcome, fd.MessageEN)
			}
		}
		for _, b := range f.Ballots {
			if election.CheckBallot(b, e.Seats).Outcome == election.Fail {
				out.invalid++
			}
		}
		for _, id := range res.Elected {
			for _, c := range f.Candidates {
				if c.ID == id {
					out.members++
					out.ageSum += election.DongliaoElectionYear - c.BirthYear
					if election.CollegeOrAbove(c.Education) {
						out.college++
					}
				}
			}
		}
	}
	return out
}

// checkRound recounts election e's FORMAL round from its ballots.
func checkRound(tb testing.TB, e election.Election, f *election.ElectionFacts) {
	tb.Helper()
	if len(f.Attendance) != 1 {
		tb.Fatalf("%s: got %d attendance records, want 1", e.ID, len(f.Attendance))
	}
	a := f.Attendance[0]
	if a.Eligible != f.Roll.Eligible || a.Present*5 <= a.Eligible*4 || a.Present*100 < a.Eligible*82 || a.Present > a.Eligible {
		tb.Errorf("%s: %d present of %d eligible (roll %d), want 82–98%% and more than 4/5", e.ID, a.Present, a.Eligible, f.Roll.Eligible)
	}
	var formal []election.TallySheet
	for _, s := range f.Sheets {
		if s.Kind == election.RoundFormal {
			formal = append(formal, s)
		}
	}
	if len(formal) != 1 {
		tb.Fatalf("%s: got %d FORMAL sheets, want 1", e.ID, len(formal))
	}
	s := formal[0]
	if s.Issued != a.Present || (s.Returned != s.Issued && s.Returned != s.Issued-1) {
		tb.Errorf("%s: issued %d, returned %d for %d present", e.ID, s.Issued, s.Returned, a.Present)
	}
	if len(f.Ballots) != s.Returned || s.Invalid < 0 || s.Invalid > 2 || s.Photo == "" || len(s.Signers) == 0 {
		tb.Errorf("%s: %d ballots for %d returned, %d invalid, photo %q, signers %v", e.ID, len(f.Ballots), s.Returned, s.Invalid, s.Photo, s.Signers)
	}
	yes := map[string]int{}
	invalid := 0
	serials := map[int]bool{}
	for _, b := range f.Ballots {
		serials[b.Serial] = true
		n := len(b.WriteIns)
		for _, m := range b.Marks {
			if m == election.MarkYes {
				n++
			}
		}
		if n > e.Seats {
			invalid++
			continue
		}
		for c, m := range b.Marks {
			if m == election.MarkYes {
				yes[c]++
			}
		}
	}
	for k := 1; k <= len(f.Ballots); k++ {
		if !serials[k] {
			tb.Errorf("%s: ballot serial %d missing", e.ID, k)
		}
	}
	if invalid != s.Invalid {
		tb.Errorf("%s: got %d invalid ballots, sheet says %d", e.ID, invalid, s.Invalid)
	}
	for i, c := range e.Candidates {
		if yes[c] != s.Votes[c].Yes {
			tb.Errorf("%s: %s has %d yes on its ballots, %d on the sheet", e.ID, c, yes[c], s.Votes[c].Yes)
		}
		if winner := 2*yes[c] > a.Present; winner != (i < e.Seats) {
			tb.Errorf("%s: %s (position %d of %d seats) has %d yes of %d present", e.ID, c, i+1, e.Seats, yes[c], a.Present)
		}
	}
	if got, want := slices.Sorted(slices.Values(s.Elected)), e.Candidates[:e.Seats]; !slices.Equal(got, want) {
		tb.Errorf("%s: sheet declares %v, want %v", e.ID, got, want)
	}
}

// TestSeasonTimes checks the calendar: supervision rounds in their own
// windows from 10 February to 6 March, every election on its day, every
// rectification after its problem and before the village's election.
func TestSeasonTimes(t *testing.T) {
	d := election.Dongliao()
	s := mustSeason7(t)
	cst := time.FixedZone("CST", 8*60*60)
	from, to := time.Date(2026, 2, 10, 0, 0, 0, 0, cst), time.Date(2026, 3, 7, 0, 0, 0, 0, cst)
	var first, last [4]time.Time
	found := map[string]time.Time{}
	day := map[string]string{} // village → election date
	for _, e := range d.Elections {
		day[e.Village] = e.Date
	}
	for _, l := range timeline(s) {
		st := l.step
		switch st.Collection {
		case "supervision_visit":
			m := body(t, st)
			r := num(t, m, "round") - 1
			at, err := time.Parse(time.RFC3339, m["visited_at"].(string))
			if err != nil || !at.Equal(st.At) {
				t.Errorf("visit %s: visited_at %v, captured %v", st.ID, m["visited_at"], st.At)
			}
			if st.At.Before(from) || !st.At.Before(to) {
				t.Errorf("visit %s at %v: outside 10 Feb–6 Mar", st.ID, st.At)
			}
			if first[r].IsZero() || st.At.Before(first[r]) {
				first[r] = st.At
			}
			if st.At.After(last[r]) {
				last[r] = st.At
			}
		case "problem":
			found[st.ID] = st.At
			workingHours(t, st)
		case "rectification":
			workingHours(t, st)
			m := body(t, st)
			p := m["problem"].(string)
			if !st.At.After(found[p]) {
				t.Errorf("rectification %s at %v: not after its problem at %v", st.ID, st.At, found[p])
			}
			if date := st.At.Format(time.DateOnly); date >= day[p[:12]] {
				t.Errorf("rectification %s on %s: not before the election on %s", st.ID, date, day[p[:12]])
			}
		case "ballot", "attendance":
			e := body(t, st)["election"].(string)
			if date := st.At.Format(time.DateOnly); date != day[e[:12]] {
				t.Errorf("%s %s on %s: want the election day %s", st.Collection, st.ID, date, day[e[:12]])
			}
		}
	}
	for r := range 3 {
		if !last[r].Before(first[r+1]) {
			t.Errorf("round %d ends %v, after round %d starts %v", r+1, last[r], r+2, first[r+1])
		}
	}
}

// workingHours checks that st is captured between 08:00 and 20:00.
func workingHours(tb testing.TB, st sim.Step) {
	tb.Helper()
	if h := st.At.Hour(); h < 8 || h >= 20 {
		tb.Errorf("%s %s at %v: outside working hours", st.Collection, st.ID, st.At)
	}
}

// seasonHash hashes everything a season says.
func seasonHash(s *sim.Season) [32]byte {
	h := sha256.New()
	str := func(x string) {
		_ = binary.Write(h, binary.BigEndian, uint32(len(x)))
		h.Write([]byte(x))
	}
	for _, dev := range s.Devices {
		str(string(dev.Role))
		str(dev.Scope)
		str(dev.Name)
		for _, st := range dev.Steps {
			str(st.At.Format(time.RFC3339Nano))
			str(st.Collection)
			str(st.ID)
			str(string(st.Body))
		}
	}
	for _, inj := range s.Injected {
		str(inj.Village + "|" + inj.Election + "|" + inj.Slot + "|" + inj.IDs[0] + "|" + inj.IDs[1])
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// formalVotes maps each FORMAL sheet id to its votes body.
func formalVotes(tb testing.TB, s *sim.Season) map[string]string {
	tb.Helper()
	out := map[string]string{}
	for _, dev := range s.Devices {
		for _, st := range dev.Steps {
			if st.Collection == "tally_sheet" && strings.HasSuffix(st.ID, "-R1") {
				v, err := json.Marshal(body(tb, st)["votes"])
				if err != nil {
					tb.Fatal(err)
				}
				out[st.ID] = string(v)
			}
		}
	}
	return out
}

// reportFigures drops the figures that depend on how the votes fall.
func reportFigures(f sim.Figures) sim.Figures {
	f.Ballots, f.InvalidBallots, f.Steps = 0, 0, 0
	return f
}

func TestSeasonDeterministic(t *testing.T) {
	a := mustSeason7(t)
	b := mustGenerate(t, 7)
	if seasonHash(a) != seasonHash(b) {
		t.Fatal("seed 7 twice: got different seasons, want byte-identical")
	}
	c := mustGenerate(t, 8)
	if seasonHash(a) == seasonHash(c) {
		t.Fatal("seeds 7 and 8: got identical seasons")
	}
	va, vc := formalVotes(t, a), formalVotes(t, c)
	if len(va) != 235 || len(vc) != 235 {
		t.Fatalf("got %d and %d FORMAL sheets, want 235 each", len(va), len(vc))
	}
	differ := 0
	for id := range va {
		if va[id] != vc[id] {
			differ++
		}
	}
	if differ < 200 {
		t.Errorf("seeds 7 and 8: votes differ in %d of 235 villages, want nearly all", differ)
	}
	if reportFigures(a.Figures) != reportFigures(c.Figures) {
		t.Errorf("seeds 7 and 8: got figures %+v and %+v, want the same", a.Figures, c.Figures)
	}
}

// TestSeasonSeeds generates seasons from other seeds: each must pass the
// generator's own verification with the same county figures.
func TestSeasonSeeds(t *testing.T) {
	seeds := []uint64{0, 1, math.MaxUint64}
	if testing.Short() {
		seeds = seeds[1:2]
	}
	want := reportFigures(mustSeason7(t).Figures)
	injected := map[int]bool{}
	for _, seed := range seeds {
		s := mustGenerate(t, seed)
		if s.Seed != seed {
			t.Errorf("seed %d: got Seed %d", seed, s.Seed)
		}
		if got := reportFigures(s.Figures); got != want {
			t.Errorf("seed %d: got figures %+v, want %+v", seed, got, want)
		}
		injected[len(s.Injected)] = true
	}
	for n := range injected {
		if n < 3 || n > 6 {
			t.Errorf("got %d injected conflicts, want 3 to 6", n)
		}
	}
}

// TestSeasonInjected checks that every injected conflict is two different
// sheets for one slot, one from the village's station, one from a second
// laptop of the same village.
func TestSeasonInjected(t *testing.T) {
	s := mustSeason7(t)
	if n := len(s.Injected); n < 3 || n > 6 {
		t.Fatalf("got %d injected conflicts, want 3 to 6", n)
	}
	coll, _ := election.LookupCollection("tally_sheet")
	for _, inj := range s.Injected {
		var holders []*sim.DeviceScript
		var bodies [][]byte
		for i := range s.Devices {
			dev := &s.Devices[i]
			for _, st := range dev.Steps {
				if st.Collection == "tally_sheet" && (st.ID == inj.IDs[0] || st.ID == inj.IDs[1]) {
					holders = append(holders, dev)
					bodies = append(bodies, st.Body)
					if slot := coll.Slot(st.ID, st.Body); slot != inj.Slot {
						t.Errorf("%s: got slot %q, want %q", st.ID, slot, inj.Slot)
					}
				}
			}
		}
		if len(holders) != 2 || holders[0] == holders[1] {
			t.Fatalf("%v: got %d holders, want two devices", inj.IDs, len(holders))
		}
		for _, h := range holders {
			if h.Role != election.RoleStation || h.Scope != inj.Village {
				t.Errorf("%v: held by %s %s, want a station of %s", inj.IDs, h.Role, h.Scope, inj.Village)
			}
		}
		if bytes.Equal(bodies[0], bodies[1]) {
			t.Errorf("%v: the two sheets are identical, want a conflict", inj.IDs)
		}
		if inj.Slot != inj.Election+"/round/1" {
			t.Errorf("%v: got slot %q, want %s/round/1", inj.IDs, inj.Slot, inj.Election)
		}
	}
}

// TestGenerateSeasonErrors feeds datasets the season cannot be played on:
// GenerateSeason must say why, never panic or return a season.
func TestGenerateSeasonErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(d *election.Dataset) *election.Dataset
		want   string
	}{
		{"NoDataset", func(*election.Dataset) *election.Dataset { return nil }, "no dataset"},
		{"NoVillages", func(d *election.Dataset) *election.Dataset { d.Villages = nil; return d }, "no villages"},
		{"NoRoll", func(d *election.Dataset) *election.Dataset { d.Rolls = d.Rolls[1:]; return d }, "no roll count"},
		{"NoMargin", func(d *election.Dataset) *election.Dataset {
			// As many candidates as seats everywhere: spoilt ballots must
			// write names in to choose one too many.
			for i := range d.Elections {
				d.Elections[i].Candidates = d.Elections[i].Candidates[:d.Elections[i].Seats]
			}
			return d
		}, "P2"},
		{"BadDate", func(d *election.Dataset) *election.Dataset { d.Elections[3].Date = "7 March"; return d }, "date"},
		{"NoQuorum", func(d *election.Dataset) *election.Dataset { d.Rolls[5].Eligible = 0; return d }, "quorum"},
		{"KeyVillageDropped", func(d *election.Dataset) *election.Dataset {
			for i := range d.Villages {
				if d.Villages[i].KeyVillage {
					d.Villages[i].KeyVillage = false
					break
				}
			}
			return d
		}, "key villages: got 7, want 8"},
		{"OtherWinners", func(d *election.Dataset) *election.Dataset {
			// The same people, but the seed's first candidates are not
			// Dongliao's: the age sum can no longer be the county's.
			e := &d.Elections[0]
			e.Candidates[0], e.Candidates[e.Seats] = e.Candidates[e.Seats], e.Candidates[0]
			return d
		}, "sum of ages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sim.GenerateSeason(tt.change(election.Dongliao()), 7)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got season %v, error %v; want an error containing %q", s != nil, err, tt.want)
			}
			if s != nil {
				t.Errorf("got a season with the error")
			}
		})
	}
}

func BenchmarkGenerateSeason(b *testing.B) {
	d := election.Dongliao()
	for b.Loop() {
		if _, err := sim.GenerateSeason(d, 7); err != nil {
			b.Fatal(err)
		}
	}
}
