package sim

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
)

// Faults are the per-request probabilities of each fault on a Link.
type Faults struct {
	DropRequest  float64 // the request is lost before the server sees it
	DropResponse float64 // the server commits, the response is lost
	Duplicate    float64 // the request reaches the server twice
	Tear         float64 // the request body is cut short and the connection dies
	Replay       float64 // an earlier request arrives again, late, before this one
}

// LinkStats counts what a Link did.
type LinkStats struct {
	Requests, Delivered, DroppedRequests, DroppedResponses, Duplicated, Torn, Replayed int
	BytesUp, BytesDown                                                                 int64
}

// ErrLinkDown is what a device sees when a Link loses its request or response.
var ErrLinkDown = errors.New("sim: link down")

// Link is an http.RoundTripper that delivers requests to a server, either
// straight to an in-process handler or through a real transport, injecting
// faults from a seeded random source. It is safe for concurrent use.
type Link struct {
	handler http.Handler      // in-process delivery, or
	next    http.RoundTripper // delivery over a real connection

	mu      sync.Mutex
	rng     *rand.Rand
	faults  Faults
	past    []*recorded
	stats   LinkStats
	offline bool
}

type recorded struct {
	method, url string
	header      http.Header
	body        []byte
}

// NewLink returns a link to an in-process handler with faults drawn from
// seed.
func NewLink(handler http.Handler, seed uint64, f Faults) *Link {
	return &Link{handler: handler, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), faults: f}
}

// NewTransportLink returns a link that sends requests over next (a real
// server), with faults drawn from seed.
func NewTransportLink(next http.RoundTripper, seed uint64, f Faults) *Link {
	return &Link{next: next, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), faults: f}
}

// SetFaults changes the fault probabilities (zero Faults = a clean link).
func (l *Link) SetFaults(f Faults) {
	l.mu.Lock()
	l.faults = f
	l.mu.Unlock()
}

// SetOffline cuts (true) or restores (false) the link entirely.
func (l *Link) SetOffline(off bool) {
	l.mu.Lock()
	l.offline = off
	l.mu.Unlock()
}

// Stats returns a copy of the link's counters.
func (l *Link) Stats() LinkStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// RoundTrip implements http.RoundTripper.
func (l *Link) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	rec := &recorded{method: req.Method, url: req.URL.String(), header: req.Header.Clone(), body: body}

	l.mu.Lock()
	l.stats.Requests++
	l.stats.BytesUp += int64(len(body))
	if l.offline {
		l.stats.DroppedRequests++
		l.mu.Unlock()
		return nil, ErrLinkDown
	}
	f := l.faults
	roll := func(p float64) bool { return p > 0 && l.rng.Float64() < p }
	dropReq, dropResp, dup, tear, replay := roll(f.DropRequest), roll(f.DropResponse), roll(f.Duplicate), roll(f.Tear), roll(f.Replay)
	var old *recorded
	if replay && len(l.past) > 0 {
		old = l.past[l.rng.IntN(len(l.past))]
		l.stats.Replayed++
	}
	cut := 0
	if tear && len(body) > 0 {
		cut = l.rng.IntN(len(body))
	}
	if len(l.past) < 64 {
		l.past = append(l.past, rec)
	} else {
		l.past[l.rng.IntN(len(l.past))] = rec
	}
	l.mu.Unlock()

	if old != nil {
		l.serve(req, old, len(old.body))
	}
	switch {
	case dropReq:
		l.count(func(s *LinkStats) { s.DroppedRequests++ })
		return nil, ErrLinkDown
	case tear:
		l.serve(req, rec, cut)
		l.count(func(s *LinkStats) { s.Torn++ })
		return nil, ErrLinkDown
	}
	resp := l.serve(req, rec, len(body))
	if dup {
		resp = l.serve(req, rec, len(body))
		l.count(func(s *LinkStats) { s.Duplicated++ })
	}
	if dropResp {
		l.count(func(s *LinkStats) { s.DroppedResponses++ })
		return nil, ErrLinkDown
	}
	l.count(func(s *LinkStats) {
		s.Delivered++
		s.BytesDown += resp.ContentLength
	})
	return resp, nil
}

func (l *Link) count(fn func(*LinkStats)) {
	l.mu.Lock()
	fn(&l.stats)
	l.mu.Unlock()
}

type bodyReader struct{ *bytes.Reader }

func (bodyReader) Close() error { return nil }

// serve delivers the first n bytes of rec's body to the handler. A torn
// request (n < len) declares its full length, as a cut connection would.
func (l *Link) serve(orig *http.Request, rec *recorded, n int) *http.Response {
	r := httptest.NewRequestWithContext(orig.Context(), rec.method, rec.url, bytes.NewReader(rec.body[:n]))
	r.Header = rec.header.Clone()
	if n < len(rec.body) {
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(rec.body[:n]), errReader{}))
	}
	r.ContentLength = int64(len(rec.body))
	var res *http.Response
	var b []byte
	if l.next != nil {
		r.RequestURI = ""
		out, err := l.next.RoundTrip(r)
		if err != nil {
			return &http.Response{StatusCode: http.StatusBadGateway, Status: "502 Bad Gateway", Header: http.Header{}, Body: bodyReader{bytes.NewReader(nil)}, Request: orig}
		}
		b, _ = io.ReadAll(out.Body)
		_ = out.Body.Close()
		res = out
	} else {
		w := httptest.NewRecorder()
		l.handler.ServeHTTP(w, r)
		res = w.Result()
		b = w.Body.Bytes()
	}
	res.Body = bodyReader{bytes.NewReader(b)}
	res.ContentLength = int64(len(b))
	res.Request = orig
	return res
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }
