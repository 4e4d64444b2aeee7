package client_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	client "villagesync/client-sdk"
	"villagesync/election"
	"villagesync/syncproto"
)

// putAttendance captures n attendance facts with ids prefix-0, prefix-1, ...
func putAttendance(tb testing.TB, d *client.Device, prefix string, n int) {
	tb.Helper()
	for i := range n {
		mustPut(tb, d, "attendance", prefix+"-"+strconv.Itoa(i), attendance(village, 100+i))
	}
}

// wantHeld fails unless the server holds seqs 1..n of device, each once.
func wantHeld(tb testing.TB, f *fakeServer, device string, n int) {
	tb.Helper()
	held := f.held(device)
	if len(held) != n {
		tb.Fatalf("got %d changes of the device on the server, want %d", len(held), n)
	}
	for i, seq := range held {
		if seq != uint64(i+1) {
			tb.Fatalf("got seq %d at position %d on the server, want %d (no duplicates, no gaps)", seq, i, i+1)
		}
	}
}

func TestSync(t *testing.T) {
	ctx := context.Background()
	f, d, _ := stationWithElection(t, testOptions(&sleeps{}))
	putAttendance(t, d, "att", 25)

	rep := mustSync(t, d)
	if rep.Pushed != 25 || rep.Pending != 0 || rep.Through != 25 {
		t.Errorf("got pushed %d pending %d through %d, want 25, 0, 25", rep.Pushed, rep.Pending, rep.Through)
	}
	if rep.RoundTrips != 1 {
		t.Errorf("got %d round trips with a valid token, want 1", rep.RoundTrips)
	}
	if rep.BytesUp == 0 || rep.BytesDown == 0 {
		t.Errorf("got %d bytes up, %d down, want both counted", rep.BytesUp, rep.BytesDown)
	}
	wantHeld(t, f, d.ID(), 25)

	st, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 0 || st.LastSeq != 25 || st.LastReceipt == nil || st.LastReceipt.Through != 25 || st.LastSync.IsZero() || st.Cursor == "" {
		t.Errorf("got status %+v, want nothing pending, receipt through 25, cursor and last sync set", st)
	}
	rec, err := d.Get(ctx, "attendance", "att-3")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Pending {
		t.Errorf("got record still pending after a covering receipt")
	}

	again := mustSync(t, d)
	if again.Pushed != 0 || again.Pulled != 0 || again.RoundTrips != 1 {
		t.Errorf("got second sync pushed %d pulled %d round trips %d, want 0, 0, 1", again.Pushed, again.Pulled, again.RoundTrips)
	}
	if _, received, _, _, _, _ := f.stats(); received != 25 {
		t.Errorf("got %d changes sent to the server, want 25 (nothing resent)", received)
	}
}

func TestSyncPullsByScope(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	f.seedVillage(village)
	f.seedVillage(village2)
	f.seedVillage("220422101201") // another township
	station, _ := mustEnroll(t, f, election.RoleStation, village, testOptions(&sleeps{}))
	supervisor, _ := mustEnroll(t, f, election.RoleSupervisor, township, testOptions(&sleeps{}))

	rep := mustSync(t, station)
	if rep.Pulled != 3 { // township, village, election
		t.Errorf("got station pulled %d, want 3", rep.Pulled)
	}
	mustPut(t, station, "attendance", "att-1", attendance(village, 100))
	mustSync(t, station)

	rep = mustSync(t, supervisor)
	if rep.Pulled != 6 { // township, 2 × (village, election), the station's attendance
		t.Errorf("got supervisor pulled %d, want 6", rep.Pulled)
	}
	rec, err := supervisor.Get(ctx, "attendance", "att-1")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Device != station.ID() || rec.Pending {
		t.Errorf("got %+v, want the station's record, not pending", rec)
	}
	if _, err := supervisor.Get(ctx, "village", "220422101201"); syncproto.ErrorCode(err) != syncproto.CodeNotFound {
		t.Errorf("got %v for another township's village, want not found", err)
	}
	// The supervisor may record a problem in its township's village.
	mustPut(t, supervisor, "problem", "p-1", `{"village":"`+village2+`","source":"visit","category":"procedure","description":"票箱未当场开启"}`)
	if rep := mustSync(t, supervisor); rep.Pushed != 1 {
		t.Errorf("got supervisor pushed %d, want 1", rep.Pushed)
	}
}

