package web_test

import (
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"villagesync/election"
	"villagesync/internal/webui/webuitest"
	"villagesync/server/web"
)

// TestBrowser walks a county clerk through the pages in a real headless
// Chromium: Chinese by default, login, the report, an enrollment code shown
// as text and QR code and then expired, a device revoked, the devices
// filtered by township, English, logout.
func TestBrowser(t *testing.T) {
	ctx := webuitest.NewChromium(t)
	e := newEnv(t, web.Config{})
	srv := httptest.NewServer(e.handler)
	t.Cleanup(srv.Close)
	device := e.enrollDevice(t, election.RoleStation, e.Village(0, 0), "村站笔记本 <b>1</b>")
	other := e.enrollDevice(t, election.RoleStation, e.Village(1, 0), "村站笔记本 2")
	rep, err := e.svc.Report(t.Context(), countyPrincipal)
	if err != nil {
		t.Fatal(err)
	}
	p := &webuitest.Page{T: t, Ctx: ctx}

	// The login page is in Chinese.
	p.Do("open the login page", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	if lang := webuitest.Eval[string](p, `document.documentElement.lang`); lang != "zh-CN" {
		t.Errorf("<html lang>: got %q, want zh-CN", lang)
	}
	p.WantText("h1", "登录")

	// A wrong password: the Chinese error.
	p.Do("fill the login form",
		chromedp.SetValue(chromedp.CSS("#username"), countyUser),
		chromedp.SetValue(chromedp.CSS("#password"), "not the password"))
	p.Submit("submit a wrong password", "#login-submit")
	p.WantText("#notice", "用户名或密码错误")

	// The county logs in and sees the report's figures.
	p.Do("fill the login form",
		chromedp.SetValue(chromedp.CSS("#username"), countyUser),
		chromedp.SetValue(chromedp.CSS("#password"), testPassword))
	p.Submit("log in", "#login-submit")
	p.WantText("#fig-villages", strconv.Itoa(rep.County.Villages))
	p.WantText("#townships", rep.Townships[0].Name)

	// A station code for a village: the code as text and as a QR code.
	village := e.Village(1, 2)
	p.Do("open the enrollment codes", chromedp.Navigate(srv.URL+"/enroll-codes"), chromedp.WaitVisible(chromedp.CSS("#new-code-form")))
	p.Do("fill the new code form",
		chromedp.SetValue(chromedp.CSS("#code-role"), "station"),
		chromedp.SetValue(chromedp.CSS("#code-scope"), village))
	p.Submit("create a code", "#new-code-submit")
	code := p.Text("#new-code")
	if !regexp.MustCompile(`^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$`).MatchString(code) {
		t.Errorf("code: got %q, want XXXX-XXXX-XXXX-XXXX", code)
	}
	p.WantText("#new-code-scope", village)
	p.WantText("#shown-once", "只显示这一次")
	p.Do("wait for the QR code to load", chromedp.Poll[chromedp.Void](`(() => {
		const img = document.getElementById("new-code-qr");
		return img.complete && img.naturalWidth > 0;
	})()`))
	if w := webuitest.Eval[int](p, `document.getElementById("new-code-qr").naturalWidth`); w < 200 {
		t.Errorf("QR code naturalWidth: got %d, want about 256", w)
	}
	id := p.Text("#new-code-id")

	// Expire it: its row says 已过期.
	p.Submit("back to the list", "#back-to-codes")
	row := "#code-" + id
	p.WantText(row+" td.status", "有效")
	p.Submit("expire the code", row+" button")
	p.WantText("#notice", "注册码已作废")
	p.WantText(row+" td.status", "已过期")

	// Revoke the device: its row says 已吊销.
	p.Do("open the devices", chromedp.Navigate(srv.URL+"/devices"), chromedp.WaitVisible(chromedp.CSS("#devices")))
	row = "#device-" + device
	p.WantText(row+" td.label", "村站笔记本 <b>1</b>")
	p.Do("tick the confirm box", chromedp.Click(chromedp.CSS(row+` input[name="confirm"]`)))
	p.Submit("revoke the device", row+" button")
	p.WantText("#notice", "设备已吊销")
	p.WantText(row+" td.status", "已吊销")

	// Filter the devices by the first township: only its device is left.
	p.Do("choose a township", chromedp.SetValue(chromedp.CSS("#filter-township"), e.Township(0)))
	p.Submit("filter the devices", "#filter-submit")
	p.WantText("#filter-count", "显示 1 / 共 2")
	if ids := webuitest.Eval[[]string](p, `Array.from(document.querySelectorAll("#devices tbody tr")).map(tr => tr.id)`); !slices.Equal(ids, []string{"device-" + device}) {
		t.Errorf("rows after filtering by township %s: got %q, want only device-%s (not %s)", e.Township(0), ids, device, other)
	}
	if got := webuitest.Eval[string](p, `document.getElementById("filter-township").value`); got != e.Township(0) {
		t.Errorf("the township select after filtering: got %q, want %s", got, e.Township(0))
	}

	// English.
	p.Submit("switch to English", "#lang-switch")
	if lang := webuitest.Eval[string](p, `document.documentElement.lang`); lang != "en" {
		t.Errorf("<html lang> after switching: got %q, want en", lang)
	}
	p.WantText("header nav", "Enrollment codes")
	p.WantText(row+" td.status", "Revoked")
	p.WantText("#filter-count", "Showing 1 of 2") // the filter is kept
	p.WantText("#logout", "Sign out")

	// Log out: back to the login page, in English now.
	p.Submit("log out", "#logout")
	p.Do("wait for the login form", chromedp.WaitVisible(chromedp.CSS("#login-form")))
	p.WantText("h1", "Sign in")
	p.Do("open the report again", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
}
