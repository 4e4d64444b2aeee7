package sqlite_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/sqlite"
	"villagesync/syncproto"
)

func TestPush(t *testing.T) {
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		st := MustOpen(t)
		d := newDevice(t, st, "station", election.RoleStation, village1)
		batch := d.facts(t, 3, village1)
		res := mustPush(t, st, d, batch...)
		want := server.PushResult{Through: 3, Head: batch[2].Hash, Pos: 3, Applied: 3}
		if !equalResult(res, want) {
			t.Fatalf("got %+v, want %+v", res, want)
		}
		h, err := st.Head(ctx, d.id())
		if err != nil {
			t.Fatal(err)
		}
		if h.Seq != 3 || h.Hash != batch[2].Hash || len(h.Held) != 0 || h.Pos != 3 {
			t.Fatalf("got head %+v, want seq 3 %v, nothing held, at log position 3", h, batch[2].Hash)
		}
		for _, in := range batch {
			rec, err := st.Record(ctx, in.Change.Collection, in.Change.ID)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Version != 1 || !bytes.Equal(rec.Body, in.Change.Body) || rec.Device != d.id() || rec.Seq != in.Change.Seq || rec.Place != in.Place {
				t.Fatalf("got record %+v, want version 1 of change %d", rec, in.Change.Seq)
			}
			p, ok, err := st.Place(ctx, in.Change.Collection, in.Change.ID)
			if err != nil || !ok || p != in.Place {
				t.Fatalf("got place %+v %t %v, want %+v", p, ok, err, in.Place)
			}
		}
		// A second push continues the chain and the log.
		more := d.facts(t, 2, village1)
		res = mustPush(t, st, d, more...)
		if res.Through != 5 || res.Pos != 5 || res.Applied != 2 || res.Head != more[1].Hash {
			t.Fatalf("got %+v, want through 5 at pos 5, 2 applied", res)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		st := MustOpen(t)
		d := newDevice(t, st, "station", election.RoleStation, village1)
		res := mustPush(t, st, d)
		if !equalResult(res, server.PushResult{}) {
			t.Fatalf("got %+v, want nothing", res)
		}
	})

	t.Run("Duplicates", func(t *testing.T) {
		st := MustOpen(t)
		d := newDevice(t, st, "station", election.RoleStation, village1)
		batch := d.facts(t, 4, village1)
		first := mustPush(t, st, d, batch...)
		stats := mustStats(t, st)
		second := mustPush(t, st, d, batch...)
		want := first
		want.Applied, want.Duplicates = 0, 4
		if !equalResult(second, want) {
			t.Fatalf("got %+v, want %+v", second, want)
		}
		if got := mustStats(t, st); got != stats {
			t.Fatalf("got stats %+v after a replay, want %+v", got, stats)
		}
		// An overlapping retry: two old, one new.
		next := d.facts(t, 1, village1)
		res := mustPush(t, st, d, batch[2], batch[3], next[0])
		if res.Applied != 1 || res.Duplicates != 2 || res.Through != 5 {
			t.Fatalf("got %+v, want 1 applied, 2 duplicates, through 5", res)
		}
	})

	t.Run("GapHeldThenFilled", func(t *testing.T) {
		st := MustOpen(t)
		d := newDevice(t, st, "station", election.RoleStation, village1)
		batch := d.facts(t, 4, village1)
		res := mustPush(t, st, d, batch[2:]...)
		if res.Through != 0 || !slices.Equal(res.Held, []uint64{3, 4}) || res.Applied != 0 || res.Pos != 0 {
			t.Fatalf("got %+v, want through 0, held [3 4], nothing applied", res)
		}
		if _, err := st.Record(ctx, "attendance", batch[2].Change.ID); syncproto.ErrorCode(err) != syncproto.CodeNotFound {
			t.Fatalf("got %v for a held change's record, want not_found", err)
		}
		h, err := st.Head(ctx, d.id())
		if err != nil || !slices.Equal(h.Held, []uint64{3, 4}) {
			t.Fatalf("got held %v (%v), want [3 4]", h.Held, err)
		}
		// Sending a held change again is a duplicate.
		res = mustPush(t, st, d, batch[3])
		if res.Duplicates != 1 || !slices.Equal(res.Held, []uint64{3, 4}) {
			t.Fatalf("got %+v, want 1 duplicate, held [3 4]", res)
		}
		res = mustPush(t, st, d, batch[:2]...)
		want := server.PushResult{Through: 4, Head: batch[3].Hash, Pos: 4, Applied: 4}
		if !equalResult(res, want) {
			t.Fatalf("got %+v, want %+v", res, want)
		}
		if s := mustStats(t, st); s.Held != 0 || s.Changes != 4 || s.Records != 4 {
			t.Fatalf("got %+v, want 4 changes, 4 records, none held", s)
		}
		// The log is in chain order, whatever the arrival order.
		got := pullAll(t, st, election.Scope{Role: election.RoleCounty, Code: county}, "")
		for i, c := range got {
			if c.Seq != uint64(i+1) {
				t.Fatalf("got seq %d at log position %d, want %d", c.Seq, i+1, i+1)
			}
		}
	})

	t.Run("GapsBetweenRuns", func(t *testing.T) {
		st := MustOpen(t)
		d := newDevice(t, st, "station", election.RoleStation, village1)
		batch := d.facts(t, 7, village1)
		// Runs 1-2, 4, 6-7 in one push.
		res := mustPush(t, st, d, batch[0], batch[1], batch[3], batch[5], batch[6])
		if res.Through != 2 || !slices.Equal(res.Held, []uint64{4, 6, 7}) || res.Applied != 2 {
			t.Fatalf("got %+v, want through 2, held [4 6 7]", res)
		}
		res = mustPush(t, st, d, batch[4])
		if res.Through != 2 || !slices.Equal(res.Held, []uint64{4, 5, 6, 7}) {
			t.Fatalf("got %+v, want through 2, held [4 5 6 7]", res)
		}
		res = mustPush(t, st, d, batch[2])
		if res.Through != 7 || len(res.Held) != 0 || res.Applied != 5 || res.Head != batch[6].Hash {
			t.Fatalf("got %+v, want through 7, 5 applied, none held", res)
		}
	})

	t.Run("ErrUnknownDevice", func(t *testing.T) {
		st := MustOpen(t)
		d := makeDevice("stranger", election.RoleStation, village1)
		_, err := st.Push(ctx, d.id(), d.facts(t, 1, village1), t0)
		wantCode(t, err, syncproto.CodeNotFound)
	})

	t.Run("ErrOtherDevice", func(t *testing.T) {
		st := MustOpen(t)
		d := newDevice(t, st, "station", election.RoleStation, village1)
		e := newDevice(t, st, "other", election.RoleStation, village1)
		_, err := st.Push(ctx, e.id(), d.facts(t, 1, village1), t0)
		wantCode(t, err, syncproto.CodeForbidden)
	})

	t.Run("ErrOrder", func(t *testing.T) {
		st := MustOpen(t)
		d := newDevice(t, st, "station", election.RoleStation, village1)
		batch := d.facts(t, 2, village1)
		_, err := st.Push(ctx, d.id(), []server.Incoming{batch[1], batch[0]}, t0)
		wantCode(t, err, syncproto.CodeChainBroken)
		if s := mustStats(t, st); s.Changes != 0 || s.Held != 0 {
			t.Fatalf("got %+v after a refused push, want nothing stored", s)
		}
	})

	t.Run("ErrSeqOneWithPrev", func(t *testing.T) {
		st := MustOpen(t)
		d := newDevice(t, st, "station", election.RoleStation, village1)
		in := d.build(t, 2, syncproto.Hash{}, "attendance", "a", `{"x":1}`, 0, villagePlace(village1))
		in.Change.Seq = 1
		in.Prev = syncproto.Hash{1}
		_, err := st.Push(ctx, d.id(), []server.Incoming{in}, t0)
		wantCode(t, err, syncproto.CodeChainBroken)
	})
}