func TestSyncPagedPull(t *testing.T) {
	f := newFakeServer(t)
	for i := range 30 {
		f.seedVillage("2204221002" + strconv.Itoa(10+i))
	}
	opts := testOptions(&sleeps{})
	opts.PullBytes = 1024
	d, _ := mustEnroll(t, f, election.RoleSupervisor, township, opts)
	rep := mustSync(t, d)
	if rep.Pulled != 61 {
		t.Errorf("got pulled %d, want 61", rep.Pulled)
	}
	if rep.RoundTrips < 5 {
		t.Errorf("got %d round trips for a 1 KiB page size, want several pages", rep.RoundTrips)
	}
}

func TestSyncBatchesBounded(t *testing.T) {
	const bound = 2048
	opts := testOptions(&sleeps{})
	opts.BatchBytes = bound
	f, d, _ := stationWithElection(t, opts)
	putAttendance(t, d, "att", 40)
	before, _, _, _, _, _ := f.stats()

	rep := mustSync(t, d)
	if rep.Pushed != 40 || rep.Pending != 0 {
		t.Fatalf("got pushed %d pending %d, want 40, 0", rep.Pushed, rep.Pending)
	}
	bodies, _, _, _, _, _ := f.stats()
	bodies = bodies[len(before):]
	t.Logf("bodies %v", bodies)
	if len(bodies) < 4 {
		t.Errorf("got %d sync requests, want several batches", len(bodies))
	}
	for i, n := range bodies {
		if n > bound {
			t.Errorf("got request %d of %d bytes, want at most %d", i, n, bound)
		}
	}
	if rep.RoundTrips != len(bodies) {
		t.Errorf("got %d round trips reported, want %d", rep.RoundTrips, len(bodies))
	}
	wantHeld(t, f, d.ID(), 40)
	f.mu.Lock()
	shapes := f.runShapes
	f.mu.Unlock()
	for i, sh := range shapes {
		// One run per request: prev only at its start, one signature at its end.
		if sh.sigs != 1 || !sh.lastSigned || sh.prevs > 1 || !sh.firstPrev {
			t.Errorf("got request %d shaped %+v, want one signature on the last change and prev only on the first", i, sh)
		}
	}
}

func TestSyncRetriesDroppedResponse(t *testing.T) {
	s := &sleeps{}
	opts := testOptions(s)
	opts.BatchBytes = 2048
	f, d, _ := stationWithElection(t, opts)
	putAttendance(t, d, "att", 20)
	f.mu.Lock()
	f.dropResponses = 2 // the first two batches are stored, their answers lost
	f.mu.Unlock()

	rep := mustSync(t, d)
	if rep.Pushed != 20 || rep.Pending != 0 {
		t.Errorf("got pushed %d pending %d, want 20, 0", rep.Pushed, rep.Pending)
	}
	if s.count() != 2 {
		t.Errorf("got %d backoff waits, want 2", s.count())
	}
	_, received, duplicates, _, _, _ := f.stats()
	if duplicates == 0 || received != 20+duplicates {
		t.Errorf("got %d received with %d duplicates, want the lost batches resent", received, duplicates)
	}
	wantHeld(t, f, d.ID(), 20)
}

