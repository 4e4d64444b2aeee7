package httpapi

import (
	"math"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"villagesync/syncproto"
)

// Limit is a token bucket: Per is the steady rate in requests per second,
// Burst how many may come at once. The zero Limit means the default; a
// negative Per turns the limit off (benchmarks, trusted load tests).
type Limit struct {
	Per   float64
	Burst int
}

// RateLimits are the adapter's request-rate limits. Requests that carry no
// credentials (enrollment, nonces, tokens, the login form) are limited per
// client IP, as the configured IP extractor sees it; authenticated requests
// per device or person, whatever IP they come from (a township office puts
// twenty laptops behind one address).
type RateLimits struct {
	Enroll  Limit // POST /v1/enroll: a guessing budget for codes
	Token   Limit // GET /v1/nonce, POST /v1/token
	Login   Limit // POST /login
	Subject Limit // every authenticated request, per token subject
}

// Default limits. Enrollment and login are rare and worth guessing at, so
// they are tight; tokens are renewed every quarter hour per laptop; a
// device's sync loop pages through its pull, so subjects get room.
var defaultLimits = RateLimits{
	Enroll:  Limit{Per: 1.0 / 6, Burst: 20},
	Token:   Limit{Per: 2, Burst: 60},
	Login:   Limit{Per: 1.0 / 6, Burst: 10},
	Subject: Limit{Per: 20, Burst: 100},
}

// withDefaults fills zero limits.
func (r RateLimits) withDefaults() RateLimits {
	fill := func(l *Limit, d Limit) {
		if *l == (Limit{}) {
			*l = d
		}
	}
	fill(&r.Enroll, defaultLimits.Enroll)
	fill(&r.Token, defaultLimits.Token)
	fill(&r.Login, defaultLimits.Login)
	fill(&r.Subject, defaultLimits.Subject)
	return r
}

// limiterIdle is how long an unused bucket is kept; a full bucket is
// indistinguishable from a new one well before that.
const limiterIdle = 10 * time.Minute

// limiter is a set of token buckets by key.
type limiter struct {
	limit Limit
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(l Limit, now func() time.Time) *limiter {
	return &limiter{limit: l, now: now, buckets: make(map[string]*bucket)}
}

// allow takes a token from key's bucket. When none is left it reports how
// long until one is.
func (l *limiter) allow(key string) (ok bool, wait time.Duration) {
	if l.limit.Per < 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > limiterIdle {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > limiterIdle {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.limit.Per), max(l.limit.Burst, 1))}
		l.buckets[key] = b
	}
	b.seen = now
	if b.lim.AllowN(now, 1) {
		return true, 0
	}
	r := b.lim.ReserveN(now, 1)
	wait = r.DelayFrom(now)
	r.CancelAt(now)
	return false, wait
}

// check takes a token from key's bucket, or refuses the request with
// CodeRateLimited and a Retry-After header.
func (l *limiter) check(c echo.Context, what, key string) error {
	ok, wait := l.allow(key)
	if ok {
		return nil
	}
	secs := max(1, int(math.Ceil(wait.Seconds())))
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	return syncproto.Errorf(syncproto.CodeRateLimited, "too many %s requests: retry in %d s", what, secs)
}

// middleware applies check to every request. key names the bucket of a
// request.
func (l *limiter) middleware(what string, key func(echo.Context) string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := l.check(c, what, key(c)); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// byIP keys a request by its client address as the IP extractor sees it.
func byIP(c echo.Context) string { return c.RealIP() }

// bySubject keys an authenticated request by its principal.
func bySubject(c echo.Context) string {
	if p := principal(c); p != nil {
		return p.Subject
	}
	return "ip:" + c.RealIP()
}

// ipExtractor returns how the adapter finds a client's address: the TCP
// peer, unless trusted proxies are configured, whose X-Forwarded-For it
// then believes (and only theirs: a client cannot spoof the header past
// them).
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// Off is the Limit that admits everything.
var Off = Limit{Per: -1}

// SharedAddress returns the limits for a server whose clients all come
// from one address: the county simulation, where 254 laptops run in one
// process. The per-address limits are off; the per-subject ones stay.
func SharedAddress() RateLimits {
	return RateLimits{Enroll: Off, Token: Off, Login: Off}
}
