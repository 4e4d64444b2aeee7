package httpapi

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"villagesync/server"
	"villagesync/server/web"
	"villagesync/syncproto"
)

// Limits of the adapter.
const (
	// smallBodyLimit caps the bodies of enroll and token requests.
	smallBodyLimit = 64 << 10
	// requestTimeout bounds the service work of one request.
	requestTimeout = 30 * time.Second
	// jwksMaxAge is how long clients may cache the JWKS.
	jwksMaxAge = "public, max-age=300"
)

// Config configures the adapter. The zero value of every field means its
// default.
type Config struct {
	Logger *slog.Logger // nil = slog.Default()
	// BodyLimit caps request bodies in decompressed bytes; default
	// syncproto.MaxPushBytes.
	BodyLimit int64
	// Limits are the request-rate limits; zero fields take defaults.
	Limits RateLimits
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client; none means the TCP peer is the client.
	TrustedProxies []*net.IPNet
	// Now is the clock of the rate limits; nil = time.Now.
	Now func() time.Time
	// PublicURL is the server's URL as users reach it, named in the
	// enrollment QR codes of the web pages.
	PublicURL string
	// SecureCookies marks session cookies Secure even when the request did
	// not come over TLS (TLS ends at a trusted proxy).
	SecureCookies bool
}

// api serves the HTTP API of one service.
type api struct {
	svc    *server.Service
	log    *slog.Logger
	limit  int64
	codecs *codecs
}

// New returns the Echo instance serving svc: routes, middleware and the one
// error handler.
func New(svc *server.Service, cfg Config) *echo.Echo {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = syncproto.MaxPushBytes
	}
	a := &api{svc: svc, log: cfg.Logger, limit: cfg.BodyLimit}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.IPExtractor = ipExtractor(cfg.TrustedProxies)
	e.HTTPErrorHandler = a.handleError
	a.codecs = newCodecs(cfg.BodyLimit, a.log)

	e.Use(a.observe)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{LogErrorFunc: a.logPanic}))
	e.Use(middleware.Secure())
	e.Use(middleware.ContextTimeout(requestTimeout))

	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	limits := cfg.Limits.withDefaults()
	enrollLimit := newLimiter(limits.Enroll, cfg.Now).middleware("enrollment", byIP)
	tokenLimit := newLimiter(limits.Token, cfg.Now).middleware("token", byIP)
	subjects := newLimiter(limits.Subject, cfg.Now)
	subjectLimit := subjects.middleware("", bySubject)
	loginLimit := newLimiter(limits.Login, cfg.Now).middleware("login", byIP)
	// authed is the chain of every authenticated API route.
	authed := []echo.MiddlewareFunc{protocol, a.authenticate, subjectLimit}

	e.GET("/healthz", a.healthz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(svc.Registry(), promhttp.HandlerOpts{})))
	e.GET("/.well-known/jwks.json", a.jwks)

	// Middleware is attached per route, not to a group: a group would add
	// catch-all routes that turn every 405 under /v1 into a 404.
	e.POST("/v1/enroll", a.enroll, protocol, enrollLimit)
	e.GET("/v1/nonce", a.nonce, protocol, tokenLimit)
	e.POST("/v1/token", a.token, protocol, tokenLimit)
	e.POST("/v1/sync", a.sync, authed...)
	e.GET("/v1/records/:collection/:id", a.record, authed...)
	e.GET("/v1/review", a.review, authed...)
	e.POST("/v1/review/:id/resolve", a.resolve, authed...)
	e.GET("/v1/report", a.report, authed...)
	e.POST("/v1/enroll-codes", a.issueEnrollCode, authed...)
	e.GET("/v1/enroll-codes", a.enrollCodes, authed...)
	e.POST("/v1/enroll-codes/:id/expire", a.expireEnrollCode, authed...)
	e.GET("/v1/devices", a.devices, authed...)
	e.POST("/v1/devices/:id/revoke", a.revokeDevice, authed...)
	web.Register(e, svc, web.Config{
		Logger:        cfg.Logger,
		SecureCookies: cfg.SecureCookies,
		ServerURL:     cfg.PublicURL,
		Now:           cfg.Now,
		LoginLimit:    loginLimit,
		PersonLimit: func(c echo.Context, subject string) error {
			return subjects.check(c, "page", subject)
		},
	})
	return e
}

// NewHTTPServer returns an http.Server for h with every timeout and the
// header size bounded.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

func (a *api) healthz(c echo.Context) error {
	return a.send(c, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *api) jwks(c echo.Context) error {
	b, err := a.svc.JWKS(c.Request().Context())
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, jwksMaxAge)
	return a.sendBytes(c, http.StatusOK, "application/jwk-set+json", b)
}

