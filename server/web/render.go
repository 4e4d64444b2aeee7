package web

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"villagesync/election"
	"villagesync/internal/webui"
	"villagesync/server"
	"villagesync/syncproto"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageNames are the templates, each rendered inside templates/layout.html.
var pageNames = []string{
	"login", "error", "dashboard", "review", "enroll_codes", "enroll_code_new", "devices", "accounts",
}

// templates holds one parsed template per page.
type templates struct {
	pages map[string]*template.Template
}

var funcs = template.FuncMap{
	"pathEscape": url.PathEscape,
}

func mustParseTemplates() *templates {
	pages, err := webui.ParseTemplates(templateFS, "templates", funcs, pageNames)
	if err != nil {
		panic(fmt.Sprintf("web: %v", err))
	}
	return &templates{pages: pages}
}

func mustLoadStatic() map[string]webui.StaticFile {
	out, err := webui.LoadStatic(staticFS, "static")
	if err != nil {
		panic(fmt.Sprintf("web: %v", err))
	}
	return out
}

func (p *pages) serveStatic(c echo.Context) error {
	f, ok := p.static[c.Param("*")]
	if !ok {
		return p.fail(p.newRequest(c), errNoPage)
	}
	return c.Blob(http.StatusOK, f.ContentType, f.Body)
}

// notice is the banner of a page: an error or a confirmation.
type notice struct {
	Error     bool
	Summary   string
	Detail    string
	RequestID string
}

// view is what every template gets.
type view struct {
	L       *lang
	Title   string // message key
	Active  string // href of the current navigation item
	Account *server.Account
	Role    election.Role
	Nav     []navItem
	CSRF    string
	Notice  *notice
	Form    url.Values // the submitted form, to fill it again after an error
	Data    any
	// LangHref is the page the language switch reloads, in the other
	// language: this one for a GET, the page a form belongs to after a
	// POST, with the filters of a list.
	LangHref string
}

// render writes the page name with data and the request's notice.
func (p *pages) render(r *request, name, title, active string, data any) error {
	t, ok := p.tmpl.pages[name]
	if !ok {
		return fmt.Errorf("render: no template %q", name)
	}
	v := view{L: r.lang, Title: title, Active: active, Notice: r.notice, Form: r.form, Data: data,
		LangHref: href(here(r, active), append(slices.Clone(r.filters), field{"lang", r.lang.Other})...)}
	if r.sess != nil {
		v.Account = &r.sess.Account
		v.Role = r.role()
		v.Nav = navFor(v.Role)
		v.CSRF = r.sess.CSRF
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	return r.c.HTMLBlob(status, buf.Bytes())
}

// here is the page the language switch of a page reloads: the route of a
// GET (the routes of pages have no parameters), else the page's navigation
// item, else the dashboard or the login form.
func here(r *request, active string) string {
	route := r.c.Path()
	switch {
	case r.c.Request().Method == http.MethodGet && route != "" && !strings.ContainsAny(route, ":*"):
		return route
	case active != "":
		return active
	case r.sess == nil:
		return "/login"
	}
	return "/"
}

// clientError returns err as the *syncproto.Error a person may see, and
// false for internal errors.
func clientError(err error) (*syncproto.Error, bool) {
	e, ok := errors.AsType[*syncproto.Error](err)
	if !ok || e.Code == syncproto.CodeInternal {
		return nil, false
	}
	return e, true
}

// describe turns err into a status and a notice in the request's language,
// logging internal errors, which a person sees only as a request id.
func (p *pages) describe(r *request, err error) (int, *notice) {
	if rf, ok := errors.AsType[*refusal](err); ok {
		return rf.Status, &notice{Error: true, Summary: r.lang.Msg(rf.Summary), Detail: r.lang.Msg(rf.Detail)}
	}
	if e, ok := clientError(err); ok {
		return e.Code.HTTPStatus(), &notice{Error: true, Summary: r.lang.ErrorSummary(e.Code), Detail: e.Message}
	}
	id := requestID(r.c)
	if id == "" {
		id = newToken()[:12]
	}
	attrs := []any{logRequestID, id, logMethod, r.c.Request().Method, logRoute, r.c.Path(), logErr, err}
	if r.sess != nil {
		attrs = append(attrs, logAccount, r.sess.Account.Username)
	}
	p.log.ErrorContext(r.ctx, "web page failed", attrs...)
	if e, ok := errors.AsType[*syncproto.Error](err); ok && e.Code == syncproto.CodeUnavailable {
		return http.StatusServiceUnavailable, &notice{Error: true, Summary: r.lang.ErrorSummary(e.Code), RequestID: id}
	}
	return http.StatusInternalServerError, &notice{Error: true, Summary: r.lang.ErrorSummary(syncproto.CodeInternal), RequestID: id}
}

// fail renders err as the error page. It always returns nil: the error has
// been answered.
func (p *pages) fail(r *request, err error) error {
	if r.c.Response().Committed {
		return nil
	}
	r.status, r.notice = p.describe(r, err)
	r.form = nil
	if rerr := p.render(r, "error", "error.title", "", nil); rerr != nil {
		p.log.ErrorContext(r.ctx, "render error page", logRequestID, requestID(r.c), logErr, rerr)
		return r.c.NoContent(http.StatusInternalServerError)
	}
	return nil
}

// again shows a page again with err as its banner, if err is meant for
// the person (a form they can correct, or a refusal); any other error is
// returned.
func (p *pages) again(r *request, err error, page handlerFunc) error {
	_, client := clientError(err)
	_, refused := errors.AsType[*refusal](err)
	if !client && !refused {
		return err
	}
	r.status, r.notice = p.describe(r, err)
	return page(r)
}

// done redirects to a page after a successful form, with a confirmation,
// filtered as the list the form was in.
func done(r *request, page, ok string) error {
	q := carriedFilters(r)
	q.Set("ok", ok)
	return r.c.Redirect(http.StatusSeeOther, page+"?"+q.Encode())
}

// confirmations are the ?ok= values a page shows as a confirmation, each
// with its message key. Any other value is ignored.
var confirmations = map[string]string{
	"resolved":         "ok.resolved",
	"code_expired":     "ok.code_expired",
	"device_revoked":   "ok.device_revoked",
	"account_created":  "ok.account_created",
	"password_reset":   "ok.password_reset",
	"account_disabled": "ok.account_disabled",
	"account_enabled":  "ok.account_enabled",
}

// confirm sets the request's notice from ?ok= unless it already has one.
func confirm(r *request) {
	if r.notice != nil {
		return
	}
	if key, ok := confirmations[r.c.QueryParam("ok")]; ok {
		r.notice = &notice{Summary: r.lang.Msg(key)}
	}
}
