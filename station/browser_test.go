package station_test

import (
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"villagesync/election"
	"villagesync/internal/webui/webuitest"
)

// TestBrowser walks a station operator through election day in a real
// headless Chromium against a real device and server: Chinese by default,
// attendance, two ballots read out with the running tally, the tally
// sheet prefilled from them, then 同步, and the server holds it all.
func TestBrowser(t *testing.T) {
	ctx := webuitest.NewChromium(t)
	w := newWorld(t)
	village := w.Village(0, 0)
	e, roll, _ := w.electionOf(t, village)
	srv := httptest.NewUnstartedServer(nil)
	st := w.laptopAt(t, election.RoleStation, village, srv.Listener.Addr().String())
	srv.Config.Handler = st.ui
	srv.Start()
	t.Cleanup(srv.Close)
	p := &webuitest.Page{T: t, Ctx: ctx}
	last := strconv.Itoa(len(e.Candidates))

	// The election page, in Chinese.
	p.Do("open the election page", chromedp.Navigate(srv.URL+"/election"), chromedp.WaitVisible(chromedp.CSS("#attendance-form")))
	if lang := webuitest.Eval[string](p, `document.documentElement.lang`); lang != "zh-CN" {
		t.Errorf("<html lang>: got %q, want zh-CN", lang)
	}
	p.WantText("h1", "本村选举")
	p.WantText("#el-seats", strconv.Itoa(e.Seats))
	if got := p.Value("#att-eligible"); got != strconv.Itoa(roll.Eligible) {
		t.Errorf("eligible prefilled: got %q, want %d", got, roll.Eligible)
	}

	// Attendance.
	p.Do("type those present", chromedp.SetValue(chromedp.CSS("#att-present"), strconv.Itoa(roll.Eligible)))
	p.Submit("save the attendance", "#attendance-submit")
	p.WantText("#notice", "到会情况已保存")
	p.WantText("#attendance-held", strconv.Itoa(roll.Eligible))

	// Two ballots as they are read out.
	p.Submit("go to the ballots", "#to-ballots")
	p.Do("mark ballot 1",
		chromedp.Click(chromedp.CSS("#mark-1-yes")), chromedp.Click(chromedp.CSS("#mark-2-yes")),
		chromedp.Click(chromedp.CSS("#mark-"+last+"-no")))
	p.Submit("save ballot 1", "#ballot-submit")
	p.WantText("#notice", "第 1 号选票已保存")
	p.WantText("#tally-returned", "1")
	p.WantText("#tally-row-1 .yes", "1")
	if got := p.Value("#ballot-serial"); got != "2" {
		t.Errorf("the next ballot number: got %q, want 2", got)
	}
	p.Do("mark ballot 2",
		chromedp.Click(chromedp.CSS("#mark-1-yes")), chromedp.Click(chromedp.CSS("#mark-"+last+"-yes")),
		chromedp.SetValue(chromedp.CSS("#write-in-1"), "王某某"))
	p.Submit("save ballot 2", "#ballot-submit")
	p.WantText("#notice", "第 2 号选票已保存")
	p.WantText("#tally-returned", "2")
	p.WantText("#tally-row-1 .yes", "2")
	p.WantText("#tally-row-"+last+" .yes", "1")
	p.WantText("#tally-rows", "王某某")

	// The tally sheet, prefilled from the two ballots.
	p.Submit("go to the tally sheet", "#to-tally")
	for sel, want := range map[string]string{
		"#sheet-issued": strconv.Itoa(roll.Eligible), "#sheet-returned": "2", "#sheet-valid": "2", "#sheet-invalid": "0",
		"#sheet-yes-1": "2", "#sheet-no-" + last: "1", "#sheet-yes-" + last: "1", "#sheet-wi-name-1": "王某某", "#sheet-wi-count-1": "1",
	} {
		if got := p.Value(sel); got != want {
			t.Errorf("tally form %s: got %q, want %q", sel, got, want)
		}
	}
	p.Do("sign and mark the elected",
		chromedp.SetValue(chromedp.CSS("#sheet-signers"), "计票人 甲\n监票人 乙"),
		chromedp.Click(chromedp.CSS("#sheet-elected-1")))
	p.Submit("save the tally sheet", "#tally-submit")
	p.WantText("#notice", "计票结果已保存")
	p.WantText("#sheet-"+e.ID+"-R1 .sheet-signers", "监票人 乙")

	// 同步.
	p.Do("open the home page", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#sync-form")))
	p.WantText("#st-pending", "4")
	p.Submit("sync", "#sync-submit")
	p.WantText("#sync-ok", "同步完成")
	p.WantText("#sync-pushed", "4")
	p.WantText("#st-pending", "0")
	p.WantText("#st-receipt", "已签收至第 4 条")

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
	p.Submit("switch to English", "#lang-switch")
	p.WantText("h1", "This laptop")
}
