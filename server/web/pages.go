package web

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"villagesync/election"
	"villagesync/internal/webui"
	"villagesync/server"
	"villagesync/syncproto"
)

// ttlHours are the lifetimes an enrollment code may be given, in hours.
var ttlHours = []int{1, 8, 24, 72, 168}

// defaultTTLHours is the preselected lifetime.
const defaultTTLHours = 24

// places names townships and villages by code, from the report.
type places struct {
	county    election.CountySummary
	townships []election.TownshipSummary
	villages  []election.VillageSummary
	names     map[string]string
}

// places returns the townships and villages r's principal may see.
func (p *pages) places(r *request) (*places, error) {
	rep, err := p.b.Report(r.ctx, r.principal())
	if err != nil {
		return nil, err
	}
	pl := &places{county: rep.County, townships: rep.Townships, villages: rep.Villages, names: make(map[string]string)}
	pl.names[rep.County.Code] = rep.County.Name
	for _, t := range rep.Townships {
		pl.names[t.Code] = t.Name
	}
	for _, v := range rep.Villages {
		pl.names[v.Code] = v.Name
	}
	return pl, nil
}

// name returns the name of a place code, "" if unknown.
func (pl *places) name(code string) string { return pl.names[code] }

// where names a township and village for a person.
func (pl *places) where(township, village string) string {
	var parts []string
	for _, code := range []string{township, village} {
		if code == "" {
			continue
		}
		if n := pl.name(code); n != "" {
			parts = append(parts, n+" ("+code+")")
		} else {
			parts = append(parts, code)
		}
	}
	return strings.Join(parts, " · ")
}

// option is one choice of a select.
type option struct {
	Value, Label string
}

// optionGroup is an optgroup of a select.
type optionGroup struct {
	Label   string
	Options []option
}

// scopeGroups are the scopes offered in a form: the county if withCounty,
// with the value countyValue ("" is read by the service as this server's
// county), the townships if withTownships, and the villages by township if
// withVillages.
func (pl *places) scopeGroups(l *lang, withCounty bool, countyValue string, withTownships, withVillages bool) []optionGroup {
	var groups []optionGroup
	if withCounty {
		groups = append(groups, optionGroup{Label: l.Msg("scope.county"), Options: []option{{Value: countyValue, Label: pl.county.Name + " (" + pl.county.Code + ")"}}})
	}
	if withTownships {
		g := optionGroup{Label: l.Msg("scope.townships")}
		for _, t := range pl.townships {
			g.Options = append(g.Options, option{Value: t.Code, Label: t.Name + " (" + t.Code + ")"})
		}
		groups = append(groups, g)
	}
	if withVillages {
		for _, t := range pl.townships {
			g := optionGroup{Label: fmt.Sprintf(l.Msg("scope.villages_of"), t.Name)}
			for _, v := range pl.villages {
				if v.Township == t.Code {
					g.Options = append(g.Options, option{Value: v.Code, Label: v.Name + " (" + v.Code + ")"})
				}
			}
			if len(g.Options) > 0 {
				groups = append(groups, g)
			}
		}
	}
	return groups
}

// dashboard is GET /: the county report for r's scope.
func (p *pages) dashboard(r *request) error {
	rep, err := p.b.Report(r.ctx, r.principal())
	if err != nil {
		return err
	}
	confirm(r)
	return p.render(r, "dashboard", "report.title", "/", struct{ Report *election.CountyReport }{rep})
}

// reviewRow is one review item on the page.
type reviewRow struct {
	Item     server.ReviewItem
	Place    string
	Message  string                 // in the page's language
	Versions []server.ReviewVersion // of a conflict, or a revoked device's changes
	Keeps    []option
}

