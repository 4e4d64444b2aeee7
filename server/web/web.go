package web

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"villagesync/election"
	"villagesync/internal/webui"
	"villagesync/server"
)

// Backend is what the pages need of the service; *server.Service satisfies
// it. Errors a person should see are *syncproto.Error.
type Backend interface {
	Login(ctx context.Context, username, password string) (*server.Session, error)
	// Session returns the session of token, or an unauthenticated error if
	// it is unknown or expired.
	Session(ctx context.Context, token string) (*server.Session, error)
	Logout(ctx context.Context, token string) error
	Report(ctx context.Context, p *server.Principal) (*election.CountyReport, error)
	// Review lists the review queue; status is "open" or "all".
	Review(ctx context.Context, p *server.Principal, status string) (*server.ReviewQueue, error)
	Resolve(ctx context.Context, p *server.Principal, id string, req server.ResolveRequest) (*server.ResolveResult, error)
	IssueEnrollCode(ctx context.Context, actor *server.Principal, role election.Role, scope string, ttl time.Duration) (*server.IssuedEnrollCode, error)
	EnrollCodes(ctx context.Context, actor *server.Principal) ([]server.EnrollCodeInfo, error)
	ExpireEnrollCode(ctx context.Context, actor *server.Principal, id string) (server.EnrollCodeInfo, error)
	Devices(ctx context.Context, actor *server.Principal) ([]server.DeviceInfo, error)
	RevokeDevice(ctx context.Context, actor *server.Principal, id string) (server.DeviceInfo, error)
	CreateAccount(ctx context.Context, actor *server.Principal, a server.NewAccount) (server.Account, error)
	Accounts(ctx context.Context, actor *server.Principal) ([]server.Account, error)
	ResetPassword(ctx context.Context, actor *server.Principal, username, password string) error
	SetAccountDisabled(ctx context.Context, actor *server.Principal, username string, disabled bool) error
}

var _ Backend = (*server.Service)(nil)

// Config configures the pages. The zero value of every field means its
// default.
type Config struct {
	Logger *slog.Logger // nil = slog.Default()
	// SecureCookies forces the Secure attribute on every cookie. Without
	// it cookies are Secure when the request came over TLS; set it when a
	// TLS-terminating proxy sits in front of the server.
	SecureCookies bool
	// ServerURL is the address devices reach the server at, written into
	// the enrollment QR code. "" = the scheme and Host of the request.
	ServerURL string
	Now       func() time.Time // injectable clock; nil = time.Now
	// LoginLimit, if set, limits login attempts: the HTTP adapter's
	// per-address rate limit. A request it refuses with a
	// *syncproto.Error (rate_limited) gets the login form with that error,
	// and its password is never checked.
	LoginLimit echo.MiddlewareFunc
	// PersonLimit, if set, limits each person's requests once their
	// session is known (the HTTP adapter's per-subject rate limit): a
	// non-nil error refuses the request before it reaches the service.
	PersonLimit func(c echo.Context, subject string) error
}

// Limits of the pages.
const (
	// formLimit caps the body of a form POST.
	formLimit = 64 << 10
	// loginCSRFTTL is how long a login form stays valid.
	loginCSRFTTL = 12 * time.Hour
	// langTTL is how long the language choice is remembered.
	langTTL = 365 * 24 * time.Hour
	// staticMaxAge is the caching of the embedded stylesheet.
	staticMaxAge = "public, max-age=3600"
)

// Attribute keys of the pages' log records.
const (
	logRequestID = "request_id"
	logMethod    = "method"
	logRoute     = "route"
	logErr       = "err"
	logAccount   = "account"
)

// Headers of every page.
const (
	contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

// pages serves the web pages of one backend.
type pages struct {
	b      Backend
	cfg    Config
	log    *slog.Logger
	tmpl   *templates
	cop    *http.CrossOriginProtection
	static map[string]webui.StaticFile
}

// The roles of a page.
var (
	readers    = []election.Role{election.RoleCounty, election.RoleSupervisor, election.RoleObserver}
	reviewers  = []election.Role{election.RoleCounty, election.RoleSupervisor}
	countyOnly = []election.Role{election.RoleCounty}
)

// Register adds the web pages to e: GET / (the county report), GET and POST
// /login, POST /logout, GET /review and POST /review/:id/resolve, GET and
// POST /enroll-codes and POST /enroll-codes/:id/expire, GET /devices and
// POST /devices/:id/revoke, GET and POST /accounts and POST
// /accounts/:username/{password,disable,enable}, and GET /static/*.
// Middleware is attached per route: Register adds no catch-all route.
func Register(e *echo.Echo, b Backend, cfg Config) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &pages{
		b:      b,
		cfg:    cfg,
		log:    cfg.Logger,
		tmpl:   mustParseTemplates(),
		cop:    http.NewCrossOriginProtection(),
		static: mustLoadStatic(),
	}

	e.GET("/static/*", p.serveStatic, p.headers(staticMaxAge))

	e.GET("/login", p.open(p.loginPage), p.headers("no-store"))
	e.POST("/login", p.open(p.login), p.headers("no-store"))
	e.POST("/logout", p.action(p.logout, nil), p.headers("no-store"))

	e.GET("/", p.page(p.dashboard, readers), p.headers("no-store"))
	e.GET("/review", p.page(p.review, reviewers), p.headers("no-store"))
	e.POST("/review/:id/resolve", p.action(p.resolve, countyOnly), p.headers("no-store"))
	e.GET("/enroll-codes", p.page(p.enrollCodes, reviewers), p.headers("no-store"))
	e.POST("/enroll-codes", p.action(p.issueEnrollCode, reviewers), p.headers("no-store"))
	e.POST("/enroll-codes/:id/expire", p.action(p.expireEnrollCode, reviewers), p.headers("no-store"))
	e.GET("/devices", p.page(p.devices, reviewers), p.headers("no-store"))
	e.POST("/devices/:id/revoke", p.action(p.revokeDevice, countyOnly), p.headers("no-store"))
	e.GET("/accounts", p.page(p.accounts, countyOnly), p.headers("no-store"))
	e.POST("/accounts", p.action(p.createAccount, countyOnly), p.headers("no-store"))
	e.POST("/accounts/:username/password", p.action(p.resetPassword, countyOnly), p.headers("no-store"))
	e.POST("/accounts/:username/disable", p.action(p.setDisabled(true), countyOnly), p.headers("no-store"))
	e.POST("/accounts/:username/enable", p.action(p.setDisabled(false), countyOnly), p.headers("no-store"))
}

// navItem is one link of the navigation bar.
type navItem struct {
	Key   string // message key of its label
	Href  string
	Roles []election.Role
}

// nav is the navigation bar; a role sees only the pages it may use.
var nav = []navItem{
	{Key: "nav.report", Href: "/", Roles: readers},
	{Key: "nav.review", Href: "/review", Roles: reviewers},
	{Key: "nav.enroll_codes", Href: "/enroll-codes", Roles: reviewers},
	{Key: "nav.devices", Href: "/devices", Roles: reviewers},
	{Key: "nav.accounts", Href: "/accounts", Roles: countyOnly},
}

// navFor returns the navigation items role may use.
func navFor(role election.Role) []navItem {
	var out []navItem
	for _, n := range nav {
		if slices.Contains(n.Roles, role) {
			out = append(out, n)
		}
	}
	return out
}

// headers sets the security headers of every response of the pages and
// the given Cache-Control.
func (p *pages) headers(cacheControl string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			webui.SetSecurityHeaders(h, contentSecurityPolicy)
			h.Set(echo.HeaderCacheControl, cacheControl)
			return next(c)
		}
	}
}