func TestSyncGivesUp(t *testing.T) {
	ctx := context.Background()
	t.Run("ErrUnavailable", func(t *testing.T) {
		s := &sleeps{}
		opts := testOptions(s)
		opts.MaxAttempts = 3
		f, d, _ := stationWithElection(t, opts)
		putAttendance(t, d, "att", 2)
		f.mu.Lock()
		f.failSync = []int{502, 503, 504}
		f.mu.Unlock()
		_, err := d.Sync(ctx)
		wantCode(t, err, syncproto.CodeUnavailable)
		if s.count() != 2 {
			t.Errorf("got %d waits, want 2 (3 attempts)", s.count())
		}
		if st, _ := d.Status(ctx); st.Pending != 2 {
			t.Errorf("got pending %d, want 2", st.Pending)
		}
		if rep := mustSync(t, d); rep.Pushed != 2 {
			t.Errorf("got pushed %d once the server is back, want 2", rep.Pushed)
		}
	})
	t.Run("ErrNotRetried", func(t *testing.T) {
		s := &sleeps{}
		f, d, _ := stationWithElection(t, testOptions(s))
		putAttendance(t, d, "att", 1)
		f.mu.Lock()
		f.failSync, f.failCode = []int{400}, string(syncproto.CodeBadRequest)
		f.mu.Unlock()
		_, err := d.Sync(ctx)
		wantCode(t, err, syncproto.CodeBadRequest)
		if s.count() != 0 {
			t.Errorf("got %d retries of a bad request, want 0", s.count())
		}
	})
	t.Run("ErrCancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		opts := testOptions(&sleeps{})
		opts.Sleep = func(ctx context.Context, _ time.Duration) error {
			cancel() // the operator gives up during the backoff
			return ctx.Err()
		}
		f, d, _ := stationWithElection(t, opts)
		putAttendance(t, d, "att", 1)
		f.mu.Lock()
		f.failSync = []int{503, 503}
		f.mu.Unlock()
		rep, err := d.Sync(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		if rep.Pending != 1 || rep.RoundTrips != 1 {
			t.Errorf("got pending %d round trips %d, want 1 and 1", rep.Pending, rep.RoundTrips)
		}
	})
	t.Run("ErrRetryableCode", func(t *testing.T) {
		s := &sleeps{}
		f, d, _ := stationWithElection(t, testOptions(s))
		putAttendance(t, d, "att", 1)
		f.mu.Lock()
		f.failSync, f.failCode = []int{429}, string(syncproto.CodeRateLimited)
		f.mu.Unlock()
		if rep := mustSync(t, d); rep.Pushed != 1 {
			t.Errorf("got pushed %d, want 1", rep.Pushed)
		}
		if s.count() != 1 {
			t.Errorf("got %d waits, want 1", s.count())
		}
	})
}

func TestSyncTokenRenewalUsesSavedNonce(t *testing.T) {
	clock := newTestClock()
	opts := testOptions(&sleeps{})
	opts.Now = clock.Now
	f := newFakeServer(t)
	f.now = clock.Now
	f.seedVillage(village)
	d, _ := mustEnroll(t, f, election.RoleStation, village, opts)

	first := mustSync(t, d)
	if first.RoundTrips != 3 { // nonce, token, sync
		t.Errorf("got %d round trips for the first sync, want 3", first.RoundTrips)
	}
	clock.Advance(20 * time.Minute) // the token has expired
	putAttendance(t, d, "att", 1)
	rep := mustSync(t, d)
	if rep.RoundTrips != 2 {
		t.Errorf("got %d round trips with an expired token, want 2 (token with the saved nonce, sync)", rep.RoundTrips)
	}
	_, _, _, nonces, tokens, _ := f.stats()
	if nonces != 1 || tokens != 2 {
		t.Errorf("got %d nonce and %d token requests, want 1 and 2", nonces, tokens)
	}
}

// TestSyncTokenRenewalAfterHours: a nonce saved hours ago has expired, so
// the device fetches a fresh one instead of sending the stale one to be
// refused: renewal costs nonce + token, not a refused token first.
func TestSyncTokenRenewalAfterHours(t *testing.T) {
	clock := newTestClock()
	opts := testOptions(&sleeps{})
	opts.Now = clock.Now
	f := newFakeServer(t)
	f.now = clock.Now
	f.seedVillage(village)
	d, _ := mustEnroll(t, f, election.RoleStation, village, opts)
	mustSync(t, d)
	clock.Advance(3 * time.Hour)
	putAttendance(t, d, "att", 1)
	rep := mustSync(t, d)
	if rep.RoundTrips != 3 {
		t.Errorf("got %d round trips hours later, want 3 (nonce, token, sync)", rep.RoundTrips)
	}
	_, _, _, nonces, tokens, _ := f.stats()
	if nonces != 2 || tokens != 2 {
		t.Errorf("got %d nonce and %d token requests, want 2 and 2 (no stale nonce sent)", nonces, tokens)
	}
}

func TestSyncReauthenticates(t *testing.T) {
	f, d, _ := stationWithElection(t, testOptions(&sleeps{}))
	putAttendance(t, d, "att", 1)
	f.dropTokens() // e.g. the server restarted and forgot its tokens
	rep := mustSync(t, d)
	if rep.Pushed != 1 {
		t.Errorf("got pushed %d, want 1", rep.Pushed)
	}
	if rep.RoundTrips != 3 { // refused sync, token with the saved nonce, sync
		t.Errorf("got %d round trips, want 3", rep.RoundTrips)
	}
}

