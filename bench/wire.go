package bench

import (
	"bytes"
	"io"
	"maps"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// wireStats counts what crossed an HTTP link.
type wireStats struct {
	Requests int `json:"requests"`
	// BodyUp and BodyDown are request and response bodies exactly as
	// sent: compressed when the sender compressed them.
	BodyUp   int64 `json:"body_up"`
	BodyDown int64 `json:"body_down"`
	// HeaderUp and HeaderDown are the HTTP/1.1 request and status lines
	// and headers, as net/http writes them (estimated from the header
	// maps, to within a few bytes).
	HeaderUp   int64 `json:"header_up"`
	HeaderDown int64 `json:"header_down"`
	// Exchanges breaks the requests down by "METHOD /path status"
	// (status 0: no answer).
	Exchanges map[string]Exchange `json:"exchanges"`
}

// Exchange is the requests of one kind and their bodies' bytes.
type Exchange struct {
	Count    int   `json:"count"`
	BodyUp   int64 `json:"body_up"`
	BodyDown int64 `json:"body_down"`
}

// Bodies is the bytes of request and response bodies.
func (s wireStats) Bodies() int64 { return s.BodyUp + s.BodyDown }

// Headers is the bytes of request and response headers.
func (s wireStats) Headers() int64 { return s.HeaderUp + s.HeaderDown }

func (s wireStats) minus(o wireStats) wireStats {
	d := wireStats{
		Requests: s.Requests - o.Requests,
		BodyUp:   s.BodyUp - o.BodyUp, BodyDown: s.BodyDown - o.BodyDown,
		HeaderUp: s.HeaderUp - o.HeaderUp, HeaderDown: s.HeaderDown - o.HeaderDown,
		Exchanges: map[string]Exchange{},
	}
	for k, e := range s.Exchanges {
		p := o.Exchanges[k]
		if e.Count != p.Count {
			d.Exchanges[k] = Exchange{Count: e.Count - p.Count, BodyUp: e.BodyUp - p.BodyUp, BodyDown: e.BodyDown - p.BodyDown}
		}
	}
	return d
}

// add adds o to s.
func (s *wireStats) add(o wireStats) {
	s.Requests += o.Requests
	s.BodyUp += o.BodyUp
	s.BodyDown += o.BodyDown
	s.HeaderUp += o.HeaderUp
	s.HeaderDown += o.HeaderDown
	if s.Exchanges == nil {
		s.Exchanges = map[string]Exchange{}
	}
	for k, e := range o.Exchanges {
		t := s.Exchanges[k]
		s.Exchanges[k] = Exchange{Count: t.Count + e.Count, BodyUp: t.BodyUp + e.BodyUp, BodyDown: t.BodyDown + e.BodyDown}
	}
}

// counter is an http.RoundTripper that counts every request it passes on
// and the bytes of both directions. A request whose response never arrives
// still counts as a request and its body as sent.
type counter struct {
	next http.RoundTripper

	mu    sync.Mutex
	stats wireStats
}

// Stats returns the counts so far.
func (c *counter) Stats() wireStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Exchanges = maps.Clone(s.Exchanges)
	return s
}

// RoundTrip implements http.RoundTripper.
func (c *counter) RoundTrip(req *http.Request) (*http.Response, error) {
	out, body, err := bufferRequest(req)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.stats.Requests++
	c.stats.BodyUp += int64(len(body))
	c.stats.HeaderUp += requestHeaderBytes(out, len(body))
	c.mu.Unlock()
	resp, err := c.next.RoundTrip(out)
	status := 0
	var raw []byte
	if err == nil {
		status = resp.StatusCode
		raw, err = bufferResponse(resp)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stats.Exchanges == nil {
		c.stats.Exchanges = map[string]Exchange{}
	}
	path := req.URL.Path
	if path == "" {
		path = "/"
	}
	key := req.Method + " " + path + " " + strconv.Itoa(status)
	e := c.stats.Exchanges[key]
	e.Count++
	e.BodyUp += int64(len(body))
	e.BodyDown += int64(len(raw))
	c.stats.Exchanges[key] = e
	if err != nil {
		return nil, err
	}
	c.stats.BodyDown += int64(len(raw))
	c.stats.HeaderDown += responseHeaderBytes(resp)
	return resp, nil
}

// bufferRequest returns a copy of req whose body is held in memory, and
// that body. A RoundTripper must not modify the request it is given.
func bufferRequest(req *http.Request) (*http.Request, []byte, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, nil, err
		}
		body = b
	}
	out := req.Clone(req.Context())
	out.Body = http.NoBody
	if body != nil {
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	out.ContentLength = int64(len(body))
	return out, body, nil
}

// bufferResponse reads resp's body (as it came off the wire: the
// transports here never decompress) and puts it back in memory.
func bufferResponse(resp *http.Response) ([]byte, error) {
	raw, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	return raw, err
}

// byteCounter counts what is written to it.
type byteCounter int64

func (b *byteCounter) Write(p []byte) (int, error) {
	*b += byteCounter(len(p))
	return len(p), nil
}

// requestHeaderBytes is the size of req's request line and headers as
// net/http's HTTP/1.1 transport writes them: the header map, plus the Host,
// User-Agent and Content-Length lines it adds.
func requestHeaderBytes(req *http.Request, bodyLen int) int64 {
	var n byteCounter
	_ = req.Header.Write(&n)
	line := len(req.Method) + 1 + len(req.URL.RequestURI()) + len(" HTTP/1.1\r\n")
	extra := len("Host: \r\n") + len(req.URL.Host)
	if req.Header.Get("User-Agent") == "" {
		extra += len("User-Agent: Go-http-client/1.1\r\n")
	}
	if bodyLen > 0 {
		extra += len("Content-Length: \r\n") + len(strconv.Itoa(bodyLen))
	}
	return int64(line+extra+len("\r\n")) + int64(n)
}

// responseHeaderBytes is the size of resp's status line and headers.
func responseHeaderBytes(resp *http.Response) int64 {
	var n byteCounter
	_ = resp.Header.Write(&n)
	return int64(len("HTTP/1.1 ")+len(resp.Status)+len("\r\n\r\n")) + int64(n)
}

// newTransport is a fresh HTTP transport to a loopback server: one per
// simulated machine, so that no two devices share a connection. It never
// decompresses: the SDK negotiates content encodings itself, and the
// counters must see bodies as sent.
func newTransport(conns int) *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
}
