package web

import (
	"maps"
	"slices"
	"testing"
	"time"

	"villagesync/election"
	"villagesync/internal/webui/webuitest"
	"villagesync/server"
	"villagesync/syncproto"
)

func TestCatalogues(t *testing.T) { webuitest.CheckCatalogues(t, zhCN, en) }

// TestCatalogueCoversUse checks that every message the pages ask for is in
// both catalogues: the keys in the templates, the error codes, the refusals,
// confirmations and navigation, and the values the service sends.
func TestCatalogueCoversUse(t *testing.T) {
	keys := webuitest.TemplateKeys(t, templateFS, "templates", 100)
	for _, c := range syncproto.Codes {
		keys = append(keys, "err."+string(c))
	}
	for _, r := range []*refusal{errNoSession, errCrossOrigin, errCSRF, errRole, errNoPage, errBadForm, errFormTooBig, errNoScope, errNotConfirmed} {
		keys = append(keys, r.Summary, r.Detail)
	}
	keys = slices.AppendSeq(keys, maps.Values(confirmations))
	for _, n := range nav {
		keys = append(keys, n.Key)
	}
	for _, r := range []election.Role{election.RoleStation, election.RoleSupervisor, election.RoleCounty, election.RoleObserver} {
		keys = append(keys, "role."+string(r))
	}
	for _, s := range []string{server.EnrollCodeActive, server.EnrollCodeUsed, server.EnrollCodeExpired,
		server.StatusOpen, server.StatusResolved, server.StatusSuperseded, server.StatusAcknowledged,
		server.StatusAccepted, server.StatusRejected} {
		keys = append(keys, "status."+s)
	}
	for _, k := range []string{server.ItemConflict, server.ItemViolation, server.ItemRevoked} {
		keys = append(keys, "kind."+k)
	}
	for _, s := range []string{election.VillageNoElection, election.VillageNotHeld, election.VillageHeld,
		election.VillageVoid, election.VillageConflict, election.VillageCertified} {
		keys = append(keys, "vstatus."+s)
	}
	for _, o := range []election.Outcome{election.Pass, election.Fail, election.Review, election.NotApplicable} {
		keys = append(keys, "outcome."+string(o))
	}
	keys = append(keys, "err.unknown", "keep.accept", "keep.reject", "keep.acknowledge", "bool.yes", "bool.no", "ttl.hours",
		"scope.county", "scope.townships", "scope.villages_of", "login.failed", "login.check", "login.missing", "login.slow_down")
	for _, l := range languages {
		for _, k := range keys {
			if _, err := l.T(k); err != nil {
				t.Errorf("%s: %v", l.Code, err)
			}
		}
	}
}

func TestTimeInShanghai(t *testing.T) {
	l := languages["zh"]
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 3, 7, 16, 30, 0, 0, time.UTC), "2026-03-08 00:30"},
		{time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), "2026-07-01 08:00"}, // no summer time
		{time.Time{}, ""},
	}
	for _, tt := range tests {
		if got := l.Time(tt.in); got != tt.want {
			t.Errorf("Time(%v): got %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := l.Stamp("2026-03-07T16:30:00Z"); got != "2026-03-08 00:30" {
		t.Errorf("Stamp: got %q, want 2026-03-08 00:30", got)
	}
}

func TestTranslateValues(t *testing.T) {
	zh, en := languages["zh"], languages["en"]
	tests := []struct {
		got, want string
	}{
		{zh.Role(election.RoleStation), "村站"},
		{zh.Role(election.RoleSupervisor), "乡镇督导"},
		{zh.Role(election.RoleCounty), "县级"},
		{zh.Role(election.RoleObserver), "观察员"},
		{zh.Status(server.EnrollCodeActive), "有效"},
		{zh.Status(server.EnrollCodeUsed), "已使用"},
		{zh.Status(server.EnrollCodeExpired), "已过期"},
		{zh.Status(server.StatusOpen), "待处理"},
		{zh.Status(server.StatusResolved), "已解决"},
		{en.Role(election.RoleObserver), "Observer"},
		{en.Status("something-new"), "something-new"}, // shown as it is
		{zh.ErrorSummary("no_such_code"), "请求失败"},
		{zh.Pick("中文", "English"), "中文"},
		{en.Pick("中文", "English"), "English"},
		{en.Pick("中文", ""), "中文"},
		{zh.Pct(0.9876), "98.8%"},
		{zh.Hours(24), "24 小时"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
