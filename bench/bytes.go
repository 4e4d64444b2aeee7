package bench

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/zstd"

	client "villagesync/client-sdk"
	"villagesync/election"
	"villagesync/server/httpapi"
	"villagesync/sim"
)

// BytesResult is one station's election day synced over HTTP, what the
// same records cost as a zstd stream and under CouchDB replication, and
// the round trips of a sync.
//
// The day runs on a simulated clock that the station, its supervisor team
// and the server share, set to each record's capture time (so the changes'
// timestamps are a real day's, not a burst's). The station (a client-sdk
// device, its store on disk) enrolls and pulls its reference data the day
// before, at the township office; that is not counted. On the day it
// captures its records in order and syncs at the day's sync points (after
// attendance, after each tally sheet). Hours pass between those syncs, so
// each begins by renewing the station's 15-minute token (one request,
// answered by the nonce of the previous sync); that is counted: it is what
// the day costs. Every request and response of those syncs is counted as it
// crossed the loopback connection.
//
// The round trips are those of one sync that pushes and pulls with a valid
// token: five minutes after the day's last sync the township's supervisor
// team records its visit to the village, a late returned member signs in
// at the station, and the station syncs.
type BytesResult struct {
	Village string `json:"village"`
	Records int    `json:"records"` // records of the day that crossed
	// Syncs is what each sync of the day moved.
	Syncs []SyncFigures `json:"syncs"`
	// WireBytes is every request and response body of the day's syncs
	// as sent (zstd-compressed where the SDK and server compress).
	WireBytes int64 `json:"wire_bytes"`
	// HeaderBytes is those requests' and responses' HTTP headers, not in
	// WireBytes (a JWT bearer token is most of it).
	HeaderBytes int64 `json:"header_bytes"`
	// ContentBytes is the records' own content: every id and body,
	// uncompressed; ZstdBytes the same as one zstd stream at the level the
	// SDK uses (SpeedDefault).
	ContentBytes int64 `json:"content_bytes"`
	ZstdBytes    int64 `json:"zstd_bytes"`
	// CouchDBBytes is the request and response bodies of CouchDB
	// replication moving the same records in the same syncs (couch.go);
	// CouchDBRequests its HTTP requests per sync.
	CouchDBBytes    int64 `json:"couchdb_bytes"`
	CouchDBRequests []int `json:"couchdb_requests"`
	// Exchanges breaks the day's requests down by "METHOD /path status":
	// the syncs themselves, and the token renewals before them.
	Exchanges map[string]Exchange `json:"exchanges"`
	// OneSync is the same day captured whole and synced once, in the
	// evening, by a station of a fresh server: what the day costs without
	// the envelopes, receipts and token renewals of the syncs between.
	OneSync *OneSyncBytes `json:"one_sync"`

	// RoundTripSync is the sync that pushes and pulls with a valid token;
	// RoundTrips its HTTP requests, CouchDBRoundTrips CouchDB's for it.
	RoundTripSync     SyncFigures `json:"round_trip_sync"`
	RoundTrips        int         `json:"round_trips"`
	CouchDBRoundTrips int         `json:"couchdb_round_trips"`
}

// SyncFigures is what one sync moved.
type SyncFigures struct {
	Pushed     int   `json:"pushed"`
	Pulled     int   `json:"pulled"`
	RoundTrips int   `json:"round_trips"`
	BytesUp    int64 `json:"bytes_up"`   // request bodies as sent
	BytesDown  int64 `json:"bytes_down"` // response bodies as sent
}

// OneSyncBytes is a day synced once.
type OneSyncBytes struct {
	WireBytes  int64   `json:"wire_bytes"`
	ZstdBytes  int64   `json:"zstd_bytes"`
	RoundTrips int     `json:"round_trips"`
	Ratio      float64 `json:"ratio_zstd"`
}

// dayBefore is when a station enrolls: the day before its election, at
// the township office.
func dayBefore(day stationDay) time.Time {
	y, m, d := day.Steps[0].At.Date()
	return time.Date(y, m, d-1, 9, 0, 0, 0, day.Steps[0].At.Location())
}

