package client

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"villagesync/syncproto"
)

// Defaults of Options.
const (
	DefaultBatchBytes  = 256 << 10 // encoded size bound of one push batch
	MaxBatchBytes      = syncproto.MaxPushBytes / 2
	DefaultMaxAttempts = 5
	MinBackoff         = 500 * time.Millisecond
	MaxBackoff         = 30 * time.Second
)

// Options tune a Device. The zero value is ready to use.
type Options struct {
	// HTTPClient talks to the server; nil means a client with timeouts
	// suited to slow rural links.
	HTTPClient *http.Client
	// Now is the device clock; nil means time.Now. Laptop clocks are often
	// wrong: the sync engine learns the server's offset and records both.
	Now func() time.Time
	// Logger receives operational logs; nil means slog.Default(). Tokens,
	// keys and record bodies are never logged.
	Logger *slog.Logger
	// Server, if set, overrides the server address saved at enrollment for
	// this Device handle (e.g. a township office's local relay).
	Server string
	// Label names the device for the county at enrollment (e.g. the
	// hostname); optional.
	Label string
	// BatchBytes bounds the encoded size of one push request: a sync
	// interrupted mid-way costs at most one batch. 0 means
	// DefaultBatchBytes; values above MaxBatchBytes are capped. A batch
	// always carries at least one change.
	BatchBytes int
	// PullBytes bounds the encoded size of one pulled page. 0 means
	// syncproto.DefaultPullBytes; the server caps it at
	// syncproto.MaxPullBytes; negative means push only.
	PullBytes int
	// MaxAttempts bounds the attempts of one sync round (network errors,
	// 5xx and retryable codes are retried). 0 means DefaultMaxAttempts.
	MaxAttempts int
	// Backoff is the wait before retry number attempt (1, 2, ...); nil
	// means exponential with jitter from MinBackoff to MaxBackoff.
	Backoff func(attempt int) time.Duration
	// Sleep waits d or until ctx is done; nil means a timer. Tests inject
	// one that does not wait.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (o Options) withDefaults() Options {
	if o.HTTPClient == nil {
		o.HTTPClient = defaultHTTPClient()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch {
	case o.BatchBytes <= 0:
		o.BatchBytes = DefaultBatchBytes
	case o.BatchBytes > MaxBatchBytes:
		o.BatchBytes = MaxBatchBytes
	}
	switch {
	case o.PullBytes == 0:
		o.PullBytes = syncproto.DefaultPullBytes
	case o.PullBytes < 0:
		o.PullBytes = -1
	case o.PullBytes > syncproto.MaxPullBytes:
		o.PullBytes = syncproto.MaxPullBytes
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.Backoff == nil {
		o.Backoff = defaultBackoff
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	return o
}

// defaultHTTPClient has generous timeouts: a 2G link moves a 60 KB
// compressed batch in about ten seconds, and a stalled link must still give
// up eventually so the operator sees an error.
func defaultHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 5 * time.Minute,
		Transport: &http.Transport{
			Proxy:                  http.ProxyFromEnvironment,
			DialContext:            (&net.Dialer{Timeout: 20 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:      true,
			MaxIdleConns:           4,
			IdleConnTimeout:        90 * time.Second,
			TLSHandshakeTimeout:    20 * time.Second,
			ResponseHeaderTimeout:  2 * time.Minute,
			ExpectContinueTimeout:  time.Second,
			MaxResponseHeaderBytes: 64 << 10,
			// Content encodings are negotiated by the sync engine itself.
			DisableCompression: true,
		},
	}
}

// defaultBackoff doubles from MinBackoff up to MaxBackoff, with "equal
// jitter" (half fixed, half random) so that a fleet of stations coming back
// online together does not retry in lockstep.
func defaultBackoff(attempt int) time.Duration {
	d := MaxBackoff
	if attempt >= 1 && attempt <= 7 {
		d = min(MinBackoff<<(attempt-1), MaxBackoff)
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