func TestPush_Equivocation(t *testing.T) {
	ctx := context.Background()
	place := villagePlace(village1)

	// check asserts err is an equivocation about seq whose stored version is
	// stored and whose incoming version is incoming, that nothing of the
	// push was applied, and that RecordEquivocation keeps both.
	check := func(t *testing.T, st *sqlite.Store, d *testDevice, err error, seq uint64, stored, incoming server.Incoming, before sqlite.Stats) {
		t.Helper()
		var eq *server.EquivocationError
		if !errors.As(err, &eq) {
			t.Fatalf("got %v, want an equivocation", err)
		}
		if eq.Device != d.id() || eq.Seq != seq {
			t.Fatalf("got equivocation of %s seq %d, want %s seq %d", eq.Device, eq.Seq, d.id(), seq)
		}
		if eq.Stored.Prev == nil || eq.Stored.Hash(*eq.Stored.Prev) != stored.Hash {
			t.Fatalf("got stored change %+v, want the one with hash %v", eq.Stored, stored.Hash)
		}
		if !bytes.Equal(eq.Stored.Sig, stored.Change.Sig) {
			t.Fatal("stored change lost its signature")
		}
		if eq.Incoming.Prev == nil || eq.Incoming.Hash(*eq.Incoming.Prev) != incoming.Hash {
			t.Fatalf("got incoming change %+v, want the one with hash %v", eq.Incoming, incoming.Hash)
		}
		if got := mustStats(t, st); got != before {
			t.Fatalf("got stats %+v after an equivocation, want unchanged %+v", got, before)
		}
		if err := st.RecordEquivocation(ctx, eq, t0); err != nil {
			t.Fatal(err)
		}
		alerts, err := st.Alerts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(alerts) != 1 || alerts[0].Kind != "equivocation" || alerts[0].Device != d.id() || !alerts[0].Created.Equal(t0) {
			t.Fatalf("got alerts %+v, want one equivocation alert for %s", alerts, d.id())
		}
		for _, a := range alerts {
			if bytes.Contains([]byte(a.Detail), stored.Change.Body) || bytes.Contains([]byte(a.Detail), incoming.Change.Body) {
				t.Fatal("alert detail holds a record body")
			}
		}
		var storedJSON, incomingJSON string
		if err := sqlite.ReadPool(st).QueryRowContext(ctx, "SELECT stored, incoming FROM equivocations WHERE device = ? AND seq = ?", d.id(), int64(seq)).
			Scan(&storedJSON, &incomingJSON); err != nil {
			t.Fatal(err)
		}
		for _, ev := range []struct {
			json string
			want server.Incoming
		}{{storedJSON, stored}, {incomingJSON, incoming}} {
			var c syncproto.Change
			if err := syncproto.Unmarshal([]byte(ev.json), &c); err != nil {
				t.Fatal(err)
			}
			if c.Prev == nil || c.Hash(*c.Prev) != ev.want.Hash || !syncproto.VerifyHash(d.dev.PublicKey, ev.want.Hash, c.Sig) {
				t.Fatalf("evidence %s does not reproduce the signed change with hash %v", ev.json, ev.want.Hash)
			}
		}
		if s := mustStats(t, st); s.Equivocations != 1 || s.Alerts != 1 {
			t.Fatalf("got %+v, want 1 equivocation and 1 alert", s)
		}
	}

	t.Run("AtStoredSeq", func(t *testing.T) {
		st := MustOpen(t)
		d := newDevice(t, st, "station", election.RoleStation, village1)
		batch := d.facts(t, 2, village1)
		mustPush(t, st, d, batch...)
		fork := d.build(t, 2, batch[0].Hash, "attendance", "forged", `{"present":1}`, 0, place)
		next := d.build(t, 3, fork.Hash, "attendance", "next", `{"present":2}`, 0, place)
		before := mustStats(t, st)
		_, err := st.Push(ctx, d.id(), []server.Incoming{fork, next}, t0)
		check(t, st, d, err, 2, batch[1], fork, before)
	})

	t.Run("AtHeldSeq", func(t *testing.T) {
		st := MustOpen(t)
		d := newDevice(t, st, "station", election.RoleStation, village1)
		batch := d.facts(t, 3, village1)
		mustPush(t, st, d, batch[2])
		fork := d.build(t, 3, batch[1].Hash, "attendance", "forged", `{"present":1}`, 0, place)
		before := mustStats(t, st)
		_, err := st.Push(ctx, d.id(), []server.Incoming{batch[0], fork}, t0)
		check(t, st, d, err, 3, batch[2], fork, before)
		h, err := st.Head(ctx, d.id())
		if err != nil || !slices.Equal(h.Held, []uint64{3}) {
			t.Fatalf("got held %v (%v), want [3] kept", h.Held, err)
		}
	})

	t.Run("ContradictingPrev", func(t *testing.T) {
		st := MustOpen(t)
		d := newDevice(t, st, "station", election.RoleStation, village1)
		batch := d.facts(t, 2, village1)
		mustPush(t, st, d, batch...)
		// A seq 3 that commits to a different seq 2.
		other := d.build(t, 2, batch[0].Hash, "attendance", "other", `{"present":7}`, 0, place)
		third := d.build(t, 3, other.Hash, "attendance", "third", `{"present":3}`, 0, place)
		before := mustStats(t, st)
		_, err := st.Push(ctx, d.id(), []server.Incoming{third}, t0)
		check(t, st, d, err, 2, batch[1], third, before)
	})

	t.Run("ContradictingPrevOfHeld", func(t *testing.T) {
		st := MustOpen(t)
		d := newDevice(t, st, "station", election.RoleStation, village1)
		batch := d.facts(t, 2, village1)
		other := d.build(t, 2, batch[0].Hash, "attendance", "other", `{"present":7}`, 0, place)
		third := d.build(t, 3, other.Hash, "attendance", "third", `{"present":3}`, 0, place)
		mustPush(t, st, d, third)
		before := mustStats(t, st)
		// The real 1-2 unblock the held 3, which does not chain onto 2.
		_, err := st.Push(ctx, d.id(), batch, t0)
		check(t, st, d, err, 2, batch[1], third, before)
	})

	t.Run("HeldNeighbours", func(t *testing.T) {
		st := MustOpen(t)
		d := newDevice(t, st, "station", election.RoleStation, village1)
		batch := d.facts(t, 5, village1)
		mustPush(t, st, d, batch[2], batch[4])
		// A seq 4 whose prev is not the held 3.
		fork4 := d.build(t, 4, syncproto.Hash{9}, "attendance", "fork", `{"present":4}`, 0, place)
		before := mustStats(t, st)
		_, err := st.Push(ctx, d.id(), []server.Incoming{fork4}, t0)
		check(t, st, d, err, 3, batch[2], fork4, before)
	})

	t.Run("HeldSuccessor", func(t *testing.T) {
		st := MustOpen(t)
		d := newDevice(t, st, "station", election.RoleStation, village1)
		batch := d.facts(t, 4, village1)
		mustPush(t, st, d, batch[3])
		// A seq 3 that the held 4 does not chain onto.
		fork3 := d.build(t, 3, batch[1].Hash, "attendance", "fork", `{"present":3}`, 0, place)
		before := mustStats(t, st)
		_, err := st.Push(ctx, d.id(), []server.Incoming{fork3}, t0)
		var eq *server.EquivocationError
		if !errors.As(err, &eq) || eq.Seq != 3 {
			t.Fatalf("got %v, want an equivocation about seq 3", err)
		}
		if got := mustStats(t, st); got != before {
			t.Fatalf("got stats %+v, want unchanged %+v", got, before)
		}
		// The genuine 1-3 close the gap.
		res := mustPush(t, st, d, batch[:3]...)
		if res.Through != 4 {
			t.Fatalf("got through %d, want 4", res.Through)
		}
	})
}

