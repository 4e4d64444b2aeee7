package election_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"villagesync/election"
)

func TestDongliaoCounty(t *testing.T) {
	d := election.Dongliao()
	if d.County.Code != "220422" || d.County.Name != "东辽县" {
		t.Errorf("County: got %+v, want 220422 东辽县", d.County)
	}
	want := []struct {
		code, name string
		villages   int
	}{
		{"220422100", "白泉镇", 24}, {"220422101", "渭津镇", 20}, {"220422102", "安石镇", 20},
		{"220422103", "辽河源镇", 19}, {"220422104", "泉太镇", 19}, {"220422105", "建安镇", 20},
		{"220422106", "安恕镇", 19}, {"220422107", "平岗镇", 18}, {"220422108", "云顶镇", 19},
		{"220422200", "凌云乡", 16}, {"220422201", "甲山乡", 13}, {"220422202", "足民乡", 16},
		{"220422203", "金州乡", 12},
	}
	if len(d.Townships) != len(want) {
		t.Fatalf("townships: got %d, want %d", len(d.Townships), len(want))
	}
	perTownship := make(map[string]int)
	for _, v := range d.Villages {
		perTownship[v.Township]++
	}
	for i, w := range want {
		tw := d.Townships[i]
		if tw.Code != w.code || tw.Name != w.name || tw.Pinyin == "" {
			t.Errorf("township %d: got %+v, want %s %s with pinyin", i, tw, w.code, w.name)
		}
		if got := perTownship[w.code]; got != w.villages || got < 12 {
			t.Errorf("%s villages: got %d, want %d (and at least 12)", w.name, got, w.villages)
		}
	}
	if got := d.Townships[12].AltNames; !reflect.DeepEqual(got, []string{"金洲乡"}) {
		t.Errorf("金州乡 alt names: got %v, want [金洲乡]", got)
	}
}

func TestDongliaoVillages(t *testing.T) {
	d := election.Dongliao()
	if len(d.Villages) != 235 {
		t.Fatalf("villages: got %d, want 235", len(d.Villages))
	}
	names := make(map[string]string)
	next := make(map[string]int) // township → next village number
	keyByTownship := make(map[string]int)
	keys := 0
	for _, v := range d.Villages {
		if next[v.Township] == 0 {
			next[v.Township] = 201
		}
		if want := v.Township + strconv.Itoa(next[v.Township]); v.Code != want {
			t.Errorf("village code: got %s, want %s", v.Code, want)
		}
		next[v.Township]++
		if got := election.TownshipOf(v.Code); got != v.Township {
			t.Errorf("TownshipOf(%s): got %q, want %q", v.Code, got, v.Township)
		}
		if utf8.RuneCountInString(v.Name) != 3 || !strings.HasSuffix(v.Name, "村") {
			t.Errorf("village %s name: got %q, want two characters + 村", v.Code, v.Name)
		}
		if other, dup := names[v.Name]; dup {
			t.Errorf("village name %q: used by %s and %s, want unique", v.Name, other, v.Code)
		}
		names[v.Name] = v.Code
		if v.KeyVillage {
			keys++
			keyByTownship[v.Township]++
		}
	}
	if keys != 8 {
		t.Errorf("key villages: got %d, want 8", keys)
	}
	for _, tw := range []string{"220422200", "220422101", "220422105"} { // 凌云乡, 渭津镇, 建安镇
		if keyByTownship[tw] == 0 {
			t.Errorf("key villages in %s: got 0, want at least 1", tw)
		}
	}
}

func TestDongliaoElections(t *testing.T) {
	d := election.Dongliao()
	if len(d.Elections) != len(d.Villages) {
		t.Fatalf("elections: got %d, want one per village (%d)", len(d.Elections), len(d.Villages))
	}
	candidates := make(map[string]election.Candidate)
	for _, c := range d.Candidates {
		if _, dup := candidates[c.ID]; dup {
			t.Errorf("candidate %s: duplicate id", c.ID)
		}
		candidates[c.ID] = c
	}

	seats := 0
	mix := make(map[int]int) // seats → elections
	dates := make(map[string]int)
	for i, e := range d.Elections {
		v := d.Villages[i]
		if e.ID != v.Code+"-PC" || e.Village != v.Code || e.Type != election.TypePartyCommittee || e.Status != election.StatusLocked {
			t.Errorf("election %d: got %+v, want a LOCKED PARTY_COMMITTEE election %s-PC", i, e, v.Code)
		}
		dates[e.Date]++
		seats += e.Seats
		mix[e.Seats]++
		// P2: (candidates − seats) × 5 ≥ seats.
		if n := len(e.Candidates); (n-e.Seats)*5 < e.Seats {
			t.Errorf("election %s: %d candidates for %d seats, want P2 margin", e.ID, n, e.Seats)
		}
		for n, id := range e.Candidates {
			if want := e.ID + "-C" + strconv.Itoa(n+1); id != want {
				t.Errorf("election %s candidate %d: got %s, want %s", e.ID, n, id, want)
			}
			if c, ok := candidates[id]; !ok || c.Election != e.ID {
				t.Errorf("election %s candidate %s: got %+v, want a candidate of this election", e.ID, id, c)
			}
		}
	}
	if seats != 782 {
		t.Errorf("seats: got %d, want 782", seats)
	}
	if want := map[int]int{3: 196, 4: 1, 5: 38}; !reflect.DeepEqual(mix, want) {
		t.Errorf("seat mix: got %v, want %v", mix, want)
	}
	if want := map[string]int{"2026-03-07": 118, "2026-03-08": 117}; !reflect.DeepEqual(dates, want) {
		t.Errorf("dates: got %v, want %v", dates, want)
	}
	if got, want := len(d.Candidates), seats+len(d.Elections); got != want {
		t.Errorf("candidates: got %d, want %d", got, want)
	}
}

