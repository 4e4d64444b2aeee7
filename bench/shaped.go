package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	client "villagesync/client-sdk"
	"villagesync/election"
	"villagesync/server/httpapi"
)

// linkProfile is a simulated link: its delays are added to a virtual clock
// instead of being slept, so a day on 2G takes seconds of real time. What
// the endpoints really spend (the server verifying and committing, the
// device signing and storing) passes on the real clock and counts too.
//
// The model, per HTTP exchange on an open TCP connection: the request's
// bytes are serialised onto the link at Bandwidth, one RTT passes between
// the request's last byte leaving and the response's first byte arriving
// (there and back), and the response's bytes are serialised back. Bytes are
// the request and status lines, headers and bodies as sent, carried in
// segments of MSS bytes with 52 bytes of IP and TCP headers each. Each
// segment is lost with probability Loss; a lost segment costs its
// retransmission plus one RTT when at least three segments follow it (fast
// retransmit) and two RTTs when it is among the last three (nothing left to
// trigger duplicate ACKs: the tail-loss probe or retransmission timeout
// fires). With probability Drop an exchange's connection is cut at a
// uniformly random byte of the request or of the response (the server then
// committed; its answer is lost): the client learns of it one RTT later and
// must open a new connection (one more RTT) for its retry, which the SDK
// makes after its own backoff (slept on the virtual clock). SPEC §9 says
// "drops" without a rate: profile2G cuts 5% of exchanges. Otherwise the
// connection a station opened stays up between its syncs. The link's
// bandwidth-delay product (3.75 KB at 2G's figures) is below TCP's initial
// window, so slow start costs nothing and is not modelled; TLS is not
// modelled either (the bench speaks HTTP over loopback).
type linkProfile struct {
	Bandwidth int           // bits per second, each direction
	RTT       time.Duration // round-trip time
	Loss      float64       // probability that a TCP segment is lost
	Drop      float64       // probability that an exchange's connection is cut
	MSS       int           // TCP payload bytes per segment
}

// profile2G is the SPEC §9 link: 50 kbit/s, 600 ms RTT, 3% loss, drops.
var profile2G = linkProfile{Bandwidth: 50_000, RTT: 600 * time.Millisecond, Loss: 0.03, Drop: 0.05, MSS: 1448}

// segmentOverhead is the IPv4 and TCP header bytes of a segment (with the
// timestamp option).
const segmentOverhead = 52

func (l linkProfile) String() string {
	return fmt.Sprintf("%g kbit/s, %d ms RTT, %g%% segment loss, %g%% of exchanges cut",
		float64(l.Bandwidth)/1000, l.RTT.Milliseconds(), 100*l.Loss, 100*l.Drop)
}

// serialise is how long n bytes take to put on the link, without loss.
func (l linkProfile) serialise(n int) time.Duration {
	return time.Duration(float64(n) * 8 / float64(l.Bandwidth) * float64(time.Second))
}

// vclock is the real clock plus every delay skipped: link delays, backoff,
// and the hours between a station's syncs.
type vclock struct {
	mu      sync.Mutex
	skipped time.Duration
}

func (c *vclock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.skipped)
}

func (c *vclock) advance(d time.Duration) {
	c.mu.Lock()
	c.skipped += d
	c.mu.Unlock()
}

// jumpTo moves the clock forward to t, if it is behind.
func (c *vclock) jumpTo(t time.Time) {
	c.mu.Lock()
	if d := t.Sub(time.Now().Add(c.skipped)); d > 0 {
		c.skipped += d
	}
	c.mu.Unlock()
}

// sleep is the SDK's Sleep on the virtual clock.
func (c *vclock) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.advance(d)
	return nil
}

// errCut is what a client sees when the link cuts its connection.
var errCut = errors.New("bench: the link cut the connection")

// linkStats counts what a shaper did.
type linkStats struct {
	Exchanges, Delivered      int
	CutRequests, CutResponses int
	LostSegments, Handshakes  int
	DeliveredBytes            int64 // headers and bodies of delivered exchanges
}

// shaper is an http.RoundTripper that delivers requests through next, to
// the real server, and charges a vclock what its link would take.
type shaper struct {
	next  http.RoundTripper
	link  linkProfile
	clock *vclock

	mu     sync.Mutex
	rng    *rand.Rand
	closed bool // the last exchange was cut: the next one opens a connection
	stats  linkStats
}

