package web

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"villagesync/election"
	"villagesync/internal/webui"
	"villagesync/server"
	"villagesync/syncproto"
)

// Cookies of the pages.
const (
	sessionCookie   = "vs_session"
	loginCSRFCookie = "vs_login_csrf"
	langCookie      = "vs_lang"

	// maxCookieValue bounds the cookie values the pages read.
	maxCookieValue = 512
	// csrfField is the hidden field of every POST form.
	csrfField = "csrf"
)

// request is one request to a page: its language, the session (nil on the
// login page and on refusals before one was found), the submitted form and
// what to tell the person.
type request struct {
	c      echo.Context
	ctx    context.Context
	lang   *lang
	sess   *server.Session
	form   url.Values // the POST form without password and CSRF fields
	notice *notice
	status int // of the page rendered, 0 = 200
	// filters are the filter fields of a list page, which the language
	// switch keeps.
	filters []field
}

// principal is who the request acts for: always the session's.
func (r *request) principal() *server.Principal { return &r.sess.Principal }

// role is the session's role, "" without a session.
func (r *request) role() election.Role {
	if r.sess == nil {
		return ""
	}
	return r.sess.Principal.Scope.Role
}

// postValue returns a field of the POST body, never of the query.
func (r *request) postValue(name string) string {
	return r.c.Request().PostForm.Get(name)
}

// param returns a parameter of the page: of the query for a GET, of the
// POST body for a form (a page shown again after an error).
func (r *request) param(name string) string {
	if r.c.Request().Method == http.MethodPost {
		return r.postValue(name)
	}
	return r.c.QueryParam(name)
}

// handlerFunc serves one page; an error it returns is rendered by fail.
type handlerFunc func(r *request) error

// refusal is a request the pages refuse before it reaches the backend.
type refusal = webui.Refusal

// Refusals.
var (
	errNoSession   = &refusal{Status: http.StatusUnauthorized, Summary: "err.unauthenticated", Detail: "refuse.no_session"}
	errCrossOrigin = webui.ErrCrossOrigin
	errCSRF        = webui.ErrCSRF
	errRole        = webui.ErrRole
	errNoPage      = webui.ErrNoPage
	errBadForm     = webui.ErrBadForm
	errFormTooBig  = webui.ErrFormTooBig
	// errNoScope is the new-code form sent with its placeholder scope.
	errNoScope = &refusal{Status: http.StatusBadRequest, Summary: "err.bad_request", Detail: "refuse.no_scope"}
	// errNotConfirmed is a revocation without its confirm box ticked.
	errNotConfirmed = &refusal{Status: http.StatusBadRequest, Summary: "err.bad_request", Detail: "refuse.not_confirmed"}
)

func (p *pages) newRequest(c echo.Context) *request {
	return &request{c: c, ctx: c.Request().Context(), lang: p.language(c)}
}

// open serves a page that needs no session: the login form.
func (p *pages) open(fn handlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := p.newRequest(c)
		if c.Request().Method == http.MethodPost {
			if err := p.checkPost(r); err != nil {
				return p.fail(r, err)
			}
		}
		if err := fn(r); err != nil {
			return p.fail(r, err)
		}
		return nil
	}
}

// page serves a GET page that needs a session of one of roles. Without a
// session it redirects to the login form.
func (p *pages) page(fn handlerFunc, roles []election.Role) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := p.newRequest(c)
		sess, err := p.session(r)
		if err != nil {
			return p.fail(r, err)
		}
		if sess == nil {
			return c.Redirect(http.StatusSeeOther, "/login")
		}
		r.sess = sess
		if err := p.limitPerson(r); err != nil {
			return p.fail(r, err)
		}
		if !slices.Contains(roles, r.role()) {
			return p.fail(r, errRole)
		}
		if err := fn(r); err != nil {
			return p.fail(r, err)
		}
		return nil
	}
}

// action serves a state-changing POST: it must come from the same origin,
// carry a session and its CSRF token, and the session's role must be one
// of roles (nil: any). Nothing reaches the backend otherwise.
func (p *pages) action(fn handlerFunc, roles []election.Role) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := p.newRequest(c)
		if err := p.checkPost(r); err != nil {
			return p.fail(r, err)
		}
		sess, err := p.session(r)
		if err != nil {
			return p.fail(r, err)
		}
		if sess == nil {
			return p.fail(r, errNoSession)
		}
		r.sess = sess
		if err := p.limitPerson(r); err != nil {
			return p.fail(r, err)
		}
		if !server.CheckCSRF(sess, r.postValue(csrfField)) {
			p.warn(r, "form refused: missing or wrong CSRF token")
			return p.fail(r, errCSRF)
		}
		if roles != nil && !slices.Contains(roles, r.role()) {
			p.warn(r, "form refused: role may not use it")
			return p.fail(r, errRole)
		}
		if err := fn(r); err != nil {
			return p.fail(r, err)
		}
		return nil
	}
}

