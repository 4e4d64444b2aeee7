package bench

// The models behind the figures (CouchDB's replication traffic, the shaped
// link, percentiles) are unexported: they are how a figure is computed,
// not an API. They are tested here, from inside the package, because a
// wrong model gives a plausible but wrong figure that no end-to-end check
// would catch.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"villagesync/election"
	"villagesync/sim"
)

func records(n int) []record {
	rs := make([]record, n)
	for i := range rs {
		rs[i] = record{"ballot", "220422101204-PC-R1-B" + strconv.Itoa(i+1),
			[]byte(`{"election":"220422101204-PC","round":1,"serial":` + strconv.Itoa(i+1) + `,"marks":{"220422101204-PC-C1":"yes"},"write_ins":[]}`)}
	}
	return rs
}

func TestCouchModelRequests(t *testing.T) {
	for _, tc := range []struct {
		name             string
		pushLogs         int
		sync             couchSync
		wantRequests     int
		wantMoreThanBody bool
	}{
		// push: db info, replication log (404), _revs_diff, _bulk_docs,
		// log update; pull: db info, log (404), _changes.
		{"PushFirstTime", 0, couchSync{Push: records(2)}, 5 + 3, true},
		// Nothing to push: db info and log only; the pull fetches the
		// document with _bulk_get and records its log.
		{"PullOnly", 3, couchSync{Pull: records(1)}, 2 + 5, true},
		// 501 documents: two batches of _revs_diff and _bulk_docs.
		{"TwoBatches", 1, couchSync{Push: records(couchBatch + 1)}, 2 + 2*2 + 1 + 3, true},
		{"Idle", 1, couchSync{}, 2 + 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &couchModel{pushLogs: tc.pushLogs}
			res, err := m.replay([]couchSync{tc.sync})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Requests) != 1 || res.Requests[0] != tc.wantRequests {
				t.Errorf("got requests %v, want [%d]", res.Requests, tc.wantRequests)
			}
			var content int64
			for _, r := range append(tc.sync.Push, tc.sync.Pull...) {
				content += int64(len(r.ID) + len(r.Body))
			}
			// Every document crosses whole, with its id again in the
			// revision diff or the changes feed.
			if len(res.Bytes) != 1 || tc.wantMoreThanBody && res.Bytes[0] <= content {
				t.Errorf("got bytes %v for %d bytes of records, want one sync of more", res.Bytes, content)
			}
		})
	}
}

func TestCouchModelGrowsWithDocuments(t *testing.T) {
	bytesFor := func(n int) int64 {
		res, err := (&couchModel{}).replay([]couchSync{{Push: records(n)}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Bytes[0]
	}
	one, two := bytesFor(1), bytesFor(2)
	r := records(2)[1]
	// A second document adds at least its body, its id twice and its
	// revision (34 bytes) twice.
	if min := int64(len(r.Body) + 2*len(r.ID) + 2*34); two-one < min {
		t.Errorf("a second document added %d bytes, want at least %d", two-one, min)
	}
}

func TestCouchDocument(t *testing.T) {
	m := &couchModel{}
	r := records(1)[0]
	var doc map[string]any
	if err := json.Unmarshal(m.couchDoc(r), &doc); err != nil {
		t.Fatalf("document is not JSON: %v: %s", err, m.couchDoc(r))
	}
	rev := revision(r)
	if doc["_id"] != r.ID || doc["_rev"] != rev || doc["type"] != "ballot" || doc["election"] != "220422101204-PC" {
		t.Errorf("got %v, want _id %q, _rev %q, type ballot and the body's fields", doc, r.ID, rev)
	}
	if len(rev) != 2+32 || !strings.HasPrefix(rev, "1-") {
		t.Errorf("got revision %q, want 1- and 32 hex digits", rev)
	}
	if revs, _ := doc["_revisions"].(map[string]any); revs == nil || revs["start"] != 1.0 {
		t.Errorf("got _revisions %v, want start 1", doc["_revisions"])
	}
}

func TestCouchModelRefusesBrokenBody(t *testing.T) {
	bad := record{"ballot", "x", []byte(`{"election":`)}
	if _, err := (&couchModel{}).replay([]couchSync{{Push: []record{bad}}}); err == nil {
		t.Error("got no error for a body that is not JSON")
	}
}

// fakeServer answers every request with body, and counts what it served.
type fakeServer struct {
	body   string
	served int
}

func (f *fakeServer) RoundTrip(r *http.Request) (*http.Response, error) {
	_, _ = io.Copy(io.Discard, r.Body)
	f.served++
	return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(f.body)), Request: r}, nil
}

