package server_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/httpapi/httptestutil"
	"villagesync/syncproto"
)

// lateFixture is a county with a station that synced seqs 1-3 and was then
// revoked, and authored 4-6 after: its late changes, which a supervisor of
// its township carries to the server.
type lateFixture struct {
	e        *httptestutil.Env
	village  string
	station  *httptestutil.Device // revoked after seq 3
	sup      *httptestutil.Device // a supervisor of the station's township
	peer     *httptestutil.Device // another station of the same village
	county   *server.Principal    // a person of the county
	item     string               // the id the review item of 4-6 gets
	revoked  time.Time
	attended map[string]any
}

// attendanceID is the record id of the station's attendance change seq.
func (f *lateFixture) attendanceID(seq uint64) string {
	return fmt.Sprintf("%s-att-%d", f.village, seq)
}

func newLateFixture(t *testing.T) *lateFixture {
	t.Helper()
	return newLateFixtureOptions(t, httptestutil.Options{})
}

func newLateFixtureOptions(t *testing.T, opts httptestutil.Options) *lateFixture {
	t.Helper()
	e := httptestutil.NewEnvOptions(t, opts)
	ctx := t.Context()
	f := &lateFixture{e: e, village: e.Village(0, 0)}
	f.station = e.Enroll(t, election.RoleStation, f.village)
	f.sup = e.Enroll(t, election.RoleSupervisor, e.Township(0))
	f.peer = e.Enroll(t, election.RoleStation, f.village)
	f.county = f.person(t, "county-admin", election.RoleCounty, election.DongliaoCode)
	f.attended = e.CleanAttendance(t, f.village)
	for seq := uint64(1); seq <= 3; seq++ {
		f.station.Author(t, "attendance", f.attendanceID(seq), f.attended)
	}
	e.SyncAll(t, f.station)
	if f.station.Acked != 3 {
		t.Fatalf("station acked %d, want 3", f.station.Acked)
	}
	e.Clock.Advance(time.Minute)
	f.revoked = e.Clock.Now()
	if err := e.Service.Revoke(ctx, f.station.ID); err != nil {
		t.Fatal(err)
	}
	for seq := uint64(4); seq <= 6; seq++ {
		f.station.Author(t, "attendance", f.attendanceID(seq), f.attended)
	}
	f.item = server.QuarantineItemID(f.station.ID, 4)
	e.Clock.Advance(time.Minute)
	return f
}

