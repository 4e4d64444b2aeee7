package station_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"villagesync/election"
	"villagesync/internal/webui/webuitest"
	"villagesync/syncproto"
)

// TestSyncOffline presses 同步 with no link: the operator reads that the
// data is safe and to sync later, and nothing captured is lost; with the
// link back, the same button sends it.
func TestSyncOffline(t *testing.T) {
	w := newWorld(t)
	village := w.Village(0, 0)
	e, roll := w.ElectionOf(t, village)
	st := w.laptop(t, election.RoleStation, village)
	webuitest.WantStatus(t, st.post(t, "/attendance", url.Values{"election": {e.ID}, "eligible": {strconv.Itoa(roll.Eligible)}, "present": {strconv.Itoa(roll.Eligible)}}), http.StatusOK)

	st.link.offline.Store(true)
	rec := st.post(t, "/sync", nil)
	webuitest.WantStatus(t, rec, http.StatusOK)
	webuitest.WantBody(t, rec, `id="sync-error"`, "无法连接服务器，数据已安全保存在本机，有网络时再同步")
	if got := cell(t, rec.Body.String(), "sync-pending"); got != "1" {
		t.Errorf("pending after the failed sync: got %s, want 1", got)
	}
	rec = st.post(t, "/sync?lang=en", nil)
	webuitest.WantBody(t, rec, "Cannot reach the server. The data is safe on this laptop")
	if !st.record(t, "attendance", e.ID+"-ATT").Pending {
		t.Error("attendance is not pending after failed syncs")
	}
	w.notOnServer(t, "attendance", e.ID+"-ATT")

	st.link.offline.Store(false)
	rec = st.post(t, "/sync", nil)
	webuitest.WantStatus(t, rec, http.StatusOK)
	webuitest.WantBody(t, rec, `id="sync-ok"`)
	if got := cell(t, rec.Body.String(), "sync-pushed"); got != "1" {
		t.Errorf("pushed once the link is back: got %s, want 1", got)
	}
	w.onServer(t, "attendance", e.ID+"-ATT", st.record(t, "attendance", e.ID+"-ATT").Body)
}

// TestConflicts has two laptops of one village record different tally
// sheets for one round: after both sync, the second shows the conflict
// with both versions, read only.
func TestConflicts(t *testing.T) {
	w := newWorld(t)
	village := w.Village(2, 0)
	e, _ := w.ElectionOf(t, village)
	a := w.laptop(t, election.RoleStation, village)
	b := w.laptop(t, election.RoleStation, village)
	sheet := func(firstYes int) url.Values {
		f := url.Values{"election": {e.ID}, "round": {"1"}, "kind": {election.RoundFormal},
			"issued": {"50"}, "returned": {"50"}, "valid": {"50"}, "invalid": {"0"}, "signers": {"监票人 甲"}}
		for i, c := range e.Candidates {
			yes := 45 - i
			if i == 0 {
				yes = firstYes
			}
			f.Set("yes."+c, strconv.Itoa(yes))
			f.Set("no."+c, strconv.Itoa(50-yes))
			f.Set("abstain."+c, "0")
		}
		return f
	}
	webuitest.WantStatus(t, a.post(t, "/tally", sheet(48)), http.StatusOK)
	webuitest.WantStatus(t, b.post(t, "/tally", sheet(47)), http.StatusOK)
	webuitest.WantStatus(t, a.post(t, "/sync", nil), http.StatusOK)
	rec := b.post(t, "/sync", nil)
	webuitest.WantStatus(t, rec, http.StatusOK)
	webuitest.WantBody(t, rec, `id="sync-conflicts"`)

	rec = b.get(t, "/conflicts")
	webuitest.WantStatus(t, rec, http.StatusOK)
	cs, err := b.dev.Conflicts(t.Context())
	if err != nil || len(cs) != 1 {
		t.Fatalf("conflicts held: got %d (%v), want 1", len(cs), err)
	}
	webuitest.WantBody(t, rec, `id="conflict-`+cs[0].ID+`"`, "本机", a.dev.ID(), `&#34;yes&#34;: 48`, `&#34;yes&#34;: 47`)
	wantNotBody(t, rec, "<form")
	webuitest.WantBody(t, b.get(t, "/"), `<a href="/conflicts">1</a>`)
	webuitest.WantBody(t, b.get(t, "/tally?election="+e.ID), "有冲突，待县里裁定")
	webuitest.WantBody(t, b.get(t, "/records?collection=tally_sheet"), `class="tag conflict"`)
}