func post(t *testing.T, rt http.RoundTripper, body string) (*http.Request, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://villagesync.test/v1/sync", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer token")
	resp, err := rt.RoundTrip(req)
	if err == nil {
		_ = resp.Body.Close()
	}
	return req, err
}

func TestShaperCleanLink(t *testing.T) {
	link := linkProfile{Bandwidth: 50_000, RTT: 600 * time.Millisecond, MSS: 1448}
	srv := &fakeServer{body: strings.Repeat("r", 3000)}
	clock := &vclock{}
	sh := newShaper(srv, link, clock, 1)
	req, err := post(t, sh, strings.Repeat("q", 2000))
	if err != nil {
		t.Fatal(err)
	}
	up := int(requestHeaderBytes(req, 2000)) + 2000
	down := int(responseHeaderBytes(&http.Response{Status: "200 OK", Header: http.Header{"Content-Type": {"application/json"}}})) + 3000
	segs := func(n int) int { return (n + link.MSS - 1) / link.MSS }
	want := link.RTT + link.serialise(up+segs(up)*segmentOverhead) + link.serialise(down+segs(down)*segmentOverhead)
	if clock.skipped != want {
		t.Errorf("one exchange took %v on the link, want %v", clock.skipped, want)
	}
	st := sh.Stats()
	if st.Exchanges != 1 || st.Delivered != 1 || st.DeliveredBytes != int64(up+down) || st.LostSegments+st.CutRequests+st.CutResponses+st.Handshakes != 0 {
		t.Errorf("got %+v, want one clean delivered exchange of %d bytes", st, up+down)
	}
}

func TestShaperLossCostsRoundTrips(t *testing.T) {
	link := linkProfile{Bandwidth: 50_000, RTT: 600 * time.Millisecond, Loss: 1, MSS: 1000}
	sh := newShaper(&fakeServer{}, link, &vclock{}, 1)
	// Five segments, all lost: the first two are recovered by fast
	// retransmit (one RTT), the last three by the tail-loss probe (two).
	got := sh.transfer(5000)
	want := link.serialise(5000+5*segmentOverhead) + 2*link.RTT + 3*2*link.RTT + link.serialise(5000+5*segmentOverhead)
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
	if sh.Stats().LostSegments != 5 {
		t.Errorf("got %d lost segments, want 5", sh.Stats().LostSegments)
	}
}

func TestShaperCuts(t *testing.T) {
	link := linkProfile{Bandwidth: 50_000, RTT: 600 * time.Millisecond, Drop: 1, MSS: 1448}
	srv := &fakeServer{body: "{}"}
	sh := newShaper(srv, link, &vclock{}, 7)
	const n = 40
	for range n {
		if _, err := post(t, sh, "{}"); !errors.Is(err, errCut) {
			t.Fatalf("got %v, want the link to cut every exchange", err)
		}
	}
	st := sh.Stats()
	// A cut response reached the server (which committed); a cut request
	// did not. Every exchange after a cut opens a new connection.
	if st.CutRequests+st.CutResponses != n || srv.served != st.CutResponses || st.Delivered != 0 || st.Handshakes != n-1 {
		t.Errorf("got %+v and %d served, want %d cuts, the server serving the cut responses, %d handshakes", st, srv.served, n, n-1)
	}
	if st.CutRequests == 0 || st.CutResponses == 0 {
		t.Errorf("got %d cut requests and %d cut responses, want both kinds in %d cuts", st.CutRequests, st.CutResponses, n)
	}
}

