package station

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"villagesync/election"
	"villagesync/internal/webui"
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
type refusal = webui.Refusal

// Refusals.
var (
	errCrossOrigin = webui.ErrCrossOrigin
	errCSRF        = webui.ErrCSRF
	errRole        = webui.ErrRole
	errNoPage      = webui.ErrNoPage
	errBadForm     = webui.ErrBadForm
	errFormTooBig  = webui.ErrFormTooBig
	errNoElection  = &refusal{Status: http.StatusNotFound, Summary: "err.not_found", Detail: "refuse.no_election"}
	// errBadID is a form whose record id was tampered with.
	errBadID = &refusal{Status: http.StatusBadRequest, Summary: "err.bad_request", Detail: "refuse.bad_id"}
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
	err := webui.ReadForm(r.c, u.cop, formLimit)
	if err == errCrossOrigin {
		u.warn(r, "form refused: cross-origin request")
	}
	return err
}

// validCSRF compares a submitted token with this process's in constant
// time.
func (u *UI) validCSRF(token string) bool { return webui.EqualTokens(token, u.csrf) }

// language is the request's language: ?lang=zh|en (remembered in a cookie
// when it comes with a GET), else the cookie, else Simplified Chinese.
func (u *UI) language(c echo.Context) *lang {
	return webui.ChooseLang(c, languages, webui.LangCookie{Name: langCookie, MaxAge: langTTL, MaxValue: maxCookieValue})
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
