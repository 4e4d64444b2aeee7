package web_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/skip2/go-qrcode"

	"villagesync/election"
	"villagesync/internal/webui/webuitest"
	"villagesync/server"
	"villagesync/server/httpapi/httptestutil"
	"villagesync/server/web"
	"villagesync/syncproto"
)

func TestLoginPage(t *testing.T) {
	e := newEnv(t, web.Config{})
	tests := []struct {
		name   string
		path   string
		cookie *http.Cookie
		want   []string
	}{
		{"ChineseByDefault", "/login", nil, []string{`<html lang="zh-CN">`, "<h1>登录</h1>", `name="csrf"`, `lang="en">English</a>`}},
		{"English", "/login?lang=en", nil, []string{`<html lang="en">`, "<h1>Sign in</h1>", `>中文</a>`}},
		{"EnglishByCookie", "/login", &http.Cookie{Name: "vs_lang", Value: "en"}, []string{`<html lang="en">`, "Sign in"}},
		{"UnknownLanguageIsChinese", "/login?lang=fr", &http.Cookie{Name: "vs_lang", Value: "<x>"}, []string{`<html lang="zh-CN">`, "登录"}},
		{"MadeUpCSRFCookieReplaced", "/login", &http.Cookie{Name: "vs_login_csrf", Value: `"><b>x</b>`}, []string{"登录"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := e.browser()
			if tt.cookie != nil {
				b.cookies[tt.cookie.Name] = tt.cookie
			}
			rec := b.get(t, tt.path)
			webuitest.WantStatus(t, rec, http.StatusOK)
			webuitest.WantBody(t, rec, tt.want...)
			c := b.cookies["vs_login_csrf"]
			switch {
			case c == nil:
				t.Fatal("no vs_login_csrf cookie")
			case !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/login":
				t.Errorf("vs_login_csrf cookie: got HttpOnly %v SameSite %v Path %q, want HttpOnly, Strict, /login", c.HttpOnly, c.SameSite, c.Path)
			case c.Value != b.csrf || len(c.Value) < 20 || tt.cookie != nil && c.Value == tt.cookie.Value:
				t.Errorf("vs_login_csrf cookie %q and form field %q: want the same random value", c.Value, b.csrf)
			}
		})
	}
	t.Run("LanguageRemembered", func(t *testing.T) {
		b := e.browser()
		b.get(t, "/login?lang=en")
		if c := b.cookies["vs_lang"]; c == nil || c.Value != "en" {
			t.Fatalf("vs_lang cookie: got %+v, want en", c)
		}
		webuitest.WantBody(t, b.get(t, "/login"), `<html lang="en">`)
	})
	t.Run("LoggedInGoesToDashboard", func(t *testing.T) {
		b := e.loggedIn(t, countyUser)
		wantRedirect(t, b.get(t, "/login"), "/")
	})
}

func TestLogin(t *testing.T) {
	e := newEnv(t, web.Config{})
	tests := []struct {
		name       string
		noCookie   bool   // drop the vs_login_csrf cookie
		csrf       string // "" = the form's own; "-" = none
		header     http.Header
		username   string
		password   string
		wantStatus int
		want       []string
	}{
		{name: "OK", username: countyUser, password: testPassword, wantStatus: http.StatusSeeOther},
		{name: "UsernameAnyCase", username: "County", password: testPassword, wantStatus: http.StatusSeeOther},
		{name: "WrongPassword", username: countyUser, password: "wrong password!", wantStatus: http.StatusUnauthorized,
			want: []string{"登录失败", "用户名或密码错误"}},
		{name: "UnknownUser", username: "nobody", password: testPassword, wantStatus: http.StatusUnauthorized,
			want: []string{"登录失败", "用户名或密码错误"}},
		{name: "Empty", username: countyUser, password: "", wantStatus: http.StatusBadRequest, want: []string{"请输入用户名和密码"}},
		{name: "NoCSRFCookie", noCookie: true, username: countyUser, password: testPassword, wantStatus: http.StatusForbidden,
			want: []string{"表单已过期"}},
		{name: "NoCSRFField", csrf: "-", username: countyUser, password: testPassword, wantStatus: http.StatusForbidden},
		{name: "WrongCSRF", csrf: "ZZZZZZZZZZZZZZZZZZZZZZZZZZ", username: countyUser, password: testPassword, wantStatus: http.StatusForbidden},
		{name: "CrossSite", header: http.Header{"Sec-Fetch-Site": {"cross-site"}}, username: countyUser, password: testPassword,
			wantStatus: http.StatusForbidden, want: []string{"拒绝来自其他网站的表单提交"}},
		{name: "CrossOrigin", header: http.Header{"Sec-Fetch-Site": {""}, "Origin": {"https://evil.example"}}, username: countyUser,
			password: testPassword, wantStatus: http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := e.browser()
			b.get(t, "/login")
			if tt.noCookie {
				delete(b.cookies, "vs_login_csrf")
			}
			form := url.Values{"username": {tt.username}, "password": {tt.password}, "csrf": {b.csrf}}
			switch tt.csrf {
			case "":
			case "-":
				form.Del("csrf")
			default:
				form.Set("csrf", tt.csrf)
			}
			rec := b.do(t, request{method: http.MethodPost, path: "/login", form: form, header: tt.header})
			webuitest.WantStatus(t, rec, tt.wantStatus)
			webuitest.WantBody(t, rec, tt.want...)
			if tt.password != "" && strings.Contains(rec.Body.String(), tt.password) {
				t.Errorf("the page shows the password")
			}
			got := b.session()
			if (tt.wantStatus == http.StatusSeeOther) != (got != "") {
				t.Fatalf("session cookie %q after status %d", got, rec.Code)
			}
			if got != "" {
				if _, err := e.svc.Session(t.Context(), got); err != nil {
					t.Errorf("the session cookie does not name a session: %v", err)
				}
				if _, ok := b.cookies["vs_login_csrf"]; ok {
					t.Errorf("vs_login_csrf cookie kept after login")
				}
			}
		})
	}
	t.Run("Locked", func(t *testing.T) {
		for range server.MaxLoginFailures {
			if e.loginWorks(t, observerUser, "wrong password!") {
				t.Fatal("a wrong password worked")
			}
		}
		b := e.browser()
		b.get(t, "/login")
		rec := b.do(t, request{method: http.MethodPost, path: "/login", form: url.Values{
			"csrf": {b.csrf}, "username": {observerUser}, "password": {testPassword},
		}})
		webuitest.WantStatus(t, rec, http.StatusTooManyRequests)
		webuitest.WantBody(t, rec, "尝试次数过多")
	})
}