// keeps are the choices the county has to settle an open item, none for an
// item it cannot settle.
func keeps(l *lang, it *server.ReviewItem) []option {
	if it.Status != server.StatusOpen {
		return nil
	}
	switch it.Kind {
	case server.ItemConflict:
		var out []option
		for _, v := range it.Versions {
			label := v.Ref
			if c := l.Stamp(v.Captured); c != "" {
				label += " · " + c
			}
			out = append(out, option{Value: v.Ref, Label: label})
		}
		return out
	case server.ItemViolation:
		return []option{{Value: server.KeepAccept, Label: l.Msg("keep.acknowledge")}}
	case server.ItemRevoked:
		return []option{{Value: server.KeepAccept, Label: l.Msg("keep.accept")}, {Value: server.KeepReject, Label: l.Msg("keep.reject")}}
	}
	return nil
}

// review is GET /review: the review queue, with a resolution form per open
// item for the county. ?status=all shows the settled items too, and
// ?township= the items of one township.
func (p *pages) review(r *request) error {
	status := "open"
	if r.param(filterStatus) == "all" {
		status = "all"
	}
	q, err := p.b.Review(r.ctx, r.principal(), status)
	if err != nil {
		return err
	}
	pl, err := p.places(r)
	if err != nil {
		return err
	}
	f := newListFilter(r, pl, "/review", nil, false)
	if status == "all" {
		f.Status = status
		r.filters = f.Fields()
	}
	canResolve := r.role() == election.RoleCounty
	rows := make([]reviewRow, 0, len(q.Items))
	for i := range q.Items {
		it := &q.Items[i]
		if !f.match(it.Township, "") {
			continue
		}
		row := reviewRow{
			Item:     *it,
			Place:    pl.where(it.Township, it.Village),
			Message:  r.lang.Pick(it.Message, it.MessageEN),
			Versions: slices.Concat(it.Versions, it.Changes),
		}
		if canResolve {
			row.Keeps = keeps(r.lang, it)
		}
		rows = append(rows, row)
	}
	township := field{filterTownship, f.Township}
	confirm(r)
	return p.render(r, "review", "review.title", "/review", struct {
		Status     string
		OpenHref   string
		AllHref    string
		CanResolve bool
		Items      []reviewRow
		Filter     *listFilter
	}{status, href("/review", township), href("/review", field{filterStatus, "all"}, township), canResolve, rows, f})
}

// resolve is POST /review/:id/resolve.
func (p *pages) resolve(r *request) error {
	id, err := pathParam(r.c, "id")
	if err != nil {
		return err
	}
	req := server.ResolveRequest{Keep: r.postValue("keep"), Reason: r.postValue("reason")}
	if _, err := p.b.Resolve(r.ctx, r.principal(), id, req); err != nil {
		return p.again(r, err, p.review)
	}
	return done(r, "/review", "resolved")
}

// codeRow is one enrollment code on the page.
type codeRow struct {
	server.EnrollCodeInfo
	ScopeName string
}

// issuableRoles are the roles r's principal is offered codes for; the
// service decides what it may really issue.
func issuableRoles(role election.Role) []election.Role {
	if role == election.RoleCounty {
		return []election.Role{election.RoleStation, election.RoleSupervisor, election.RoleCounty, election.RoleObserver}
	}
	return []election.Role{election.RoleStation}
}

// codeStatuses are the statuses the enrollment-code list filters by.
func codeStatuses(l *lang) []option {
	var out []option
	for _, s := range []string{server.EnrollCodeActive, server.EnrollCodeUsed, server.EnrollCodeExpired} {
		out = append(out, option{Value: s, Label: l.Status(s)})
	}
	return out
}

