package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestRevokedStation is the lost-laptop walk-through with the CLI alone:
// the county revokes a station; its next sync fails and says what to do; a
// new laptop enrolled for the same village syncs; the revoked laptop's late
// changes, carried by the supervisor, wait in the review queue until the
// county accepts them.
func TestRevokedStation(t *testing.T) {
	c := cli{t}
	tmp := t.TempDir()
	data := filepath.Join(tmp, "server")
	c.run("admin", "seed", "--data", data)
	url := startServer(t, data)
	const village = "220422100201"

	enroll := func(name, role, scope string) string {
		code := strings.TrimSpace(c.run("admin", "enroll-code", "--data", data, "--role", role, "--scope", scope))
		dir := filepath.Join(tmp, name)
		c.run("station", "enroll", "--data", dir, "--server", url, "--code", code)
		return dir
	}
	deviceID := func(dir string) string {
		var st struct {
			Device string `json:"device"`
		}
		if err := json.Unmarshal([]byte(c.run("station", "status", "--data", dir, "--json")), &st); err != nil || st.Device == "" {
			t.Fatalf("status of %s: %v", dir, err)
		}
		return st.Device
	}
	put := func(dir, collection, id, body string) {
		c.run("station", "put", "--data", dir, "--collection", collection, "--id", id, "--json", body)
	}
	visit := func(round int) string {
		return fmt.Sprintf(`{"village":%q,"round":%d,"visited_at":"2026-03-0%dT09:00:00+08:00","notes":"督导"}`, village, round, round)
	}

	sup := enroll("sup", "supervisor", "220422100")
	old := enroll("old", "station", village)
	put(old, "returned_member", "RM-1", `{"village":"`+village+`","origin":"长春市","returned_on":"2026-02-11"}`)
	if r := c.sync(old); r.Pushed != 1 {
		t.Fatalf("first sync of the old laptop: %+v, want 1 pushed", r)
	}
	oldID := deviceID(old)

	// The laptop is lost. The county revokes it; it keeps recording.
	c.run("admin", "revoke", "--data", data, "--device", oldID)
	put(old, "returned_member", "RM-2", `{"village":"`+village+`","origin":"四平市","returned_on":"2026-02-12"}`)
	put(old, "returned_member", "RM-3", `{"village":"`+village+`","origin":"辽源市","returned_on":"2026-02-13"}`)
	_, errOut, code := c.try("station", "sync", "--data", old)
	if code == 0 {
		t.Fatal("a revoked laptop synced")
	}
	for _, want := range []string{"revoked", "station export", "supervisor"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("revoked sync said %q; want it to mention %q", errOut, want)
		}
	}

	// A new laptop for the same village syncs.
	replacement := enroll("new", "station", village)
	put(replacement, "returned_member", "RM-9", `{"village":"`+village+`","origin":"吉林市","returned_on":"2026-02-14"}`)
	if r := c.sync(replacement); r.Pushed != 1 || r.Pending != 0 {
		t.Fatalf("replacement laptop sync: %+v, want 1 pushed, 0 pending", r)
	}
	c.run("station", "get", "--data", replacement, "--collection", "returned_member", "--id", "RM-1")

	// The revoked laptop's late changes reach the server on the
	// supervisor's laptop, and wait for the county.
	bundle := filepath.Join(tmp, "old.bundle")
	c.run("station", "export", "--data", old, "--out", bundle)
	c.run("station", "import", "--data", sup, "--in", bundle)
	put(sup, "supervision_visit", "V-1", visit(1))
	if r := c.sync(sup); r.Pending != 0 {
		t.Fatalf("supervisor sync carrying a revoked laptop's changes: %+v, want nothing pending", r)
	}
	if _, _, code := c.try("station", "get", "--data", sup, "--collection", "returned_member", "--id", "RM-2"); code == 0 {
		t.Fatal("a revoked laptop's late change reached the supervisor before the county decided")
	}

	token := strings.TrimSpace(c.run("admin", "token", "--data", data, "--role", "county"))
	var queue struct {
		Items []struct {
			Kind    string `json:"kind"`
			ID      string `json:"id"`
			Status  string `json:"status"`
			Device  string `json:"device"`
			Village string `json:"village"`
			Changes []struct {
				ID string `json:"id"`
			} `json:"changes"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(c.run("review", "list", "--server", url, "--token", token, "--json")), &queue); err != nil {
		t.Fatal(err)
	}
	item := ""
	for _, it := range queue.Items {
		if it.Kind != "revoked" {
			continue
		}
		if it.Device != oldID || it.Village != village || it.Status != "open" || len(it.Changes) != 2 {
			t.Fatalf("revoked item %+v: want the old laptop's 2 late changes, open, in %s", it, village)
		}
		item = it.ID
	}
	if item == "" {
		t.Fatalf("no revoked-device item in the review queue: %+v", queue.Items)
	}
	if table := c.run("review", "list", "--server", url, "--token", token); !strings.Contains(table, item) {
		t.Errorf("review list table does not show %s:\n%s", item, table)
	}

	c.run("review", "resolve", "--server", url, "--token", token, "--id", item, "--keep", "accept",
		"--reason", "经乡镇督导核实，笔记本被盗前由本村选举工作人员录入")
	c.sync(replacement)
	for _, id := range []string{"RM-2", "RM-3"} {
		c.run("station", "get", "--data", replacement, "--collection", "returned_member", "--id", id)
	}
	// The old laptop stays revoked.
	if _, _, code := c.try("station", "sync", "--data", old); code == 0 {
		t.Fatal("the revoked laptop synced after its changes were accepted")
	}
}