// TestBundles carries a station's records on a USB stick: exported to a
// file, imported by the township supervisor, relayed to the server at the
// supervisor's sync.
func TestBundles(t *testing.T) {
	w := newWorld(t)
	village := w.Village(0, 3)
	e, roll := w.ElectionOf(t, village)
	st := w.laptop(t, election.RoleStation, village)
	sup := w.laptop(t, election.RoleSupervisor, w.Township(0))
	usb := t.TempDir()
	file := filepath.Join(usb, "村站数据.bundle")

	rec := st.post(t, "/bundles/export", url.Values{"path": {file}})
	webuitest.WantBody(t, rec, "没有待同步的记录，无需导出")
	if _, err := os.Stat(file); err == nil {
		t.Fatal("an empty export wrote a file")
	}

	webuitest.WantStatus(t, st.post(t, "/attendance", url.Values{"election": {e.ID}, "eligible": {strconv.Itoa(roll.Eligible)}, "present": {strconv.Itoa(roll.Eligible)}}), http.StatusOK)
	marks := make([]string, len(e.Candidates))
	for i := range marks {
		marks[i] = election.MarkAbstain
	}
	webuitest.WantStatus(t, st.post(t, "/ballots", ballotForm(e, 1, marks)), http.StatusOK)

	document := filepath.Join(usb, "report.docx")
	if err := os.WriteFile(document, []byte("not a bundle"), 0o600); err != nil {
		t.Fatal(err)
	}
	refused := []struct {
		name, path, want string
	}{
		{"Relative", "usb/station.bundle", "请填写完整路径"},
		{"Empty", "", "请填写文件的完整路径"},
		{"OverwriteADocument", document, "已存在，且不是数据包"},
		{"NoSuchDirectory", filepath.Join(usb, "missing", "x.bundle"), "无法写入文件"},
	}
	for _, tt := range refused {
		t.Run("Export"+tt.name, func(t *testing.T) {
			rec := st.post(t, "/bundles/export", url.Values{"path": {tt.path}})
			webuitest.WantStatus(t, rec, http.StatusUnprocessableEntity)
			webuitest.WantBody(t, rec, tt.want)
			if tt.path != "" {
				webuitest.WantBody(t, rec, `value="`+tt.path+`"`) // the path as typed
			}
		})
	}
	if b, err := os.ReadFile(document); err != nil || string(b) != "not a bundle" {
		t.Fatalf("the document after a refused export: %q, %v", b, err)
	}

	rec = st.post(t, "/bundles/export", url.Values{"path": {file}})
	webuitest.WantStatus(t, rec, http.StatusOK)
	webuitest.WantBody(t, rec, "数据包已导出")
	if got := cell(t, rec.Body.String(), "export-changes"); got != "2" {
		t.Errorf("exported changes: got %s, want 2", got)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := syncproto.DecodeBundle(raw); err != nil || b.Device != st.dev.ID() || len(b.Changes) != 2 {
		t.Fatalf("bundle file: %v, %+v", err, b)
	}
	// Exporting again over the bundle is allowed: it is a bundle.
	webuitest.WantStatus(t, st.post(t, "/bundles/export", url.Values{"path": {file}}), http.StatusOK)
	// The station cannot import its own bundle.
	rec = st.post(t, "/bundles/import", url.Values{"path": {file}})
	webuitest.WantStatus(t, rec, http.StatusUnprocessableEntity)
	webuitest.WantBody(t, rec, "这是本设备自己导出的数据包")

	rec = sup.post(t, "/bundles/import", url.Values{"path": {filepath.Join(usb, "nothing.bundle")}})
	webuitest.WantStatus(t, rec, http.StatusUnprocessableEntity)
	webuitest.WantBody(t, rec, "找不到文件")
	rec = sup.post(t, "/bundles/import", url.Values{"path": {document}})
	webuitest.WantStatus(t, rec, http.StatusBadRequest)
	rec = sup.post(t, "/bundles/import", url.Values{"path": {file}})
	webuitest.WantStatus(t, rec, http.StatusOK)
	webuitest.WantBody(t, rec, "数据包已导入", st.dev.ID())
	if got := cell(t, rec.Body.String(), "import-new"); got != "2" {
		t.Errorf("imported new changes: got %s, want 2", got)
	}
	// Importing it again is harmless (client.Device.Import's count of new
	// changes then includes the bundle's unsigned ones, rewritten in place).
	webuitest.WantStatus(t, sup.post(t, "/bundles/import", url.Values{"path": {file}}), http.StatusOK)

	w.notOnServer(t, "attendance", e.ID+"-ATT")
	rec = sup.post(t, "/sync", nil)
	webuitest.WantStatus(t, rec, http.StatusOK)
	if got := cell(t, rec.Body.String(), "sync-relayed"); got != "2" {
		t.Errorf("relayed at the supervisor's sync: got %s, want 2", got)
	}
	w.onServer(t, "attendance", e.ID+"-ATT", st.record(t, "attendance", e.ID+"-ATT").Body)
	w.onServer(t, "ballot", e.ID+"-R1-B1", st.record(t, "ballot", e.ID+"-R1-B1").Body)
	if strings.Contains(rec.Body.String(), `id="sync-error"`) {
		t.Errorf("the supervisor's sync failed: %s", rec.Body)
	}
}
