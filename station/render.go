package station

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"villagesync/election"
	"villagesync/internal/webui"
	"villagesync/syncproto"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageNames are the templates, each rendered inside templates/layout.html
// with templates/parts.html.
var pageNames = []string{
	"error", "home", "election", "ballots", "tally", "supervision", "township", "records", "conflicts", "bundles",
}

// pageTemplate is one parsed page.
type pageTemplate = template.Template

// argsView passes the page's language and a value to a shared template.
type argsView struct {
	L *lang
	V any
}

var funcs = template.FuncMap{
	"args":   func(l *lang, v any) argsView { return argsView{L: l, V: v} },
	"inc":    func(i int) int { return i + 1 },
	"int64":  func(i int) int64 { return int64(i) },
	"pretty": pretty,
}

// pretty indents a record body for reading, with the characters the
// canonical form escapes (<, >, &) written as themselves: the template
// escapes them for HTML.
func pretty(raw json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return string(raw)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return string(raw)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func parseTemplates() (map[string]*pageTemplate, error) {
	out, err := webui.ParseTemplates(templateFS, "templates", funcs, pageNames, "parts")
	if err != nil {
		return nil, fmt.Errorf("station ui: %w", err)
	}
	return out, nil
}

func loadStatic() (map[string]webui.StaticFile, error) {
	out, err := webui.LoadStatic(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("station ui: %w", err)
	}
	return out, nil
}

func (u *UI) serveStatic(c echo.Context) error {
	f, ok := u.static[c.Param("name")]
	if !ok {
		return u.fail(u.newRequest(c), errNoPage)
	}
	c.Response().Header().Set(echo.HeaderCacheControl, staticMaxAge)
	return c.Blob(http.StatusOK, f.ContentType, f.Body)
}

// notice is the banner of a page: an error or a confirmation.
type notice struct {
	Error   bool
	Summary string
	Detail  string
	ErrorID string // of an internal error, also in the log
}

// deviceView is who the pages act for, in the header of every page.
type deviceView struct {
	ID        string
	Role      election.Role
	Scope     string
	ScopeName string
}

// view is what every template gets.
type view struct {
	L        *lang
	Title    string // message key
	Active   string // href of the current navigation item
	Nav      []navItem
	Device   deviceView
	CSRF     string
	Notice   *notice
	Warnings []election.Finding
	Data     any
	// LangHref is this page in the other language.
	LangHref string
}

// render writes the page name with data, the request's notice and the
// warnings of what was just captured.
func (u *UI) render(r *request, name, title, active string, data any) error {
	t, ok := u.tmpl[name]
	if !ok {
		return fmt.Errorf("render: no template %q", name)
	}
	sc := u.d.Scope()
	pl, err := u.places(r.ctx)
	if err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	v := view{
		L: r.lang, Title: title, Active: active, Nav: navFor(sc.Role),
		Device:   deviceView{ID: u.d.ID(), Role: sc.Role, Scope: sc.Code, ScopeName: pl.name(sc.Code)},
		CSRF:     u.csrf,
		Notice:   r.notice,
		Warnings: r.warnings,
		Data:     data,
		LangHref: u.langHref(r, active),
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

// langHref is the page the language switch loads: this one for a GET, the
// page the form belongs to after a POST, in the other language.
func (u *UI) langHref(r *request, active string) string {
	target := r.back
	if r.c.Request().Method == http.MethodGet {
		target = r.c.Request().URL.RequestURI()
	}
	if target == "" {
		target = active
	}
	if target == "" {
		target = "/"
	}
	p, err := url.Parse(target)
	if err != nil || !strings.HasPrefix(p.Path, "/") || strings.HasPrefix(p.Path, "//") {
		return "/?lang=" + r.lang.Other
	}
	q := p.Query()
	q.Set("lang", r.lang.Other)
	return p.Path + "?" + q.Encode()
}

// clientError returns err as the *syncproto.Error the operator may see,
// and false for internal errors.
func clientError(err error) (*syncproto.Error, bool) {
	e, ok := errors.AsType[*syncproto.Error](err)
	if !ok || e.Code == syncproto.CodeInternal {
		return nil, false
	}
	return e, true
}

// describe turns err into a status and a notice in the request's
// language. An internal error is logged with an id the operator sees.
func (u *UI) describe(r *request, err error) (int, *notice) {
	if rf, ok := errors.AsType[*refusal](err); ok {
		return rf.Status, &notice{Error: true, Summary: r.lang.Msg(rf.Summary), Detail: r.lang.Msg(rf.Detail)}
	}
	if fe, ok := errors.AsType[*formError](err); ok {
		return http.StatusUnprocessableEntity, &notice{Error: true, Summary: r.lang.Msg("form.invalid"), Detail: fe.text(r.lang)}
	}
	if e, ok := clientError(err); ok {
		return e.Code.HTTPStatus(), &notice{Error: true, Summary: r.lang.ErrorSummary(e.Code), Detail: e.Message}
	}
	id := strings.ToLower(newID()[:8])
	u.log.ErrorContext(r.ctx, "station page failed", logErrorID, id, logMethod, r.c.Request().Method, logRoute, r.c.Path(), logErr, err)
	return http.StatusInternalServerError, &notice{Error: true, Summary: r.lang.Msg("err.local"), ErrorID: id}
}

// fail renders err as the error page. It always returns nil: the error has
// been answered.
func (u *UI) fail(r *request, err error) error {
	if r.c.Response().Committed {
		return nil
	}
	r.status, r.notice = u.describe(r, err)
	r.warnings = nil
	if rerr := u.render(r, "error", "error.title", "", nil); rerr != nil {
		u.log.ErrorContext(r.ctx, "render error page", logErr, rerr)
		return r.c.NoContent(http.StatusInternalServerError)
	}
	return nil
}

// again shows a form's page again, with what was typed, and err as its
// banner if err is meant for the operator (a value to correct, a record
// the device refused); any other error is returned.
func (u *UI) again(r *request, err error, page func() error) error {
	_, client := clientError(err)
	_, form := errors.AsType[*formError](err)
	_, refused := errors.AsType[*refusal](err)
	if !client && !form && !refused {
		return err
	}
	r.status, r.notice = u.describe(r, err)
	return page()
}

// saved sets the confirmation of a capture and the rule warnings the device
// returned.
func (r *request) saved(key string, ws []election.Finding) {
	r.notice = &notice{Summary: r.lang.Msg(key), Detail: r.lang.Msg("ok.saved_detail")}
	r.warnings = ws
}

// routeError answers what the router itself refuses (no such page, wrong
// method) and any error a handler did not answer.
func (u *UI) routeError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	r := u.newRequest(c)
	if he, ok := errors.AsType[*echo.HTTPError](err); ok {
		switch he.Code {
		case http.StatusNotFound, http.StatusMethodNotAllowed:
			_ = u.fail(r, &refusal{Status: he.Code, Summary: "err.not_found", Detail: "refuse.no_page"})
			return
		}
	}
	_ = u.fail(r, err)
}

// formError is a form value the operator must correct before anything is
// captured.
type formError struct {
	key  string // message key, a format with args
	args []any
}

func (e *formError) Error() string { return fmt.Sprintf("form: %s %v", e.key, e.args) }

func (e *formError) text(l *lang) string { return fmt.Sprintf(l.Msg(e.key), e.localized(l)...) }

func invalid(key string, args ...any) *formError { return &formError{key: key, args: args} }

// msgArg is an argument of a formError that is itself a message key.
type msgArg string

// localized returns e's arguments in l, its message-key arguments
// translated.
func (e *formError) localized(l *lang) []any {
	args := make([]any, len(e.args))
	for i, a := range e.args {
		if k, ok := a.(msgArg); ok {
			args[i] = l.Msg(string(k))
		} else {
			args[i] = a
		}
	}
	return args
}