// TestLoginLimit: the HTTP adapter's login limit refuses before anything
// is checked, and the refusal is the login form in the person's language.
func TestLoginLimit(t *testing.T) {
	var calls atomic.Int64
	limit := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if calls.Add(1) > 2 {
				c.Response().Header().Set("Retry-After", "7")
				return syncproto.Errorf(syncproto.CodeRateLimited, "too many login requests: retry in 7 s")
			}
			return next(c)
		}
	}
	e := newEnv(t, web.Config{LoginLimit: limit})
	for range 2 {
		if e.loginWorks(t, countyUser, "wrong password!") {
			t.Fatal("a wrong password worked")
		}
	}
	b := e.browser()
	b.get(t, "/login")
	if n := calls.Load(); n != 2 {
		t.Fatalf("the limit was consulted %d times, want 2 (once per POST, never for GET)", n)
	}
	rec := b.do(t, request{method: http.MethodPost, path: "/login", form: url.Values{
		"csrf": {b.csrf}, "username": {countyUser}, "password": {testPassword},
	}})
	webuitest.WantStatus(t, rec, http.StatusTooManyRequests)
	webuitest.WantBody(t, rec, "尝试次数过多", "此地址登录尝试过于频繁", `id="login-form"`, `value="county"`)
	if got := rec.Header().Get("Retry-After"); got != "7" {
		t.Errorf("Retry-After: got %q, want 7", got)
	}
	if b.session() != "" {
		t.Error("a refused login got a session")
	}
	accts, err := e.svc.Accounts(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accts {
		if a.Username == countyUser && !a.LastLogin.IsZero() {
			t.Errorf("the refused login reached the service: last login %v", a.LastLogin)
		}
	}
}

func TestSessionCookie(t *testing.T) {
	clockAt := func(d time.Duration) func() time.Time {
		return func() time.Time { return httptestutil.Start.Add(d) }
	}
	tests := []struct {
		name       string
		cfg        web.Config
		tls        bool
		wantSecure bool
		wantMaxAge int // 0: up to the session's expiry
	}{
		{"HTTP", web.Config{}, false, false, 0},
		{"TLS", web.Config{}, true, true, 0},
		{"SecureCookies", web.Config{SecureCookies: true}, false, true, 0},
		// The pages' clock behind the service's: never beyond the lifetime.
		{"ClockBehind", web.Config{Now: clockAt(-24 * time.Hour)}, false, false, int(server.SessionLifetime / time.Second)},
		// Ahead, past the expiry: a cookie for the browser's session.
		{"ClockAhead", web.Config{Now: clockAt(24 * time.Hour)}, false, false, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.cfg)
			b := e.browser()
			b.do(t, request{method: http.MethodGet, path: "/login", tls: tt.tls})
			rec := b.do(t, request{method: http.MethodPost, path: "/login", tls: tt.tls, form: url.Values{
				"csrf": {b.csrf}, "username": {countyUser}, "password": {testPassword},
			}})
			wantRedirect(t, rec, "/")
			var c *http.Cookie
			for _, ck := range rec.Result().Cookies() {
				if ck.Name == "vs_session" {
					c = ck
				}
			}
			if c == nil {
				t.Fatal("no vs_session cookie")
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure != tt.wantSecure {
				t.Errorf("vs_session: got HttpOnly %v SameSite %v Path %q Secure %v, want HttpOnly, Strict, /, Secure %v",
					c.HttpOnly, c.SameSite, c.Path, c.Secure, tt.wantSecure)
			}
			sess, err := e.svc.Session(t.Context(), c.Value)
			if err != nil {
				t.Fatalf("session of the cookie: %v", err)
			}
			switch left := int(sess.Expires.Sub(e.clock.Now()) / time.Second); tt.wantMaxAge {
			case 0:
				if c.MaxAge <= 0 || c.MaxAge > left {
					t.Errorf("vs_session Max-Age %d: want 1..%d (the session's lifetime)", c.MaxAge, left)
				}
				if !c.Expires.Equal(sess.Expires.Truncate(time.Second)) {
					t.Errorf("vs_session Expires %v: want the session's %v", c.Expires, sess.Expires)
				}
			case -1:
				if c.MaxAge != 0 || !c.Expires.IsZero() {
					t.Errorf("vs_session: got Max-Age %d, Expires %v, want neither", c.MaxAge, c.Expires)
				}
			default:
				if c.MaxAge != tt.wantMaxAge {
					t.Errorf("vs_session Max-Age %d: want %d", c.MaxAge, tt.wantMaxAge)
				}
			}
			for _, ck := range rec.Result().Cookies() {
				if ck.Secure != tt.wantSecure {
					t.Errorf("cookie %s: got Secure %v, want %v", ck.Name, ck.Secure, tt.wantSecure)
				}
			}
		})
	}
}

