package httpapi_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/httpapi/httptestutil"
	"villagesync/syncproto"
)

// attendance is an attendance record of village's Party-committee election,
// with a note that must survive byte for byte (no HTML escaping).
func attendance(village string, present int) map[string]any {
	return map[string]any{
		"election": village + "-PC",
		"eligible": 60,
		"present":  present,
		"note":     "<第一轮> & 唱票",
	}
}

// tallySheet is a FORMAL-round tally sheet of village's Party-committee
// election.
func tallySheet(village string) map[string]any {
	return map[string]any{
		"election": village + "-PC",
		"round":    1,
		"kind":     "FORMAL",
		"issued":   55,
		"returned": 55,
		"valid":    54,
		"invalid":  1,
		"votes": map[string]any{
			village + "-PC-C1": map[string]int{"yes": 50, "no": 3, "abstain": 1},
		},
		"signers": []string{"计票人 甲", "监票人 乙"},
	}
}

// receiptKey returns the JWKS key that signed receipt r.
func receiptKey(tb testing.TB, e *httptestutil.Env, r *syncproto.Receipt) ed25519.PublicKey {
	tb.Helper()
	rec := e.Do(tb, httptestutil.Request{Method: http.MethodGet, Path: "/.well-known/jwks.json"})
	var set struct {
		Keys []struct{ Kid, X string }
	}
	httptestutil.Decode(tb, rec, &set)
	for _, k := range set.Keys {
		if k.Kid == r.KeyID {
			x, err := base64.RawURLEncoding.DecodeString(k.X)
			if err != nil {
				tb.Fatalf("jwks x: %v", err)
			}
			return x
		}
	}
	tb.Fatalf("receipt key %q is not in the JWKS", r.KeyID)
	return nil
}

// checkReceipt checks that r is a valid receipt of d through seq.
func checkReceipt(tb testing.TB, e *httptestutil.Env, d *httptestutil.Device, r *syncproto.Receipt, through uint64) {
	tb.Helper()
	if r == nil {
		tb.Fatal("got no receipt, want one")
	}
	if r.Device != d.ID || r.Through != through || r.Head != d.Hash(through) {
		tb.Errorf("got receipt for %s through %d head %s, want %s through %d head %s",
			r.Device, r.Through, r.Head, d.ID, through, d.Hash(through))
	}
	if !r.Verify(receiptKey(tb, e, r)) {
		tb.Error("receipt signature does not verify with the JWKS key")
	}
}

// inScope reports whether a seeded or pushed record id is one a device of
// village in township may see: its village's records, its township and the
// county.
func inScope(c syncproto.Change, township, village string) bool {
	switch c.Collection {
	case "county":
		return c.ID == election.DongliaoCode
	case "township":
		return c.ID == township
	}
	return strings.HasPrefix(c.ID, village)
}

