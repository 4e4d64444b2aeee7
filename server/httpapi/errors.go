package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"villagesync/syncproto"
)

// internalMessage is all a client ever learns about an internal error.
const internalMessage = "internal error"

// handleError is the one HTTPErrorHandler: it renders err as a
// syncproto.ErrorBody with the status of its code.
func (a *api) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	e := a.protoError(c, err)
	e.RequestID = requestID(c)
	status := e.Code.HTTPStatus()
	if status == http.StatusUnauthorized {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer error="invalid_token"`)
	}
	if err := a.send(c, status, syncproto.ErrorBody{Error: e}); err != nil {
		a.log.ErrorContext(c.Request().Context(), "write error response", logRequestID, e.RequestID, logErr, err)
	}
}

// protoError converts any error into the *syncproto.Error a client may see,
// logging what it hides.
func (a *api) protoError(c echo.Context, err error) *syncproto.Error {
	if pe, ok := errors.AsType[*syncproto.Error](err); ok {
		e := *pe
		if e.Code == syncproto.CodeInternal {
			a.logInternal(c, err)
			e.Message = internalMessage
		}
		return &e
	}
	if he, ok := errors.AsType[*echo.HTTPError](err); ok {
		switch {
		case he.Code == http.StatusNotFound:
			return syncproto.Errorf(syncproto.CodeNotFound, "no such endpoint")
		case he.Code == http.StatusMethodNotAllowed:
			return syncproto.Errorf(syncproto.CodeBadRequest, "method not allowed on this endpoint")
		case he.Code == http.StatusRequestEntityTooLarge:
			return syncproto.Errorf(syncproto.CodeTooLarge, "request body too large")
		case he.Code == http.StatusUnauthorized:
			return syncproto.Errorf(syncproto.CodeUnauthenticated, "authentication required")
		case he.Code == http.StatusForbidden:
			return syncproto.Errorf(syncproto.CodeForbidden, "forbidden")
		case he.Code == http.StatusTooManyRequests:
			return syncproto.Errorf(syncproto.CodeRateLimited, "too many requests: slow down and retry later")
		case he.Code == http.StatusServiceUnavailable:
			return syncproto.Errorf(syncproto.CodeUnavailable, "server busy: retry later")
		case he.Code >= 400 && he.Code < 500:
			return syncproto.Errorf(syncproto.CodeBadRequest, "%s", http.StatusText(he.Code))
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		a.log.WarnContext(c.Request().Context(), "request timed out", logRequestID, requestID(c), logErr, err)
		return syncproto.Errorf(syncproto.CodeUnavailable, "request timed out: retry later")
	}
	a.logInternal(c, err)
	return syncproto.Errorf(syncproto.CodeInternal, internalMessage)
}

func (a *api) logInternal(c echo.Context, err error) {
	r := c.Request()
	a.log.ErrorContext(r.Context(), "internal error", logRequestID, requestID(c),
		logMethod, r.Method, logPath, r.URL.Path, logErr, err)
}