func TestSyncRevoked(t *testing.T) {
	ctx := context.Background()
	f, d, _ := stationWithElection(t, testOptions(&sleeps{}))
	putAttendance(t, d, "att", 1)
	f.revoke(d.ID())
	_, err := d.Sync(ctx)
	wantCode(t, err, syncproto.CodeDeviceRevoked)
	for _, want := range []string{"已被县里吊销", "station export", "乡镇督导"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want a clear message for the operator naming %q", err, want)
		}
	}
	if st, _ := d.Status(ctx); st.Pending != 1 {
		t.Errorf("got pending %d, want the capture kept", st.Pending)
	}
}

func TestSyncRejectsBadReceipt(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		fault func(f *fakeServer)
		code  syncproto.Code
	}{
		{"ErrBadSignature", func(f *fakeServer) { f.badReceipts = true }, syncproto.CodeBadSignature},
		{"ErrEquivocation", func(f *fakeServer) { f.wrongHead = true }, syncproto.CodeEquivocation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, d, _ := stationWithElection(t, testOptions(&sleeps{}))
			putAttendance(t, d, "att", 5)
			f.mu.Lock()
			tt.fault(f)
			f.mu.Unlock()

			_, err := d.Sync(ctx)
			wantCode(t, err, tt.code)
			st, err := d.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Pending != 5 || st.LastReceipt != nil {
				t.Errorf("got pending %d receipt %v, want 5 and none: nothing acknowledged", st.Pending, st.LastReceipt)
			}

			f.mu.Lock()
			f.badReceipts, f.wrongHead = false, false
			f.mu.Unlock()
			rep := mustSync(t, d)
			if rep.Pushed != 5 {
				t.Errorf("got pushed %d once receipts are right, want 5", rep.Pushed)
			}
			wantHeld(t, f, d.ID(), 5)
		})
	}
}

func TestSyncLearnsRotatedKey(t *testing.T) {
	f, d, _ := stationWithElection(t, testOptions(&sleeps{}))
	putAttendance(t, d, "att", 1)
	f.rotateKey()
	rep := mustSync(t, d)
	if rep.Pushed != 1 || rep.RoundTrips != 2 { // sync, key set
		t.Errorf("got pushed %d in %d round trips, want 1 in 2", rep.Pushed, rep.RoundTrips)
	}
	putAttendance(t, d, "again", 1)
	if rep := mustSync(t, d); rep.RoundTrips != 1 {
		t.Errorf("got %d round trips once the key is known, want 1", rep.RoundTrips)
	}
}

func TestSyncResendsWhatServerLost(t *testing.T) {
	f, d, _ := stationWithElection(t, testOptions(&sleeps{}))
	putAttendance(t, d, "att", 10)
	mustSync(t, d)
	f.forget(d.ID(), 4) // the server was restored from an old backup

	rep := mustSync(t, d)
	if rep.Pending != 0 || rep.Through != 10 {
		t.Errorf("got pending %d through %d, want 0 and 10", rep.Pending, rep.Through)
	}
	wantHeld(t, f, d.ID(), 10)
}

func TestSyncClockOffset(t *testing.T) {
	ctx := context.Background()
	const skew = 72 * time.Hour
	f := newFakeServer(t)
	f.now = func() time.Time { return time.Now().Add(skew) }
	f.seedVillage(village)
	d, _ := mustEnroll(t, f, election.RoleStation, village, testOptions(&sleeps{}))

	rep := mustSync(t, d)
	if diff := time.Duration(rep.Offset)*time.Millisecond - skew; diff < -time.Minute || diff > time.Minute {
		t.Errorf("got offset %v, want about %v", time.Duration(rep.Offset)*time.Millisecond, skew)
	}
	st, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.ClockOffset != rep.Offset {
		t.Errorf("got status offset %d, want %d", st.ClockOffset, rep.Offset)
	}
	c := mustPut(t, d, "attendance", "att-1", attendance(village, 1))
	if c.Offset != rep.Offset {
		t.Errorf("got change offset %d, want the learned %d", c.Offset, rep.Offset)
	}
	if c.Wall < c.At+c.Offset || c.CorrectedAt()-time.Now().Add(skew).UnixMilli() > time.Minute.Milliseconds() {
		t.Errorf("got HLC %d, raw %d, corrected %d: want the HLC on the server's time", c.Wall, c.At, c.CorrectedAt())
	}
	if rep := mustSync(t, d); rep.Pushed != 1 || rep.RoundTrips != 1 {
		t.Errorf("got pushed %d in %d round trips, want 1 in 1 (token expiry judged on the server clock)", rep.Pushed, rep.RoundTrips)
	}
}