// person authenticates a minted token of a person of role in scope.
func (f *lateFixture) person(t *testing.T, subject string, role election.Role, scope string) *server.Principal {
	t.Helper()
	p, err := f.e.Service.Authenticate(t.Context(), f.e.Token(t, subject, role, scope))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// principal authenticates a device's token.
func (f *lateFixture) principal(t *testing.T, d *httptestutil.Device) *server.Principal {
	t.Helper()
	p, err := f.e.Service.Authenticate(t.Context(), d.Token)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// relay has the supervisor carry changes.
func (f *lateFixture) relay(t *testing.T, changes []syncproto.Change) (*syncproto.SyncResponse, error) {
	t.Helper()
	return f.e.Service.Sync(t.Context(), f.principal(t, f.sup), &syncproto.SyncRequest{Relay: changes, PullMax: -1})
}

// mustRelay has the supervisor carry changes and checks the station's
// receipt: signed by a server key and covering through, with its hash.
func (f *lateFixture) mustRelay(t *testing.T, changes []syncproto.Change, through uint64) {
	t.Helper()
	resp, err := f.relay(t, changes)
	if err != nil {
		t.Fatalf("the supervisor's sync: %v", err)
	}
	if len(resp.Relayed) != 1 {
		t.Fatalf("got %d relay receipts, want 1", len(resp.Relayed))
	}
	r := resp.Relayed[0]
	if r.Device != f.station.ID || r.Through != through || r.Head != f.station.Hash(through) {
		t.Fatalf("got receipt of %s through %d head %v, want %s through %d head %v",
			r.Device, r.Through, r.Head, f.station.ID, through, f.station.Hash(through))
	}
	keys, err := f.e.Service.ServerKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	verified := false
	for _, k := range keys {
		verified = verified || k.KeyID == r.KeyID && r.Verify(ed25519.PublicKey(k.PublicKey))
	}
	if !verified {
		t.Fatal("the relay receipt does not verify with a server key")
	}
}

// revokedItems returns the review items of revoked devices p sees.
func (f *lateFixture) revokedItems(t *testing.T, p *server.Principal, status string) []server.ReviewItem {
	t.Helper()
	q, err := f.e.Service.Review(t.Context(), p, status)
	if err != nil {
		t.Fatal(err)
	}
	var items []server.ReviewItem
	for _, it := range q.Items {
		if it.Kind == server.ItemRevoked {
			items = append(items, it)
		}
	}
	return items
}

// wantRecords checks whether the records of the station's seqs exist, as
// the county reads them.
func (f *lateFixture) wantRecords(t *testing.T, exist bool, seqs ...uint64) {
	t.Helper()
	for _, seq := range seqs {
		_, err := f.e.Service.Record(t.Context(), f.county, "attendance", f.attendanceID(seq))
		switch {
		case exist && err != nil:
			t.Fatalf("record of change %d: got %v, want it applied", seq, err)
		case !exist && code(err) != syncproto.CodeNotFound:
			t.Fatalf("record of change %d: got %v, want not_found", seq, err)
		}
	}
}

// pulledOf returns the seqs of the station's changes the peer station
// pulls.
func (f *lateFixture) pulledOf(t *testing.T) []uint64 {
	t.Helper()
	var seqs []uint64
	for _, c := range f.e.SyncAll(t, f.peer) {
		if c.Device == f.station.ID {
			seqs = append(seqs, c.Seq)
		}
	}
	return seqs
}

// quarantinedCount is the villagesync_changes_total counter of outcome.
func quarantinedCount(t *testing.T, e *httptestutil.Env, outcome string) float64 {
	t.Helper()
	mfs, err := e.Service.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "villagesync_changes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no villagesync_changes_total{outcome=%q}", outcome)
	return 0
}

func TestRevokedDeviceChangesAccepted(t *testing.T) {
	f := newLateFixture(t)
	e, ctx := f.e, t.Context()
	if got := f.pulledOf(t); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("the peer pulled %v of the station before the relay, want 1-3", got)
	}

	// The supervisor's sync carries 4-6 and is not blocked.
	f.mustRelay(t, f.station.Run(4, 6), 6)
	f.wantRecords(t, true, 1, 2, 3)
	f.wantRecords(t, false, 4, 5, 6)
	if got := f.pulledOf(t); len(got) != 0 {
		t.Fatalf("the peer pulled %v of the station's late changes, want none", got)
	}
	if got := quarantinedCount(t, e, server.OutcomeQuarantined); got != 3 {
		t.Fatalf("got %v quarantined changes counted, want 3", got)
	}
	rep, err := e.Service.Report(ctx, f.county)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range rep.Villages {
		if v.Code == f.village && v.OpenConflicts != 0 {
			t.Fatalf("got %d open conflicts for the village, want none: quarantine is not counted", v.OpenConflicts)
		}
	}

	items := f.revokedItems(t, f.county, "")
	if len(items) != 1 {
		t.Fatalf("got %d revoked items, want 1", len(items))
	}
	it := items[0]
	if it.ID != f.item || it.Status != server.StatusOpen || it.Device != f.station.ID || it.Village != f.village ||
		it.Township != election.TownshipOf(f.village) || it.Place.Village != f.village || it.RevokedAfter != 3 ||
		it.RevokedAt != f.revoked.UTC().Format(time.RFC3339) || it.FirstSeq != 4 || it.LastSeq != 6 {
		t.Fatalf("got item %+v, want %s open in village %s, changes 4-6 after 3", it, f.item, f.village)
	}
	if !strings.Contains(it.Message, "已吊销设备 "+f.station.ID) || !strings.Contains(it.Message, "3 条变更待审核") ||
		!strings.Contains(it.MessageEN, "3 changes") {
		t.Fatalf("got messages %q / %q, want them to say 3 changes of the revoked device await review", it.Message, it.MessageEN)
	}
	if len(it.Changes) != 3 {
		t.Fatalf("got %d changes in the item, want 3", len(it.Changes))
	}
	for i, c := range it.Changes {
		seq := uint64(4 + i)
		if c.Seq != seq || c.Device != f.station.ID || c.Collection != "attendance" || c.ID != f.attendanceID(seq) ||
			c.Ref != server.VersionRef(f.station.ID, seq) || c.Captured == "" || c.Received == "" {
			t.Fatalf("got change %+v, want attendance %s seq %d", c, f.attendanceID(seq), seq)
		}
		var body map[string]any
		if err := json.Unmarshal(c.Body, &body); err != nil || body["election"] != f.attended["election"] {
			t.Fatalf("got body %s (%v), want the attendance", c.Body, err)
		}
	}

	// Only the county decides, with a reason.
	for _, tt := range []struct {
		name string
		p    *server.Principal
		req  server.ResolveRequest
		want syncproto.Code
	}{
		{"Supervisor", f.principal(t, f.sup), server.ResolveRequest{Keep: "accept", Reason: "核实"}, syncproto.CodeForbidden},
		{"Observer", f.person(t, "observer", election.RoleObserver, election.DongliaoCode), server.ResolveRequest{Keep: "accept", Reason: "核实"}, syncproto.CodeForbidden},
		{"Station", f.principal(t, f.peer), server.ResolveRequest{Keep: "accept", Reason: "核实"}, syncproto.CodeForbidden},
		{"NoReason", f.county, server.ResolveRequest{Keep: "accept", Reason: "  "}, syncproto.CodeBadRequest},
		{"BadKeep", f.county, server.ResolveRequest{Keep: f.station.ID + "/4", Reason: "核实"}, syncproto.CodeBadRequest},
		{"UnknownItem", f.county, server.ResolveRequest{Keep: "accept", Reason: "核实"}, syncproto.CodeNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id := f.item
			if tt.name == "UnknownItem" {
				id = server.QuarantineItemID(f.station.ID, 99)
			}
			_, err := e.Service.Resolve(ctx, tt.p, id, tt.req)
			if code(err) != tt.want {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
			f.wantRecords(t, false, 4, 5, 6)
		})
	}

	e.Clock.Advance(time.Minute)
	res, err := e.Service.Resolve(ctx, f.county, f.item, server.ResolveRequest{Keep: "accept", Reason: "与纸质签到表核对无误"})
	if err != nil {
		t.Fatal(err)
	}
	if res.ID != f.item || res.Status != server.StatusAccepted || res.Keep != server.KeepAccept {
		t.Fatalf("got %+v, want %s accepted", res, f.item)
	}
	f.wantRecords(t, true, 4, 5, 6)
	if got := f.pulledOf(t); !slices.Equal(got, []uint64{4, 5, 6}) {
		t.Fatalf("the peer pulled %v of the station after the accept, want 4-6", got)
	}
	trail, err := e.Store.AuditTrail(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(trail); n != 1 || trail[0].Target != f.item || trail[0].Keep != "accept" || trail[0].Subject != "county-admin" ||
		trail[0].Reason != "与纸质签到表核对无误" || !trail[0].Created.Equal(e.Clock.Now()) {
		t.Fatalf("got audit trail %+v, want the county's accept of %s", trail, f.item)
	}
	if items := f.revokedItems(t, f.county, ""); len(items) != 0 {
		t.Fatalf("got open revoked items %+v after the accept, want none", items)
	}
	all := f.revokedItems(t, f.county, "all")
	if len(all) != 1 || all[0].Status != server.StatusAccepted || all[0].Reason != "与纸质签到表核对无误" || all[0].ResolvedAt == "" {
		t.Fatalf("got %+v with status=all, want the accepted item with its reason", all)
	}
	_, err = e.Service.Resolve(ctx, f.county, f.item, server.ResolveRequest{Keep: "reject", Reason: "改主意"})
	if code(err) != syncproto.CodeConflict {
		t.Fatalf("deciding twice: got %v, want conflict", err)
	}

	// The station stays revoked: what it signs next is a new item.
	f.station.Author(t, "attendance", f.attendanceID(7), f.attended)
	f.mustRelay(t, f.station.Run(7, 7), 7)
	f.wantRecords(t, false, 7)
	open := f.revokedItems(t, f.county, "")
	if want := server.QuarantineItemID(f.station.ID, 7); len(open) != 1 || open[0].ID != want || len(open[0].Changes) != 1 {
		t.Fatalf("got %+v, want one open item %s", open, want)
	}
	if _, err := e.Service.Token(ctx, f.station.TokenRequest(mustNonce(t, e))); code(err) != syncproto.CodeDeviceRevoked {
		t.Fatalf("the revoked station's token request: got %v, want device_revoked", err)
	}
}

func TestRevokedDeviceChangesRejected(t *testing.T) {
	f := newLateFixture(t)
	e, ctx := f.e, t.Context()
	f.mustRelay(t, f.station.Run(4, 6), 6)
	res, err := e.Service.Resolve(ctx, f.county, f.item, server.ResolveRequest{Keep: "reject", Reason: "设备已丢失，变更不可信"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != server.StatusRejected || res.Keep != server.KeepReject {
		t.Fatalf("got %+v, want rejected", res)
	}
	f.wantRecords(t, false, 4, 5, 6)
	if got := f.pulledOf(t); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("the peer pulled %v of the station, want 1-3 only: none of the rejected changes", got)
	}
	if items := f.revokedItems(t, f.county, ""); len(items) != 0 {
		t.Fatalf("got open items %+v after the reject, want none", items)
	}
	all := f.revokedItems(t, f.county, "all")
	if len(all) != 1 || all[0].Status != server.StatusRejected || len(all[0].Changes) != 3 || !strings.Contains(all[0].Message, "拒绝") {
		t.Fatalf("got %+v with status=all, want the rejected item with its 3 changes as evidence", all)
	}
	trail, err := e.Store.AuditTrail(ctx)
	if err != nil || len(trail) != 1 || trail[0].Keep != "reject" || trail[0].Target != f.item {
		t.Fatalf("got audit trail %+v (%v), want the reject", trail, err)
	}

	// The carrier's later relays are held too, in a new item that cannot
	// be accepted without the rejected changes it continues.
	f.station.Author(t, "attendance", f.attendanceID(7), f.attended)
	f.mustRelay(t, f.station.Run(4, 7), 7)
	next := server.QuarantineItemID(f.station.ID, 7)
	_, err = e.Service.Resolve(ctx, f.county, next, server.ResolveRequest{Keep: "accept", Reason: "核实"})
	if code(err) != syncproto.CodeConflict {
		t.Fatalf("accepting changes after rejected ones: got %v, want conflict", err)
	}
	f.wantRecords(t, false, 4, 5, 6, 7)
}

func TestRevokedDeviceRelay(t *testing.T) {
	t.Run("DuplicateRelayIsIdempotent", func(t *testing.T) {
		f := newLateFixture(t)
		f.mustRelay(t, f.station.Run(4, 6), 6)
		before := f.e.Stats(t)
		dups := quarantinedCount(t, f.e, server.OutcomeDuplicate)
		f.mustRelay(t, f.station.Run(4, 6), 6)
		f.mustRelay(t, f.station.Run(1, 6), 6) // the logged 1-3 too
		if after := f.e.Stats(t); after != before {
			t.Fatalf("got stats %+v after the re-sends, want %+v", after, before)
		}
		if got := quarantinedCount(t, f.e, server.OutcomeDuplicate) - dups; got != 9 {
			t.Fatalf("got %v duplicates counted, want 9", got)
		}
		if got := quarantinedCount(t, f.e, server.OutcomeQuarantined); got != 3 {
			t.Fatalf("got %v quarantined, want 3", got)
		}
		items := f.revokedItems(t, f.county, "all")
		if len(items) != 1 || len(items[0].Changes) != 3 {
			t.Fatalf("got items %+v, want one with 3 changes", items)
		}
	})

	t.Run("EquivocationAgainstQuarantine", func(t *testing.T) {
		f := newLateFixture(t)
		f.mustRelay(t, f.station.Run(4, 6), 6)
		fork := f.station.Fork(t, 5, map[string]any{"election": f.attended["election"], "eligible": 1, "present": 1})
		_, err := f.relay(t, fork)
		if pe, ok := errors.AsType[*syncproto.Error](err); !ok || pe.Code != syncproto.CodeEquivocation || pe.Seq != 5 {
			t.Fatalf("got %v, want equivocation at seq 5", err)
		}
		if s := f.e.Stats(t); s.Equivocations != 1 {
			t.Fatalf("got %d equivocation evidence rows, want 1", s.Equivocations)
		}
		alerts, err := f.e.Store.Alerts(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(alerts, func(a server.Alert) bool { return a.Kind == "equivocation" && a.Device == f.station.ID }) {
			t.Fatalf("got alerts %+v, want an equivocation alert for the station", alerts)
		}
		items := f.revokedItems(t, f.county, "")
		if len(items) != 1 || len(items[0].Changes) != 3 || !strings.Contains(string(items[0].Changes[1].Body), `"present":`) ||
			strings.Contains(string(items[0].Changes[1].Body), `"present":1}`) {
			t.Fatalf("got %+v, want the first version of 5 kept in the item", items)
		}
	})

	t.Run("OutOfScopeRefused", func(t *testing.T) {
		f := newLateFixture(t)
		other := f.e.Village(0, 1)
		f.station.Author(t, "attendance", other+"-att-7", f.e.CleanAttendance(t, other))
		before := f.e.Stats(t)
		_, err := f.relay(t, f.station.Run(4, 7))
		if pe, ok := errors.AsType[*syncproto.Error](err); !ok || pe.Code != syncproto.CodeOutOfScope || pe.Seq != 7 {
			t.Fatalf("got %v, want out_of_scope at seq 7", err)
		}
		if after := f.e.Stats(t); after != before {
			t.Fatalf("got stats %+v after a refused relay, want %+v", after, before)
		}
		if items := f.revokedItems(t, f.county, "all"); len(items) != 0 {
			t.Fatalf("got items %+v after a refused relay, want nothing quarantined", items)
		}
	})

	t.Run("LaterRelayReferencesQuarantined", func(t *testing.T) {
		// A tally sheet, then in a later relay its amendment: the
		// amendment refers to a record that is only in quarantine, which
		// must neither refuse it nor block the carrier.
		f := newLateFixture(t)
		sheet := f.village + "-sheet-1"
		f.station.Author(t, "tally_sheet", sheet, f.e.CleanSheet(t, f.village))
		f.mustRelay(t, f.station.Run(4, 7), 7)
		f.station.Author(t, "tally_amendment", f.village+"-amend-1", map[string]any{
			"sheet": sheet, "reason": "复核更正", "signers": map[string]any{"station": "站长 甲", "supervisor": "督导 乙"}, "invalid": 0,
		})
		f.mustRelay(t, f.station.Run(8, 8), 8)
		items := f.revokedItems(t, f.county, "")
		if len(items) != 1 || items[0].FirstSeq != 4 || items[0].LastSeq != 8 {
			t.Fatalf("got items %+v, want one item of 4-8", items)
		}
		if _, err := f.e.Service.Resolve(t.Context(), f.county, f.item, server.ResolveRequest{Keep: "accept", Reason: "核实"}); err != nil {
			t.Fatal(err)
		}
		for _, r := range [][2]string{{"tally_sheet", sheet}, {"tally_amendment", f.village + "-amend-1"}} {
			if _, err := f.e.Service.Record(t.Context(), f.county, r[0], r[1]); err != nil {
				t.Fatalf("%s %s after the accept: %v", r[0], r[1], err)
			}
		}
	})
}

func TestRevokedDeviceReviewScope(t *testing.T) {
	f := newLateFixture(t)
	f.mustRelay(t, f.station.Run(4, 6), 6)
	otherStation := f.e.Enroll(t, election.RoleStation, f.e.Village(0, 1))
	otherSup := f.e.Enroll(t, election.RoleSupervisor, f.e.Township(1))
	tests := []struct {
		name string
		p    *server.Principal
		want int
	}{
		{"County", f.county, 1},
		{"Supervisor", f.principal(t, f.sup), 1},
		{"StationOfTheVillage", f.principal(t, f.peer), 1},
		{"StationOfAnotherVillage", f.principal(t, otherStation), 0},
		{"SupervisorOfAnotherTownship", f.principal(t, otherSup), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items := f.revokedItems(t, tt.p, "all")
			if len(items) != tt.want {
				t.Fatalf("got %d revoked items, want %d", len(items), tt.want)
			}
			for _, it := range items {
				for _, c := range it.Changes {
					if len(c.Body) == 0 {
						t.Fatalf("change %s has no body for a reader of its village", c.Ref)
					}
				}
			}
		})
	}
	_, err := f.e.Service.Review(t.Context(), f.person(t, "observer", election.RoleObserver, election.DongliaoCode), "all")
	if code(err) != syncproto.CodeForbidden {
		t.Fatalf("observer review: got %v, want forbidden", err)
	}
}

func TestRevokedDeviceOwnRequests(t *testing.T) {
	f := newLateFixture(t)
	e, ctx := f.e, t.Context()
	wantAdvice := func(t *testing.T, err error) {
		t.Helper()
		pe, ok := errors.AsType[*syncproto.Error](err)
		if !ok || pe.Code != syncproto.CodeDeviceRevoked {
			t.Fatalf("got %v, want device_revoked", err)
		}
		for _, want := range []string{f.station.ID, f.revoked.UTC().Format(time.RFC3339), "villagesync station export --out FILE", "supervisor", "review"} {
			if !strings.Contains(pe.Message, want) {
				t.Errorf("message %q: want it to say %q", pe.Message, want)
			}
		}
	}
	t.Run("Token", func(t *testing.T) {
		_, err := e.Service.Token(ctx, f.station.TokenRequest(mustNonce(t, e)))
		wantAdvice(t, err)
	})
	t.Run("OldToken", func(t *testing.T) {
		_, err := e.Service.Authenticate(ctx, f.station.Token)
		wantAdvice(t, err)
	})
	t.Run("Sync", func(t *testing.T) {
		// A principal from before the revocation, as in a request under way.
		p := &server.Principal{Subject: f.station.ID, Device: f.station.ID, Scope: f.station.Scope}
		before := e.Stats(t)
		_, err := e.Service.Sync(ctx, p, &syncproto.SyncRequest{Changes: f.station.Run(4, 6), PullMax: -1})
		wantAdvice(t, err)
		if after := e.Stats(t); after != before {
			t.Fatalf("got stats %+v, want %+v", after, before)
		}
		f.wantRecords(t, false, 4, 5, 6)
	})
}

// staleDevices is a store whose next read of one device is from before its
// revocation, as when the county revokes it while a request is checked.
type staleDevices struct {
	server.Store
	stale atomic.Pointer[string]
}

func (s *staleDevices) Device(ctx context.Context, id string) (server.Device, error) {
	dev, err := s.Store.Device(ctx, id)
	if p := s.stale.Load(); p != nil && *p == id && s.stale.CompareAndSwap(p, nil) {
		dev.Revoked, dev.RevokedAfter = time.Time{}, 0
	}
	return dev, err
}

// TestRevokedWhileChecked revokes a device between the service's check of
// its changes and their storing: they must not enter the log.
func TestRevokedWhileChecked(t *testing.T) {
	var wrapped *staleDevices
	f := newLateFixtureOptions(t, httptestutil.Options{WrapStore: func(s server.Store) server.Store {
		wrapped = &staleDevices{Store: s}
		return wrapped
	}})
	id := f.station.ID

	t.Run("Relay", func(t *testing.T) {
		wrapped.stale.Store(&id)
		f.mustRelay(t, f.station.Run(4, 6), 6)
		f.wantRecords(t, false, 4, 5, 6)
		if items := f.revokedItems(t, f.county, ""); len(items) != 1 || len(items[0].Changes) != 3 {
			t.Fatalf("got items %+v, want the 3 changes held for review", items)
		}
	})
	t.Run("OwnSync", func(t *testing.T) {
		f.station.Author(t, "attendance", f.attendanceID(7), f.attended)
		p := &server.Principal{Subject: id, Device: id, Scope: f.station.Scope}
		wrapped.stale.Store(&id)
		_, err := f.e.Service.Sync(t.Context(), p, &syncproto.SyncRequest{Changes: f.station.Run(7, 7), PullMax: -1})
		if pe, ok := errors.AsType[*syncproto.Error](err); !ok || pe.Code != syncproto.CodeDeviceRevoked || !strings.Contains(pe.Message, "station export") {
			t.Fatalf("got %v, want device_revoked saying what to do", err)
		}
		f.wantRecords(t, false, 7)
	})
}

// mustNonce returns a fresh nonce from the service.
func mustNonce(t *testing.T, e *httptestutil.Env) string {
	t.Helper()
	n, err := e.Service.Nonce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n.Nonce
}