func TestUnauthenticated(t *testing.T) {
	e := newEnv(t, web.Config{})
	f := e.fixtures(t)
	county := e.loggedIn(t, countyUser)
	expired := e.loggedIn(t, observerUser)
	if err := e.svc.Logout(t.Context(), expired.session()); err != nil {
		t.Fatal(err)
	}
	cookies := []struct {
		name  string
		value string // "" = none
	}{
		{"NoCookie", ""},
		{"Forged", strings.Repeat("A", 43)},
		{"Garbage", "<script>"},
		{"LoggedOut", expired.session()},
	}
	for _, ck := range cookies {
		t.Run(ck.name, func(t *testing.T) {
			for _, path := range pagePaths {
				b := e.browser()
				if ck.value != "" {
					b.cookies["vs_session"] = &http.Cookie{Name: "vs_session", Value: ck.value}
				}
				wantRedirect(t, b.get(t, path), "/login")
				if ck.value != "" && b.session() != "" {
					t.Errorf("GET %s: the dead session cookie was not deleted", path)
				}
			}
			before := e.snapshot(t)
			for _, a := range actions(f) {
				b := e.browser()
				if ck.value != "" {
					b.cookies["vs_session"] = &http.Cookie{Name: "vs_session", Value: ck.value}
				}
				// Even the CSRF token of a live session does not help.
				b.csrf = county.csrf
				rec := b.post(t, a.path, a.form)
				if rec.Code != http.StatusUnauthorized {
					t.Errorf("POST %s: got status %d, want 401", a.path, rec.Code)
				}
				webuitest.WantBody(t, rec, "未登录或登录已失效", `href="/login"`)
			}
			e.unchanged(t, before)
		})
	}
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t, web.Config{})
	f := e.fixtures(t)
	tests := []struct {
		name    string
		advance time.Duration // until the session must end
		every   time.Duration // how often it is used meanwhile; 0 = never
	}{
		{"Idle", server.SessionIdleTimeout, 0},
		{"Lifetime", server.SessionLifetime, 20 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := e.loggedIn(t, countyUser)
			left := tt.advance
			for tt.every != 0 && left > tt.every {
				e.clock.Advance(tt.every)
				left -= tt.every
				webuitest.WantStatus(t, b.get(t, "/devices"), http.StatusOK)
			}
			e.clock.Advance(left)
			before := e.snapshot(t)
			for _, a := range actions(f) {
				if rec := b.post(t, a.path, a.form); rec.Code != http.StatusUnauthorized {
					t.Errorf("POST %s: got status %d, want 401", a.path, rec.Code)
				}
			}
			e.unchanged(t, before)
			b.cookies["vs_session"] = &http.Cookie{Name: "vs_session", Value: b.session()}
			wantRedirect(t, b.get(t, "/"), "/login")
		})
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t, web.Config{})
	b := e.loggedIn(t, countyUser)
	token := b.session()

	rec := b.do(t, request{method: http.MethodPost, path: "/logout", form: url.Values{}})
	webuitest.WantStatus(t, rec, http.StatusForbidden)
	if _, err := e.svc.Session(t.Context(), token); err != nil {
		t.Fatalf("a logout without the CSRF token ended the session: %v", err)
	}

	rec = b.post(t, "/logout", nil)
	wantRedirect(t, rec, "/login")
	var deleted bool
	for _, c := range rec.Result().Cookies() {
		deleted = deleted || c.Name == "vs_session" && c.MaxAge < 0 && c.Value == ""
	}
	if !deleted {
		t.Errorf("logout did not delete the vs_session cookie: %v", rec.Header()["Set-Cookie"])
	}
	if _, err := e.svc.Session(t.Context(), token); syncproto.ErrorCode(err) != syncproto.CodeUnauthenticated {
		t.Errorf("session after logout: got %v, want unauthenticated", err)
	}
	// The old cookie, replayed, is worth nothing.
	b.cookies["vs_session"] = &http.Cookie{Name: "vs_session", Value: token}
	wantRedirect(t, b.get(t, "/"), "/login")
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, web.Config{})
	f := e.fixtures(t)
	county := e.loggedIn(t, countyUser)
	other := e.loggedIn(t, countyUser) // the same person in another browser
	tests := []struct {
		name string
		csrf string
	}{
		{"Missing", ""},
		{"Wrong", strings.Repeat("x", len(county.csrf))},
		{"OtherSession", other.csrf},
		{"Truncated", county.csrf[:len(county.csrf)-1]},
	}
	if other.csrf == county.csrf {
		t.Fatal("two sessions share a CSRF token")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.snapshot(t)
			for _, a := range actions(f) {
				form := url.Values{}
				for k, v := range a.form {
					form[k] = v
				}
				if tt.csrf != "" {
					form.Set("csrf", tt.csrf)
				}
				rec := county.do(t, request{method: http.MethodPost, path: a.path, form: form})
				if rec.Code != http.StatusForbidden {
					t.Errorf("POST %s: got status %d, want 403", a.path, rec.Code)
				}
				webuitest.WantBody(t, rec, "表单已过期或来源无法验证")
			}
			e.unchanged(t, before)
			if _, err := e.svc.Session(t.Context(), county.session()); err != nil {
				t.Errorf("the session ended: %v", err)
			}
		})
	}
	t.Run("QueryDoesNotCount", func(t *testing.T) {
		before := e.snapshot(t)
		for _, a := range actions(f) {
			rec := county.do(t, request{method: http.MethodPost, path: a.path + "?csrf=" + url.QueryEscape(county.csrf), form: a.form})
			if rec.Code != http.StatusForbidden {
				t.Errorf("POST %s with the token in the query: got status %d, want 403", a.path, rec.Code)
			}
		}
		e.unchanged(t, before)
	})
}