func newShaper(next http.RoundTripper, link linkProfile, clock *vclock, seed uint64) *shaper {
	return &shaper{next: next, link: link, clock: clock, rng: rand.New(rand.NewPCG(seed, seed^0x2f6b_0a5e))}
}

func (s *shaper) Stats() linkStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// transfer is how long n bytes take, losses included. s.mu is held.
func (s *shaper) transfer(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	segs := (n + s.link.MSS - 1) / s.link.MSS
	d := s.link.serialise(n + segs*segmentOverhead)
	for i := range segs {
		if s.rng.Float64() >= s.link.Loss {
			continue
		}
		s.stats.LostSegments++
		d += s.link.serialise(min(s.link.MSS, n-i*s.link.MSS) + segmentOverhead)
		if segs-i > 3 {
			d += s.link.RTT
		} else {
			d += 2 * s.link.RTT
		}
	}
	return d
}

// RoundTrip implements http.RoundTripper.
func (s *shaper) RoundTrip(req *http.Request) (*http.Response, error) {
	out, body, err := bufferRequest(req)
	if err != nil {
		return nil, err
	}
	up := int(requestHeaderBytes(out, len(body))) + len(body)

	s.mu.Lock()
	s.stats.Exchanges++
	cut := s.rng.Float64() < s.link.Drop
	cutRequest := cut && s.rng.Float64() < 0.5
	where := s.rng.Float64()
	var d time.Duration
	if s.closed {
		d += s.link.RTT // a new connection: SYN, SYN-ACK
		s.stats.Handshakes++
		s.closed = false
	}
	if cutRequest {
		d += s.transfer(int(where*float64(up))) + s.link.RTT
		s.stats.CutRequests++
		s.closed = true
	} else {
		d += s.transfer(up) + s.link.RTT
	}
	s.mu.Unlock()
	s.clock.advance(d)
	if cutRequest {
		return nil, errCut
	}

	resp, err := s.next.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	raw, err := bufferResponse(resp)
	if err != nil {
		return nil, err
	}
	down := int(responseHeaderBytes(resp)) + len(raw)

	s.mu.Lock()
	if cut {
		d = s.transfer(int(where*float64(down))) + s.link.RTT
		s.stats.CutResponses++
		s.closed = true
	} else {
		d = s.transfer(down)
		s.stats.Delivered++
		s.stats.DeliveredBytes += int64(up + down)
	}
	s.mu.Unlock()
	s.clock.advance(d)
	if cut {
		return nil, errCut
	}
	return resp, nil
}

// ShapedResult is stations' election days synced over a simulated 2G link.
//
// Each station enrolls and pulls its reference data the day before over a
// clean link (at the township office), then captures its day and syncs at
// the day's sync points over profile2G, its township's supervisor visiting
// before the last sync (as in BytesResult, the clock the devices and the
// server share follows the records' capture times, so every sync renews
// its token first; each station's day is moved to after the previous
// one's). A sync the SDK gives up on (after its own retries) is started
// again, as the station's operator would.
//
// Elapsed is the time the day's syncs took on the virtual clock: link
// delays, backoff and the real time the device and server spent. Ideal is
// the least the same exchanges need: one RTT per delivered exchange (the
// minimum round trips: the exchanges a clean link would carry; a cut
// exchange is retried, and the retry is the one needed) plus their bytes
// (headers and bodies, as sent) at the link's bandwidth. Ratio is Elapsed /
// Ideal; what it adds up is the protocol's exposure to loss and cuts
// (resends, backoff, new connections) and TCP/IP framing.
type ShapedResult struct {
	Link            string  `json:"link"`
	Stations        int     `json:"stations"`
	Syncs           int     `json:"syncs"`
	SyncRetries     int     `json:"sync_retries"` // syncs the SDK gave up on and the station started again
	Exchanges       int     `json:"exchanges"`    // HTTP requests attempted
	Delivered       int     `json:"delivered"`    // HTTP exchanges completed: the minimum round trips
	CutRequests     int     `json:"cut_requests"`
	CutResponses    int     `json:"cut_responses"`
	LostSegments    int     `json:"lost_segments"`
	Handshakes      int     `json:"handshakes"`
	Bytes           int64   `json:"bytes"` // headers and bodies of the delivered exchanges
	ElapsedS        float64 `json:"elapsed_s"`
	ComputeS        float64 `json:"compute_s"` // of ElapsedS, the real time device and server spent
	IdealS          float64 `json:"ideal_s"`
	Ratio           float64 `json:"ratio"`
	MaxStationRatio float64 `json:"max_station_ratio"` // the worst single station's Elapsed/Ideal
}

