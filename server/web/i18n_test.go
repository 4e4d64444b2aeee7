package web

import (
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"villagesync/election"
	"villagesync/server"
	"villagesync/syncproto"
)

func TestCatalogues(t *testing.T) {
	zhKeys := slices.Sorted(maps.Keys(zhCN))
	enKeys := slices.Sorted(maps.Keys(en))
	if !slices.Equal(zhKeys, enKeys) {
		for _, k := range zhKeys {
			if _, ok := en[k]; !ok {
				t.Errorf("key %q is in the Chinese catalogue only", k)
			}
		}
		for _, k := range enKeys {
			if _, ok := zhCN[k]; !ok {
				t.Errorf("key %q is in the English catalogue only", k)
			}
		}
	}
	verbs := regexp.MustCompile(`%[a-z]`)
	for _, k := range zhKeys {
		zh, e := zhCN[k], en[k]
		if strings.TrimSpace(zh) == "" || strings.TrimSpace(e) == "" {
			t.Errorf("key %q: empty message (zh %q, en %q)", k, zh, e)
		}
		if z, g := verbs.FindAllString(zh, -1), verbs.FindAllString(e, -1); !slices.Equal(z, g) {
			t.Errorf("key %q: format verbs differ: zh %v, en %v", k, z, g)
		}
	}
}

// TestCatalogueCoversUse checks that every message the pages ask for is in
// both catalogues: the keys in the templates, the error codes, the refusals,
// confirmations and navigation, and the values the service sends.
func TestCatalogueCoversUse(t *testing.T) {
	var keys []string
	tmplKey := regexp.MustCompile(`\.T "([a-z0-9_.]+)"`)
	err := fs.WalkDir(templateFS, "templates", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := templateFS.ReadFile(name)
		if err != nil {
			return err
		}
		for _, m := range tmplKey.FindAllStringSubmatch(string(b), -1) {
			keys = append(keys, m[1])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 100 {
		t.Fatalf("found %d message keys in the templates: the pattern misses them", len(keys))
	}
	for _, c := range syncproto.Codes {
		keys = append(keys, "err."+string(c))
	}
	for _, r := range []*refusal{errNoSession, errCrossOrigin, errCSRF, errRole, errNoPage, errBadForm, errFormTooBig, errNoScope, errNotConfirmed} {
		keys = append(keys, r.summary, r.detail)
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