func TestCrossOrigin(t *testing.T) {
	e := newEnv(t, web.Config{})
	f := e.fixtures(t)
	county := e.loggedIn(t, countyUser)
	tests := []struct {
		name   string
		header http.Header
	}{
		{"CrossSite", http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{"SameSiteOtherOrigin", http.Header{"Sec-Fetch-Site": {"same-site"}}},
		{"OriginOnly", http.Header{"Sec-Fetch-Site": {""}, "Origin": {"http://evil.example"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.snapshot(t)
			for _, a := range actions(f) {
				form := url.Values{"csrf": {county.csrf}}
				for k, v := range a.form {
					form[k] = v
				}
				rec := county.do(t, request{method: http.MethodPost, path: a.path, form: form, header: tt.header})
				if rec.Code != http.StatusForbidden {
					t.Errorf("POST %s: got status %d, want 403", a.path, rec.Code)
				}
				webuitest.WantBody(t, rec, "拒绝来自其他网站的表单提交")
			}
			e.unchanged(t, before)
		})
	}
}

func TestRoles(t *testing.T) {
	e := newEnv(t, web.Config{})
	f := e.fixtures(t)
	tests := []struct {
		user    string
		allowed []string // the pages it may see; the others are 403
	}{
		{countyUser, pagePaths},
		{supervisorUser, []string{"/", "/review", "/review?status=all", "/enroll-codes", "/devices"}},
		{observerUser, []string{"/"}},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			b := e.loggedIn(t, tt.user)
			nav := b.get(t, "/").Body.String()
			for _, path := range pagePaths {
				rec := b.get(t, path)
				allowed := slices.Contains(tt.allowed, path)
				switch {
				case allowed && rec.Code != http.StatusOK:
					t.Errorf("GET %s: got status %d, want 200: %s", path, rec.Code, rec.Body)
				case !allowed:
					if rec.Code != http.StatusForbidden {
						t.Errorf("GET %s: got status %d, want 403", path, rec.Code)
					}
					webuitest.WantBody(t, rec, "无权执行此操作", "您的角色不能使用此页面")
				}
				link := `href="` + strings.Split(path, "?")[0] + `"`
				if path != "/" && !strings.Contains(path, "?") && strings.Contains(nav, link) != allowed {
					t.Errorf("navigation link %s: got shown %v, want %v", link, strings.Contains(nav, link), allowed)
				}
			}
		})
	}
	forms := []struct {
		user    string
		actions []action
	}{
		{supervisorUser, countyActions(f)},
		{observerUser, append(countyActions(f), actions(f)[2:4]...)},
	}
	for _, tt := range forms {
		t.Run(tt.user+"Forms", func(t *testing.T) {
			b := e.loggedIn(t, tt.user)
			before := e.snapshot(t)
			for _, a := range tt.actions {
				rec := b.post(t, a.path, a.form)
				if rec.Code != http.StatusForbidden {
					t.Errorf("POST %s: got status %d, want 403", a.path, rec.Code)
				}
			}
			e.unchanged(t, before)
		})
	}
	t.Run("SupervisorReadOnly", func(t *testing.T) {
		b := e.loggedIn(t, supervisorUser)
		review := b.get(t, "/review")
		webuitest.WantBody(t, review, f.conflict, "只读：由县级裁定")
		devices := b.get(t, "/devices")
		webuitest.WantBody(t, devices, f.device, "只读：由县级吊销设备")
		for _, rec := range []string{review.Body.String(), devices.Body.String()} {
			if strings.Contains(rec, "/resolve") || strings.Contains(rec, "/revoke") {
				t.Errorf("a supervisor's page offers a county form:\n%s", rec)
			}
		}
	})
}