// equalResult compares push results, treating nil and empty Held alike.
func equalResult(a, b server.PushResult) bool {
	return a.Through == b.Through && a.Head == b.Head && a.Pos == b.Pos && a.Applied == b.Applied &&
		a.Duplicates == b.Duplicates && a.Conflicts == b.Conflicts && slices.Equal(a.Held, b.Held)
}

// TestPush_Concurrent pushes from many devices at once, one of them
// equivocating, and checks that every honest push is stored exactly once
// and the equivocating one not at all, whichever pushes shared a commit.
func TestPush_Concurrent(t *testing.T) {
	ctx := context.Background()
	st := MustOpen(t)
	const devices, pushes, perPush = 12, 8, 5
	devs := make([]*testDevice, devices)
	batches := make([][][]server.Incoming, devices)
	for i := range devs {
		v := benchVillage(i)
		devs[i] = newDevice(t, st, fmt.Sprintf("c%d", i), election.RoleStation, v)
		for range pushes {
			batches[i] = append(batches[i], devs[i].facts(t, perPush, v))
		}
	}
	liar := newDevice(t, st, "liar", election.RoleStation, village1)
	honest := liar.facts(t, 2, village1)
	mustPush(t, st, liar, honest...)
	fork := liar.build(t, 2, honest[0].Hash, "attendance", "forged", `{"present":1}`, 0, villagePlace(village1))

	var wg sync.WaitGroup
	errs := make(chan error, devices*pushes+pushes)
	for i := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k, batch := range batches[i] {
				res, err := st.Push(ctx, devs[i].id(), batch, t0)
				if err != nil {
					errs <- err
					return
				}
				if want := uint64((k + 1) * perPush); res.Through != want || res.Applied != perPush {
					errs <- fmt.Errorf("device %d push %d: got through %d applied %d, want %d %d", i, k, res.Through, res.Applied, want, perPush)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range pushes {
			_, err := st.Push(ctx, liar.id(), []server.Incoming{fork}, t0)
			var eq *server.EquivocationError
			if !errors.As(err, &eq) {
				errs <- fmt.Errorf("got %v for the fork, want an equivocation", err)
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	s := mustStats(t, st)
	if want := int64(devices*pushes*perPush + 2); s.Changes != want || s.Records != want {
		t.Fatalf("got %d changes and %d records, want %d of each", s.Changes, s.Records, want)
	}
	for i, d := range devs {
		h, err := st.Head(ctx, d.id())
		last := batches[i][pushes-1][perPush-1]
		if err != nil || h.Seq != pushes*perPush || h.Hash != last.Hash {
			t.Fatalf("device %d: got head %+v (%v), want %d %v", i, h, err, pushes*perPush, last.Hash)
		}
	}
	// The log has no gaps: positions 1..n, each device's seqs in order.
	log := pullAll(t, st, election.Scope{Role: election.RoleCounty, Code: county}, "")
	if len(log) != int(s.Changes) {
		t.Fatalf("pulled %d changes, want %d", len(log), s.Changes)
	}
	lastSeq := map[string]uint64{}
	for _, c := range log {
		if c.Seq != lastSeq[c.Device]+1 {
			t.Fatalf("got %s seq %d after %d, want chain order", c.Device, c.Seq, lastSeq[c.Device])
		}
		lastSeq[c.Device] = c.Seq
	}
	if err := st.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestPush_Closed(t *testing.T) {
	ctx := context.Background()
	st := MustOpen(t)
	d := newDevice(t, st, "station", election.RoleStation, village1)
	batch := d.facts(t, 1, village1)

	t.Run("ErrContextDone", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := st.Push(cctx, d.id(), batch, t0); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		if s := mustStats(t, st); s.Changes != 0 {
			t.Fatalf("got %d changes after a cancelled push, want 0", s.Changes)
		}
	})

	t.Run("ErrClosed", func(t *testing.T) {
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		_, err := st.Push(ctx, d.id(), batch, t0)
		wantCode(t, err, syncproto.CodeUnavailable)
	})
}
