package client_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	client "villagesync/client-sdk"
	"villagesync/election"
	"villagesync/syncproto"
)

// tallySheet is a tally sheet body for a round of the village's
// Party-committee election; yes is candidate C1's yes votes, which tells
// sheets apart.
func tallySheet(village string, round, issued, returned, yes int) string {
	return fmt.Sprintf(`{"election":"%s-PC","round":%d,"kind":"FORMAL","issued":%d,"returned":%d,"valid":%d,"invalid":1,`+
		`"votes":{"%s-PC-C1":{"yes":%d,"no":0,"abstain":0},"%s-PC-C2":{"yes":10,"no":0,"abstain":0}},"signers":["计票人","监票人"]}`,
		village, round, issued, returned, returned-1, village, yes, village)
}

// electionBody is the village's Party-committee election record.
func electionBody(village string, seats int, status string) string {
	return `{"village":"` + village + `","type":"PARTY_COMMITTEE","seats":` + strconv.Itoa(seats) +
		`,"date":"2026-03-07","status":"` + status + `","candidates":["` + village + `-PC-C1","` + village + `-PC-C2"]}`
}

// ref is the version ref of a change.
func ref(c syncproto.Change) string { return c.Device + "/" + strconv.FormatUint(c.Seq, 10) }

// wantConflictID computes a conflict id by the fleet-wide scheme, written
// out independently of the package: "CF-" and the first 16 hex characters
// of SHA-256(kind 0 collection 0 key 0 sorted refs joined by 0).
func wantConflictID(kind, collection, key string, refs ...string) string {
	refs = slices.Sorted(slices.Values(refs))
	sum := sha256.Sum256([]byte(kind + "\x00" + collection + "\x00" + key + "\x00" + strings.Join(refs, "\x00")))
	return "CF-" + hex.EncodeToString(sum[:])[:16]
}

// resVersion is one version named by a resolution.
type resVersion struct {
	Ref string `json:"ref"`
	ID  string `json:"id"`
}

// resolutionBody is the body the server authors when the county resolves
// conflict id, keeping the version keep.
func resolutionBody(tb testing.TB, id, kind, collection, slot, keep string, versions ...resVersion) string {
	tb.Helper()
	js, err := syncproto.Marshal(struct {
		Conflict   string       `json:"conflict"`
		Kind       string       `json:"kind"`
		Collection string       `json:"collection"`
		Slot       string       `json:"slot"`
		Versions   []resVersion `json:"versions"`
		Keep       string       `json:"keep"`
		Reason     string       `json:"reason"`
		ResolvedBy string       `json:"resolved_by"`
		ResolvedAt string       `json:"resolved_at"`
		Village    string       `json:"village"`
	}{id, kind, collection, slot, versions, keep, "纸质计票单核对后确认", "county-admin", "2026-03-08T10:00:00Z", village})
	if err != nil {
		tb.Fatal(err)
	}
	return string(js)
}

// mustCapture captures a record and fails the test on error.
func mustCapture(tb testing.TB, d *client.Device, coll, id, body string) client.Captured {
	tb.Helper()
	c, err := d.Capture(context.Background(), coll, id, []byte(body))
	if err != nil {
		tb.Fatalf("capture %s/%s: %v", coll, id, err)
	}
	return c
}

// mustGet reads a record and fails the test on error.
func mustGet(tb testing.TB, d *client.Device, coll, id string) client.Record {
	tb.Helper()
	rec, err := d.Get(context.Background(), coll, id)
	if err != nil {
		tb.Fatalf("get %s/%s: %v", coll, id, err)
	}
	return rec
}