// measureBytes plays day on a fresh server over a counted connection, then
// the round-trip sync, then the same day synced once on another server.
func measureBytes(ctx context.Context, ss *servers, day stationDay) (*BytesResult, error) {
	res := &BytesResult{Village: day.Village}
	clock := sim.NewSimClock(dayBefore(day))
	err := withClockServer(ctx, ss, "bytes", httpapi.SharedAddress(), clock.Now, func(srv *testServer) error {
		dir := filepath.Join(srv.dir, "devices")
		sup, err := srv.enroll(ctx, election.RoleSupervisor, day.Township, filepath.Join(dir, "supervisor"), client.Options{Now: clock.Now})
		if err != nil {
			return err
		}
		defer sup.Close()
		tr := newTransport(2)
		defer tr.CloseIdleConnections()
		wire := &counter{next: tr}
		st, err := srv.enroll(ctx, election.RoleStation, day.Village, filepath.Join(dir, "station"),
			client.Options{HTTPClient: &http.Client{Transport: wire}, Now: clock.Now})
		if err != nil {
			return err
		}
		defer st.Close()
		sync := countedSync(st, wire)
		syncs, err := playDay(ctx, st, day, clock.Set, nil, sync, nil, nil)
		if err != nil {
			return err
		}

		// The round-trip sync, within the token's lifetime.
		clock.Set(clock.Now().Add(5 * time.Minute))
		visit, err := supervisorVisit(sup, day)(ctx)
		if err != nil {
			return err
		}
		late := lateReturnedMember(day, clock.Now())
		if _, err := st.Put(ctx, late.Collection, late.ID, late.Body); err != nil {
			return fmt.Errorf("capture %s: %w", late.ID, err)
		}
		rt, err := sync(ctx)
		if err != nil {
			return err
		}
		if rt.Report.Pushed != 1 || rt.Report.Pulled != len(visit) {
			return fmt.Errorf("the round-trip sync pushed %d and pulled %d, want 1 and %d", rt.Report.Pushed, rt.Report.Pulled, len(visit))
		}
		rt.Pushed, rt.Pulled = []record{late}, visit
		res.RoundTripSync = syncFigures(rt)
		res.RoundTrips = rt.Wire.Requests

		var model []couchSync
		for _, s := range syncs {
			res.Syncs = append(res.Syncs, syncFigures(s))
			res.Records += len(s.Pushed) + len(s.Pulled)
			model = append(model, couchSync{Push: s.Pushed, Pull: s.Pulled})
		}
		total, content, zstdBytes, err := dayBytes(syncs)
		if err != nil {
			return err
		}
		res.WireBytes, res.HeaderBytes, res.Exchanges = total.Bodies(), total.Headers(), total.Exchanges
		res.ContentBytes, res.ZstdBytes = content, zstdBytes
		// Before the day the station had pulled its reference data once
		// and pushed nothing; the server held the county's reference
		// records.
		refs := len(election.Dongliao().Records())
		cm := &couchModel{pullLogs: 1, docCount: refs, seq: refs}
		couch, err := cm.replay(append(model, couchSync{Push: rt.Pushed, Pull: rt.Pulled}))
		if err != nil {
			return err
		}
		for i := range syncs {
			res.CouchDBBytes += couch.Bytes[i]
		}
		res.CouchDBRequests = couch.Requests[:len(syncs)]
		res.CouchDBRoundTrips = couch.Requests[len(syncs)]
		return nil
	})
	if err != nil {
		return nil, err
	}

	clock = sim.NewSimClock(dayBefore(day))
	err = withClockServer(ctx, ss, "bytes-one-sync", httpapi.SharedAddress(), clock.Now, func(srv *testServer) error {
		tr := newTransport(2)
		defer tr.CloseIdleConnections()
		wire := &counter{next: tr}
		st, err := srv.enroll(ctx, election.RoleStation, day.Village, filepath.Join(srv.dir, "station"),
			client.Options{HTTPClient: &http.Client{Transport: wire}, Now: clock.Now})
		if err != nil {
			return err
		}
		defer st.Close()
		never := func(sim.Step) bool { return false }
		one, err := playDay(ctx, st, day, clock.Set, never, countedSync(st, wire), nil, nil)
		if err != nil {
			return err
		}
		total, _, zstdBytes, err := dayBytes(one)
		if err != nil {
			return err
		}
		o := &OneSyncBytes{RoundTrips: one[0].Wire.Requests, WireBytes: total.Bodies(), ZstdBytes: zstdBytes}
		o.Ratio = float64(o.WireBytes) / float64(o.ZstdBytes)
		res.OneSync = o
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("the day in one sync: %w", err)
	}
	return res, nil
}

// lateReturnedMember is a returned member who signs in at the station
// after the election, at t.
func lateReturnedMember(day stationDay, t time.Time) record {
	return record{"returned_member", day.Village + "-RM-LATE",
		fmt.Appendf(nil, `{"village":%q,"origin":"长春市","returned_on":%q}`, day.Village, t.Format(time.DateOnly))}
}

func syncFigures(s syncStat) SyncFigures {
	return SyncFigures{
		Pushed: len(s.Pushed), Pulled: len(s.Pulled), RoundTrips: s.Wire.Requests,
		BytesUp: s.Wire.BodyUp, BytesDown: s.Wire.BodyDown,
	}
}

// dayBytes adds up what syncs moved: bodies and headers on the wire, and
// the records' own content (ids and bodies), raw and as one zstd stream.
func dayBytes(syncs []syncStat) (total wireStats, content, zstdBytes int64, err error) {
	var buf []byte
	for _, s := range syncs {
		total.add(s.Wire)
		for _, r := range append(s.Pushed[:len(s.Pushed):len(s.Pushed)], s.Pulled...) {
			buf = append(buf, r.ID...)
			buf = append(buf, '\n')
			buf = append(buf, r.Body...)
			buf = append(buf, '\n')
		}
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return wireStats{}, 0, 0, fmt.Errorf("zstd: %w", err)
	}
	defer enc.Close()
	return total, int64(len(buf)), int64(len(enc.EncodeAll(buf, nil))), nil
}

// countedSync syncs dev and reads what crossed wire during the sync.
func countedSync(dev *client.Device, wire *counter) syncFunc {
	return func(ctx context.Context) (syncStat, error) {
		before := wire.Stats()
		rep, err := dev.Sync(ctx)
		if err != nil {
			return syncStat{}, err
		}
		return syncStat{Report: rep, Wire: wire.Stats().minus(before)}, nil
	}
}