// decode reads a small JSON request body into v.
func (a *api) decode(c echo.Context, v any) error {
	b, err := a.readBody(c, smallBodyLimit)
	if err != nil {
		return err
	}
	return syncproto.Unmarshal(b, v)
}

func (a *api) enroll(c echo.Context) error {
	var req syncproto.EnrollRequest
	if err := a.decode(c, &req); err != nil {
		return err
	}
	resp, err := a.svc.Enroll(c.Request().Context(), req)
	if err != nil {
		return err
	}
	return a.send(c, http.StatusOK, resp)
}

func (a *api) nonce(c echo.Context) error {
	resp, err := a.svc.Nonce(c.Request().Context())
	if err != nil {
		return err
	}
	return a.send(c, http.StatusOK, resp)
}

func (a *api) token(c echo.Context) error {
	var req syncproto.TokenRequest
	if err := a.decode(c, &req); err != nil {
		return err
	}
	resp, err := a.svc.Token(c.Request().Context(), req)
	if err != nil {
		return err
	}
	return a.send(c, http.StatusOK, resp)
}

func (a *api) sync(c echo.Context) error {
	p := principal(c)
	if p == nil || p.Device == "" {
		return syncproto.Errorf(syncproto.CodeForbidden, "only enrolled devices sync: this token was not issued to a device")
	}
	b, err := a.readBody(c, a.limit)
	if err != nil {
		return err
	}
	req, err := syncproto.DecodeSyncRequest(b, p.Device)
	if err != nil {
		return err
	}
	resp, err := a.svc.Sync(c.Request().Context(), p, req)
	if err != nil {
		return err
	}
	return a.send(c, http.StatusOK, resp)
}

// recordBody is the answer of GET /v1/records/:collection/:id.
type recordBody struct {
	Collection string          `json:"collection"`
	ID         string          `json:"id"`
	Version    uint64          `json:"version"`
	Body       json.RawMessage `json:"body"`
	Device     string          `json:"device"`
	Seq        uint64          `json:"seq"`
	// Conflict is the open conflict the record is part of, if any;
	// Superseded the resolution that set it aside for another record of
	// its slot.
	Conflict   string `json:"conflict,omitempty"`
	Superseded string `json:"superseded,omitempty"`
}

// pathParam returns a path parameter unescaped. Echo matches on the raw
// path when the URL has one (an escaped "/" in an id), and its parameters
// are then still escaped.
func pathParam(c echo.Context, name string) (string, error) {
	v := c.Param(name)
	if c.Request().URL.RawPath == "" {
		return v, nil
	}
	u, err := url.PathUnescape(v)
	if err != nil {
		return "", syncproto.Errorf(syncproto.CodeBadRequest, "invalid escaping in the record path")
	}
	return u, nil
}

func (a *api) record(c echo.Context) error {
	collection, err := pathParam(c, "collection")
	if err != nil {
		return err
	}
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	rec, err := a.svc.Record(c.Request().Context(), principal(c), collection, id)
	if err != nil {
		return err
	}
	return a.send(c, http.StatusOK, recordBody{
		Collection: rec.Collection,
		ID:         rec.ID,
		Version:    rec.Version,
		Body:       rec.Body,
		Device:     rec.Device,
		Seq:        rec.Seq,
		Conflict:   rec.Conflict,
		Superseded: rec.Superseded,
	})
}

func (a *api) review(c echo.Context) error {
	q, err := a.svc.Review(c.Request().Context(), principal(c), c.QueryParam("status"))
	if err != nil {
		return err
	}
	return a.send(c, http.StatusOK, q)
}

func (a *api) resolve(c echo.Context) error {
	id, err := pathParam(c, "id")
	if err != nil {
		return err
	}
	var req server.ResolveRequest
	if err := a.decode(c, &req); err != nil {
		return err
	}
	res, err := a.svc.Resolve(c.Request().Context(), principal(c), id, req)
	if err != nil {
		return err
	}
	return a.send(c, http.StatusOK, res)
}

// csvType is the media type of the CSV report.
const csvType = "text/csv; charset=utf-8"

func (a *api) report(c echo.Context) error {
	ctx := c.Request().Context()
	switch format := c.QueryParam("format"); format {
	case "", "json":
		rep, err := a.svc.Report(ctx, principal(c))
		if err != nil {
			return err
		}
		return a.send(c, http.StatusOK, rep)
	case "csv":
		b, err := a.svc.ReportCSV(ctx, principal(c))
		if err != nil {
			return err
		}
		c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="villagesync-report.csv"`)
		return a.sendBytes(c, http.StatusOK, csvType, b)
	default:
		return syncproto.Errorf(syncproto.CodeBadRequest, "format %q: want json or csv", format)
	}
}
