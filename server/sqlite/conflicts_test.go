package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/sqlite"
	"villagesync/syncproto"
)

// conflicts returns every conflict of st.
func conflicts(tb testing.TB, st *sqlite.Store) []server.Conflict {
	tb.Helper()
	snap, err := st.Snapshot(context.Background())
	if err != nil {
		tb.Fatalf("snapshot: %v", err)
	}
	return snap.Conflicts
}

// openConflicts returns the open conflicts of st.
func openConflicts(tb testing.TB, st *sqlite.Store) []server.Conflict {
	tb.Helper()
	var open []server.Conflict
	for _, c := range conflicts(tb, st) {
		if c.Status() == server.ConflictOpen {
			open = append(open, c)
		}
	}
	return open
}

// refs returns the refs of a conflict's versions.
func refs(c server.Conflict) []string {
	var out []string
	for _, v := range c.Versions {
		out = append(out, v.Ref())
	}
	return out
}

// ref is the version ref of an incoming change.
func ref(in server.Incoming) string { return server.VersionRef(in.Change.Device, in.Change.Seq) }

// wantConflict checks that c is an open conflict of kind about subject with
// exactly the versions of ins.
func wantConflict(tb testing.TB, c server.Conflict, kind, collection, subject string, ins ...server.Incoming) {
	tb.Helper()
	var want []string
	for _, in := range ins {
		want = append(want, ref(in))
	}
	slices.Sort(want)
	id := server.ConflictID(kind, collection, subject, want)
	if c.ID != id || c.Kind != kind || c.Collection != collection || c.Subject != subject || !slices.Equal(refs(c), want) {
		tb.Fatalf("got conflict %s %s %s/%s with %v, want %s %s %s/%s with %v", c.ID, c.Kind, c.Collection, c.Subject, refs(c),
			id, kind, collection, subject, want)
	}
	for i, v := range c.Versions {
		in := ins[slices.IndexFunc(ins, func(in server.Incoming) bool { return ref(in) == want[i] })]
		if string(v.Body) != string(in.Change.Body) || v.HLC != in.Change.HLC || v.At != in.Change.At || v.Place != in.Place {
			tb.Errorf("version %s: got body %s hlc %+v at %d place %+v, want the change's", v.Ref(), v.Body, v.HLC, v.At, v.Place)
		}
	}
}

// record returns a stored record.
func record(tb testing.TB, st *sqlite.Store, collection, id string) server.Record {
	tb.Helper()
	rec, err := st.Record(context.Background(), collection, id)
	if err != nil {
		tb.Fatalf("record %s %s: %v", collection, id, err)
	}
	return rec
}