func TestEnrollCodes(t *testing.T) {
	e := newEnv(t, web.Config{})
	county := e.loggedIn(t, countyUser)
	village := e.Village(1, 0)

	rec := county.post(t, "/enroll-codes", url.Values{"role": {"station"}, "scope": {village}, "ttl_hours": {"72"}})
	webuitest.WantStatus(t, rec, http.StatusOK)
	webuitest.WantBody(t, rec, "此注册码只显示这一次", "村站", village, "2026-03-10 16:00")
	code := regexp.MustCompile(`id="new-code">([0-9A-Z-]+)<`).FindStringSubmatch(rec.Body.String())
	if code == nil {
		t.Fatalf("no code on the page: %s", rec.Body)
	}
	qr := regexp.MustCompile(`id="new-code-qr" src="data:image/png;base64,([^"]+)"`).FindStringSubmatch(rec.Body.String())
	if qr == nil {
		t.Fatalf("no QR code image on the page: %s", rec.Body)
	}
	img, err := base64.StdEncoding.DecodeString(html.UnescapeString(qr[1]))
	if err != nil {
		t.Fatalf("QR data URI: %v", err)
	}
	want, err := qrcode.Encode(syncproto.EnrollURI(testServerURL, code[1]), qrcode.Medium, 256)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(img, want) {
		t.Errorf("the QR code does not hold villagesync://enroll?server=%s&code=%s", testServerURL, code[1])
	}
	if cfg, err := png.DecodeConfig(bytes.NewReader(img)); err != nil || cfg.Width != 256 {
		t.Errorf("QR code PNG: got %+v, %v, want 256 pixels wide", cfg, err)
	}

	codes, err := e.svc.EnrollCodes(t.Context(), nil)
	if err != nil || len(codes) != 1 || codes[0].Scope != village || !codes[0].Expires.Equal(httptestutil.Start.Add(72*time.Hour)) {
		t.Fatalf("codes after issuing one: got %+v, %v", codes, err)
	}
	list := county.get(t, "/enroll-codes")
	webuitest.WantBody(t, list, `id="code-`+codes[0].ID+`"`, "有效", "/enroll-codes/"+codes[0].ID+"/expire")
	if strings.Contains(list.Body.String(), code[1]) {
		t.Errorf("the code list shows the code itself")
	}

	// The code shown is the real one: a device enrolls with it.
	device := e.redeem(t, code[1], "新笔记本")
	list = county.get(t, "/enroll-codes")
	webuitest.WantBody(t, list, "已使用", device)

	t.Run("Expire", func(t *testing.T) {
		ic, err := e.svc.IssueEnrollCode(t.Context(), nil, election.RoleStation, village, 0)
		if err != nil {
			t.Fatal(err)
		}
		wantRedirect(t, county.post(t, "/enroll-codes/"+ic.ID+"/expire", nil), "/enroll-codes?ok=code_expired")
		rec := county.get(t, "/enroll-codes?ok=code_expired")
		webuitest.WantBody(t, rec, "注册码已作废")
		row := regexp.MustCompile(`(?s)<tr id="code-` + ic.ID + `">.*?</tr>`).FindString(rec.Body.String())
		if !strings.Contains(row, "已过期") || strings.Contains(row, "/expire") {
			t.Errorf("expired code's row: %s", row)
		}
		if _, err := e.svc.Enroll(t.Context(), syncproto.EnrollRequest{Code: ic.Code, PublicKey: make([]byte, 32)}); syncproto.ErrorCode(err) != syncproto.CodeEnrollCodeInvalid {
			t.Errorf("enroll with the expired code: got %v, want enroll_code_invalid", err)
		}
		// Expiring a used code is refused on the page.
		rec = county.post(t, "/enroll-codes/"+codes[0].ID+"/expire", nil)
		webuitest.WantStatus(t, rec, http.StatusConflict)
		webuitest.WantBody(t, rec, "与现有数据冲突", "revoke the device instead", `id="new-code-form"`)
	})
	t.Run("BadForm", func(t *testing.T) {
		before := e.snapshot(t)
		for _, form := range []url.Values{
			{"role": {"king"}, "scope": {village}},
			{"role": {"station"}, "scope": {village}, "ttl_hours": {"10000"}},
			{"role": {"station"}, "scope": {"220422999999"}},
			{"role": {"station"}, "scope": {e.Township(1)}},
		} {
			rec := county.post(t, "/enroll-codes", form)
			webuitest.WantStatus(t, rec, http.StatusBadRequest)
			webuitest.WantBody(t, rec, "请求有误", `id="new-code-form"`)
		}
		e.unchanged(t, before)
	})
	t.Run("Supervisor", func(t *testing.T) {
		sup := e.loggedIn(t, supervisorUser)
		page := sup.get(t, "/enroll-codes")
		webuitest.WantStatus(t, page, http.StatusOK)
		if strings.Contains(page.Body.String(), village) {
			t.Errorf("a supervisor's page lists another township's village %s", village)
		}
		before := e.snapshot(t)
		tests := []struct {
			name   string
			form   url.Values
			status int
			want   string
		}{
			{"OtherTownshipsVillage", url.Values{"role": {"station"}, "scope": {village}}, http.StatusForbidden, "超出您的管辖范围"},
			{"SupervisorCode", url.Values{"role": {"supervisor"}, "scope": {e.township}}, http.StatusForbidden, "无权执行此操作"},
			{"CountyCode", url.Values{"role": {"county"}, "scope": {election.DongliaoCode}}, http.StatusForbidden, "无权执行此操作"},
			{"NoScope", url.Values{"role": {"station"}, "scope": {""}}, http.StatusBadRequest, "请为注册码选择范围"},
		}
		for _, tt := range tests {
			rec := sup.post(t, "/enroll-codes", tt.form)
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
				t.Errorf("%s: got status %d, want %d with %q: %s", tt.name, rec.Code, tt.status, tt.want, rec.Body)
			}
		}
		e.unchanged(t, before)
		// Nor may it expire the county's code for another township.
		other, err := e.svc.IssueEnrollCode(t.Context(), nil, election.RoleStation, village, 0)
		if err != nil {
			t.Fatal(err)
		}
		before = e.snapshot(t)
		rec := sup.post(t, "/enroll-codes/"+other.ID+"/expire", nil)
		webuitest.WantStatus(t, rec, http.StatusForbidden)
		e.unchanged(t, before)

		own := e.Village(0, 3)
		rec = sup.post(t, "/enroll-codes", url.Values{"role": {"station"}, "scope": {own}})
		webuitest.WantStatus(t, rec, http.StatusOK)
		webuitest.WantBody(t, rec, `id="new-code"`, own)
	})
}

