package station

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	client "villagesync/client-sdk"
	"villagesync/election"
	"villagesync/internal/webui"
)

// DefaultAddr is where the UI listens unless told otherwise: loopback only.
const DefaultAddr = "127.0.0.1:8181"

// Config configures the UI. Addr is required; the zero value of every other
// field means its default.
type Config struct {
	// Addr is the address the UI's listener is bound to, host:port with
	// the port resolved. Every request's Host header must name this port
	// and a loopback address or "localhost" (a page served from any other
	// name is refused: DNS rebinding).
	Addr string
	// AllowRemote also accepts a Host header naming any IP address on
	// Addr's port: for a UI bound on purpose to a non-loopback address
	// (villagesync station ui --allow-remote). Names other than localhost
	// are still refused.
	AllowRemote bool
	// DataDir is the device's directory, shown on the bundles page; "" is
	// fine.
	DataDir string
	Logger  *slog.Logger     // nil = slog.Default()
	Now     func() time.Time // the laptop clock; nil = time.Now
}

// Limits of the pages.
const (
	// formLimit caps the body of a form POST.
	formLimit = 64 << 10
	// langTTL is how long the language choice is remembered.
	langTTL = 365 * 24 * time.Hour
	// staticMaxAge is the caching of the embedded stylesheet.
	staticMaxAge = "public, max-age=3600"
)

// Attribute keys of the UI's log records. Record bodies, CSRF tokens and
// file contents are never logged.
const (
	logMethod  = "method"
	logRoute   = "route"
	logErr     = "err"
	logErrorID = "error_id"
	logHost    = "host"
	logCount   = "count"
)

// contentSecurityPolicy forbids every script and inline style: the pages
// have none, so an injected one would not run.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// UI is the station app's web interface over one enrolled device. It is an
// http.Handler and safe for concurrent use.
type UI struct {
	d      *client.Device
	cfg    Config
	log    *slog.Logger
	e      *echo.Echo
	tmpl   map[string]*pageTemplate
	static map[string]webui.StaticFile
	cop    *http.CrossOriginProtection
	csrf   string // this process's CSRF token
	port   string // of Addr
}

// Roles of the pages.
var (
	stationOnly    = []election.Role{election.RoleStation}
	supervisorOnly = []election.Role{election.RoleSupervisor}
)

// New returns the UI of device d. The UI does not own d: close d after the
// HTTP server serving the UI has shut down.
func New(d *client.Device, cfg Config) (*UI, error) {
	if d == nil {
		return nil, errors.New("station ui: no device")
	}
	_, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil || port == "" || port == "0" {
		return nil, fmt.Errorf("station ui: address %q: want host:port with the port the listener got", cfg.Addr)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	tmpl, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	static, err := loadStatic()
	if err != nil {
		return nil, err
	}
	u := &UI{
		d:      d,
		cfg:    cfg,
		log:    cfg.Logger,
		tmpl:   tmpl,
		static: static,
		cop:    http.NewCrossOriginProtection(),
		csrf:   rand.Text(),
		port:   port,
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = u.routeError
	e.Pre(u.checkHost, u.headers)

	e.GET("/static/:name", u.serveStatic)
	e.GET("/", u.page(u.home, nil))
	e.POST("/sync", u.action(u.sync, nil))

	e.GET("/election", u.page(u.electionPage, stationOnly))
	e.POST("/attendance", u.action(u.captureAttendance, stationOnly))
	e.GET("/ballots", u.page(u.ballotsPage, stationOnly))
	e.POST("/ballots", u.action(u.captureBallot, stationOnly))
	e.GET("/tally", u.page(u.tallyPage, stationOnly))
	e.POST("/tally", u.action(u.captureTally, stationOnly))

	e.GET("/supervision", u.page(u.supervisionPage, supervisorOnly))
	e.POST("/supervision/visit", u.action(u.captureVisit, supervisorOnly))
	e.POST("/supervision/problem", u.action(u.captureProblem, supervisorOnly))
	e.POST("/supervision/rectification", u.action(u.captureRectification, supervisorOnly))
	e.GET("/township", u.page(u.townshipPage, supervisorOnly))

	e.GET("/records", u.page(u.recordsPage, nil))
	e.GET("/conflicts", u.page(u.conflictsPage, nil))
	e.GET("/bundles", u.page(u.bundlesPage, nil))
	e.POST("/bundles/export", u.action(u.exportBundle, nil))
	e.POST("/bundles/import", u.action(u.importBundle, nil))
	u.e = e
	return u, nil
}

// ServeHTTP implements http.Handler.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.e.ServeHTTP(w, r) }

// role is the device's role.
func (u *UI) role() election.Role { return u.d.Scope().Role }

// navItem is one link of the navigation bar.
type navItem struct {
	Key   string // message key of its label
	Href  string
	Roles []election.Role // nil: every role
}

// nav is the navigation bar; a device sees the pages of its role.
var nav = []navItem{
	{Key: "nav.home", Href: "/"},
	{Key: "nav.election", Href: "/election", Roles: stationOnly},
	{Key: "nav.supervision", Href: "/supervision", Roles: supervisorOnly},
	{Key: "nav.township", Href: "/township", Roles: supervisorOnly},
	{Key: "nav.records", Href: "/records"},
	{Key: "nav.conflicts", Href: "/conflicts"},
	{Key: "nav.bundles", Href: "/bundles"},
}

// navFor returns the navigation items of role.
func navFor(role election.Role) []navItem {
	var out []navItem
	for _, n := range nav {
		if n.Roles == nil || slices.Contains(n.Roles, role) {
			out = append(out, n)
		}
	}
	return out
}

// checkHost refuses a request whose Host header does not name this UI: a
// web page from another site that had its name re-pointed at 127.0.0.1
// (DNS rebinding) would otherwise read and post the pages as if it were
// the operator. The refusal is plain text with nothing of the device in it.
func (u *UI) checkHost(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !u.hostAllowed(c.Request().Host) {
			u.log.Warn("request refused: Host header does not name this UI", logMethod, c.Request().Method, logHost, truncate(c.Request().Host, 100))
			c.Response().Header().Set(echo.HeaderXContentTypeOptions, "nosniff")
			return c.String(http.StatusMisdirectedRequest,
				"此地址不受理：请在本机浏览器中打开 http://127.0.0.1:"+u.port+"/\n"+
					"Refused: this address does not name the station UI; open http://127.0.0.1:"+u.port+"/ on this laptop.\n")
		}
		return next(c)
	}
}

// hostAllowed reports whether host (a Host header) names this UI: Addr's
// port and localhost or a loopback address, or with AllowRemote any IP
// address. A Host without a port means port 80.
func (u *UI) hostAllowed(host string) bool {
	name, port, err := net.SplitHostPort(host)
	if err != nil {
		name, port = host, "80"
		if len(name) > 1 && name[0] == '[' && name[len(name)-1] == ']' {
			name = name[1 : len(name)-1]
		}
	}
	if port != u.port || name == "" {
		return false
	}
	if name == "localhost" {
		return true
	}
	ip := net.ParseIP(name)
	if ip == nil {
		return false
	}
	return ip.IsLoopback() || u.cfg.AllowRemote
}

// headers sets the security headers of every response.
func (u *UI) headers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		webui.SetSecurityHeaders(h, contentSecurityPolicy)
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set(echo.HeaderCacheControl, "no-store")
		return next(c)
	}
}

// truncate shortens s to at most n bytes for a log record.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
