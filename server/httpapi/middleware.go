package httpapi

import (
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"villagesync/server"
	"villagesync/syncproto"
)

// Attribute keys of the adapter's log records.
const (
	logRequestID = "request_id"
	logMethod    = "method"
	logPath      = "path"
	logRoute     = "route"
	logStatus    = "status"
	logDuration  = "duration"
	logBytesIn   = "bytes_in"
	logBytesOut  = "bytes_out"
	logRemote    = "remote"
	logSubject   = "subject"
	logErr       = "err"
	logStack     = "stack"
)

// Keys of values kept in the echo.Context.
const (
	ctxRequestID = "villagesync.request_id"
	ctxPrincipal = "villagesync.principal"
)

// requestID returns the request's id, set by the observe middleware.
func requestID(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

// principal returns the authenticated principal, set by authenticate.
func principal(c echo.Context) *server.Principal {
	p, _ := c.Get(ctxPrincipal).(*server.Principal)
	return p
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.ReadCloser
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }

// observe is the outermost middleware: it gives the request a fresh id (a
// client-supplied X-Request-ID is replaced, never trusted), counts body bytes
// as they cross the wire, renders any error, and logs the request without
// its credentials.
func (a *api) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		req := c.Request()
		id := rand.Text()
		c.Set(ctxRequestID, id)
		req.Header.Set(echo.HeaderXRequestID, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		in := &countingReader{r: req.Body}
		req.Body = in

		if err := next(c); err != nil {
			c.Error(err)
		}

		res := c.Response()
		a.svc.CountBytes(in.n, res.Size)
		level := slog.LevelInfo
		switch {
		case res.Status >= http.StatusInternalServerError:
			level = slog.LevelError
		case c.Path() == "/healthz" || c.Path() == "/metrics":
			level = slog.LevelDebug
		}
		attrs := []slog.Attr{
			slog.String(logRequestID, id),
			slog.String(logMethod, req.Method),
			slog.String(logPath, req.URL.Path),
			slog.String(logRoute, c.Path()),
			slog.Int(logStatus, res.Status),
			slog.Duration(logDuration, time.Since(start)),
			slog.Int64(logBytesIn, in.n),
			slog.Int64(logBytesOut, res.Size),
			slog.String(logRemote, c.RealIP()),
		}
		if p := principal(c); p != nil {
			attrs = append(attrs, slog.String(logSubject, p.Subject))
		}
		a.log.LogAttrs(req.Context(), level, "http request", attrs...)
		return nil
	}
}

// logPanic logs a recovered panic; the recover middleware then hands the
// error to the error handler, which answers 500 "internal error".
func (a *api) logPanic(c echo.Context, err error, stack []byte) error {
	a.log.ErrorContext(c.Request().Context(), "panic serving request", logRequestID, requestID(c), logErr, err, logStack, string(stack))
	return err
}

// protocol refuses requests that announce a protocol version this server
// does not speak, and marks every answer with the server's.
func protocol(next echo.HandlerFunc) echo.HandlerFunc {
	want := strconv.Itoa(syncproto.Version)
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set(syncproto.HeaderProtocol, want)
		h.Set(echo.HeaderCacheControl, "no-store")
		if v := c.Request().Header.Get(syncproto.HeaderProtocol); v != "" && v != want {
			return syncproto.Errorf(syncproto.CodeUnsupported, "protocol version %q is not supported: this server speaks version %s", v, want)
		}
		return next(c)
	}
}

// authenticate derives the principal from the bearer token, and from
// nothing else in the request.
func (a *api) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		scheme, token, ok := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
		token = strings.TrimSpace(token)
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return syncproto.Errorf(syncproto.CodeUnauthenticated, "missing bearer token: send Authorization: Bearer <access token>")
		}
		p, err := a.svc.Authenticate(c.Request().Context(), token)
		if err != nil {
			return err
		}
		c.Set(ctxPrincipal, p)
		return next(c)
	}
}