// mustConflicts lists the open conflicts and fails the test on error.
func mustConflicts(tb testing.TB, d *client.Device) []client.Conflict {
	tb.Helper()
	cs, err := d.Conflicts(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return cs
}

// versionRefs returns the refs of versions, sorted.
func versionRefs(vs []client.Version) []string {
	refs := make([]string, len(vs))
	for i, v := range vs {
		refs[i] = v.Ref
	}
	slices.Sort(refs)
	return refs
}

// finding returns the warning for rule, if any.
func finding(ws []election.Finding, rule election.RuleID) (election.Finding, bool) {
	i := slices.IndexFunc(ws, func(f election.Finding) bool { return f.Rule == rule })
	if i < 0 {
		return election.Finding{}, false
	}
	return ws[i], true
}

func TestCaptureWarnings(t *testing.T) {
	ctx := context.Background()
	_, d, _ := stationWithElection(t, testOptions(&sleeps{}))

	t.Run("OKReturnedOverIssued", func(t *testing.T) {
		got := mustCapture(t, d, "tally_sheet", "ts-void", tallySheet(village, 1, 100, 103, 50))
		f, ok := finding(got.Warnings, election.P3)
		if !ok || f.Outcome != election.Fail {
			t.Fatalf("got warnings %+v, want a P3 FAIL", got.Warnings)
		}
		if !strings.Contains(f.MessageEN, "void") || f.Message == "" {
			t.Errorf("got P3 messages %q / %q, want the operator told the round is void, in Chinese too", f.Message, f.MessageEN)
		}
		rec := mustGet(t, d, "tally_sheet", "ts-void")
		if !rec.Pending || rec.Seq != got.Change.Seq || string(rec.Body) != string(got.Change.Body) {
			t.Errorf("got %+v, want the rule-breaking sheet stored as captured, pending sync", rec)
		}
		// Capturing it again changes nothing and warns again.
		again, err := d.Capture(ctx, "tally_sheet", "ts-void", []byte(tallySheet(village, 1, 100, 103, 50)))
		if err != nil {
			t.Fatal(err)
		}
		if again.Change.Seq != got.Change.Seq {
			t.Errorf("got seq %d on capturing again, want the held change %d", again.Change.Seq, got.Change.Seq)
		}
		if _, ok := finding(again.Warnings, election.P3); !ok {
			t.Errorf("got warnings %+v on capturing again, want P3 again", again.Warnings)
		}
	})

	t.Run("OKClean", func(t *testing.T) {
		got := mustCapture(t, d, "tally_sheet", "ts-r2", tallySheet(village, 2, 120, 118, 80))
		if len(got.Warnings) != 0 {
			t.Errorf("got warnings %+v for a consistent sheet, want none", got.Warnings)
		}
	})

	t.Run("OKReview", func(t *testing.T) {
		got := mustCapture(t, d, "attendance", "att-1", attendance(village, 96)) // exactly 4/5 of 120
		if f, ok := finding(got.Warnings, election.P1); !ok || f.Outcome != election.Review {
			t.Errorf("got warnings %+v, want P1 REVIEW", got.Warnings)
		}
	})

	t.Run("PutIsCapture", func(t *testing.T) {
		c := mustPut(t, d, "tally_sheet", "ts-r3", tallySheet(village, 3, 10, 12, 5))
		rec := mustGet(t, d, "tally_sheet", "ts-r3")
		if rec.Seq != c.Seq {
			t.Errorf("got record seq %d, want the change Put returned, %d", rec.Seq, c.Seq)
		}
	})
}

func TestCaptureSlotConflict(t *testing.T) {
	ctx := context.Background()
	_, d, _ := stationWithElection(t, testOptions(&sleeps{}))
	slot := village + "-PC/round/1"

	first := mustCapture(t, d, "tally_sheet", "ts-1", tallySheet(village, 1, 120, 118, 80))
	if _, ok := finding(first.Warnings, election.D2); ok {
		t.Fatalf("got a D2 warning for the first sheet of the round: %+v", first.Warnings)
	}
	second := mustCapture(t, d, "tally_sheet", "ts-2", tallySheet(village, 1, 120, 118, 70))
	id := wantConflictID("slot", "tally_sheet", slot, ref(first.Change), ref(second.Change))
	f, ok := finding(second.Warnings, election.D2)
	if !ok || f.Outcome != election.Review {
		t.Fatalf("got warnings %+v, want a D2 REVIEW for the second sheet of the round", second.Warnings)
	}
	if !strings.Contains(f.MessageEN, "ts-1") || !strings.Contains(f.Message, "ts-1") || !strings.Contains(f.MessageEN, id) {
		t.Errorf("got D2 messages %q / %q, want them to name the other sheet ts-1 and conflict %s", f.Message, f.MessageEN, id)
	}
	if !slices.Contains(f.Evidence, election.Ref{Collection: "tally_sheet", ID: "ts-1"}) {
		t.Errorf("got evidence %v, want tally_sheet ts-1", f.Evidence)
	}

	// Both sheets are stored as captured and marked.
	for _, c := range []syncproto.Change{first.Change, second.Change} {
		rec := mustGet(t, d, "tally_sheet", c.ID)
		if string(rec.Body) != string(c.Body) || rec.Conflict != id || len(rec.Versions) != 2 || rec.Superseded {
			t.Errorf("got %s: conflict %q, %d versions, superseded %t, want its own body, conflict %s with 2 versions",
				c.ID, rec.Conflict, len(rec.Versions), rec.Superseded, id)
		}
	}
	cs := mustConflicts(t, d)
	if len(cs) != 1 || cs[0].ID != id || cs[0].Kind != client.ConflictSlot || cs[0].Slot != slot || cs[0].Collection != "tally_sheet" {
		t.Fatalf("got conflicts %+v, want slot conflict %s on %s", cs, id, slot)
	}
	for _, v := range cs[0].Versions {
		if !v.Own || v.Device != d.ID() || v.At.IsZero() || len(v.Body) == 0 {
			t.Errorf("got version %+v, want it authored here, timed and with its body", v)
		}
	}

	// A third sheet joins: the conflict is a new one with three versions.
	third := mustCapture(t, d, "tally_sheet", "ts-3", tallySheet(village, 1, 120, 118, 80)) // as ts-1
	id3 := wantConflictID("slot", "tally_sheet", slot, ref(first.Change), ref(second.Change), ref(third.Change))
	if f, ok := finding(third.Warnings, election.D2); !ok || !strings.Contains(f.MessageEN, "ts-2") {
		t.Errorf("got warnings %+v, want D2 naming ts-2", third.Warnings)
	}
	cs = mustConflicts(t, d)
	if len(cs) != 1 || cs[0].ID != id3 || len(cs[0].Versions) != 3 {
		t.Fatalf("got conflicts %+v, want only %s with 3 versions", cs, id3)
	}
	st, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Conflicts != 1 || st.LastSeq != 3 {
		t.Errorf("got status conflicts %d last seq %d, want 1 and 3", st.Conflicts, st.LastSeq)
	}
	// Other slots are not affected.
	if w := mustCapture(t, d, "tally_sheet", "ts-r2", tallySheet(village, 2, 120, 118, 80)); len(w.Warnings) != 0 {
		t.Errorf("got warnings %+v for round 2, want none", w.Warnings)
	}
}

func TestSlotConflictAcrossStations(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	f.seedVillage(village)
	a, _ := mustEnroll(t, f, election.RoleStation, village, testOptions(&sleeps{}))
	b, _ := mustEnroll(t, f, election.RoleStation, village, testOptions(&sleeps{}))
	mustSync(t, a)
	mustSync(t, b)

	sa := mustPut(t, a, "tally_sheet", "ts-a", tallySheet(village, 1, 120, 118, 80))
	sb := mustPut(t, b, "tally_sheet", "ts-b", tallySheet(village, 1, 120, 118, 79))
	if rep := mustSync(t, a); rep.Conflicts != 0 {
		t.Errorf("got %d conflicts opened on station A's first sync, want 0", rep.Conflicts)
	}
	if rep := mustSync(t, b); rep.Conflicts != 1 || rep.Pushed != 1 || rep.Pulled != 1 {
		t.Errorf("got station B's sync pushed %d pulled %d conflicts %d, want 1, 1, 1", rep.Pushed, rep.Pulled, rep.Conflicts)
	}
	if rep := mustSync(t, a); rep.Conflicts != 1 {
		t.Errorf("got %d conflicts opened on station A's second sync, want 1", rep.Conflicts)
	}

	slot := village + "-PC/round/1"
	id := wantConflictID("slot", "tally_sheet", slot, ref(sa), ref(sb))
	wantRefs := slices.Sorted(slices.Values([]string{ref(sa), ref(sb)}))
	for _, d := range []*client.Device{a, b} {
		cs := mustConflicts(t, d)
		if len(cs) != 1 || cs[0].ID != id || cs[0].Kind != client.ConflictSlot || cs[0].Slot != slot {
			t.Fatalf("%s: got conflicts %+v, want slot conflict %s", d.ID(), cs, id)
		}
		if got := versionRefs(cs[0].Versions); !slices.Equal(got, wantRefs) {
			t.Errorf("%s: got versions %v, want %v", d.ID(), got, wantRefs)
		}
		for _, v := range cs[0].Versions {
			want := map[string]syncproto.Change{ref(sa): sa, ref(sb): sb}[v.Ref]
			if v.RecordID != want.ID || v.Device != want.Device || string(v.Body) != string(want.Body) || v.Own != (v.Device == d.ID()) {
				t.Errorf("%s: got version %+v, want record %s by %s with its body", d.ID(), v, want.ID, want.Device)
			}
		}
		for _, rid := range []string{"ts-a", "ts-b"} {
			rec := mustGet(t, d, "tally_sheet", rid)
			if rec.Conflict != id || len(rec.Versions) != 2 || rec.Superseded || rec.Resolution != "" {
				t.Errorf("%s: got %s conflict %q versions %d superseded %t resolution %q, want open conflict %s with 2 versions",
					d.ID(), rid, rec.Conflict, len(rec.Versions), rec.Superseded, rec.Resolution, id)
			}
		}
		if st, err := d.Status(ctx); err != nil || st.Conflicts != 1 {
			t.Errorf("%s: got status conflicts %d (%v), want 1", d.ID(), st.Conflicts, err)
		}
	}

	// The county keeps station B's sheet; the resolution syncs down.
	res := "RES-" + id
	f.publish(f.county, "resolution", res, resolutionBody(t, id, "slot", "tally_sheet", slot, ref(sb),
		resVersion{ref(sa), "ts-a"}, resVersion{ref(sb), "ts-b"}), 0)
	for _, d := range []*client.Device{a, b} {
		mustSync(t, d)
		if cs := mustConflicts(t, d); len(cs) != 0 {
			t.Errorf("%s: got open conflicts %+v after the resolution, want none", d.ID(), cs)
		}
		if st, err := d.Status(ctx); err != nil || st.Conflicts != 0 {
			t.Errorf("%s: got status conflicts %d (%v), want 0", d.ID(), st.Conflicts, err)
		}
		lost, kept := mustGet(t, d, "tally_sheet", "ts-a"), mustGet(t, d, "tally_sheet", "ts-b")
		if !lost.Superseded || lost.Conflict != "" || lost.Resolution != res || string(lost.Body) != string(sa.Body) {
			t.Errorf("%s: got ts-a %+v, want it kept as evidence, superseded by %s", d.ID(), lost, res)
		}
		if kept.Superseded || kept.Conflict != "" || kept.Resolution != res {
			t.Errorf("%s: got ts-b %+v, want it current, resolved by %s", d.ID(), kept, res)
		}
		c, err := d.Conflict(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Resolution != res || c.Keep != ref(sb) || len(c.Versions) != 2 {
			t.Errorf("%s: got conflict %+v, want resolved by %s keeping %s", d.ID(), c, res, ref(sb))
		}
	}

	// A later sheet for the round conflicts with the kept one only.
	sc := mustCapture(t, a, "tally_sheet", "ts-c", tallySheet(village, 1, 120, 118, 60))
	w, ok := finding(sc.Warnings, election.D2)
	if !ok || !strings.Contains(w.MessageEN, "ts-b") || strings.Contains(w.MessageEN, "ts-a") {
		t.Errorf("got warnings %+v, want D2 naming ts-b, not the superseded ts-a", sc.Warnings)
	}
	mustSync(t, a)
	mustSync(t, b)
	id2 := wantConflictID("slot", "tally_sheet", slot, ref(sb), ref(sc.Change))
	for _, d := range []*client.Device{a, b} {
		if cs := mustConflicts(t, d); len(cs) != 1 || cs[0].ID != id2 {
			t.Errorf("%s: got conflicts %+v, want %s", d.ID(), cs, id2)
		}
	}
	if _, err := a.Conflict(ctx, "CF-0000000000000000"); syncproto.ErrorCode(err) != syncproto.CodeNotFound {
		t.Errorf("got %v for an unknown conflict, want not found", err)
	}
}

func TestRecordConflictAcrossStations(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	f.seedVillage(village)
	a, _ := mustEnroll(t, f, election.RoleStation, village, testOptions(&sleeps{}))
	b, _ := mustEnroll(t, f, election.RoleStation, village, testOptions(&sleeps{}))
	mustSync(t, a)
	mustSync(t, b)

	// Both laptops record sheet ts-1, with different numbers.
	va := mustPut(t, a, "tally_sheet", "ts-1", tallySheet(village, 1, 120, 118, 80))
	vb := mustPut(t, b, "tally_sheet", "ts-1", tallySheet(village, 1, 120, 118, 81))
	mustSync(t, a)
	mustSync(t, b)
	mustSync(t, a)

	id := wantConflictID("record", "tally_sheet", "ts-1", ref(va), ref(vb))
	var shown []string
	for _, d := range []*client.Device{a, b} {
		cs := mustConflicts(t, d)
		if len(cs) != 1 || cs[0].ID != id || cs[0].Kind != client.ConflictRecord || cs[0].RecordID != "ts-1" || len(cs[0].Versions) != 2 {
			t.Fatalf("%s: got conflicts %+v, want record conflict %s with 2 versions", d.ID(), cs, id)
		}
		rec := mustGet(t, d, "tally_sheet", "ts-1")
		if rec.Conflict != id || len(rec.Versions) != 2 {
			t.Errorf("%s: got ts-1 conflict %q with %d versions, want %s with 2", d.ID(), rec.Conflict, len(rec.Versions), id)
		}
		shown = append(shown, string(rec.Body))
	}
	if shown[0] != shown[1] {
		t.Errorf("got provisional bodies %s and %s, want every replica to show the same", shown[0], shown[1])
	}

	// The laptop may repeat its own capture, but not rewrite the fact.
	if again := mustPut(t, a, "tally_sheet", "ts-1", tallySheet(village, 1, 120, 118, 80)); again.Seq != va.Seq {
		t.Errorf("got seq %d capturing its own version again, want %d", again.Seq, va.Seq)
	}
	_, err := a.Put(ctx, "tally_sheet", "ts-1", []byte(tallySheet(village, 1, 120, 118, 82)))
	wantCode(t, err, syncproto.CodeConflict)

	res := "RES-" + id
	f.publish(f.county, "resolution", res, resolutionBody(t, id, "record", "tally_sheet", "", ref(vb),
		resVersion{ref(va), "ts-1"}, resVersion{ref(vb), "ts-1"}), 0)
	for _, d := range []*client.Device{a, b} {
		mustSync(t, d)
		rec := mustGet(t, d, "tally_sheet", "ts-1")
		if string(rec.Body) != string(vb.Body) || rec.Device != vb.Device || rec.Conflict != "" || rec.Resolution != res || rec.Superseded {
			t.Errorf("%s: got ts-1 %+v, want station B's version, resolved by %s", d.ID(), rec, res)
		}
		if cs := mustConflicts(t, d); len(cs) != 0 {
			t.Errorf("%s: got open conflicts %+v, want none", d.ID(), cs)
		}
	}
}

func TestStaleElectionEdit(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	f.seedVillage(village)
	county, _ := mustEnroll(t, f, election.RoleCounty, "220422", testOptions(&sleeps{}))
	station, _ := mustEnroll(t, f, election.RoleStation, village, testOptions(&sleeps{}))
	mustSync(t, county)
	mustSync(t, station)
	eid := village + "-PC"

	// The county laptop raises the seats from version 1 while another
	// county user, also on version 1, lowers them.
	own := mustPut(t, county, "election", eid, electionBody(village, 7, "LOCKED"))
	if own.Base != 1 {
		t.Fatalf("got base %d, want 1", own.Base)
	}
	rival := newFakeAuthor(t)
	other := f.publish(rival, "election", eid, electionBody(village, 3, "LOCKED"), 1)
	if rep := mustSync(t, county); rep.Conflicts != 1 || rep.Pushed != 1 {
		t.Errorf("got %d conflicts, pushed %d, want 1 and 1", rep.Conflicts, rep.Pushed)
	}
	mustSync(t, station)

	id := wantConflictID("record", "election", eid, ref(own), ref(other))
	for _, d := range []*client.Device{county, station} {
		rec := mustGet(t, d, "election", eid)
		if rec.Conflict != id || rec.Version != 2 || len(rec.Versions) != 2 {
			t.Fatalf("%s: got election conflict %q version %d with %d versions, want %s, 2, 2", d.ID(), rec.Conflict, rec.Version, len(rec.Versions), id)
		}
		if b := string(rec.Body); b != string(own.Body) && b != string(other.Body) {
			t.Errorf("%s: got body %s, want one of the two versions unchanged (no merge)", d.ID(), b)
		}
		for _, v := range rec.Versions {
			if v.Base != 1 {
				t.Errorf("%s: got version %s based on %d, want 1", d.ID(), v.Ref, v.Base)
			}
		}
	}
	// The two replicas show the same provisional state.
	if c, s := mustGet(t, county, "election", eid), mustGet(t, station, "election", eid); string(c.Body) != string(s.Body) {
		t.Errorf("got county body %s, station body %s, want the same", c.Body, s.Body)
	}

	// An edit based on the current version still applies; the conflict
	// stays open until the county decides.
	next := f.publish(rival, "election", eid, electionBody(village, 3, "HELD"), 2)
	if rep := mustSync(t, county); rep.Conflicts != 0 || rep.Pulled != 1 {
		t.Errorf("got %d conflicts, pulled %d, want 0 and 1", rep.Conflicts, rep.Pulled)
	}
	rec := mustGet(t, county, "election", eid)
	if rec.Version != 3 || string(rec.Body) != string(next.Body) || rec.Conflict != id {
		t.Errorf("got %+v, want version 3 by the rival, conflict %s still open", rec, id)
	}
	if st, err := county.Status(ctx); err != nil || st.Conflicts != 1 {
		t.Errorf("got status conflicts %d (%v), want 1", st.Conflicts, err)
	}

	// The county keeps its own seats: the resolution sets the body.
	res := "RES-" + id
	f.publish(f.county, "resolution", res, resolutionBody(t, id, "record", "election", "", ref(own),
		resVersion{ref(own), eid}, resVersion{ref(other), eid}), 0)
	for _, d := range []*client.Device{county, station} {
		mustSync(t, d)
		rec := mustGet(t, d, "election", eid)
		if string(rec.Body) != string(own.Body) || rec.Version != 3 || rec.Conflict != "" || rec.Resolution != res {
			t.Errorf("%s: got %+v, want the kept version's body at version 3, resolved by %s", d.ID(), rec, res)
		}
	}
	// The next edit is based on the resolved version and conflicts with nothing.
	if c := mustPut(t, county, "election", eid, electionBody(village, 7, "HELD")); c.Base != 3 {
		t.Errorf("got base %d, want 3", c.Base)
	}
	if cs := mustConflicts(t, county); len(cs) != 0 {
		t.Errorf("got conflicts %+v, want none", cs)
	}
}

func TestResolutionBeforeVersion(t *testing.T) {
	f := newFakeServer(t)
	f.seedVillage(village)
	a, _ := mustEnroll(t, f, election.RoleStation, village, testOptions(&sleeps{}))
	b, _ := mustEnroll(t, f, election.RoleStation, village, testOptions(&sleeps{}))
	mustSync(t, a)
	mustSync(t, b)
	slot := village + "-PC/round/1"

	sa := mustPut(t, a, "tally_sheet", "ts-a", tallySheet(village, 1, 120, 118, 80))
	mustSync(t, a)
	sb := mustPut(t, b, "tally_sheet", "ts-b", tallySheet(village, 1, 120, 118, 79)) // not synced yet
	id := wantConflictID("slot", "tally_sheet", slot, ref(sa), ref(sb))
	res := "RES-" + id
	f.publish(f.county, "resolution", res, resolutionBody(t, id, "slot", "tally_sheet", slot, ref(sb),
		resVersion{ref(sa), "ts-a"}, resVersion{ref(sb), "ts-b"}), 0)

	// Station A holds the resolution but not yet the version it keeps.
	mustSync(t, a)
	if rec := mustGet(t, a, "tally_sheet", "ts-a"); rec.Superseded || rec.Conflict != "" || rec.Resolution != "" {
		t.Errorf("got ts-a %+v before the other version arrived, want it untouched", rec)
	}
	if _, err := a.Conflict(context.Background(), id); syncproto.ErrorCode(err) != syncproto.CodeNotFound {
		t.Errorf("got %v, want the conflict not yet known", err)
	}

	mustSync(t, b) // pushes ts-b, pulls ts-a and the resolution
	mustSync(t, a) // pulls ts-b
	for _, d := range []*client.Device{a, b} {
		if cs := mustConflicts(t, d); len(cs) != 0 {
			t.Errorf("%s: got open conflicts %+v, want none", d.ID(), cs)
		}
		if rec := mustGet(t, d, "tally_sheet", "ts-a"); !rec.Superseded || rec.Resolution != res {
			t.Errorf("%s: got ts-a %+v, want superseded by %s", d.ID(), rec, res)
		}
		if rec := mustGet(t, d, "tally_sheet", "ts-b"); rec.Superseded || rec.Resolution != res {
			t.Errorf("%s: got ts-b %+v, want kept, resolved by %s", d.ID(), rec, res)
		}
	}
}

func TestResolutionMalformedIgnored(t *testing.T) {
	f := newFakeServer(t)
	f.seedVillage(village)
	d, _ := mustEnroll(t, f, election.RoleStation, village, testOptions(&sleeps{}))
	mustSync(t, d)
	x := f.publish(newFakeAuthor(t), "tally_sheet", "ts-x", tallySheet(village, 1, 120, 118, 80), 0)
	y := f.publish(newFakeAuthor(t), "tally_sheet", "ts-y", tallySheet(village, 1, 120, 118, 79), 0)
	slot := village + "-PC/round/1"
	id := wantConflictID("slot", "tally_sheet", slot, ref(x), ref(y))
	// The id does not match the versions: the conflict is of other records.
	forged := wantConflictID("slot", "tally_sheet", slot, ref(x), "dev-0000/1")
	f.publish(f.county, "resolution", "RES-"+forged, resolutionBody(t, forged, "slot", "tally_sheet", slot, ref(x),
		resVersion{ref(x), "ts-x"}, resVersion{ref(y), "ts-y"}), 0)
	mustSync(t, d)
	if cs := mustConflicts(t, d); len(cs) != 1 || cs[0].ID != id {
		t.Fatalf("got conflicts %+v, want %s still open", cs, id)
	}
	if rec := mustGet(t, d, "tally_sheet", "ts-y"); rec.Superseded || rec.Resolution != "" {
		t.Errorf("got ts-y %+v, want it untouched by a resolution that does not add up", rec)
	}
	if rec := mustGet(t, d, "resolution", "RES-"+forged); rec.Device != f.county.id {
		t.Errorf("got %+v, want the resolution record held all the same", rec)
	}
}

// conflictScenario is a set of changes by distinct authors with fixed
// clocks: a slot conflict resolved by a resolution older than its versions
// and joined by a third sheet, and a stale election edit resolved and then
// edited. Whatever order they arrive in, a device must end in one state.
type conflictScenario struct {
	changes            []syncproto.Change
	x, y, z            syncproto.Change // sheets of one round
	e1, e2, e3         syncproto.Change // election edits: e1, e2 on version 1, e3 on 2
	slotRes, recordRes string           // resolution record ids
	slotID, recordID   string           // the conflicts they resolve
	openID             string           // what stays open
}

func newConflictScenario(tb testing.TB) *conflictScenario {
	tb.Helper()
	w := time.Now().Add(time.Hour).UnixMilli() // after the seed data of any fake server
	sheet := func(yes int, wall int64, id string) syncproto.Change {
		return newFakeAuthor(tb).change("tally_sheet", id, tallySheet(village, 1, 120, 118, yes), 0, wall)
	}
	edit := func(seats int, status string, base uint64, wall int64) syncproto.Change {
		return newFakeAuthor(tb).change("election", village+"-PC", electionBody(village, seats, status), base, wall)
	}
	s := &conflictScenario{
		x:  sheet(80, w+2, "ts-x"),
		y:  sheet(79, w+3, "ts-y"),
		z:  sheet(78, w+5, "ts-z"),
		e1: edit(7, "LOCKED", 1, w+10),
		e2: edit(9, "LOCKED", 1, w+11),
		e3: edit(9, "HELD", 2, w+13),
	}
	slot := village + "-PC/round/1"
	s.slotID = wantConflictID("slot", "tally_sheet", slot, ref(s.x), ref(s.y))
	s.recordID = wantConflictID("record", "election", village+"-PC", ref(s.e1), ref(s.e2))
	s.openID = wantConflictID("slot", "tally_sheet", slot, ref(s.x), ref(s.z))
	s.slotRes, s.recordRes = "RES-"+s.slotID, "RES-"+s.recordID
	authority := newFakeAuthor(tb)
	r1 := authority.change("resolution", s.slotRes, resolutionBody(tb, s.slotID, "slot", "tally_sheet", slot, ref(s.x),
		resVersion{ref(s.x), "ts-x"}, resVersion{ref(s.y), "ts-y"}), 0, w+1) // before its versions
	r2 := authority.change("resolution", s.recordRes, resolutionBody(tb, s.recordID, "record", "election", "", ref(s.e2),
		resVersion{ref(s.e1), village + "-PC"}, resVersion{ref(s.e2), village + "-PC"}), 0, w+12)
	s.changes = []syncproto.Change{s.x, s.y, s.z, s.e1, s.e2, s.e3, r1, r2}
	return s
}

// check fails unless d shows the scenario's final state.
func (s *conflictScenario) check(tb testing.TB, d *client.Device, order string) {
	tb.Helper()
	cs := mustConflicts(tb, d)
	if len(cs) != 1 || cs[0].ID != s.openID || !slices.Equal(versionRefs(cs[0].Versions), slices.Sorted(slices.Values([]string{ref(s.x), ref(s.z)}))) {
		tb.Fatalf("order %s: got open conflicts %+v, want only %s of ts-x and ts-z", order, cs, s.openID)
	}
	want := []struct {
		id                 string
		conflict, resolved string
		superseded         bool
	}{
		{"ts-x", s.openID, s.slotRes, false},
		{"ts-y", "", s.slotRes, true},
		{"ts-z", s.openID, "", false},
	}
	for _, w := range want {
		rec := mustGet(tb, d, "tally_sheet", w.id)
		if rec.Conflict != w.conflict || rec.Resolution != w.resolved || rec.Superseded != w.superseded {
			tb.Errorf("order %s: got %s conflict %q resolution %q superseded %t, want %q, %q, %t",
				order, w.id, rec.Conflict, rec.Resolution, rec.Superseded, w.conflict, w.resolved, w.superseded)
		}
	}
	rec := mustGet(tb, d, "election", village+"-PC")
	if string(rec.Body) != string(s.e3.Body) || rec.Version != 3 || rec.Conflict != "" || rec.Resolution != s.recordRes {
		tb.Errorf("order %s: got election %+v, want e3 at version 3, resolved by %s", order, rec, s.recordRes)
	}
	for _, id := range []string{s.slotID, s.recordID} {
		c, err := d.Conflict(context.Background(), id)
		if err != nil || c.Resolution != "RES-"+id {
			tb.Errorf("order %s: got conflict %s %+v (%v), want it resolved", order, id, c, err)
		}
	}
}

func TestConflictsOrderIndependent(t *testing.T) {
	s := newConflictScenario(t)
	orders := [][]int{{0, 1, 2, 3, 4, 5, 6, 7}, {7, 6, 5, 4, 3, 2, 1, 0}}
	for seed := range uint64(10) {
		orders = append(orders, rand.New(rand.NewPCG(seed, 1)).Perm(len(s.changes)))
	}
	for i, order := range orders {
		name := fmt.Sprint(order)
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 2))
			f := newFakeServer(t)
			f.seedVillage(village)
			d, _ := mustEnroll(t, f, election.RoleStation, village, testOptions(&sleeps{}))
			mustSync(t, d)
			for _, k := range order {
				f.publishChange(s.changes[k])
				if rng.IntN(2) == 0 {
					mustSync(t, d)
				}
			}
			mustSync(t, d)
			s.check(t, d, name)
		})
	}
}