func TestSync(t *testing.T) {
	e := httptestutil.NewEnv(t)
	township := e.Township(3)
	va, vb := e.Village(3, 0), e.Village(3, 1)
	a := e.Enroll(t, election.RoleStation, va)
	b := e.Enroll(t, election.RoleStation, vb)
	sup := e.Enroll(t, election.RoleSupervisor, township)
	far := e.Enroll(t, election.RoleStation, e.Village(4, 0))

	a.Author(t, "attendance", va+"-att-1", attendance(va, 52))
	a.Author(t, "tally_sheet", va+"-PC-R1", tallySheet(va))
	a.Author(t, "attendance", va+"-att-2", attendance(va, 53))

	t.Run("OK", func(t *testing.T) {
		resp := e.MustSync(t, a, syncproto.SyncRequest{Changes: a.Run(1, 3), Now: 1})
		checkReceipt(t, e, a, resp.Receipt, 3)
		if len(resp.Held) != 0 {
			t.Errorf("got held %v, want none", resp.Held)
		}
		if resp.Nonce == "" || resp.Now != httptestutil.Start.UnixMilli() {
			t.Errorf("got nonce %q and now %d, want a nonce and %d", resp.Nonce, resp.Now, httptestutil.Start.UnixMilli())
		}
		if len(resp.Changes) == 0 || resp.More || resp.Cursor == "" {
			t.Fatalf("got %d pulled changes, more %v, cursor %q: want the village's reference data in one page", len(resp.Changes), resp.More, resp.Cursor)
		}
		for _, c := range resp.Changes {
			if !inScope(c, township, va) {
				t.Errorf("station of %s pulled %s %s", va, c.Collection, c.ID)
			}
		}
		rec := e.Do(t, httptestutil.Request{Method: http.MethodGet, Path: "/v1/records/attendance/" + va + "-att-1", Token: a.Token})
		if rec.Code != http.StatusOK {
			t.Fatalf("read back: got status %d, want 200: %s", rec.Code, httptestutil.Body(t, rec))
		}
		// The two attendance records of one election disagree: a slot
		// conflict the record names.
		conflict := server.ConflictID("slot", "attendance", va+"-PC", []string{a.ID + "/1", a.ID + "/3"})
		want := fmt.Sprintf(`{"collection":"attendance","id":"%s-att-1","version":1,"body":%s,"device":"%s","seq":1,"conflict":"%s"}`,
			va, a.Run(1, 1)[0].Body, a.ID, conflict)
		if got := string(httptestutil.Body(t, rec)); got != want {
			t.Errorf("read back: got %s, want %s", got, want)
		}
	})

	t.Run("PullByScope", func(t *testing.T) {
		resp := e.MustSync(t, sup, syncproto.SyncRequest{PullMax: syncproto.MaxPullBytes})
		var got []string
		for _, c := range resp.Changes {
			if !strings.HasPrefix(c.ID, township) && c.ID != election.DongliaoCode {
				t.Errorf("supervisor of %s pulled %s %s", township, c.Collection, c.ID)
			}
			if c.Device == a.ID {
				got = append(got, c.ID)
				if want := a.Run(c.Seq, c.Seq)[0].Body; !bytes.Equal(c.Body, want) {
					t.Errorf("pulled body %s, want the pushed bytes %s", c.Body, want)
				}
			}
		}
		if want := []string{va + "-att-1", va + "-PC-R1", va + "-att-2"}; !slices.Equal(got, want) {
			t.Errorf("supervisor pulled %v of the station's changes, want %v", got, want)
		}
		for _, d := range []*httptestutil.Device{b, far} {
			resp := e.MustSync(t, d, syncproto.SyncRequest{PullMax: syncproto.MaxPullBytes})
			for _, c := range resp.Changes {
				if c.Device == a.ID {
					t.Errorf("station %s pulled %s %s of another village", d.Scope.Code, c.Collection, c.ID)
				}
			}
		}
	})

	t.Run("IdempotentRepush", func(t *testing.T) {
		before := e.Stats(t)
		for range 2 {
			resp := e.MustSync(t, a, syncproto.SyncRequest{Changes: a.Run(1, 3), PullMax: -1})
			checkReceipt(t, e, a, resp.Receipt, 3)
			if len(resp.Changes) != 0 {
				t.Errorf("got %d pulled changes with pull_max -1, want none", len(resp.Changes))
			}
		}
		if after := e.Stats(t); after != before {
			t.Errorf("store rows: got %+v, want %+v (0 new)", after, before)
		}
	})

	t.Run("GapHeld", func(t *testing.T) {
		for i := range 7 { // seqs 4-10
			a.Author(t, "attendance", fmt.Sprintf("%s-att-gap-%d", va, i), attendance(va, 40+i))
		}
		resp := e.MustSync(t, a, syncproto.SyncRequest{Changes: a.Run(6, 7), PullMax: -1})
		checkReceipt(t, e, a, resp.Receipt, 3)
		if want := []uint64{6, 7}; !slices.Equal(resp.Held, want) {
			t.Errorf("got held %v, want %v", resp.Held, want)
		}
		// Two runs in one request: 8-9 and 4, leaving 5 and 10 missing.
		changes := append(a.Run(4, 4), a.Run(8, 9)...)
		resp = e.MustSync(t, a, syncproto.SyncRequest{Changes: changes, PullMax: -1})
		checkReceipt(t, e, a, resp.Receipt, 4)
		if want := []uint64{6, 7, 8, 9}; !slices.Equal(resp.Held, want) {
			t.Errorf("got held %v, want %v", resp.Held, want)
		}
		resp = e.MustSync(t, a, syncproto.SyncRequest{Changes: a.Run(5, 5), PullMax: -1})
		checkReceipt(t, e, a, resp.Receipt, 9)
		if len(resp.Held) != 0 {
			t.Errorf("got held %v, want none", resp.Held)
		}
	})

	t.Run("PushlessReceipt", func(t *testing.T) {
		resp := e.MustSync(t, a, syncproto.SyncRequest{PullMax: -1})
		checkReceipt(t, e, a, resp.Receipt, 9)
		// It states the log position like a push's receipt does.
		if pos, err := e.Store.Position(t.Context()); err != nil || resp.Receipt.Pos != pos || pos == 0 {
			t.Errorf("got receipt at log position %d, want %d (%v)", resp.Receipt.Pos, pos, err)
		}
		resp = e.MustSync(t, far, syncproto.SyncRequest{PullMax: -1})
		if resp.Receipt != nil {
			t.Errorf("got receipt %+v for a device that never pushed, want none", resp.Receipt)
		}
	})

	t.Run("Equivocation", func(t *testing.T) {
		before := e.Stats(t)
		forged := tallySheet(va)
		forged["valid"] = 20 // a different sheet for the same seq
		rec := e.Sync(t, a, syncproto.SyncRequest{Changes: a.Fork(t, 2, forged)})
		if rec.Code != http.StatusConflict {
			t.Fatalf("got status %d, want 409: %s", rec.Code, httptestutil.Body(t, rec))
		}
		if got := httptestutil.ErrorOf(t, rec); got.Code != syncproto.CodeEquivocation || got.Seq != 2 {
			t.Errorf("got %s seq %d, want equivocation seq 2", got.Code, got.Seq)
		}
		after := e.Stats(t)
		if after.Equivocations != before.Equivocations+1 || after.Alerts != before.Alerts+1 {
			t.Errorf("got %d equivocations and %d alerts, want %d and %d (evidence kept, alert raised)",
				after.Equivocations, after.Alerts, before.Equivocations+1, before.Alerts+1)
		}
		if after.Changes != before.Changes || after.Records != before.Records {
			t.Errorf("got %d changes and %d records, want %d and %d (nothing applied)", after.Changes, after.Records, before.Changes, before.Records)
		}
		if kinds := alertsOf(t, e, a.ID); !slices.Contains(kinds, "equivocation") {
			t.Errorf("got alerts %v, want an equivocation alert", kinds)
		}
		// The stored version stands.
		rec = e.Do(t, httptestutil.Request{Method: http.MethodGet, Path: "/v1/records/tally_sheet/" + va + "-PC-R1", Token: a.Token})
		if rec.Code != http.StatusOK || !strings.Contains(string(httptestutil.Body(t, rec)), `"seq":2`) {
			t.Errorf("got %d %s, want the original seq 2", rec.Code, httptestutil.Body(t, rec))
		}
	})

	t.Run("PullPaging", func(t *testing.T) {
		all := e.MustSync(t, sup, syncproto.SyncRequest{PullMax: syncproto.MaxPullBytes})
		if all.More {
			t.Fatal("got more after a full page, want the whole township in one page")
		}
		var cursor string
		var paged []string
		pages := 0
		for {
			resp := e.MustSync(t, sup, syncproto.SyncRequest{Cursor: cursor, PullMax: 2000})
			pages++
			for _, c := range resp.Changes {
				paged = append(paged, c.Device+"/"+fmt.Sprint(c.Seq))
			}
			cursor = resp.Cursor
			if !resp.More {
				break
			}
			if pages > 1000 {
				t.Fatal("pull does not terminate")
			}
		}
		// The first sync of this subtest moved nothing: compare with a pull
		// from the start.
		whole := e.MustSync(t, sup, syncproto.SyncRequest{PullMax: syncproto.MaxPullBytes})
		var want []string
		for _, c := range whole.Changes {
			want = append(want, c.Device+"/"+fmt.Sprint(c.Seq))
		}
		if pages < 2 || !slices.Equal(paged, want) {
			t.Errorf("got %d changes in %d pages, want the same %d changes as one page, in order", len(paged), pages, len(want))
		}
		resp := e.MustSync(t, sup, syncproto.SyncRequest{Cursor: cursor})
		if len(resp.Changes) != 0 || resp.Cursor != cursor {
			t.Errorf("at the end: got %d changes and cursor %q, want none and %q", len(resp.Changes), resp.Cursor, cursor)
		}
	})

	t.Run("Metrics", func(t *testing.T) {
		rec := e.Do(t, httptestutil.Request{Method: http.MethodGet, Path: "/metrics"})
		body := string(httptestutil.Body(t, rec))
		for _, want := range []string{
			`villagesync_changes_total{outcome="accepted"} 9`,
			`villagesync_changes_total{outcome="held"} 4`,
			`villagesync_changes_total{outcome="duplicate"} 6`,
			`villagesync_changes_total{outcome="refused"} 1`,
			`villagesync_equivocations_total 1`,
			`villagesync_sync_requests_total{result="equivocation"} 1`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics: want a line %q", want)
			}
		}
		for _, name := range []string{`villagesync_bytes_total{direction="in"}`, `villagesync_bytes_total{direction="out"}`} {
			if strings.Contains(body, name+" 0\n") || !strings.Contains(body, name) {
				t.Errorf("metrics: want %s above 0", name)
			}
		}
	})

	t.Run("ReadEscapedID", func(t *testing.T) {
		for _, id := range []string{va + "/att 50%", va + "-att%2F"} {
			s := e.Enroll(t, election.RoleStation, va)
			s.Author(t, "attendance", id, attendance(va, 51))
			e.MustSync(t, s, syncproto.SyncRequest{Changes: s.Run(1, 1), PullMax: -1})
			rec := e.Do(t, httptestutil.Request{Method: http.MethodGet, Path: "/v1/records/attendance/" + url.PathEscape(id), Token: s.Token})
			if rec.Code != http.StatusOK {
				t.Fatalf("read %q: got status %d, want 200: %s", id, rec.Code, httptestutil.Body(t, rec))
			}
			var got struct{ ID string }
			httptestutil.Decode(t, rec, &got)
			if got.ID != id {
				t.Errorf("got id %q, want %q", got.ID, id)
			}
		}
	})
}