// The first Seats candidates of every election, if elected, reproduce the
// county's reported 782 members: mean age 43.4, 199 college-or-above.
func TestDongliaoWinners(t *testing.T) {
	d := election.Dongliao()
	byID := make(map[string]election.Candidate)
	for _, c := range d.Candidates {
		byID[c.ID] = c
	}
	members, ageSum, college := 0, 0, 0
	for _, e := range d.Elections {
		for _, id := range e.Candidates[:e.Seats] {
			c := byID[id]
			age := election.DongliaoElectionYear - c.BirthYear
			if age < 28 || age > 60 {
				t.Errorf("winner %s: age %d, want 28–60", id, age)
			}
			members++
			ageSum += age
			if election.CollegeOrAbove(c.Education) {
				college++
			}
		}
	}
	if members != 782 || ageSum != 33939 || college != 199 {
		t.Errorf("winners: got %d members, age sum %d, %d college; want 782, 33939, 199", members, ageSum, college)
	}
	if got := float64(ageSum) / float64(members); got < 43.35 || got >= 43.45 {
		t.Errorf("mean age: got %.3f, want 43.4", got)
	}
	if got := float64(college) / float64(members); got < 0.2535 || got >= 0.2545 {
		t.Errorf("college share: got %.4f, want 0.254", got)
	}
}

func TestDongliaoRolls(t *testing.T) {
	d := election.Dongliao()
	if len(d.Rolls) != len(d.Elections) {
		t.Fatalf("rolls: got %d, want %d", len(d.Rolls), len(d.Elections))
	}
	for i, rc := range d.Rolls {
		if rc.Election != d.Elections[i].ID {
			t.Errorf("roll %d: election %s, want %s", i, rc.Election, d.Elections[i].ID)
		}
		if rc.FullMembers < 25 || rc.FullMembers > 90 || rc.Exclusions < 0 || rc.Exclusions > 3 || rc.Eligible != rc.FullMembers-rc.Exclusions {
			t.Errorf("roll %s: got %+v, want full 25–90, exclusions 0–3, eligible = full − exclusions", rc.Election, rc)
		}
	}
}

func TestDongliaoDeterministic(t *testing.T) {
	a, b := election.Dongliao(), election.Dongliao()
	if !reflect.DeepEqual(a, b) {
		t.Fatal("Dongliao() twice: got different datasets, want identical")
	}
	a.Villages[0].Name = "changed"
	a.Townships[12].AltNames[0] = "changed"
	if c := election.Dongliao(); c.Villages[0].Name == "changed" || c.Townships[12].AltNames[0] == "changed" {
		t.Error("Dongliao(): got shared state between calls, want a fresh dataset")
	}
}

func TestDatasetRecords(t *testing.T) {
	d := election.Dongliao()
	recs := d.Records()
	want := 1 + len(d.Townships) + len(d.Villages) + len(d.Elections) + len(d.Candidates) + len(d.Rolls)
	if len(recs) != want {
		t.Fatalf("Records(): got %d, want %d", len(recs), want)
	}

	order := []string{"county", "township", "village", "election", "candidate", "roll_count"}
	stage := 0
	seen := make(map[string]bool)
	for _, rec := range recs {
		for stage < len(order) && rec.Collection != order[stage] {
			stage++
		}
		if stage == len(order) {
			t.Fatalf("record %s/%s: out of order, want %v", rec.Collection, rec.ID, order)
		}
		key := rec.Collection + "/" + rec.ID
		if seen[key] {
			t.Errorf("record %s: duplicate", key)
		}
		seen[key] = true

		// Every seed record is well-formed, with no resolver, and placed where Records says.
		c := mustLookup(t, rec.Collection)
		p, err := c.Validate(rec.ID, rec.Body, nil)
		if err != nil {
			t.Errorf("record %s: Validate: %v", key, err)
		} else if p != rec.Place {
			t.Errorf("record %s: Validate place %+v, want %+v", key, p, rec.Place)
		}

		// Bodies re-marshal byte-identically.
		var m map[string]any
		if err := json.Unmarshal(rec.Body, &m); err != nil {
			t.Fatalf("record %s: unmarshal: %v", key, err)
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("record %s: marshal: %v", key, err)
		}
		if !bytes.Equal(again, rec.Body) {
			t.Errorf("record %s: re-marshalled body\n got %s\nwant %s", key, again, rec.Body)
		}
		if rec.Collection == "village" && m["synthetic"] != true {
			t.Errorf("record %s: synthetic = %v, want true", key, m["synthetic"])
		}
	}
	if recs[0].Collection != "county" || recs[0].Place != (election.Place{}) {
		t.Errorf("first record: got %s at %+v, want the county-wide county record", recs[0].Collection, recs[0].Place)
	}
}