func TestSyncGzip(t *testing.T) {
	f := newFakeServer(t)
	f.gzipOnly = true
	f.seedVillage(village)
	d, _ := mustEnroll(t, f, election.RoleStation, village, testOptions(&sleeps{}))
	if rep := mustSync(t, d); rep.Pulled != 3 {
		t.Errorf("got pulled %d from a gzip server, want 3", rep.Pulled)
	}
}

func TestSyncConflicts(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	f.seedVillage(village)
	county, _ := mustEnroll(t, f, election.RoleCounty, "220422", testOptions(&sleeps{}))
	mustSync(t, county)
	var id string

	t.Run("ErrStaleBase", func(t *testing.T) {
		// The device edits the village record while another county
		// device publishes its own edit of the same version.
		edit := mustPut(t, county, "village", village, `{"township":"220422100","name":"测试村","key_village":true}`)
		if edit.Base != 1 {
			t.Fatalf("got base %d, want 1 (the pulled version)", edit.Base)
		}
		rival := newFakeAuthor(t)
		other := f.publish(rival, "village", village, `{"township":"220422100","name":"测试村（新）","key_village":false}`, 1)
		rep := mustSync(t, county)
		if rep.Conflicts != 1 || rep.Pushed != 1 {
			t.Errorf("got %d conflicts, pushed %d, want 1 and 1", rep.Conflicts, rep.Pushed)
		}
		id = wantConflictID("record", "village", village, ref(edit), ref(other))
		rec, err := county.Get(ctx, "village", village)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Version != 2 || rec.Conflict != id || len(rec.Versions) != 2 {
			t.Errorf("got %+v, want version 2 in conflict %s with both versions", rec, id)
		}
		cs, err := county.Conflicts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 1 || cs[0].ID != id || cs[0].RecordID != village || cs[0].Kind != client.ConflictRecord {
			t.Fatalf("got conflicts %+v, want record conflict %s", cs, id)
		}
		for _, v := range cs[0].Versions {
			if v.Base != 1 || (v.Device == rival.id) == v.Own {
				t.Errorf("got version %+v, want based on 1, own exactly when authored here", v)
			}
		}
	})

	t.Run("OKBasedOnHeldVersion", func(t *testing.T) {
		rival := newFakeAuthor(t)
		f.publish(rival, "village", village, `{"township":"220422100","name":"测试村","key_village":false}`, 2)
		rep := mustSync(t, county)
		if rep.Conflicts != 0 || rep.Pulled != 1 {
			t.Errorf("got %d conflicts, pulled %d, want 0 and 1", rep.Conflicts, rep.Pulled)
		}
		rec, err := county.Get(ctx, "village", village)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Version != 3 || rec.Device != rival.id || rec.Conflict != id {
			t.Errorf("got %+v, want the rival's version 3, conflict %s still open", rec, id)
		}
		st, err := county.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Conflicts != 1 {
			t.Errorf("got %d conflicts in status, want 1", st.Conflicts)
		}
	})
}

func TestSyncConcurrentCapture(t *testing.T) {
	f, d, _ := stationWithElection(t, testOptions(&sleeps{}))
	done := make(chan error, 1)
	go func() {
		for i := range 50 {
			if _, err := d.Put(context.Background(), "attendance", "c-"+strconv.Itoa(i), []byte(attendance(village, i))); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range 5 {
		mustSync(t, d)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rep := mustSync(t, d); rep.Pending != 0 {
		t.Errorf("got pending %d, want 0", rep.Pending)
	}
	wantHeld(t, f, d.ID(), 50)
}

// TestImportCountsOnce: importing a bundle counts its changes once; the
// same bundle imported again adds nothing.
func TestImportCountsOnce(t *testing.T) {
	ctx := context.Background()
	f, a, _ := stationWithElection(t, testOptions(&sleeps{}))
	putAttendance(t, a, "att", 3)
	b, _ := mustEnroll(t, f, election.RoleSupervisor, township, testOptions(&sleeps{}))
	bundle, err := a.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{3, 0} {
		n, err := b.Import(ctx, bundle)
		if err != nil || n != want {
			t.Errorf("import %d: got %d, %v; want %d new", i+1, n, err, want)
		}
	}
}