// maxSyncTries bounds how often a station starts a sync again.
const maxSyncTries = 10

// measureShaped plays days, one station after another, each over its own
// link, on a fresh server that shares their clock.
func measureShaped(ctx context.Context, ss *servers, days []stationDay, link linkProfile, seed uint64) (*ShapedResult, error) {
	res := &ShapedResult{Link: link.String()}
	clock := &vclock{}
	err := withClockServer(ctx, ss, "shaped", httpapi.SharedAddress(), clock.Now, func(srv *testServer) error {
		supervisors := map[string]*client.Device{}
		defer func() {
			for _, d := range supervisors {
				_ = d.Close()
			}
		}()
		var elapsed, ideal time.Duration
		for i, day := range days {
			// The day moves to after the previous one, with its times of
			// day; the records keep their own dates.
			shift := clock.Now().Add(time.Hour).Sub(dayBefore(day))
			setClock := func(t time.Time) { clock.jumpTo(t.Add(shift)) }
			setClock(dayBefore(day))
			sup := supervisors[day.Township]
			if sup == nil {
				var err error
				sup, err = srv.enroll(ctx, election.RoleSupervisor, day.Township, filepath.Join(srv.dir, "supervisor-"+day.Township), client.Options{Now: clock.Now})
				if err != nil {
					return err
				}
				supervisors[day.Township] = sup
			}
			e, id, err := shapedDay(ctx, srv, day, sup, link, clock, setClock, seed+uint64(i), filepath.Join(srv.dir, "station-"+day.Village), res)
			if err != nil {
				return fmt.Errorf("station %s over %s: %w", day.Village, link, err)
			}
			elapsed += e
			ideal += id
			if id > 0 {
				res.MaxStationRatio = max(res.MaxStationRatio, float64(e)/float64(id))
			}
			res.Stations++
		}
		res.ElapsedS, res.IdealS = elapsed.Seconds(), ideal.Seconds()
		if ideal > 0 {
			res.Ratio = float64(elapsed) / float64(ideal)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// shapedDay plays one station's day over its own shaped link and returns
// the day's elapsed and ideal sync time.
func shapedDay(ctx context.Context, srv *testServer, day stationDay, sup *client.Device, link linkProfile, clock *vclock, setClock func(time.Time), seed uint64, dir string, res *ShapedResult) (elapsed, ideal time.Duration, err error) {
	tr := newTransport(2)
	defer tr.CloseIdleConnections()
	sh := newShaper(tr, link, clock, seed)
	var shaped atomic.Bool // enrollment happens at the township office
	onLink := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if shaped.Load() {
			return sh.RoundTrip(r)
		}
		return tr.RoundTrip(r)
	})
	dev, err := srv.enroll(ctx, election.RoleStation, day.Village, dir, client.Options{
		HTTPClient: &http.Client{Transport: onLink},
		Now:        clock.Now,
		Sleep:      clock.sleep,
	})
	if err != nil {
		return 0, 0, err
	}
	defer dev.Close()
	shaped.Store(true)

	var compute time.Duration
	sync := func(ctx context.Context) (syncStat, error) {
		var s syncStat
		t0, real0 := clock.Now(), time.Now()
		for try := 1; ; try++ {
			rep, err := dev.Sync(ctx)
			s.Report.Pushed += rep.Pushed
			s.Report.Pulled += rep.Pulled
			s.Report.Pending = rep.Pending
			if err == nil {
				break
			}
			if try == maxSyncTries || ctx.Err() != nil {
				return s, err
			}
			res.SyncRetries++
		}
		s.Elapsed = clock.Now().Sub(t0)
		compute += time.Since(real0)
		res.Syncs++
		return s, nil
	}
	syncs, err := playDay(ctx, dev, day, setClock, nil, sync, supervisorVisit(sup, day), nil)
	if err != nil {
		return 0, 0, err
	}
	for _, s := range syncs {
		elapsed += s.Elapsed
	}
	st := sh.Stats()
	res.Exchanges += st.Exchanges
	res.Delivered += st.Delivered
	res.CutRequests += st.CutRequests
	res.CutResponses += st.CutResponses
	res.LostSegments += st.LostSegments
	res.Handshakes += st.Handshakes
	res.Bytes += st.DeliveredBytes
	res.ComputeS += compute.Seconds()
	ideal = time.Duration(st.Delivered)*link.RTT + link.serialise(int(st.DeliveredBytes))
	return elapsed, ideal, nil
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