func TestRevokeDevice(t *testing.T) {
	e := newEnv(t, web.Config{})
	county := e.loggedIn(t, countyUser)
	device := e.enrollDevice(t, election.RoleStation, e.Village(2, 0), "村站笔记本")
	page := county.get(t, "/devices")
	webuitest.WantBody(t, page, `id="device-`+device+`"`, "村站笔记本", "/devices/"+device+"/revoke")

	// Without the confirm box ticked nothing happens.
	rec := county.post(t, "/devices/"+device+"/revoke", nil)
	webuitest.WantStatus(t, rec, http.StatusBadRequest)
	webuitest.WantBody(t, rec, "吊销不可撤销")
	if devs, err := e.svc.Devices(t.Context(), nil); err != nil || len(devs) != 1 || !devs[0].Revoked.IsZero() {
		t.Fatalf("an unconfirmed revocation revoked: %+v, %v", devs, err)
	}
	confirmed := url.Values{"confirm": {"yes"}}
	wantRedirect(t, county.post(t, "/devices/"+device+"/revoke", confirmed), "/devices?ok=device_revoked")
	devs, err := e.svc.Devices(t.Context(), nil)
	if err != nil || len(devs) != 1 || devs[0].Revoked.IsZero() {
		t.Fatalf("devices after revoking: got %+v, %v", devs, err)
	}
	page = county.get(t, "/devices?ok=device_revoked")
	webuitest.WantBody(t, page, "设备已吊销。")
	row := regexp.MustCompile(`(?s)<tr id="device-` + device + `">.*?</tr>`).FindString(page.Body.String())
	if !strings.Contains(row, "已吊销") || strings.Contains(row, "/revoke") {
		t.Errorf("revoked device's row: %s", row)
	}

	rec = county.post(t, "/devices/dev-0000000000/revoke", confirmed)
	webuitest.WantStatus(t, rec, http.StatusNotFound)
	webuitest.WantBody(t, rec, "未找到")
}

func TestAccounts(t *testing.T) {
	e := newEnv(t, web.Config{})
	county := e.loggedIn(t, countyUser)

	rec := county.post(t, "/accounts", url.Values{"username": {"li.ming"}, "name": {"李明"}, "password": {"a new long password"},
		"role": {"supervisor"}, "scope": {e.Township(2)}})
	wantRedirect(t, rec, "/accounts?ok=account_created")
	page := county.get(t, "/accounts?ok=account_created")
	webuitest.WantBody(t, page, "账户已创建。", `id="account-li.ming"`, "李明", "乡镇督导", e.Township(2))
	if !e.loginWorks(t, "li.ming", "a new long password") {
		t.Fatal("the new account cannot log in")
	}

	t.Run("Invalid", func(t *testing.T) {
		before := e.snapshot(t)
		rec := county.post(t, "/accounts", url.Values{"username": {"wang"}, "name": {"王"}, "password": {"short"}, "role": {"observer"}})
		webuitest.WantStatus(t, rec, http.StatusBadRequest)
		webuitest.WantBody(t, rec, "请求有误", "password is too short", `value="wang"`, `value="王"`)
		if strings.Contains(rec.Body.String(), `value="short"`) {
			t.Errorf("the page fills the password in again")
		}
		for _, form := range []url.Values{
			{"username": {"wang"}, "password": {testPassword}, "role": {"station"}, "scope": {e.Village(0, 0)}},
			{"username": {"wang"}, "password": {testPassword}, "role": {"emperor"}},
			{"username": {"wang"}, "password": {testPassword}, "role": {"supervisor"}, "scope": {"220422999"}},
			{"username": {countyUser}, "password": {testPassword}, "role": {"observer"}},
		} {
			rec := county.post(t, "/accounts", form)
			if rec.Code != http.StatusBadRequest && rec.Code != http.StatusConflict {
				t.Errorf("POST /accounts %v: got status %d, want 400 or 409", form, rec.Code)
			}
		}
		e.unchanged(t, before)
	})
	t.Run("ResetPassword", func(t *testing.T) {
		wantRedirect(t, county.post(t, "/accounts/li.ming/password", url.Values{"password": {"the second password"}}), "/accounts?ok=password_reset")
		if e.loginWorks(t, "li.ming", "a new long password") || !e.loginWorks(t, "li.ming", "the second password") {
			t.Error("after the reset: want only the new password to work")
		}
	})
	t.Run("DisableEnable", func(t *testing.T) {
		wantRedirect(t, county.post(t, "/accounts/li.ming/disable", nil), "/accounts?ok=account_disabled")
		row := regexp.MustCompile(`(?s)<tr id="account-li.ming">.*?</tr>`).FindString(county.get(t, "/accounts").Body.String())
		if !strings.Contains(row, "已停用") || !strings.Contains(row, "/accounts/li.ming/enable") {
			t.Errorf("disabled account's row: %s", row)
		}
		if e.loginWorks(t, "li.ming", "the second password") {
			t.Error("a disabled account logged in")
		}
		wantRedirect(t, county.post(t, "/accounts/li.ming/enable", nil), "/accounts?ok=account_enabled")
		if !e.loginWorks(t, "li.ming", "the second password") {
			t.Error("an enabled account cannot log in")
		}
	})
	t.Run("DisableSelf", func(t *testing.T) {
		before := e.snapshot(t)
		rec := county.post(t, "/accounts/"+countyUser+"/disable", nil)
		webuitest.WantStatus(t, rec, http.StatusBadRequest)
		webuitest.WantBody(t, rec, "you cannot disable your own account")
		e.unchanged(t, before)
	})
}

