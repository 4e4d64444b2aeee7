package web_test

import (
	"context"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"villagesync/election"
	"villagesync/server/web"
)

// chromium is where CI installs Debian's chromium.
const chromium = "/usr/bin/chromium"

// newChromium starts a headless Chromium with a fresh profile and returns
// its context; it is stopped when the test ends.
func newChromium(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("VILLAGESYNC_REQUIRE_CHROMIUM") != "" {
			t.Fatalf("no browser at %s (CI installs it: apt-get install chromium): %v", chromium, err)
		}
		t.Skipf("no browser at %s: %v", chromium, err)
	}
	// Generous, for a loaded 2-core machine; every wait ends sooner when
	// the page is right.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	// Cleanups run last-in first-out: the browser stops before its profile
	// directory is removed.
	t.Cleanup(func() {
		_ = chromedp.Cancel(browserCtx)
		cancelBrowser()
		cancelAlloc()
		cancel()
	})
	return browserCtx
}

// page drives one browser tab for a test.
type page struct {
	t   *testing.T
	ctx context.Context
	url string // of the server
}

// do runs actions and fails the test on the first error.
func (p *page) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// submit clicks a submit button and waits for the page the form leads to.
func (p *page) submit(what, button string) {
	p.t.Helper()
	if _, err := chromedp.RunResponse(p.ctx, chromedp.Click(chromedp.CSS(button))); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// text returns the text of the element sel, once it is visible.
func (p *page) text(sel string) string {
	p.t.Helper()
	p.do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	s, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// wantText fails the test unless the text of sel contains want.
func (p *page) wantText(sel, want string) {
	p.t.Helper()
	if got := p.text(sel); !strings.Contains(got, want) {
		p.t.Errorf("%s: got %q, want it to contain %q", sel, got, want)
	}
}

// eval evaluates a JavaScript expression.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// TestBrowser walks a county clerk through the pages in a real headless
// Chromium: Chinese by default, login, the report, an enrollment code shown
// as text and QR code and then expired, a device revoked, the devices
// filtered by township, English, logout.
func TestBrowser(t *testing.T) {
	ctx := newChromium(t)
	e := newEnv(t, web.Config{})
	srv := httptest.NewServer(e.handler)
	t.Cleanup(srv.Close)
	device := e.enrollDevice(t, election.RoleStation, e.Village(0, 0), "村站笔记本 <b>1</b>")
	other := e.enrollDevice(t, election.RoleStation, e.Village(1, 0), "村站笔记本 2")
	rep, err := e.svc.Report(t.Context(), countyPrincipal)
	if err != nil {
		t.Fatal(err)
	}
	p := &page{t: t, ctx: ctx, url: srv.URL}

	// The login page is in Chinese.
	p.do("open the login page", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	if lang := eval[string](p, `document.documentElement.lang`); lang != "zh-CN" {
		t.Errorf("<html lang>: got %q, want zh-CN", lang)
	}
	p.wantText("h1", "登录")

	// A wrong password: the Chinese error.
	p.do("fill the login form",
		chromedp.SetValue(chromedp.CSS("#username"), countyUser),
		chromedp.SetValue(chromedp.CSS("#password"), "not the password"))
	p.submit("submit a wrong password", "#login-submit")
	p.wantText("#notice", "用户名或密码错误")

	// The county logs in and sees the report's figures.
	p.do("fill the login form",
		chromedp.SetValue(chromedp.CSS("#username"), countyUser),
		chromedp.SetValue(chromedp.CSS("#password"), testPassword))
	p.submit("log in", "#login-submit")
	p.wantText("#fig-villages", strconv.Itoa(rep.County.Villages))
	p.wantText("#townships", rep.Townships[0].Name)

	// A station code for a village: the code as text and as a QR code.
	village := e.Village(1, 2)
	p.do("open the enrollment codes", chromedp.Navigate(srv.URL+"/enroll-codes"), chromedp.WaitVisible(chromedp.CSS("#new-code-form")))
	p.do("fill the new code form",
		chromedp.SetValue(chromedp.CSS("#code-role"), "station"),
		chromedp.SetValue(chromedp.CSS("#code-scope"), village))
	p.submit("create a code", "#new-code-submit")
	code := p.text("#new-code")
	if !regexp.MustCompile(`^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$`).MatchString(code) {
		t.Errorf("code: got %q, want XXXX-XXXX-XXXX-XXXX", code)
	}
	p.wantText("#new-code-scope", village)
	p.wantText("#shown-once", "只显示这一次")
	p.do("wait for the QR code to load", chromedp.Poll[chromedp.Void](`(() => {
		const img = document.getElementById("new-code-qr");
		return img.complete && img.naturalWidth > 0;
	})()`))
	if w := eval[int](p, `document.getElementById("new-code-qr").naturalWidth`); w < 200 {
		t.Errorf("QR code naturalWidth: got %d, want about 256", w)
	}
	id := p.text("#new-code-id")

	// Expire it: its row says 已过期.
	p.submit("back to the list", "#back-to-codes")
	row := "#code-" + id
	p.wantText(row+" td.status", "有效")
	p.submit("expire the code", row+" button")
	p.wantText("#notice", "注册码已作废")
	p.wantText(row+" td.status", "已过期")

	// Revoke the device: its row says 已吊销.
	p.do("open the devices", chromedp.Navigate(srv.URL+"/devices"), chromedp.WaitVisible(chromedp.CSS("#devices")))
	row = "#device-" + device
	p.wantText(row+" td.label", "村站笔记本 <b>1</b>")
	p.do("tick the confirm box", chromedp.Click(chromedp.CSS(row+` input[name="confirm"]`)))
	p.submit("revoke the device", row+" button")
	p.wantText("#notice", "设备已吊销")
	p.wantText(row+" td.status", "已吊销")

	// Filter the devices by the first township: only its device is left.
	p.do("choose a township", chromedp.SetValue(chromedp.CSS("#filter-township"), e.Township(0)))
	p.submit("filter the devices", "#filter-submit")
	p.wantText("#filter-count", "显示 1 / 共 2")
	if ids := eval[[]string](p, `Array.from(document.querySelectorAll("#devices tbody tr")).map(tr => tr.id)`); !slices.Equal(ids, []string{"device-" + device}) {
		t.Errorf("rows after filtering by township %s: got %q, want only device-%s (not %s)", e.Township(0), ids, device, other)
	}
	if got := eval[string](p, `document.getElementById("filter-township").value`); got != e.Township(0) {
		t.Errorf("the township select after filtering: got %q, want %s", got, e.Township(0))
	}

	// English.
	p.submit("switch to English", "#lang-switch")
	if lang := eval[string](p, `document.documentElement.lang`); lang != "en" {
		t.Errorf("<html lang> after switching: got %q, want en", lang)
	}
	p.wantText("header nav", "Enrollment codes")
	p.wantText(row+" td.status", "Revoked")
	p.wantText("#filter-count", "Showing 1 of 2") // the filter is kept
	p.wantText("#logout", "Sign out")

	// Log out: back to the login page, in English now.
	p.submit("log out", "#logout")
	p.do("wait for the login form", chromedp.WaitVisible(chromedp.CSS("#login-form")))
	p.wantText("h1", "Sign in")
	p.do("open the report again", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
}