// enrollCodes is GET /enroll-codes: the codes r's principal may see, the
// active ones first and else newest first, narrowed by the filter form;
// and the form for a new one.
func (p *pages) enrollCodes(r *request) error {
	codes, err := p.b.EnrollCodes(r.ctx, r.principal())
	if err != nil {
		return err
	}
	pl, err := p.places(r)
	if err != nil {
		return err
	}
	f := newListFilter(r, pl, "/enroll-codes", codeStatuses(r.lang), true)
	rows := make([]codeRow, 0, len(codes))
	for _, c := range codes {
		name := pl.name(c.Scope)
		if f.match(c.Scope, c.Status, c.ID, c.Scope, name, c.UsedBy, c.CreatedBy) {
			rows = append(rows, codeRow{EnrollCodeInfo: c, ScopeName: name})
		}
	}
	slices.SortStableFunc(rows, func(a, b codeRow) int {
		return boolRank(a.Status == server.EnrollCodeActive) - boolRank(b.Status == server.EnrollCodeActive)
	})
	county := r.role() == election.RoleCounty
	confirm(r)
	return p.render(r, "enroll_codes", "codes.title", "/enroll-codes", struct {
		Codes      []codeRow
		Filter     *listFilter
		Roles      []election.Role
		Prompt     bool // the scope select starts with a placeholder
		Scopes     []optionGroup
		TTLs       []int
		DefaultTTL int
	}{rows, f, issuableRoles(r.role()), county, pl.scopeGroups(r.lang, county, pl.county.Code, county, true), ttlHours, defaultTTLHours})
}

// boolRank sorts true before false.
func boolRank(b bool) int {
	if b {
		return 0
	}
	return 1
}

// issueEnrollCode is POST /enroll-codes: it shows the new code once, as
// text and as a QR code.
func (p *pages) issueEnrollCode(r *request) error {
	role, err := election.ParseRole(r.postValue("role"))
	if err != nil {
		return p.again(r, syncproto.Errorf(syncproto.CodeBadRequest, "choose a role: station, supervisor, county or observer"), p.enrollCodes)
	}
	hours := defaultTTLHours
	if v := r.postValue("ttl_hours"); v != "" {
		hours, err = strconv.Atoi(v)
		if err != nil || !slices.Contains(ttlHours, hours) {
			return p.again(r, syncproto.Errorf(syncproto.CodeBadRequest, "choose a validity of %v hours", ttlHours), p.enrollCodes)
		}
	}
	scope := strings.TrimSpace(r.postValue("scope"))
	if scope == "" {
		return p.again(r, errNoScope, p.enrollCodes)
	}
	code, err := p.b.IssueEnrollCode(r.ctx, r.principal(), role, scope, time.Duration(hours)*time.Hour)
	if err != nil {
		return p.again(r, err, p.enrollCodes)
	}
	srv := p.serverURL(r)
	qr, err := enrollQR(srv, code.Code)
	if err != nil {
		return err
	}
	pl, err := p.places(r)
	if err != nil {
		return err
	}
	r.form = nil
	return p.render(r, "enroll_code_new", "codes.issued_title", "/enroll-codes", struct {
		Code      *server.IssuedEnrollCode
		ScopeName string
		QR        template.URL
		Server    string
	}{code, pl.name(code.Scope), qr, srv})
}

// serverURL is the address devices reach the server at.
func (p *pages) serverURL(r *request) string {
	if p.cfg.ServerURL != "" {
		return p.cfg.ServerURL
	}
	return r.c.Scheme() + "://" + r.c.Request().Host
}

// expireEnrollCode is POST /enroll-codes/:id/expire.
func (p *pages) expireEnrollCode(r *request) error {
	id, err := pathParam(r.c, "id")
	if err != nil {
		return err
	}
	if _, err := p.b.ExpireEnrollCode(r.ctx, r.principal(), id); err != nil {
		r.form = nil
		return p.again(r, err, p.enrollCodes)
	}
	return done(r, "/enroll-codes", "code_expired")
}

// deviceRow is one device on the page.
type deviceRow struct {
	server.DeviceInfo
	ScopeName string
}

// deviceStatuses are the statuses the device list filters by.
func deviceStatuses(l *lang) []option {
	return []option{{Value: "active", Label: l.Msg("devices.active")}, {Value: "revoked", Label: l.Msg("devices.revoked")}}
}

