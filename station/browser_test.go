package station_test

import (
	"context"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"villagesync/election"
)

// chromium is where CI installs Debian's chromium.
const chromium = "/usr/bin/chromium"

// newChromium starts a headless Chromium with a fresh profile and returns
// its context; it is stopped when the test ends. Without a browser the
// test is skipped, unless VILLAGESYNC_REQUIRE_CHROMIUM is set (CI), when
// it fails.
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
}

// do runs actions and fails the test on the first error.
func (p *page) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// submit clicks a submit button or a link and waits for the page it leads
// to.
func (p *page) submit(what, sel string) {
	p.t.Helper()
	if _, err := chromedp.RunResponse(p.ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
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

// value returns the value of the form field sel.
func (p *page) value(sel string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("value of %s: %v", sel, err)
	}
	return v
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

// TestBrowser walks a station operator through election day in a real
// headless Chromium against a real device and server: Chinese by default,
// attendance, two ballots read out with the running tally, the tally
// sheet prefilled from them, then 同步, and the server holds it all.
func TestBrowser(t *testing.T) {
	ctx := newChromium(t)
	w := newWorld(t)
	village := w.Village(0, 0)
	e, roll, _ := w.electionOf(t, village)
	srv := httptest.NewUnstartedServer(nil)
	st := w.laptopAt(t, election.RoleStation, village, srv.Listener.Addr().String())
	srv.Config.Handler = st.ui
	srv.Start()
	t.Cleanup(srv.Close)
	p := &page{t: t, ctx: ctx}
	last := strconv.Itoa(len(e.Candidates))

	// The election page, in Chinese.
	p.do("open the election page", chromedp.Navigate(srv.URL+"/election"), chromedp.WaitVisible(chromedp.CSS("#attendance-form")))
	if lang := eval[string](p, `document.documentElement.lang`); lang != "zh-CN" {
		t.Errorf("<html lang>: got %q, want zh-CN", lang)
	}
	p.wantText("h1", "本村选举")
	p.wantText("#el-seats", strconv.Itoa(e.Seats))
	if got := p.value("#att-eligible"); got != strconv.Itoa(roll.Eligible) {
		t.Errorf("eligible prefilled: got %q, want %d", got, roll.Eligible)
	}

	// Attendance.
	p.do("type those present", chromedp.SetValue(chromedp.CSS("#att-present"), strconv.Itoa(roll.Eligible)))
	p.submit("save the attendance", "#attendance-submit")
	p.wantText("#notice", "到会情况已保存")
	p.wantText("#attendance-held", strconv.Itoa(roll.Eligible))

	// Two ballots as they are read out.
	p.submit("go to the ballots", "#to-ballots")
	p.do("mark ballot 1",
		chromedp.Click(chromedp.CSS("#mark-1-yes")), chromedp.Click(chromedp.CSS("#mark-2-yes")),
		chromedp.Click(chromedp.CSS("#mark-"+last+"-no")))
	p.submit("save ballot 1", "#ballot-submit")
	p.wantText("#notice", "第 1 号选票已保存")
	p.wantText("#tally-returned", "1")
	p.wantText("#tally-row-1 .yes", "1")
	if got := p.value("#ballot-serial"); got != "2" {
		t.Errorf("the next ballot number: got %q, want 2", got)
	}
	p.do("mark ballot 2",
		chromedp.Click(chromedp.CSS("#mark-1-yes")), chromedp.Click(chromedp.CSS("#mark-"+last+"-yes")),
		chromedp.SetValue(chromedp.CSS("#write-in-1"), "王某某"))
	p.submit("save ballot 2", "#ballot-submit")
	p.wantText("#notice", "第 2 号选票已保存")
	p.wantText("#tally-returned", "2")
	p.wantText("#tally-row-1 .yes", "2")
	p.wantText("#tally-row-"+last+" .yes", "1")
	p.wantText("#tally-rows", "王某某")

	// The tally sheet, prefilled from the two ballots.
	p.submit("go to the tally sheet", "#to-tally")
	for sel, want := range map[string]string{
		"#sheet-issued": strconv.Itoa(roll.Eligible), "#sheet-returned": "2", "#sheet-valid": "2", "#sheet-invalid": "0",
		"#sheet-yes-1": "2", "#sheet-no-" + last: "1", "#sheet-yes-" + last: "1", "#sheet-wi-name-1": "王某某", "#sheet-wi-count-1": "1",
	} {
		if got := p.value(sel); got != want {
			t.Errorf("tally form %s: got %q, want %q", sel, got, want)
		}
	}
	p.do("sign and mark the elected",
		chromedp.SetValue(chromedp.CSS("#sheet-signers"), "计票人 甲\n监票人 乙"),
		chromedp.Click(chromedp.CSS("#sheet-elected-1")))
	p.submit("save the tally sheet", "#tally-submit")
	p.wantText("#notice", "计票结果已保存")
	p.wantText("#sheet-"+e.ID+"-R1 .sheet-signers", "监票人 乙")

	// 同步.
	p.do("open the home page", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#sync-form")))
	p.wantText("#st-pending", "4")
	p.submit("sync", "#sync-submit")
	p.wantText("#sync-ok", "同步完成")
	p.wantText("#sync-pushed", "4")
	p.wantText("#st-pending", "0")
	p.wantText("#st-receipt", "已签收至第 4 条")

	for _, id := range [][2]string{{"attendance", e.ID + "-ATT"}, {"ballot", e.ID + "-R1-B1"}, {"ballot", e.ID + "-R1-B2"}, {"tally_sheet", e.ID + "-R1"}} {
		w.onServer(t, id[0], id[1], st.record(t, id[0], id[1]).Body)
	}
	sheet, err := election.DecodeTallySheet(st.record(t, "tally_sheet", e.ID+"-R1").Body)
	if err != nil {
		t.Fatal(err)
	}
	if sheet.Returned != 2 || sheet.Votes[e.Candidates[0]].Yes != 2 || len(sheet.Signers) != 2 || len(sheet.Elected) != 1 {
		t.Errorf("tally sheet on the device: got %+v", sheet)
	}

	// English on request.
	p.submit("switch to English", "#lang-switch")
	p.wantText("h1", "This laptop")
}
