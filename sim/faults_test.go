package sim_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	client "villagesync/client-sdk"
	"villagesync/election"
	"villagesync/server"
	"villagesync/server/httpapi"
	"villagesync/server/sqlite"
	"villagesync/sim"
	"villagesync/syncproto"
)

// world is a real server and its handler, in process.
type world struct {
	store   *sqlite.Store
	service *server.Service
	handler http.Handler
}

func newWorld(tb testing.TB) *world {
	tb.Helper()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "server.db"), logger)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = store.Close() })
	svc, err := server.New(ctx, store, server.Config{CountyCode: "220422", Logger: logger})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := svc.Seed(ctx, election.Dongliao()); err != nil {
		tb.Fatal(err)
	}
	return &world{store: store, service: svc, handler: httpapi.New(svc, httpapi.Config{Logger: logger, Limits: httpapi.SharedAddress()})}
}

// simDevice is one device on its own faulty link.
type simDevice struct {
	dev      *client.Device
	link     *sim.Link
	scope    election.Scope
	captured []syncproto.Change // every change Put returned, in seq order
}

func (w *world) enroll(tb testing.TB, role election.Role, scope string, seed uint64) *simDevice {
	tb.Helper()
	ctx := context.Background()
	code, _, err := w.service.CreateEnrollCode(ctx, role, scope, time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	link := sim.NewLink(w.handler, seed, sim.Faults{})
	opts := client.Options{
		HTTPClient:  &http.Client{Transport: link},
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Sleep:       func(ctx context.Context, d time.Duration) error { return ctx.Err() },
		BatchBytes:  4 << 10, // small batches: many round trips, many chances to fail
		MaxAttempts: 3,
	}
	d, err := client.Enroll(ctx, filepath.Join(tb.TempDir(), "dev"), "http://villagesync.sim", code, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = d.Close() })
	// First contact pulls the reference data of its scope, on a clean link.
	if _, err := d.Sync(ctx); err != nil {
		tb.Fatalf("first sync: %v", err)
	}
	return &simDevice{dev: d, link: link, scope: election.Scope{Role: role, Code: scope}}
}

func (s *simDevice) put(tb testing.TB, coll, id, body string) {
	tb.Helper()
	c, err := s.dev.Put(context.Background(), coll, id, []byte(body))
	if err != nil {
		tb.Fatalf("put %s/%s: %v", coll, id, err)
	}
	if n := len(s.captured); n > 0 && c.Seq != s.captured[n-1].Seq+1 {
		tb.Fatalf("put %s/%s: got seq %d after %d", coll, id, c.Seq, s.captured[n-1].Seq)
	}
	s.captured = append(s.captured, c)
}

// TestFaultyLinks runs a supervisor and three stations through links that
// drop requests, drop responses after the server committed, duplicate,
// tear and replay requests, then checks that every change is on the server
// exactly once, byte-identical and signed, and that every device converges.
func TestFaultyLinks(t *testing.T) {
	seeds := 6
	if testing.Short() {
		seeds = 2
	}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runFaultySeason(t, seed) })
	}
}

