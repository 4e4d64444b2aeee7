package webui

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
)

// Refusal is a request the pages refuse before it reaches the service or
// the device. Its messages are keys of the app's catalogue.
type Refusal struct {
	Status  int
	Summary string // message key
	Detail  string // message key
}

func (e *Refusal) Error() string { return fmt.Sprintf("%d %s", e.Status, e.Detail) }

// The refusals of both apps; each app's catalogue has their keys.
var (
	ErrCrossOrigin = &Refusal{http.StatusForbidden, "err.forbidden", "refuse.cross_origin"}
	ErrCSRF        = &Refusal{http.StatusForbidden, "err.forbidden", "refuse.csrf"}
	ErrRole        = &Refusal{http.StatusForbidden, "err.forbidden", "refuse.role"}
	ErrNoPage      = &Refusal{http.StatusNotFound, "err.not_found", "refuse.no_page"}
	ErrBadForm     = &Refusal{http.StatusBadRequest, "err.bad_request", "refuse.bad_form"}
	ErrFormTooBig  = &Refusal{http.StatusRequestEntityTooLarge, "err.too_large", "refuse.form_too_large"}
)

// ReadForm refuses a cross-origin POST (ErrCrossOrigin) and reads the form
// body, capped at limit bytes (ErrFormTooBig; ErrBadForm if it does not
// parse). It returns only those refusals.
func ReadForm(c echo.Context, cop *http.CrossOriginProtection, limit int64) error {
	req := c.Request()
	if err := cop.Check(req); err != nil {
		return ErrCrossOrigin
	}
	req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
	if err := req.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return ErrFormTooBig
		}
		return ErrBadForm
	}
	return nil
}

// EqualTokens compares a submitted token with the expected one in constant
// time; an empty token never matches.
func EqualTokens(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// SetSecurityHeaders sets the headers every response of the pages carries:
// the Content-Security-Policy csp, nosniff, no referrer, never framed, and
// a browsing context of its own. Caching is each app's.
func SetSecurityHeaders(h http.Header, csp string) {
	h.Set("Content-Security-Policy", csp)
	h.Set(echo.HeaderXContentTypeOptions, "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set(echo.HeaderXFrameOptions, "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}