func TestReview(t *testing.T) {
	e := newEnv(t, web.Config{})
	f := e.fixtures(t)
	county := e.loggedIn(t, countyUser)

	page := county.get(t, "/review")
	webuitest.WantStatus(t, page, http.StatusOK)
	webuitest.WantBody(t, page, `id="item-`+f.conflict+`"`, "数据冲突", "待处理", `value="`+f.keep+`"`, "/review/"+f.conflict+"/resolve")

	t.Run("ReasonRequired", func(t *testing.T) {
		before := e.snapshot(t)
		for _, reason := range []string{"", "   "} {
			rec := county.post(t, "/review/"+f.conflict+"/resolve", url.Values{"keep": {f.keep}, "reason": {reason}})
			webuitest.WantStatus(t, rec, http.StatusBadRequest)
			webuitest.WantBody(t, rec, "请求有误", "a reason is required", `id="item-`+f.conflict+`"`)
		}
		rec := county.post(t, "/review/"+f.conflict+"/resolve", url.Values{"keep": {"dev-x/1"}, "reason": {"核对"}})
		webuitest.WantStatus(t, rec, http.StatusBadRequest)
		rec = county.post(t, "/review/CF-nosuch/resolve", url.Values{"keep": {f.keep}, "reason": {"核对"}})
		webuitest.WantStatus(t, rec, http.StatusNotFound)
		e.unchanged(t, before)
	})
	t.Run("Resolve", func(t *testing.T) {
		rec := county.post(t, "/review/"+f.conflict+"/resolve", url.Values{"keep": {f.keep}, "reason": {"核对原始计票单，保留第一份"}})
		wantRedirect(t, rec, "/review?ok=resolved")
		webuitest.WantBody(t, county.get(t, "/review?ok=resolved"), "已裁定。")
		if strings.Contains(county.get(t, "/review").Body.String(), f.conflict) {
			t.Error("the resolved conflict is still in the open queue")
		}
		all := county.get(t, "/review?status=all")
		webuitest.WantBody(t, all, f.conflict, "已解决", "RES-"+f.conflict)
		rec = county.post(t, "/review/"+f.conflict+"/resolve", url.Values{"keep": {f.keep}, "reason": {"再次"}})
		webuitest.WantStatus(t, rec, http.StatusConflict)
	})
}