func TestReindex(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	f.seedVillage(village)
	d, dir := mustEnroll(t, f, election.RoleStation, village, testOptions(&sleeps{}))
	mustSync(t, d)
	own := mustPut(t, d, "tally_sheet", "ts-own", tallySheet(village, 1, 120, 118, 80))
	other := f.publish(newFakeAuthor(t), "tally_sheet", "ts-other", tallySheet(village, 1, 120, 118, 79), 0)
	mustSync(t, d)
	before := mustConflicts(t, d)
	if len(before) != 1 || before[0].ID != wantConflictID("slot", "tally_sheet", village+"-PC/round/1", ref(own), ref(other)) {
		t.Fatalf("got conflicts %+v, want the slot conflict", before)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	// A store from before versions were kept: the derived tables are empty
	// and the migration asks for a rebuild.
	u := url.URL{Scheme: "file", Path: filepath.Join(dir, "device.db"), RawQuery: "_pragma=foreign_keys(1)"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DELETE FROM versions`, `DELETE FROM conflicts`, `DELETE FROM resolutions`, `UPDATE records SET slot = ''`,
		`INSERT INTO meta (key, value) VALUES ('reindex', '1')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	d2, err := client.Open(ctx, dir, testOptions(&sleeps{}))
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	after := mustConflicts(t, d2)
	if len(after) != 1 || after[0].ID != before[0].ID || len(after[0].Versions) != 2 {
		t.Errorf("got conflicts %+v after the rebuild, want %s with 2 versions", after, before[0].ID)
	}
	if rec := mustGet(t, d2, "tally_sheet", "ts-own"); rec.Conflict != before[0].ID || rec.Pending || rec.Device != d2.ID() {
		t.Errorf("got %+v, want ts-own, synced, in conflict %s", rec, before[0].ID)
	}
}

func TestResolutionsChain(t *testing.T) {
	// Three laptops recorded sheet ts-1 differently. The server saw A and
	// B, resolved for B, then saw C and resolved for C. Here both
	// resolutions carry clocks older than every version (a county clock
	// behind), so they wait; the first to apply must unlock the second.
	w := time.Now().Add(time.Hour).UnixMilli()
	body := func(yes int) string { return tallySheet(village, 1, 120, 118, yes) }
	a := newFakeAuthor(t).change("tally_sheet", "ts-1", body(80), 0, w+1)
	c := newFakeAuthor(t).change("tally_sheet", "ts-1", body(78), 0, w+2)
	b := newFakeAuthor(t).change("tally_sheet", "ts-1", body(79), 0, w+3)
	idAB := wantConflictID("record", "tally_sheet", "ts-1", ref(a), ref(b))
	idBC := wantConflictID("record", "tally_sheet", "ts-1", ref(b), ref(c))
	authority := newFakeAuthor(t)
	r1 := authority.change("resolution", "RES-"+idAB, resolutionBody(t, idAB, "record", "tally_sheet", "", ref(b),
		resVersion{ref(a), "ts-1"}, resVersion{ref(b), "ts-1"}), 0, w)
	r2 := authority.change("resolution", "RES-"+idBC, resolutionBody(t, idBC, "record", "tally_sheet", "", ref(c),
		resVersion{ref(b), "ts-1"}, resVersion{ref(c), "ts-1"}), 0, w)

	for _, order := range [][]syncproto.Change{{a, b, r1, c, r2}, {r2, r1, a, c, b}, {c, r1, b, r2, a}} {
		f := newFakeServer(t)
		f.seedVillage(village)
		d, _ := mustEnroll(t, f, election.RoleStation, village, testOptions(&sleeps{}))
		for _, ch := range order {
			f.publishChange(ch)
		}
		mustSync(t, d)
		rec := mustGet(t, d, "tally_sheet", "ts-1")
		if string(rec.Body) != string(c.Body) || rec.Conflict != "" || rec.Resolution != "RES-"+idBC {
			t.Errorf("got ts-1 %+v, want C's body, resolved by RES-%s", rec, idBC)
		}
		if cs := mustConflicts(t, d); len(cs) != 0 {
			t.Errorf("got open conflicts %+v, want none", cs)
		}
		for _, id := range []string{idAB, idBC} {
			if got, err := d.Conflict(context.Background(), id); err != nil || got.Resolution != "RES-"+id {
				t.Errorf("got conflict %s %+v (%v), want it resolved", id, got, err)
			}
		}
	}
}