func TestCounter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(bytes.ToUpper(b))
	}))
	defer srv.Close()
	tr := newTransport(1)
	defer tr.CloseIdleConnections()
	c := &counter{next: tr}
	for _, body := range []string{"hello", "villagesync"} {
		resp, err := (&http.Client{Transport: c}).Post(srv.URL, "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if string(got) != strings.ToUpper(body) {
			t.Errorf("got %q through the counter, want %q", got, strings.ToUpper(body))
		}
	}
	st := c.Stats()
	if st.Requests != 2 || st.BodyUp != 16 || st.BodyDown != 16 || st.HeaderUp <= 0 || st.HeaderDown <= 0 {
		t.Errorf("got %+v, want 2 requests, 16 bytes each way and some headers", st)
	}
	if e := st.Exchanges["POST / 200"]; len(st.Exchanges) != 1 || e != (Exchange{Count: 2, BodyUp: 16, BodyDown: 16}) {
		t.Errorf("got exchanges %v, want POST / 200 twice, 16 bytes each way", st.Exchanges)
	}
	// What one sync moved is the difference of two readings.
	before := c.Stats()
	if _, err := (&http.Client{Transport: c}).Post(srv.URL+"/x", "text/plain", strings.NewReader("abc")); err != nil {
		t.Fatal(err)
	}
	d := c.Stats().minus(before)
	if d.Requests != 1 || d.BodyUp != 3 || d.BodyDown != 3 || len(d.Exchanges) != 1 || d.Exchanges["POST /x 200"].Count != 1 {
		t.Errorf("got difference %+v, want the one request to /x", d)
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i))
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50}, {0.99, 99}, {1, 100}, {0.001, 1}} {
		if got := percentile(ds, tc.p); got != tc.want {
			t.Errorf("p%v: got %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := percentile(nil, 0.99); got != 0 {
		t.Errorf("empty: got %v, want 0", got)
	}
}

func TestThousands(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 52313.4: "52,313", 1234567: "1,234,567", -50000: "-50,000"} {
		if got := thousands(v); got != want {
			t.Errorf("thousands(%v): got %q, want %q", v, got, want)
		}
	}
}

func TestElectionDays(t *testing.T) {
	season, err := sim.GenerateSeason(election.Dongliao(), 7)
	if err != nil {
		t.Fatal(err)
	}
	days, err := electionDays(season)
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != len(election.Dongliao().Villages) {
		t.Errorf("got %d election days, want one per village (%d)", len(days), len(election.Dongliao().Villages))
	}
	for i, d := range days {
		if i > 0 && len(d.Steps) > len(days[i-1].Steps) {
			t.Errorf("day %d (%s) has %d steps, more than the day before it (%d): want the largest first", i, d.Village, len(d.Steps), len(days[i-1].Steps))
		}
		y, m, dd := d.Steps[0].At.Date()
		points, ballots := 0, 0
		for _, st := range d.Steps {
			if sy, sm, sd := st.At.Date(); sy != y || sm != m || sd != dd {
				t.Fatalf("%s: step %s is on %v, not the day of %v", d.Village, st.ID, st.At, d.Steps[0].At)
			}
			if syncPoint(st) {
				points++
			}
			if st.Collection == "ballot" {
				ballots++
			}
		}
		if ballots == 0 || points < 2 || d.Election == "" || election.TownshipOf(d.Village) != d.Township {
			t.Errorf("%s: %d ballots, %d sync points, election %q; want ballots, at least 2 sync points and an election", d.Village, ballots, points, d.Election)
		}
	}
}