// TestReviewRevokedDevice: a station authors changes after it was revoked,
// a supervisor's laptop carries them in, and the county rejects them on the
// review page.
func TestReviewRevokedDevice(t *testing.T) {
	e := newEnv(t, web.Config{})
	ctx := t.Context()
	village := e.Village(0, 3)
	station := e.Enroll(t, election.RoleStation, village)
	attendance := func(seq uint64) string { return fmt.Sprintf("%s-att-%d", village, seq) }
	station.Author(t, "attendance", attendance(1), e.CleanAttendance(t, village))
	e.SyncAll(t, station)
	if _, err := e.svc.RevokeDevice(ctx, nil, station.ID); err != nil {
		t.Fatal(err)
	}
	for seq := uint64(2); seq <= 3; seq++ {
		station.Author(t, "attendance", attendance(seq), e.CleanAttendance(t, village))
	}
	sup := e.Enroll(t, election.RoleSupervisor, e.township)
	carrier, err := e.Service.Authenticate(ctx, sup.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.Sync(ctx, carrier, &syncproto.SyncRequest{Relay: station.Run(2, 3), PullMax: -1}); err != nil {
		t.Fatalf("relay the revoked station's changes: %v", err)
	}
	id := server.QuarantineItemID(station.ID, 2)

	county := e.loggedIn(t, countyUser)
	page := county.get(t, "/review")
	webuitest.WantBody(t, page, `id="item-`+id+`"`, "已吊销设备的变更", station.ID, attendance(2), attendance(3),
		`value="accept"`, `value="reject"`, "/review/"+id+"/resolve")

	before := e.snapshot(t)
	rec := county.post(t, "/review/"+id+"/resolve", url.Values{"keep": {"reject"}, "reason": {""}})
	webuitest.WantStatus(t, rec, http.StatusBadRequest)
	e.unchanged(t, before)

	rec = county.post(t, "/review/"+id+"/resolve", url.Values{"keep": {"reject"}, "reason": {"设备已丢失，变更不可信"}})
	wantRedirect(t, rec, "/review?ok=resolved")
	all := county.get(t, "/review?status=all")
	item := regexp.MustCompile(`(?s)<article class="item" id="item-` + id + `">.*?</article>`).FindString(all.Body.String())
	for _, want := range []string{"已拒绝", "设备已丢失，变更不可信"} {
		if !strings.Contains(item, want) {
			t.Errorf("the decided item: want %q in %s", want, item)
		}
	}
	if strings.Contains(item, "/resolve") {
		t.Errorf("the decided item still has a form: %s", item)
	}
}

func TestEscaping(t *testing.T) {
	e := newEnv(t, web.Config{})
	const evil = `<script>alert("x")</script><img src=x onerror=alert(1)>`
	device := e.enrollDevice(t, election.RoleStation, e.Village(0, 0), evil)
	e.createAccount(t, server.NewAccount{Username: "mallory", Name: evil, Password: testPassword, Role: election.RoleCounty})
	b := e.loggedIn(t, "mallory")
	for _, path := range []string{"/", "/devices", "/accounts"} {
		rec := b.get(t, path)
		webuitest.WantStatus(t, rec, http.StatusOK)
		body := rec.Body.String()
		if strings.Contains(body, "<script") || strings.Contains(body, "<img src=x") {
			t.Errorf("GET %s renders markup from a label or name:\n%s", path, body)
		}
		webuitest.WantBody(t, rec, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")
	}
	webuitest.WantBody(t, b.get(t, "/devices"), device)
	// A path parameter does not reach the page unescaped either.
	rec := b.post(t, "/devices/"+url.PathEscape(evil)+"/revoke", url.Values{"confirm": {"yes"}})
	if strings.Contains(rec.Body.String(), "<script") {
		t.Errorf("an error page renders markup from the path:\n%s", rec.Body)
	}
}

func TestHeaders(t *testing.T) {
	e := newEnv(t, web.Config{})
	county := e.loggedIn(t, countyUser)
	observer := e.loggedIn(t, observerUser)
	const csp = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	tests := []struct {
		name  string
		b     *browser
		path  string
		cache string
	}{
		{"Login", e.browser(), "/login", "no-store"},
		{"RedirectToLogin", e.browser(), "/", "no-store"},
		{"Dashboard", county, "/", "no-store"},
		{"Review", county, "/review", "no-store"},
		{"EnrollCodes", county, "/enroll-codes", "no-store"},
		{"Devices", county, "/devices", "no-store"},
		{"Accounts", county, "/accounts", "no-store"},
		{"Forbidden", observer, "/accounts", "no-store"},
		{"Stylesheet", e.browser(), "/static/style.css", "public, max-age=3600"},
		{"NoSuchStaticFile", e.browser(), "/static/nope.js", "public, max-age=3600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := tt.b.get(t, tt.path)
			h := rec.Header()
			for k, want := range map[string]string{
				"Content-Security-Policy": csp,
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"X-Frame-Options":         "DENY",
				"Cache-Control":           tt.cache,
			} {
				if got := h.Get(k); got != want {
					t.Errorf("%s: got %q, want %q", k, got, want)
				}
			}
			if rec.Code == http.StatusOK && strings.HasPrefix(h.Get("Content-Type"), "text/html") {
				body := rec.Body.String()
				if strings.Contains(body, "<script") || strings.Contains(body, "style=") || strings.Contains(body, "<style") {
					t.Errorf("the page has inline script or style")
				}
			}
		})
	}
	rec := e.browser().get(t, "/static/style.css")
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet: got status %d, type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	webuitest.WantStatus(t, e.browser().get(t, "/static/nope.js"), http.StatusNotFound)
}

func TestLanguages(t *testing.T) {
	e := newEnv(t, web.Config{})
	e.fixtures(t)
	county := e.loggedIn(t, countyUser)
	tests := []struct {
		lang string
		want []string
	}{
		{"zh", []string{`<html lang="zh-CN">`, "统计报告", "注册码", "退出登录"}},
		{"en", []string{`<html lang="en">`, "County report", "Enrollment codes", "Sign out"}},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			webuitest.WantBody(t, county.get(t, "/?lang="+tt.lang), tt.want...)
			for _, path := range pagePaths {
				rec := county.get(t, path)
				webuitest.WantStatus(t, rec, http.StatusOK)
				webuitest.WantBody(t, rec, tt.want[0])
			}
		})
	}
}

// TestNoSecretsLogged walks through the pages and checks that the logs hold
// no password, session token, CSRF token or enrollment code.
func TestNoSecretsLogged(t *testing.T) {
	e := newEnv(t, web.Config{})
	b := e.browser()
	b.get(t, "/login")
	loginCSRF := b.csrf
	b.do(t, request{method: http.MethodPost, path: "/login", form: url.Values{"csrf": {loginCSRF}, "username": {countyUser}, "password": {"a wrong password"}}})
	b.login(t, countyUser, testPassword)
	rec := b.post(t, "/enroll-codes", url.Values{"role": {"station"}, "scope": {e.Village(0, 0)}})
	code := regexp.MustCompile(`id="new-code">([0-9A-Z-]+)<`).FindStringSubmatch(rec.Body.String())
	if code == nil {
		t.Fatalf("no code: %s", rec.Body)
	}
	b.post(t, "/accounts", url.Values{"username": {"zhang"}, "password": {"zhang's secret password"}, "role": {"observer"}})
	b.do(t, request{method: http.MethodPost, path: "/accounts", form: url.Values{"csrf": {"forged"}, "password": {"forged form password"}}})
	token, csrf := b.session(), b.csrf
	b.post(t, "/logout", nil)

	logs := e.logs.String()
	if !strings.Contains(logs, "CSRF") {
		t.Fatalf("the refused form was not logged: %s", logs)
	}
	for name, secret := range map[string]string{
		"password": testPassword, "wrong password": "a wrong password", "new password": "zhang's secret password",
		"form password": "forged form password", "session token": token, "CSRF token": csrf, "login CSRF token": loginCSRF,
		"enrollment code": code[1], "code without dashes": strings.ReplaceAll(code[1], "-", ""),
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs hold the %s", name)
		}
	}
}
