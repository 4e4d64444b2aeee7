package sqlite_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/sqlite"
	"villagesync/syncproto"
)

// revoked makes a station of village1 that logged logged facts, then was
// revoked, and authors late more facts after its revocation point.
func revoked(t *testing.T, st *sqlite.Store, logged, late int) (*testDevice, []server.Incoming, []server.Incoming) {
	t.Helper()
	d := newDevice(t, st, "lost", election.RoleStation, village1)
	before := d.facts(t, logged, village1)
	mustPush(t, st, d, before...)
	if _, err := st.RevokeDevice(context.Background(), d.id(), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	return d, before, d.facts(t, late, village1)
}

// mustQuarantine quarantines batch for d and fails the test on error.
func mustQuarantine(t *testing.T, st *sqlite.Store, d *testDevice, batch ...server.Incoming) server.QuarantineResult {
	t.Helper()
	res, err := st.Quarantine(context.Background(), d.id(), batch, t0.Add(2*time.Hour))
	if err != nil {
		t.Fatalf("quarantine %d changes of %s: %v", len(batch), d.dev.Label, err)
	}
	return res
}

// decision is the audit entry of a county decision on item id.
func decision(id, keep string) server.Audit {
	return server.Audit{Action: server.AuditResolve, Subject: "county-admin", Target: id, Keep: keep, Reason: "核对纸质记录"}
}

// seqsOf returns the seqs of an item's changes.
func seqsOf(it server.QuarantineItem) []uint64 {
	var seqs []uint64
	for _, c := range it.Changes {
		seqs = append(seqs, c.Change.Seq)
	}
	return seqs
}

// wantAbsent fails if any of the changes' records exists or is pulled.
func wantAbsent(t *testing.T, st *sqlite.Store, ins []server.Incoming) {
	t.Helper()
	for _, in := range ins {
		if _, err := st.Record(context.Background(), in.Change.Collection, in.Change.ID); syncproto.ErrorCode(err) != syncproto.CodeNotFound {
			t.Fatalf("got %v for the record of quarantined change %d, want not_found", err, in.Change.Seq)
		}
	}
	for _, c := range pullAll(t, st, election.Scope{Role: election.RoleCounty, Code: county}, "") {
		for _, in := range ins {
			if c.Device == in.Change.Device && c.Seq == in.Change.Seq {
				t.Fatalf("pulled quarantined change %d", c.Seq)
			}
		}
	}
}

func TestQuarantine(t *testing.T) {
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		st := MustOpen(t)
		d, logged, late := revoked(t, st, 2, 3)
		before := mustStats(t, st)
		res := mustQuarantine(t, st, d, late...)
		wantItem := server.QuarantineItemID(d.id(), 3)
		if res.Through != 5 || res.Head != late[2].Hash || res.Quarantined != 3 || res.Duplicates != 0 || res.Item != wantItem || res.Pos != 2 {
			t.Fatalf("got %+v, want through 5 at log position 2, 3 quarantined in %s", res, wantItem)
		}
		if got := mustStats(t, st); got != before {
			t.Fatalf("got stats %+v, want the log and records unchanged %+v", got, before)
		}
		wantAbsent(t, st, late)
		h, err := st.Head(ctx, d.id())
		if err != nil || h.Seq != 2 || h.Hash != logged[1].Hash {
			t.Fatalf("got head %+v (%v), want the log's head 2 unchanged", h, err)
		}
		items, err := st.QuarantineItems(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 1 {
			t.Fatalf("got %d open items, want 1", len(items))
		}
		it := items[0]
		if it.ID != wantItem || it.Device != d.id() || it.Status != server.QuarantineOpen || it.Scope != d.dev.ElectionScope() ||
			it.RevokedAfter != 2 || !it.Revoked.Equal(t0.Add(time.Hour)) || !it.Created.Equal(t0.Add(2*time.Hour)) || !it.Decided.IsZero() {
			t.Fatalf("got item %+v, want open %s of %s revoked after 2", it, wantItem, d.id())
		}
		if !slices.Equal(seqsOf(it), []uint64{3, 4, 5}) {
			t.Fatalf("got seqs %v, want [3 4 5]", seqsOf(it))
		}
		for i, c := range it.Changes {
			in := late[i]
			if c.Hash != in.Hash || c.Prev != in.Prev || c.Place != in.Place || string(c.Change.Body) != string(in.Change.Body) ||
				!slices.Equal(c.Change.Sig, in.Change.Sig) || !c.Received.Equal(t0.Add(2*time.Hour)) {
				t.Fatalf("got quarantined change %+v, want %+v as sent", c, in)
			}
		}
		got, err := st.QuarantineItem(ctx, wantItem)
		if err != nil || got.ID != wantItem || len(got.Changes) != 3 {
			t.Fatalf("got item %+v (%v), want %s with 3 changes", got, err, wantItem)
		}
		p, ok, err := st.QuarantinedPlace(ctx, d.id(), "attendance", late[0].Change.ID)
		if err != nil || !ok || p != late[0].Place {
			t.Fatalf("got quarantined place %+v %t (%v), want %+v", p, ok, err, late[0].Place)
		}
		if _, ok, err := st.QuarantinedPlace(ctx, "dev-other", "attendance", late[0].Change.ID); err != nil || ok {
			t.Fatalf("got another device's quarantined place (%t, %v), want none", ok, err)
		}
		// The revoked device's changes cannot be pushed into the log.
		_, err = st.Push(ctx, d.id(), late, t0)
		wantCode(t, err, syncproto.CodeDeviceRevoked)
		wantAbsent(t, st, late)
	})

	t.Run("Duplicates", func(t *testing.T) {
		st := MustOpen(t)
		d, logged, late := revoked(t, st, 2, 3)
		first := mustQuarantine(t, st, d, late...)
		// The whole chain again: 1-2 from the log, 3-5 from quarantine.
		again := mustQuarantine(t, st, d, append(slices.Clone(logged), late...)...)
		want := first
		want.Quarantined, want.Duplicates = 0, 5
		if again != want {
			t.Fatalf("got %+v, want %+v", again, want)
		}
		items, err := st.QuarantineItems(ctx, true)
		if err != nil || len(items) != 1 || len(items[0].Changes) != 3 {
			t.Fatalf("got items %+v (%v), want one item of 3 changes", items, err)
		}
	})

	t.Run("ErrNotRevoked", func(t *testing.T) {
		st := MustOpen(t)
		d := newDevice(t, st, "active", election.RoleStation, village1)
		_, err := st.Quarantine(ctx, d.id(), d.facts(t, 1, village1), t0)
		wantCode(t, err, syncproto.CodeConflict)
		_, err = st.Quarantine(ctx, "dev-missing", nil, t0)
		wantCode(t, err, syncproto.CodeNotFound)
	})

	t.Run("GapThenFilled", func(t *testing.T) {
		st := MustOpen(t)
		d, logged, late := revoked(t, st, 2, 3)
		res := mustQuarantine(t, st, d, late[2])
		item := server.QuarantineItemID(d.id(), 5)
		if res.Through != 2 || res.Head != logged[1].Hash || res.Item != item {
			t.Fatalf("got %+v, want through 2 (a gap before 5) in item %s", res, item)
		}
		_, err := st.AcceptQuarantine(ctx, item, decision(item, "accept"), t0)
		wantCode(t, err, syncproto.CodeConflict)
		res = mustQuarantine(t, st, d, late[:2]...)
		if res.Through != 5 || res.Head != late[2].Hash || res.Item != item {
			t.Fatalf("got %+v, want through 5 in the same item %s", res, item)
		}
		it, err := st.QuarantineItem(ctx, item)
		if err != nil || !slices.Equal(seqsOf(it), []uint64{3, 4, 5}) {
			t.Fatalf("got %v (%v), want [3 4 5] in %s", seqsOf(it), err, item)
		}
		if _, err := st.AcceptQuarantine(ctx, item, decision(item, "accept"), t0); err != nil {
			t.Fatalf("accept once the gap is filled: %v", err)
		}
	})

	t.Run("HeldBeforeRevocation", func(t *testing.T) {
		st := MustOpen(t)
		d := newDevice(t, st, "lost", election.RoleStation, village1)
		batch := d.facts(t, 4, village1)
		mustPush(t, st, d, batch[0], batch[2]) // 3 held beyond a gap
		if _, err := st.RevokeDevice(ctx, d.id(), t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		res := mustQuarantine(t, st, d, batch[1], batch[3])
		if res.Through != 4 || res.Quarantined != 2 || res.Item != server.QuarantineItemID(d.id(), 3) {
			t.Fatalf("got %+v, want through 4, 2 quarantined, in the item the held 3 opened", res)
		}
		if s := mustStats(t, st); s.Held != 0 || s.Changes != 1 {
			t.Fatalf("got %+v, want nothing held and 1 change logged", s)
		}
		it, err := st.QuarantineItem(ctx, res.Item)
		if err != nil || !slices.Equal(seqsOf(it), []uint64{2, 3, 4}) {
			t.Fatalf("got %v (%v), want [2 3 4]: the held change is reviewed too", seqsOf(it), err)
		}
		wantAbsent(t, st, batch[1:])
	})

	t.Run("Equivocation", func(t *testing.T) {
		place := villagePlace(village1)
		tests := []struct {
			name string
			held []int // the indexes of the late changes 3-5 quarantined first
			// fork returns the incoming change, the seq the equivocation is
			// about and the change stored for it.
			fork func(d *testDevice, logged, late []server.Incoming) (server.Incoming, uint64, server.Incoming)
		}{
			{"AtQuarantinedSeq", []int{0, 1, 2}, func(d *testDevice, _, late []server.Incoming) (server.Incoming, uint64, server.Incoming) {
				return d.build(t, 4, late[0].Hash, "attendance", "forged", `{"present":1}`, 0, place), 4, late[1]
			}},
			{"PrevContradictsQuarantine", []int{0, 1, 2}, func(d *testDevice, _, late []server.Incoming) (server.Incoming, uint64, server.Incoming) {
				return d.build(t, 6, syncproto.Hash{9}, "attendance", "sixth", `{"present":6}`, 0, place), 5, late[2]
			}},
			{"PrevContradictsLog", nil, func(d *testDevice, logged, _ []server.Incoming) (server.Incoming, uint64, server.Incoming) {
				other := d.build(t, 2, logged[0].Hash, "attendance", "other", `{"present":7}`, 0, place)
				return d.build(t, 3, other.Hash, "attendance", "third", `{"present":3}`, 0, place), 2, logged[1]
			}},
			{"SuccessorInQuarantine", []int{1, 2}, func(d *testDevice, logged, late []server.Incoming) (server.Incoming, uint64, server.Incoming) {
				// A seq 3 that the quarantined 4 does not chain onto.
				return d.build(t, 3, logged[1].Hash, "attendance", "fork", `{"present":3}`, 0, place), 3, late[1]
			}},
			{"AtLoggedSeq", []int{0, 1, 2}, func(d *testDevice, logged, _ []server.Incoming) (server.Incoming, uint64, server.Incoming) {
				return d.build(t, 2, logged[0].Hash, "attendance", "forged", `{"present":1}`, 0, place), 2, logged[1]
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				st := MustOpen(t)
				d, logged, late := revoked(t, st, 2, 3)
				var held []server.Incoming
				for _, i := range tt.held {
					held = append(held, late[i])
				}
				if len(held) > 0 {
					mustQuarantine(t, st, d, held...)
				}
				in, seq, stored := tt.fork(d, logged, late)
				before, err := st.QuarantineItems(ctx, true)
				if err != nil {
					t.Fatal(err)
				}
				_, err = st.Quarantine(ctx, d.id(), []server.Incoming{in}, t0)
				var eq *server.EquivocationError
				if !errors.As(err, &eq) {
					t.Fatalf("got %v, want an equivocation", err)
				}
				if eq.Device != d.id() || eq.Seq != seq || eq.Stored.Prev == nil || eq.Stored.Hash(*eq.Stored.Prev) != stored.Hash ||
					eq.Incoming.Prev == nil || eq.Incoming.Hash(*eq.Incoming.Prev) != in.Hash {
					t.Fatalf("got equivocation %+v, want seq %d with the stored and the incoming change", eq, seq)
				}
				after, err := st.QuarantineItems(ctx, true)
				if err != nil || len(after) != len(before) || len(after) == 1 && !slices.Equal(seqsOf(after[0]), seqsOf(before[0])) {
					t.Fatalf("got items %+v (%v), want the quarantine unchanged", after, err)
				}
				if err := st.RecordEquivocation(ctx, eq, t0); err != nil {
					t.Fatal(err)
				}
				if s := mustStats(t, st); s.Equivocations != 1 {
					t.Fatalf("got %d equivocation rows, want 1", s.Equivocations)
				}
			})
		}
	})

	t.Run("Accept", func(t *testing.T) {
		st := MustOpen(t)
		d, _, late := revoked(t, st, 2, 3)
		// The last late change rewrites a fact the device logged before:
		// accepting it is a conflict, as it would have been before.
		other := newDevice(t, st, "other", election.RoleStation, village1)
		theirs := other.facts(t, 1, village1)[0]
		mustPush(t, st, other, theirs)
		rewrite := d.next(t, "attendance", theirs.Change.ID, `{"election":"`+village1+`-PC","eligible":1,"present":1}`, 0, villagePlace(village1))
		late = append(late, rewrite)
		item := mustQuarantine(t, st, d, late...).Item
		now := t0.Add(3 * time.Hour)
		res, err := st.AcceptQuarantine(ctx, item, decision(item, "accept"), now)
		if err != nil {
			t.Fatal(err)
		}
		if res.Through != 6 || res.Head != rewrite.Hash || res.Applied != 4 || res.Conflicts != 1 {
			t.Fatalf("got %+v, want 4 applied through 6 with 1 conflict", res)
		}
		for _, in := range late[:3] {
			if rec, err := st.Record(ctx, "attendance", in.Change.ID); err != nil || rec.Device != d.id() || rec.Seq != in.Change.Seq {
				t.Fatalf("got record %+v (%v), want change %d applied", rec, err, in.Change.Seq)
			}
		}
		if len(openConflicts(t, st)) != 1 {
			t.Fatalf("got conflicts %+v, want the rewritten fact in conflict", openConflicts(t, st))
		}
		var pulled []uint64
		for _, c := range pullAll(t, st, election.Scope{Role: election.RoleStation, Code: village1}, other.id()) {
			if c.Device == d.id() {
				pulled = append(pulled, c.Seq)
			}
		}
		if !slices.Equal(pulled, []uint64{1, 2, 3, 4, 5, 6}) {
			t.Fatalf("another station of the village pulled %v of the revoked device, want 1-6", pulled)
		}
		it, err := st.QuarantineItem(ctx, item)
		if err != nil || it.Status != server.QuarantineAccepted || !it.Decided.Equal(now) || it.Decision.Keep != "accept" ||
			it.Decision.Target != item || it.Decision.Subject != "county-admin" || !it.Decision.Created.Equal(now) {
			t.Fatalf("got %+v (%v), want accepted at %v with its audit entry", it, err, now)
		}
		trail, err := st.AuditTrail(ctx)
		if err != nil || len(trail) != 1 || trail[0].ID != it.Decision.ID || trail[0].Target != item {
			t.Fatalf("got audit trail %+v (%v), want the one decision", trail, err)
		}
		if open, err := st.QuarantineItems(ctx, false); err != nil || len(open) != 0 {
			t.Fatalf("got open items %+v (%v), want none", open, err)
		}
		_, err = st.AcceptQuarantine(ctx, item, decision(item, "accept"), now)
		wantCode(t, err, syncproto.CodeConflict)
		wantCode(t, st.RejectQuarantine(ctx, item, decision(item, "reject"), now), syncproto.CodeConflict)
		// The device stays revoked: its next change is a new item.
		next := d.facts(t, 1, village1)
		res2 := mustQuarantine(t, st, d, next...)
		if want := server.QuarantineItemID(d.id(), 7); res2.Item != want || res2.Through != 7 {
			t.Fatalf("got %+v, want through 7 in the new item %s", res2, want)
		}
		wantAbsent(t, st, next)
	})

	t.Run("Reject", func(t *testing.T) {
		st := MustOpen(t)
		d, _, late := revoked(t, st, 2, 3)
		item := mustQuarantine(t, st, d, late...).Item
		before := mustStats(t, st)
		now := t0.Add(3 * time.Hour)
		if err := st.RejectQuarantine(ctx, item, decision(item, "reject"), now); err != nil {
			t.Fatal(err)
		}
		after := mustStats(t, st)
		before.Audit++
		if after != before {
			t.Fatalf("got stats %+v, want %+v: nothing applied, one audit entry", after, before)
		}
		wantAbsent(t, st, late)
		it, err := st.QuarantineItem(ctx, item)
		if err != nil || it.Status != server.QuarantineRejected || !it.Decided.Equal(now) || it.Decision.Keep != "reject" || len(it.Changes) != 3 {
			t.Fatalf("got %+v (%v), want rejected with its 3 changes kept", it, err)
		}
		if open, err := st.QuarantineItems(ctx, false); err != nil || len(open) != 0 {
			t.Fatalf("got open items %+v (%v), want none", open, err)
		}
		if all, err := st.QuarantineItems(ctx, true); err != nil || len(all) != 1 || all[0].Status != server.QuarantineRejected {
			t.Fatalf("got items %+v (%v), want the rejected one", all, err)
		}
		wantCode(t, st.RejectQuarantine(ctx, item, decision(item, "reject"), now), syncproto.CodeConflict)
		_, err = st.AcceptQuarantine(ctx, item, decision(item, "accept"), now)
		wantCode(t, err, syncproto.CodeConflict)

		// A later change continues the rejected ones: a new item, held
		// durably (the receipt covers it) but never acceptable alone.
		next := d.facts(t, 1, village1)
		res := mustQuarantine(t, st, d, next...)
		newItem := server.QuarantineItemID(d.id(), 6)
		if res.Item != newItem || res.Through != 6 {
			t.Fatalf("got %+v, want through 6 in %s", res, newItem)
		}
		_, err = st.AcceptQuarantine(ctx, newItem, decision(newItem, "accept"), now)
		wantCode(t, err, syncproto.CodeConflict)
		wantAbsent(t, st, next)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		st := MustOpen(t)
		_, err := st.AcceptQuarantine(ctx, "RD-dev-missing-1", decision("RD-dev-missing-1", "accept"), t0)
		wantCode(t, err, syncproto.CodeNotFound)
		wantCode(t, st.RejectQuarantine(ctx, "RD-dev-missing-1", decision("RD-dev-missing-1", "reject"), t0), syncproto.CodeNotFound)
		_, err = st.QuarantineItem(ctx, "RD-dev-missing-1")
		wantCode(t, err, syncproto.CodeNotFound)
	})

	t.Run("ErrNoReason", func(t *testing.T) {
		st := MustOpen(t)
		d, _, late := revoked(t, st, 1, 1)
		item := mustQuarantine(t, st, d, late...).Item
		bad := decision(item, "accept")
		bad.Reason = ""
		_, err := st.AcceptQuarantine(ctx, item, bad, t0)
		wantCode(t, err, syncproto.CodeBadRequest)
		wantCode(t, st.RejectQuarantine(ctx, item, bad, t0), syncproto.CodeBadRequest)
		if it, err := st.QuarantineItem(ctx, item); err != nil || it.Status != server.QuarantineOpen {
			t.Fatalf("got %+v (%v), want it still open", it, err)
		}
	})
}