func runFaultySeason(t *testing.T, seed uint64) {
	ctx := context.Background()
	w := newWorld(t)
	rng := rand.New(rand.NewPCG(seed, 99))
	sup := w.enroll(t, election.RoleSupervisor, "220422100", seed*10+1)
	stations := []*simDevice{
		w.enroll(t, election.RoleStation, "220422100201", seed*10+2),
		w.enroll(t, election.RoleStation, "220422100202", seed*10+3),
		w.enroll(t, election.RoleStation, "220422101201", seed*10+4),
	}
	all := append([]*simDevice{sup}, stations...)
	faults := sim.Faults{DropRequest: 0.15, DropResponse: 0.15, Duplicate: 0.15, Tear: 0.15, Replay: 0.15}
	for _, d := range all {
		d.link.SetFaults(faults)
	}

	problems := 0
	rectified := map[string]bool{}
	for round := 1; round <= 8; round++ {
		for _, v := range []string{"220422100201", "220422100202"} {
			sup.put(t, "supervision_visit", fmt.Sprintf("V-%s-%d", v, round),
				fmt.Sprintf(`{"village":%q,"round":%d,"visited_at":"2026-03-%02dT09:00:00+08:00","notes":"第%d轮督导 <检查> & 记录"}`, v, (round-1)%4+1, round, round))
			for i := 0; i < 1+rng.IntN(3); i++ {
				problems++
				sup.put(t, "problem", fmt.Sprintf("P-%03d", problems),
					fmt.Sprintf(`{"village":%q,"source":"visit","category":"程序","description":"问题 %d"}`, v, problems))
			}
		}
		for _, st := range stations {
			if round == 1 {
				st.put(t, "attendance", "A-"+st.scope.Code,
					fmt.Sprintf(`{"election":"%s-PC","eligible":60,"present":55}`, st.scope.Code))
			}
			st.put(t, "returned_member", fmt.Sprintf("RM-%s-%d", st.scope.Code, round),
				fmt.Sprintf(`{"village":%q,"origin":"长春市","returned_on":"2026-02-%02d"}`, st.scope.Code, round+10))
			// Rectify every problem of its village it has pulled so far.
			for p := 1; p <= problems; p++ {
				id := fmt.Sprintf("P-%03d", p)
				if rectified[id] {
					continue
				}
				if _, err := st.dev.Get(ctx, "problem", id); err != nil {
					continue // not pulled yet, or not its village
				}
				rectified[id] = true
				st.put(t, "rectification", "R-"+id, fmt.Sprintf(`{"problem":%q,"status":"RECTIFIED","notes":"已整改"}`, id))
			}
		}
		for _, d := range all {
			_, _ = d.dev.Sync(ctx) // faults may stop a sync; the next one carries on
		}
	}

	// The links heal; every device syncs until nothing moves.
	var stats sim.LinkStats
	for _, d := range all {
		d.link.SetFaults(sim.Faults{})
		s := d.link.Stats()
		stats.DroppedRequests += s.DroppedRequests
		stats.DroppedResponses += s.DroppedResponses
		stats.Duplicated += s.Duplicated
		stats.Torn += s.Torn
		stats.Replayed += s.Replayed
	}
	for pass := 0; pass < 2; pass++ {
		for _, d := range all {
			if _, err := d.dev.Sync(ctx); err != nil {
				t.Fatalf("clean sync: %v", err)
			}
		}
	}
	t.Logf("faults injected: %d requests dropped, %d responses dropped after commit, %d duplicated, %d torn, %d replayed",
		stats.DroppedRequests, stats.DroppedResponses, stats.Duplicated, stats.Torn, stats.Replayed)
	if stats.DroppedResponses == 0 || stats.Duplicated == 0 || stats.Torn == 0 || stats.Replayed == 0 {
		t.Fatalf("seed %d injected too few faults to mean anything: %+v", seed, stats)
	}

	// Every captured change is on the server exactly once, byte-identical,
	// and verifies as an unbroken signed chain from seq 1.
	onServer := serverChanges(t, w)
	for _, d := range all {
		st, err := d.dev.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Pending != 0 {
			t.Fatalf("%s: got %d pending after clean syncs, want 0", st.Device, st.Pending)
		}
		got := onServer[st.Device]
		if len(got) != len(d.captured) {
			t.Fatalf("%s: server holds %d changes, device captured %d", st.Device, len(got), len(d.captured))
		}
		for i, c := range d.captured {
			s := got[i]
			if s.Seq != c.Seq || s.Collection != c.Collection || s.ID != c.ID || !bytes.Equal(s.Body, c.Body) {
				t.Fatalf("%s seq %d: server copy differs:\n got %s/%s %s\nwant %s/%s %s", st.Device, c.Seq, s.Collection, s.ID, s.Body, c.Collection, c.ID, c.Body)
			}
		}
		dev, err := w.store.Device(ctx, st.Device)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := syncproto.VerifyRun(ed25519.PublicKey(dev.PublicKey), got); err != nil {
			t.Fatalf("%s: stored chain does not verify: %v", st.Device, err)
		}
		if st.LastReceipt == nil || st.LastReceipt.Through != uint64(len(d.captured)) {
			t.Fatalf("%s: last receipt %+v, want through %d", st.Device, st.LastReceipt, len(d.captured))
		}
	}

	// Every device converges on exactly the records its scope may read.
	for _, d := range all {
		for _, c := range allChanges(onServer) {
			p, ok, err := w.store.Place(ctx, c.Collection, c.ID)
			if err != nil || !ok {
				t.Fatalf("server lost the place of %s/%s: %v", c.Collection, c.ID, err)
			}
			rec, err := d.dev.Get(ctx, c.Collection, c.ID)
			visible := d.scope.CanRead(c.Collection, p)
			switch {
			case visible && err != nil:
				t.Fatalf("%s %s: %s/%s visible but missing: %v", d.scope.Role, d.scope.Code, c.Collection, c.ID, err)
			case visible && !bytes.Equal(rec.Body, c.Body):
				t.Fatalf("%s %s: %s/%s differs: got %s, want %s", d.scope.Role, d.scope.Code, c.Collection, c.ID, rec.Body, c.Body)
			case !visible && err == nil:
				t.Fatalf("%s %s: holds %s/%s outside its scope", d.scope.Role, d.scope.Code, c.Collection, c.ID)
			}
		}
	}
}

// serverChanges pulls every device-authored change from the server with a
// county scope, grouped by device in seq order.
func serverChanges(tb testing.TB, w *world) map[string][]syncproto.Change {
	tb.Helper()
	ctx := context.Background()
	county := election.Scope{Role: election.RoleCounty, Code: "220422"}
	out := map[string][]syncproto.Change{}
	seen := map[string]bool{}
	var after uint64
	for {
		page, next, more, err := w.store.Pull(ctx, county, after, 1<<20, "")
		if err != nil {
			tb.Fatal(err)
		}
		for _, c := range page {
			key := fmt.Sprintf("%s/%d", c.Device, c.Seq)
			if seen[key] {
				tb.Fatalf("server log holds %s twice", key)
			}
			seen[key] = true
			if c.Collection == "county" || c.Collection == "township" || c.Collection == "village" ||
				c.Collection == "election" || c.Collection == "candidate" || c.Collection == "roll_count" {
				continue // reference data authored by the county authority
			}
			out[c.Device] = append(out[c.Device], c)
		}
		after = next
		if !more {
			return out
		}
	}
}

func allChanges(m map[string][]syncproto.Change) []syncproto.Change {
	var out []syncproto.Change
	for _, cs := range m {
		out = append(out, cs...)
	}
	return out
}