// checkPost refuses cross-origin POSTs and reads the form body, capped.
func (p *pages) checkPost(r *request) error {
	if err := webui.ReadForm(r.c, p.cop, formLimit); err != nil {
		if err == errCrossOrigin {
			p.warn(r, "form refused: cross-origin request")
		}
		return err
	}
	req := r.c.Request()
	r.form = make(url.Values, len(req.PostForm))
	for k, v := range req.PostForm {
		if k != csrfField && k != "password" {
			r.form[k] = v
		}
	}
	return nil
}

// session returns the request's session, nil if it has none or it is
// unknown or expired (its cookie is then deleted).
func (p *pages) session(r *request) (*server.Session, error) {
	token := p.cookie(r.c, sessionCookie)
	if token == "" {
		return nil, nil
	}
	sess, err := p.b.Session(r.ctx, token)
	switch {
	case isCode(err, syncproto.CodeUnauthenticated), isCode(err, syncproto.CodeTokenExpired):
		p.deleteCookie(r.c, sessionCookie, "/")
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("session: %w", err)
	}
	return sess, nil
}

// cookie returns the value of a cookie, "" if it is missing or too long.
func (p *pages) cookie(c echo.Context, name string) string {
	return webui.Cookie(c, name, maxCookieValue)
}

// secure reports whether cookies get the Secure attribute.
func (p *pages) secure(c echo.Context) bool { return p.cfg.SecureCookies || c.IsTLS() }

// setSessionCookie hands the session token to the browser for no longer
// than the session lives: until its expiry by the pages' clock, and never
// longer than server.SessionLifetime. Should the pages' clock be past the
// expiry the service just set (the two clocks disagree), the cookie lasts
// until the browser closes; the service still ends the session in time.
func (p *pages) setSessionCookie(r *request, sess *server.Session) {
	ck := &http.Cookie{
		Name:     sessionCookie,
		Value:    sess.Token,
		Path:     "/",
		HttpOnly: true,
		Secure:   p.secure(r.c),
		SameSite: http.SameSiteStrictMode,
	}
	left := min(sess.Expires.Sub(p.cfg.Now()), server.SessionLifetime)
	switch {
	case sess.Expires.IsZero():
	case left < time.Second:
		p.log.WarnContext(r.ctx, "session cookie without Max-Age: the session expires before now by the pages' clock; check Config.Now",
			logRequestID, requestID(r.c), logAccount, sess.Account.Username)
	default:
		ck.MaxAge = int(left / time.Second)
		ck.Expires = p.cfg.Now().Add(left).UTC()
	}
	r.c.SetCookie(ck)
}

// deleteCookie tells the browser to forget a cookie.
func (p *pages) deleteCookie(c echo.Context, name, path string) {
	c.SetCookie(&http.Cookie{
		Name:     name,
		Value:    "",
		Path:     path,
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   p.secure(c),
		SameSite: http.SameSiteStrictMode,
	})
}

// language is the request's language: ?lang=zh|en (remembered in a cookie
// when it comes with a GET), else the cookie, else Simplified Chinese.
func (p *pages) language(c echo.Context) *lang {
	return webui.ChooseLang(c, languages, webui.LangCookie{
		Name: langCookie, MaxAge: langTTL, MaxValue: maxCookieValue, Secure: p.secure(c),
	})
}

// pathParam returns a path parameter unescaped.
func pathParam(c echo.Context, name string) (string, error) {
	v := c.Param(name)
	if c.Request().URL.RawPath == "" {
		return v, nil
	}
	u, err := url.PathUnescape(v)
	if err != nil {
		return "", errBadForm
	}
	return u, nil
}

// newToken returns a fresh random token: 128 bits as 26 base32 characters.
func newToken() string { return rand.Text() }

// wellFormedToken reports whether s can be a token newToken made.
func wellFormedToken(s string) bool {
	if len(s) != 26 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < 'A' || c > 'Z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// isCode reports whether err carries the syncproto code c.
func isCode(err error, c syncproto.Code) bool {
	e, ok := errors.AsType[*syncproto.Error](err)
	return ok && e.Code == c
}

// warn logs a refused request: its route, never its cookies or fields.
func (p *pages) warn(r *request, msg string) {
	attrs := []any{logMethod, r.c.Request().Method, logRoute, r.c.Path(), logRequestID, requestID(r.c)}
	if r.sess != nil {
		attrs = append(attrs, logAccount, r.sess.Account.Username)
	}
	p.log.WarnContext(r.ctx, msg, attrs...)
}

// requestID is the id the HTTP adapter gave the request, if any.
func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// limitPerson applies Config.PersonLimit to a request whose session is
// known: nil if it may go on.
func (p *pages) limitPerson(r *request) error {
	if p.cfg.PersonLimit == nil {
		return nil
	}
	return p.cfg.PersonLimit(r.c, r.sess.Principal.Subject)
}