// devices is GET /devices: the devices r's principal may see, by scope and
// then enrolment, narrowed by the filter form.
func (p *pages) devices(r *request) error {
	devs, err := p.b.Devices(r.ctx, r.principal())
	if err != nil {
		return err
	}
	pl, err := p.places(r)
	if err != nil {
		return err
	}
	f := newListFilter(r, pl, "/devices", deviceStatuses(r.lang), true)
	rows := make([]deviceRow, 0, len(devs))
	for _, d := range devs {
		status := "active"
		if !d.Revoked.IsZero() {
			status = "revoked"
		}
		name := pl.name(d.Scope)
		if f.match(d.Scope, status, d.ID, d.Label, d.Scope, name) {
			rows = append(rows, deviceRow{DeviceInfo: d, ScopeName: name})
		}
	}
	confirm(r)
	return p.render(r, "devices", "devices.title", "/devices", struct {
		Devices   []deviceRow
		Filter    *listFilter
		CanRevoke bool
	}{rows, f, r.role() == election.RoleCounty})
}

// revokeDevice is POST /devices/:id/revoke.
func (p *pages) revokeDevice(r *request) error {
	id, err := pathParam(r.c, "id")
	if err != nil {
		return err
	}
	// Revoking cannot be undone, and a village may need its laptop on
	// election day: the row's button needs its confirm box ticked.
	if r.param("confirm") != "yes" {
		return p.again(r, errNotConfirmed, p.devices)
	}
	if _, err := p.b.RevokeDevice(r.ctx, r.principal(), id); err != nil {
		return p.again(r, err, p.devices)
	}
	return done(r, "/devices", "device_revoked")
}

// accountRow is one account on the page.
type accountRow struct {
	server.Account
	ScopeName string
	Locked    bool
}

// accountRoles are the roles of people's accounts.
var accountRoles = []election.Role{election.RoleCounty, election.RoleSupervisor, election.RoleObserver}

// accounts is GET /accounts.
func (p *pages) accounts(r *request) error {
	list, err := p.b.Accounts(r.ctx, r.principal())
	if err != nil {
		return err
	}
	pl, err := p.places(r)
	if err != nil {
		return err
	}
	now := p.cfg.Now()
	rows := make([]accountRow, len(list))
	for i, a := range list {
		rows[i] = accountRow{Account: a, ScopeName: pl.name(a.Scope), Locked: a.LockedUntil.After(now)}
	}
	confirm(r)
	return p.render(r, "accounts", "accounts.title", "/accounts", struct {
		Accounts []accountRow
		Roles    []election.Role
		Scopes   []optionGroup
	}{rows, accountRoles, pl.scopeGroups(r.lang, true, "", true, false)})
}

// createAccount is POST /accounts.
func (p *pages) createAccount(r *request) error {
	role, err := election.ParseRole(r.postValue("role"))
	if err != nil {
		return p.again(r, syncproto.Errorf(syncproto.CodeBadRequest, "choose a role: county, supervisor or observer"), p.accounts)
	}
	a := server.NewAccount{
		Username: strings.TrimSpace(r.postValue("username")),
		Name:     strings.TrimSpace(r.postValue("name")),
		Password: r.postValue("password"),
		Role:     role,
		Scope:    strings.TrimSpace(r.postValue("scope")),
	}
	if _, err := p.b.CreateAccount(r.ctx, r.principal(), a); err != nil {
		return p.again(r, err, p.accounts)
	}
	return done(r, "/accounts", "account_created")
}

// resetPassword is POST /accounts/:username/password.
func (p *pages) resetPassword(r *request) error {
	username, err := pathParam(r.c, "username")
	if err != nil {
		return err
	}
	if err := p.b.ResetPassword(r.ctx, r.principal(), username, r.postValue("password")); err != nil {
		r.form = nil
		return p.again(r, err, p.accounts)
	}
	return done(r, "/accounts", "password_reset")
}

// setDisabled is POST /accounts/:username/disable (and enable).
func (p *pages) setDisabled(disabled bool) handlerFunc {
	return func(r *request) error {
		username, err := pathParam(r.c, "username")
		if err != nil {
			return err
		}
		if err := p.b.SetAccountDisabled(r.ctx, r.principal(), username, disabled); err != nil {
			r.form = nil
			return p.again(r, err, p.accounts)
		}
		if disabled {
			return done(r, "/accounts", "account_disabled")
		}
		return done(r, "/accounts", "account_enabled")
	}
}