// sheet is a tally sheet body for round of village's election.
func sheet(village string, round, valid int) string {
	return `{"election":"` + village + `-PC","round":` + itoa(round) + `,"kind":"FORMAL","valid":` + itoa(valid) + `}`
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// slotOf returns in with the slot the service would compute.
func slotOf(tb testing.TB, in server.Incoming) server.Incoming {
	tb.Helper()
	c, ok := election.LookupCollection(in.Change.Collection)
	if !ok {
		tb.Fatalf("unknown collection %s", in.Change.Collection)
	}
	in.Slot = c.Slot(in.Change.ID, in.Change.Body)
	if in.Slot == "" {
		tb.Fatalf("%s %s claims no slot", in.Change.Collection, in.Change.Body)
	}
	return in
}

// resolution authors a resolution of conflict c by d, keeping keep.
func resolution(tb testing.TB, d *testDevice, c server.Conflict, keep string) server.Incoming {
	tb.Helper()
	body := map[string]any{
		"conflict": c.ID, "kind": c.Kind, "collection": c.Collection, "slot": "",
		"keep": keep, "reason": "与纸质原件核对", "resolved_by": "county-admin", "resolved_at": "2026-03-08T10:00:00Z",
	}
	if c.Kind == election.ConflictSlot {
		body["slot"] = c.Subject
	}
	var vs []map[string]string
	for _, v := range c.Versions {
		vs = append(vs, map[string]string{"ref": v.Ref(), "id": v.RecordID})
	}
	body["versions"] = vs
	b, err := syncproto.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	return d.next(tb, "resolution", "RES-"+c.ID, string(b), 0, c.Place)
}

func TestPush_Conflicts(t *testing.T) {
	ctx := context.Background()
	place := villagePlace(village1)

	t.Run("FactSameID", func(t *testing.T) {
		st := MustOpen(t)
		a := newDevice(t, st, "station", election.RoleStation, village1)
		b := newDevice(t, st, "supervisor", election.RoleSupervisor, baiquan)
		first := a.next(t, "tally_sheet", village1+"-PC-1", `{"valid":90}`, 0, place)
		second := b.next(t, "tally_sheet", village1+"-PC-1", `{"valid":91}`, 0, place)
		if res := mustPush(t, st, a, first); res.Conflicts != 0 {
			t.Fatalf("got %d conflicts for a new record, want 0", res.Conflicts)
		}
		res := mustPush(t, st, b, second)
		if res.Conflicts != 1 || res.Applied != 1 {
			t.Fatalf("got %+v, want 1 applied with 1 conflict", res)
		}
		rec := record(t, st, "tally_sheet", village1+"-PC-1")
		if string(rec.Body) != `{"valid":90}` || rec.Version != 1 || rec.Device != a.id() {
			t.Fatalf("got record %+v, want the first version kept", rec)
		}
		cs := conflicts(t, st)
		if len(cs) != 1 {
			t.Fatalf("got %d conflicts, want 1", len(cs))
		}
		wantConflict(t, cs[0], election.ConflictRecord, "tally_sheet", village1+"-PC-1", first, second)
		if cs[0].Place != place || cs[0].Status() != server.ConflictOpen || !cs[0].Created.Equal(t0) || cs[0].Pos != 2 {
			t.Fatalf("got %+v, want an open conflict at %+v created %v at log position 2", cs[0], place, t0)
		}
		if rec.Conflict != cs[0].ID {
			t.Errorf("got record conflict %q, want %q", rec.Conflict, cs[0].ID)
		}
		if s := mustStats(t, st); s.Conflicts != 1 || s.OpenConflicts != 1 || s.Changes != 2 {
			t.Fatalf("got %+v, want 1 open conflict and both changes in the log", s)
		}
		// Both versions stay in the log for everyone who may read them.
		if log := pullAll(t, st, election.Scope{Role: election.RoleCounty, Code: county}, ""); len(log) != 2 {
			t.Fatalf("got %d changes in the log, want 2", len(log))
		}
	})

	// A fact is append-only: rewriting it on any base is a conflict, never
	// an edit.
	t.Run("FactRewrittenOnBase", func(t *testing.T) {
		st := MustOpen(t)
		a := newDevice(t, st, "station", election.RoleStation, village1)
		first := a.next(t, "tally_sheet", "sheet", sheet(village1, 1, 90), 0, place)
		again := a.next(t, "tally_sheet", "sheet", sheet(village1, 1, 95), 1, place)
		res := mustPush(t, st, a, first, again)
		if res.Applied != 2 || res.Conflicts != 1 {
			t.Fatalf("got %+v, want 2 applied with 1 conflict", res)
		}
		if rec := record(t, st, "tally_sheet", "sheet"); string(rec.Body) != sheet(village1, 1, 90) || rec.Version != 1 {
			t.Fatalf("got %s version %d, want the first body at version 1", rec.Body, rec.Version)
		}
		wantConflict(t, conflicts(t, st)[0], election.ConflictRecord, "tally_sheet", "sheet", first, again)
	})

	t.Run("SameBodyIsNoConflict", func(t *testing.T) {
		st := MustOpen(t)
		a := newDevice(t, st, "station", election.RoleStation, village1)
		b := newDevice(t, st, "supervisor", election.RoleSupervisor, baiquan)
		mustPush(t, st, a, a.next(t, "problem", "p1", `{"category":"x"}`, 0, place))
		res := mustPush(t, st, b, b.next(t, "problem", "p1", `{"category":"x"}`, 0, place))
		if res.Conflicts != 0 || res.Applied != 1 {
			t.Fatalf("got %+v, want applied without conflict", res)
		}
		rec, err := st.Record(ctx, "problem", "p1")
		if err != nil || rec.Version != 1 || rec.Device != a.id() {
			t.Fatalf("got %+v (%v), want version 1 by the first author", rec, err)
		}
	})

	t.Run("ProvisionalByClock", func(t *testing.T) {
		// Two versions of one fact arrive in the reverse of their clock
		// order: the record shows the earlier by the clock, as every
		// device replaying the same versions does.
		st := MustOpen(t)
		a := newDevice(t, st, "station", election.RoleStation, village1)
		b := newDevice(t, st, "supervisor", election.RoleSupervisor, baiquan)
		b.clock = a.clock + 100
		late := b.next(t, "problem", "p1", `{"category":"late"}`, 0, place)
		early := a.next(t, "problem", "p1", `{"category":"early"}`, 0, place)
		mustPush(t, st, b, late)
		if res := mustPush(t, st, a, early); res.Conflicts != 1 {
			t.Fatalf("got %d conflicts, want 1", res.Conflicts)
		}
		if rec := record(t, st, "problem", "p1"); string(rec.Body) != `{"category":"early"}` || rec.Device != a.id() {
			t.Fatalf("got %+v, want the earlier version by the clock shown while the conflict is open", rec)
		}
	})

	t.Run("EditableEdit", func(t *testing.T) {
		st := MustOpen(t)
		c := newDevice(t, st, "county", election.RoleCounty, county)
		other := newDevice(t, st, "county2", election.RoleCounty, county)
		vp := villagePlace(village1)
		mustPush(t, st, c, c.next(t, "election", village1+"-PC", `{"seats":5}`, 0, vp))
		edit := c.next(t, "election", village1+"-PC", `{"seats":7}`, 1, vp)
		if res := mustPush(t, st, c, edit); res.Conflicts != 0 {
			t.Fatalf("got %d conflicts for an edit on the current version, want 0", res.Conflicts)
		}
		rec := record(t, st, "election", village1+"-PC")
		if rec.Version != 2 || string(rec.Body) != `{"seats":7}` || rec.Seq != 2 || rec.Pos != 2 {
			t.Fatalf("got %+v, want version 2 with seats 7 from seq 2 at pos 2", rec)
		}

		// An edit based on version 1, now stale: made later by a device
		// that had not seen the edit. (Were it earlier by the clock, every
		// replica would show it as the provisional version instead.)
		other.clock = c.clock + 10
		stale := other.next(t, "election", village1+"-PC", `{"seats":6}`, 1, vp)
		if res := mustPush(t, st, other, stale); res.Conflicts != 1 {
			t.Fatalf("got %d conflicts for a stale base, want 1", res.Conflicts)
		}
		if rec := record(t, st, "election", village1+"-PC"); rec.Version != 2 || string(rec.Body) != `{"seats":7}` {
			t.Fatalf("got %+v, want version 2 kept", rec)
		}
		wantConflict(t, openConflicts(t, st)[0], election.ConflictRecord, "election", village1+"-PC", edit, stale)

		// An edit on the current version still applies while the
		// conflict is open, as on every device; the conflict stays.
		again := c.next(t, "election", village1+"-PC", `{"seats":9}`, 2, vp)
		if res := mustPush(t, st, c, again); res.Conflicts != 0 {
			t.Fatalf("got %d conflicts for an edit on the current version, want 0", res.Conflicts)
		}
		if rec := record(t, st, "election", village1+"-PC"); rec.Version != 3 || string(rec.Body) != `{"seats":9}` {
			t.Fatalf("got %+v, want version 3", rec)
		}
		if open := openConflicts(t, st); len(open) != 1 {
			t.Fatalf("got %d open conflicts, want the stale edit's still open", len(open))
		}
	})

	t.Run("ThirdVersionSupersedes", func(t *testing.T) {
		st := MustOpen(t)
		a := newDevice(t, st, "a", election.RoleStation, village1)
		b := newDevice(t, st, "b", election.RoleStation, village1)
		c := newDevice(t, st, "c", election.RoleSupervisor, baiquan)
		v1 := a.next(t, "attendance", "att", `{"present":1}`, 0, place)
		v2 := b.next(t, "attendance", "att", `{"present":2}`, 0, place)
		v3 := c.next(t, "attendance", "att", `{"present":3}`, 0, place)
		mustPush(t, st, a, v1)
		mustPush(t, st, b, v2)
		first := openConflicts(t, st)[0]
		mustPush(t, st, c, v3)
		open := openConflicts(t, st)
		if len(open) != 1 {
			t.Fatalf("got %d open conflicts, want 1", len(open))
		}
		wantConflict(t, open[0], election.ConflictRecord, "attendance", "att", v1, v2, v3)
		all := conflicts(t, st)
		if len(all) != 2 || all[0].ID != first.ID || all[0].SupersededBy != open[0].ID || all[0].Status() != server.ConflictSuperseded {
			t.Fatalf("got %+v, want the first conflict superseded by the second", all)
		}
		// A fourth change with a body the conflict holds adds nothing.
		res := mustPush(t, st, a, a.next(t, "attendance", "att", `{"present":2}`, 0, place))
		if res.Conflicts != 0 || len(conflicts(t, st)) != 2 {
			t.Fatalf("got %+v and %d conflicts, want nothing new", res, len(conflicts(t, st)))
		}
	})

	t.Run("WithinOneBatch", func(t *testing.T) {
		st := MustOpen(t)
		d := newDevice(t, st, "station", election.RoleStation, village1)
		a := d.next(t, "attendance", "att", `{"present":10}`, 0, place)
		b := d.next(t, "attendance", "att", `{"present":11}`, 0, place)
		res := mustPush(t, st, d, a, b)
		if res.Applied != 2 || res.Conflicts != 1 {
			t.Fatalf("got %+v, want 2 applied, 1 conflict", res)
		}
	})

	t.Run("Slot", func(t *testing.T) {
		st := MustOpen(t)
		a := newDevice(t, st, "a", election.RoleStation, village1)
		b := newDevice(t, st, "b", election.RoleStation, village1)
		s1 := slotOf(t, a.next(t, "tally_sheet", "s1", sheet(village1, 1, 90), 0, place))
		s2 := slotOf(t, b.next(t, "tally_sheet", "s2", sheet(village1, 1, 91), 0, place))
		other := slotOf(t, b.next(t, "tally_sheet", "s9", sheet(village1, 2, 91), 0, place))
		mustPush(t, st, a, s1)
		if res := mustPush(t, st, b, s2, other); res.Conflicts != 1 || res.Applied != 2 {
			t.Fatalf("got %+v, want 2 applied, 1 in conflict", res)
		}
		open := openConflicts(t, st)
		if len(open) != 1 {
			t.Fatalf("got %d open conflicts, want 1 (round 2 is another slot)", len(open))
		}
		slot := village1 + "-PC/round/1"
		wantConflict(t, open[0], election.ConflictSlot, "tally_sheet", slot, s1, s2)
		for _, id := range []string{"s1", "s2"} {
			if rec := record(t, st, "tally_sheet", id); rec.Conflict != open[0].ID || rec.Slot != slot {
				t.Errorf("%s: got conflict %q slot %q, want %s in %s", id, rec.Conflict, rec.Slot, open[0].ID, slot)
			}
		}
		if rec := record(t, st, "tally_sheet", "s9"); rec.Conflict != "" {
			t.Errorf("s9: got conflict %q, want none", rec.Conflict)
		}

		// A copy of s1 under a third id joins the claims: a new conflict
		// with all three versions supersedes the first.
		copied := slotOf(t, a.next(t, "tally_sheet", "s3", sheet(village1, 1, 90), 0, place))
		mustPush(t, st, a, copied)
		open2 := openConflicts(t, st)
		wantConflict(t, open2[0], election.ConflictSlot, "tally_sheet", slot, s1, s2, copied)
		if len(open2) != 1 || len(conflicts(t, st)) != 2 {
			t.Fatalf("got %d open of %d conflicts, want 1 of 2", len(open2), len(conflicts(t, st)))
		}
	})

	t.Run("SlotCopiesAgree", func(t *testing.T) {
		st := MustOpen(t)
		a := newDevice(t, st, "a", election.RoleStation, village1)
		b := newDevice(t, st, "b", election.RoleStation, village1)
		mustPush(t, st, a, slotOf(t, a.next(t, "tally_sheet", "s1", sheet(village1, 1, 90), 0, place)))
		mustPush(t, st, b, slotOf(t, b.next(t, "tally_sheet", "s2", sheet(village1, 1, 90), 0, place)))
		if cs := conflicts(t, st); len(cs) != 0 {
			t.Fatalf("got %d conflicts for two identical sheets, want 0", len(cs))
		}
	})
}

func TestPush_Resolution(t *testing.T) {
	ctx := context.Background()
	place := villagePlace(village1)

	t.Run("RecordConflict", func(t *testing.T) {
		st := MustOpen(t)
		a := newDevice(t, st, "a", election.RoleStation, village1)
		b := newDevice(t, st, "b", election.RoleSupervisor, baiquan)
		cty := newDevice(t, st, "authority", election.RoleCounty, county)
		v1 := a.next(t, "tally_sheet", "sheet", sheet(village1, 1, 90), 0, place)
		v2 := b.next(t, "tally_sheet", "sheet", sheet(village1, 2, 91), 0, place)
		mustPush(t, st, a, slotOf(t, v1))
		mustPush(t, st, b, slotOf(t, v2))
		c := openConflicts(t, st)[0]
		res := resolution(t, cty, c, ref(v2))
		mustPush(t, st, cty, res)
		rec := record(t, st, "tally_sheet", "sheet")
		if string(rec.Body) != sheet(village1, 2, 91) || rec.Device != b.id() || rec.Version != 1 || rec.Conflict != "" ||
			rec.Slot != village1+"-PC/round/2" {
			t.Fatalf("got %+v, want b's version kept (round 2), version 1, out of conflict", rec)
		}
		got, err := st.Conflict(ctx, c.ID)
		if err != nil || got.Status() != server.ConflictResolved || got.Resolution != "RES-"+c.ID || !got.Resolved.Equal(t0) {
			t.Fatalf("got %+v (%v), want resolved by RES-%s", got, err, c.ID)
		}
		// The record is now counted in round 2's slot.
		later := slotOf(t, a.next(t, "tally_sheet", "other", sheet(village1, 2, 50), 0, place))
		mustPush(t, st, a, later)
		wantConflict(t, openConflicts(t, st)[0], election.ConflictSlot, "tally_sheet", village1+"-PC/round/2", v2, later)
	})

	t.Run("StaleEdit", func(t *testing.T) {
		st := MustOpen(t)
		c := newDevice(t, st, "county", election.RoleCounty, county)
		other := newDevice(t, st, "county2", election.RoleCounty, county)
		cty := newDevice(t, st, "authority", election.RoleCounty, county)
		mustPush(t, st, c, c.next(t, "election", village1+"-PC", `{"seats":5}`, 0, place))
		mustPush(t, st, c, c.next(t, "election", village1+"-PC", `{"seats":7}`, 1, place))
		stale := other.next(t, "election", village1+"-PC", `{"seats":6}`, 1, place)
		mustPush(t, st, other, stale)
		mustPush(t, st, cty, resolution(t, cty, openConflicts(t, st)[0], ref(stale)))
		// Every replica ends at the highest base+1 of the versions: 2.
		if rec := record(t, st, "election", village1+"-PC"); string(rec.Body) != `{"seats":6}` || rec.Version != 2 {
			t.Fatalf("got %s at version %d, want the stale edit kept at version 2", rec.Body, rec.Version)
		}
	})

	t.Run("SlotConflict", func(t *testing.T) {
		st := MustOpen(t)
		a := newDevice(t, st, "a", election.RoleStation, village1)
		b := newDevice(t, st, "b", election.RoleStation, village1)
		cty := newDevice(t, st, "authority", election.RoleCounty, county)
		s1 := slotOf(t, a.next(t, "tally_sheet", "s1", sheet(village1, 1, 90), 0, place))
		s2 := slotOf(t, b.next(t, "tally_sheet", "s2", sheet(village1, 1, 91), 0, place))
		mustPush(t, st, a, s1)
		mustPush(t, st, b, s2)
		c := openConflicts(t, st)[0]
		mustPush(t, st, cty, resolution(t, cty, c, ref(s2)))
		if rec := record(t, st, "tally_sheet", "s1"); rec.Superseded != "RES-"+c.ID || rec.Conflict != "" {
			t.Fatalf("s1: got superseded %q conflict %q, want superseded by RES-%s", rec.Superseded, rec.Conflict, c.ID)
		}
		if rec := record(t, st, "tally_sheet", "s2"); rec.Superseded != "" || string(rec.Body) != sheet(village1, 1, 91) {
			t.Fatalf("s2: got %+v, want it standing", rec)
		}
		if open := openConflicts(t, st); len(open) != 0 {
			t.Fatalf("got %d open conflicts, want none", len(open))
		}
		snap, err := st.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range snap.Records {
			if r.Collection == "tally_sheet" && r.Superseded != (r.ID == "s1") {
				t.Errorf("snapshot %s: superseded %t", r.ID, r.Superseded)
			}
		}
		// A later sheet for the slot conflicts with the kept one only.
		s3 := slotOf(t, a.next(t, "tally_sheet", "s3", sheet(village1, 1, 90), 0, place))
		mustPush(t, st, a, s3)
		wantConflict(t, openConflicts(t, st)[0], election.ConflictSlot, "tally_sheet", village1+"-PC/round/1", s2, s3)
	})

	t.Run("ErrNotOpen", func(t *testing.T) {
		st := MustOpen(t)
		a := newDevice(t, st, "a", election.RoleStation, village1)
		b := newDevice(t, st, "b", election.RoleStation, village1)
		cty := newDevice(t, st, "authority", election.RoleCounty, county)
		v1 := a.next(t, "attendance", "att", `{"present":1}`, 0, place)
		v2 := b.next(t, "attendance", "att", `{"present":2}`, 0, place)
		mustPush(t, st, a, v1)
		mustPush(t, st, b, v2)
		first := openConflicts(t, st)[0]
		mustPush(t, st, a, a.next(t, "attendance", "att", `{"present":3}`, 0, place))
		before := mustStats(t, st)
		audit := server.Audit{Action: server.AuditResolve, Subject: "county-admin", Target: first.ID, Keep: ref(v1), Reason: "r"}
		_, err := st.PushAudited(ctx, cty.id(), []server.Incoming{resolution(t, cty, first, ref(v1))}, audit, t0)
		wantCode(t, err, syncproto.CodeConflict)
		if after := mustStats(t, st); after != before {
			t.Fatalf("got %+v after a refused resolution, want %+v", after, before)
		}
		unknown := first
		unknown.ID = "CF-0000000000000000"
		cty2 := newDevice(t, st, "authority2", election.RoleCounty, county)
		_, err = st.Push(ctx, cty2.id(), []server.Incoming{resolution(t, cty2, unknown, ref(v1))}, t0)
		wantCode(t, err, syncproto.CodeConflict)
	})

	t.Run("Audited", func(t *testing.T) {
		st := MustOpen(t)
		a := newDevice(t, st, "a", election.RoleStation, village1)
		b := newDevice(t, st, "b", election.RoleStation, village1)
		cty := newDevice(t, st, "authority", election.RoleCounty, county)
		v1 := a.next(t, "attendance", "att", `{"present":1}`, 0, place)
		mustPush(t, st, a, v1)
		mustPush(t, st, b, b.next(t, "attendance", "att", `{"present":2}`, 0, place))
		c := openConflicts(t, st)[0]
		audit := server.Audit{Action: server.AuditResolve, Subject: "county-admin", Target: c.ID, Keep: ref(v1), Reason: "核对原件", Change: "authority/1"}
		if _, err := st.PushAudited(ctx, cty.id(), []server.Incoming{resolution(t, cty, c, ref(v1))}, audit, t0); err != nil {
			t.Fatal(err)
		}
		trail, err := st.AuditTrail(ctx)
		if err != nil {
			t.Fatal(err)
		}
		audit.ID, audit.Created = 1, t0
		if len(trail) != 1 || trail[0] != audit {
			t.Fatalf("got audit trail %+v, want [%+v]", trail, audit)
		}
		_, err = st.PushAudited(ctx, cty.id(), nil, server.Audit{Action: "delete", Subject: "x", Target: "y", Reason: "z"}, t0)
		wantCode(t, err, syncproto.CodeBadRequest)
	})
}

func TestAcknowledge(t *testing.T) {
	ctx := context.Background()
	st := MustOpen(t)
	a := server.Audit{Action: server.AuditAcknowledge, Subject: "county-admin", Target: "RV-" + village1 + "-PC-P3", Keep: "accept", Reason: "已重新选举", Created: t0}
	if err := st.Acknowledge(ctx, a); err != nil {
		t.Fatal(err)
	}
	wantCode(t, st.Acknowledge(ctx, a), syncproto.CodeConflict)
	acks, err := st.Acknowledgements(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a.ID = 1
	if len(acks) != 1 || acks[a.Target] != a {
		t.Fatalf("got %+v, want %s acknowledged once", acks, a.Target)
	}
	bad := a
	bad.Reason = ""
	wantCode(t, st.Acknowledge(ctx, bad), syncproto.CodeBadRequest)
	if s := mustStats(t, st); s.Audit != 1 {
		t.Fatalf("got %d audit entries, want 1", s.Audit)
	}
}

// TestMigrateReview opens a database of schema 1 holding two tally sheets
// for one round and a conflict row of 0001, and checks that migration 2
// gives them slots and conflicts with the shared ids.
func TestMigrateReview(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "server.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := os.ReadFile("migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	d := makeDevice("old", election.RoleStation, village1)
	s1, s2 := sheet(village1, 1, 90), sheet(village1, 1, 91)
	stmts := []struct {
		q    string
		args []any
	}{
		{string(schema), nil},
		{`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL DEFAULT '') STRICT`, nil},
		{`INSERT INTO schema_migrations (version, name) VALUES (1, '0001_init.sql')`, nil},
		{`INSERT INTO devices (id, public_key, role, scope, enrolled) VALUES (?, ?, 'station', ?, 1)`, []any{d.id(), []byte(d.dev.PublicKey), village1}},
	}
	for i, c := range []struct{ coll, id, body string }{
		{"tally_sheet", "s1", s1}, {"tally_sheet", "s2", s2}, {"attendance", "att", `{"present":1}`}, {"attendance", "att", `{"present":2}`},
	} {
		stmts = append(stmts, struct {
			q    string
			args []any
		}{`INSERT INTO changes (pos, device, seq, hash, prev, collection, record_id, base, wall, logical, at, clock_offset,
			schema_version, body, township, village, received) VALUES (?, ?, ?, x'00', x'00', ?, ?, 0, 1, 0, 1, 0, 1, ?, ?, ?, ?)`,
			[]any{i + 1, d.id(), i + 1, c.coll, c.id, []byte(c.body), baiquan, village1, int64(i + 100)}})
	}
	stmts = append(stmts,
		struct {
			q    string
			args []any
		}{`INSERT INTO records (collection, id, version, pos, township, village, device, seq) VALUES
			('tally_sheet', 's1', 1, 1, ?, ?, ?, 1), ('tally_sheet', 's2', 1, 2, ?, ?, ?, 2), ('attendance', 'att', 1, 3, ?, ?, ?, 3)`,
			[]any{baiquan, village1, d.id(), baiquan, village1, d.id(), baiquan, village1, d.id()}},
		struct {
			q    string
			args []any
		}{`INSERT INTO conflicts (collection, record_id, kind, base, existing_version, existing_device, existing_seq, existing_pos,
			existing_body, incoming_device, incoming_seq, incoming_pos, incoming_body, created)
			VALUES ('attendance', 'att', 'fact', 0, 1, ?, 3, 3, x'00', ?, 4, 4, x'00', 5)`, []any{d.id(), d.id()}},
	)
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s.q, s.args...); err != nil {
			t.Fatalf("build schema 1 database: %v", err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	st := mustOpenPath(t, path)
	cs := conflicts(t, st)
	if len(cs) != 2 {
		t.Fatalf("got %d conflicts, want the old record conflict and the slot conflict", len(cs))
	}
	slot := village1 + "-PC/round/1"
	byKind := map[string]server.Conflict{cs[0].Kind: cs[0], cs[1].Kind: cs[1]}
	rc, sc := byKind[election.ConflictRecord], byKind[election.ConflictSlot]
	if want := server.ConflictID("record", "attendance", "att", []string{d.id() + "/3", d.id() + "/4"}); rc.ID != want || rc.Status() != server.ConflictOpen {
		t.Errorf("got record conflict %+v, want %s open", rc, want)
	}
	if want := server.ConflictID("slot", "tally_sheet", slot, []string{d.id() + "/1", d.id() + "/2"}); sc.ID != want || sc.Place != villagePlace(village1) {
		t.Errorf("got slot conflict %+v, want %s in %s", sc, want, village1)
	}
	if rec := record(t, st, "tally_sheet", "s1"); rec.Slot != slot || rec.Conflict != sc.ID {
		t.Errorf("got s1 slot %q conflict %q, want %s and %s", rec.Slot, rec.Conflict, slot, sc.ID)
	}
	if err := st.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}
