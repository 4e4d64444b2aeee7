package station

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"villagesync/election"
)

// Cookies and form fields of the pages.
const (
	langCookie = "vs_station_lang"
	// csrfField is the hidden field of every POST form.
	csrfField = "csrf"
	// maxCookieValue bounds the cookie values the pages read.
	maxCookieValue = 64
)

// request is one request to a page: its language, the submitted form and
// what to tell the operator.
type request struct {
	c      echo.Context
	ctx    context.Context
	lang   *lang
	notice *notice
	// warnings are the rule findings of what was just captured.
	warnings []election.Finding
	status   int // of the page rendered, 0 = 200
	// back is the page (path and query) a POST form belongs to, which the
	// language switch reloads.
	back string
}

// postValue returns a field of the POST body, never of the query, with
// surrounding space trimmed.
func (r *request) postValue(name string) string {
	return strings.TrimSpace(r.c.Request().PostForm.Get(name))
}

// postValues returns every value of a field of the POST body.
func (r *request) postValues(name string) []string {
	return r.c.Request().PostForm[name]
}

// query returns a query parameter of a GET, or else the same field of the
// POST body (a page shown again after its form).
func (r *request) query(name string) string {
	if r.c.Request().Method == http.MethodPost {
		return r.postValue(name)
	}
	return strings.TrimSpace(r.c.QueryParam(name))
}

// handlerFunc serves one page; an error it returns is rendered by fail.
type handlerFunc func(r *request) error

// refusal is a request the pages refuse before it reaches the device.
type refusal struct {
	status  int
	summary string // message key
	detail  string // message key
}

func (e *refusal) Error() string { return fmt.Sprintf("%d %s", e.status, e.detail) }

// Refusals.
var (
	errCrossOrigin = &refusal{http.StatusForbidden, "err.forbidden", "refuse.cross_origin"}
	errCSRF        = &refusal{http.StatusForbidden, "err.forbidden", "refuse.csrf"}
	errRole        = &refusal{http.StatusForbidden, "err.forbidden", "refuse.role"}
	errNoPage      = &refusal{http.StatusNotFound, "err.not_found", "refuse.no_page"}
	errBadForm     = &refusal{http.StatusBadRequest, "err.bad_request", "refuse.bad_form"}
	errFormTooBig  = &refusal{http.StatusRequestEntityTooLarge, "err.too_large", "refuse.form_too_large"}
	errNoElection  = &refusal{http.StatusNotFound, "err.not_found", "refuse.no_election"}
	// errBadID is a form whose record id was tampered with.
	errBadID = &refusal{http.StatusBadRequest, "err.bad_request", "refuse.bad_id"}
)

func (u *UI) newRequest(c echo.Context) *request {
	return &request{c: c, ctx: c.Request().Context(), lang: u.language(c)}
}

// page serves a GET page for the device roles listed (nil: every role).
func (u *UI) page(fn handlerFunc, roles []election.Role) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := u.newRequest(c)
		if roles != nil && !slices.Contains(roles, u.role()) {
			return u.fail(r, errRole)
		}
		if err := fn(r); err != nil {
			return u.fail(r, err)
		}
		return nil
	}
}

// action serves a state-changing POST: it must come from the same origin
// (Sec-Fetch-Site, Origin) and carry this process's CSRF token, and the
// device's role must be one of roles (nil: any). Nothing reaches the
// device otherwise.
func (u *UI) action(fn handlerFunc, roles []election.Role) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := u.newRequest(c)
		if err := u.checkPost(r); err != nil {
			return u.fail(r, err)
		}
		if !u.validCSRF(r.postValue(csrfField)) {
			u.warn(r, "form refused: missing or wrong CSRF token")
			return u.fail(r, errCSRF)
		}
		if roles != nil && !slices.Contains(roles, u.role()) {
			u.warn(r, "form refused: the device's role may not use it")
			return u.fail(r, errRole)
		}
		if err := fn(r); err != nil {
			return u.fail(r, err)
		}
		return nil
	}
}

// checkPost refuses cross-origin POSTs and reads the form body, capped.
func (u *UI) checkPost(r *request) error {
	req := r.c.Request()
	if err := u.cop.Check(req); err != nil {
		u.warn(r, "form refused: cross-origin request")
		return errCrossOrigin
	}
	req.Body = http.MaxBytesReader(r.c.Response(), req.Body, formLimit)
	if err := req.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return errFormTooBig
		}
		return errBadForm
	}
	return nil
}

// validCSRF compares a submitted token with this process's in constant
// time.
func (u *UI) validCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(u.csrf)) == 1
}

// cookie returns the value of a cookie, "" if it is missing or too long.
func (u *UI) cookie(c echo.Context, name string) string {
	ck, err := c.Cookie(name)
	if err != nil || len(ck.Value) > maxCookieValue {
		return ""
	}
	return ck.Value
}

// language is the request's language: ?lang=zh|en (remembered in a cookie
// when it comes with a GET), else the cookie, else Simplified Chinese.
func (u *UI) language(c echo.Context) *lang {
	if l, ok := languages[c.QueryParam("lang")]; ok {
		if c.Request().Method == http.MethodGet {
			c.SetCookie(&http.Cookie{
				Name:     langCookie,
				Value:    l.Code,
				Path:     "/",
				MaxAge:   int(langTTL / time.Second),
				HttpOnly: true,
				SameSite: http.SameSiteLaxMode,
			})
		}
		return l
	}
	if l, ok := languages[u.cookie(c, langCookie)]; ok {
		return l
	}
	return languages[defaultLang]
}

// warn logs a refused request: its route, never its cookies or fields.
func (u *UI) warn(r *request, msg string) {
	u.log.WarnContext(r.ctx, msg, logMethod, r.c.Request().Method, logRoute, r.c.Path())
}

// href builds a link to path with the query parameters given as name,
// value pairs, skipping empty values.
func href(path string, pairs ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			q.Set(pairs[i], pairs[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}