// loginPage is GET /login. A person with a live session goes to the
// dashboard.
func (p *pages) loginPage(r *request) error {
	if sess, err := p.session(r); err == nil && sess != nil {
		return r.c.Redirect(http.StatusSeeOther, "/")
	}
	return p.renderLogin(r, "")
}

// renderLogin shows the login form with a double-submit CSRF token: the
// same random value in a cookie only /login receives and in the form.
func (p *pages) renderLogin(r *request, username string) error {
	token := p.cookie(r.c, loginCSRFCookie)
	if !wellFormedToken(token) {
		token = newToken()
	}
	r.c.SetCookie(&http.Cookie{
		Name:     loginCSRFCookie,
		Value:    token,
		Path:     "/login",
		MaxAge:   int(loginCSRFTTL / time.Second),
		HttpOnly: true,
		Secure:   p.secure(r.c),
		SameSite: http.SameSiteStrictMode,
	})
	r.form = nil
	return p.render(r, "login", "login.title", "", struct{ CSRF, Username string }{token, username})
}

// Bounds of the login form's fields, so that a huge password never reaches
// the password hash.
const (
	maxUsernameLen = 64
	maxPasswordLen = 1024
)

// login is POST /login.
func (p *pages) login(r *request) error {
	username := strings.TrimSpace(r.postValue("username"))
	if err := p.limitLogin(r); err != nil {
		if _, ok := clientError(err); !ok {
			return err
		}
		p.warn(r, "login refused: rate limited")
		r.status, r.notice = p.describe(r, err)
		r.notice.Detail = r.lang.Msg("login.slow_down")
		return p.renderLogin(r, username)
	}
	if !webui.EqualTokens(p.cookie(r.c, loginCSRFCookie), r.postValue(csrfField)) {
		p.warn(r, "login refused: missing or wrong CSRF token")
		r.status, r.notice = p.describe(r, errCSRF)
		return p.renderLogin(r, username)
	}
	password := r.postValue("password")
	if username == "" || password == "" || len(username) > maxUsernameLen || len(password) > maxPasswordLen {
		r.status = http.StatusBadRequest
		r.notice = &notice{Error: true, Summary: r.lang.Msg("login.failed"), Detail: r.lang.Msg("login.missing")}
		return p.renderLogin(r, username)
	}
	sess, err := p.b.Login(r.ctx, username, password)
	if err != nil {
		e, ok := clientError(err)
		if !ok {
			return err
		}
		r.status, r.notice = p.describe(r, err)
		if e.Code == syncproto.CodeUnauthenticated {
			// Say no more than the service did not recognise the pair.
			r.notice = &notice{Error: true, Summary: r.lang.Msg("login.failed"), Detail: r.lang.Msg("login.check")}
		}
		return p.renderLogin(r, username)
	}
	if old := p.cookie(r.c, sessionCookie); old != "" && old != sess.Token {
		if err := p.b.Logout(r.ctx, old); err != nil && !isCode(err, syncproto.CodeUnauthenticated) {
			p.log.WarnContext(r.ctx, "log out the previous session", logRequestID, requestID(r.c), logErr, err)
		}
	}
	p.setSessionCookie(r, sess)
	p.deleteCookie(r.c, loginCSRFCookie, "/login")
	return r.c.Redirect(http.StatusSeeOther, "/")
}

// limitLogin applies Config.LoginLimit to the request: nil if it may go
// on.
func (p *pages) limitLogin(r *request) error {
	if p.cfg.LoginLimit == nil {
		return nil
	}
	return p.cfg.LoginLimit(func(echo.Context) error { return nil })(r.c)
}

// logout is POST /logout: it ends the session and deletes its cookie.
func (p *pages) logout(r *request) error {
	p.deleteCookie(r.c, sessionCookie, "/")
	if err := p.b.Logout(r.ctx, r.sess.Token); err != nil && !isCode(err, syncproto.CodeUnauthenticated) {
		return fmt.Errorf("logout: %w", err)
	}
	return r.c.Redirect(http.StatusSeeOther, "/login")
}
