package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

// cli runs the villagesync command line in process.
type cli struct {
	tb testing.TB
}

// run runs args and returns stdout, failing the test on a non-zero exit.
func (c cli) run(args ...string) string {
	c.tb.Helper()
	out, errOut, code := c.try(args...)
	if code != 0 {
		c.tb.Fatalf("villagesync %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// try runs args and returns stdout, stderr and the exit status.
func (c cli) try(args ...string) (string, string, int) {
	c.tb.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

// startServer runs a real server on a free loopback port for the test.
func startServer(tb testing.TB, dataDir string) string {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := OpenServer(ctx, ServerConfig{DataDir: dataDir, Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("server run: %v", err)
		}
		if err := s.Close(); err != nil {
			tb.Errorf("server close: %v", err)
		}
	})
	return s.URL()
}

type syncReport struct {
	Pushed     int `json:"pushed"`
	Pulled     int `json:"pulled"`
	RoundTrips int `json:"round_trips"`
	Through    int `json:"through"`
	Pending    int `json:"pending"`
}

func (c cli) sync(dir string) syncReport {
	c.tb.Helper()
	var r syncReport
	out := c.run("station", "sync", "--data", dir, "--json")
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		c.tb.Fatalf("sync --json printed %q: %v", out, err)
	}
	return r
}

// TestSupervisorAndStations is issue 2's walk-through, with the CLI alone:
// a supervisor and three stations, a problem, its rectification, scopes.
func TestSupervisorAndStations(t *testing.T) {
	c := cli{t}
	tmp := t.TempDir()
	data := filepath.Join(tmp, "server")
	c.run("admin", "seed", "--data", data)
	url := startServer(t, data)

	enroll := func(name, role, scope string) string {
		code := strings.TrimSpace(c.run("admin", "enroll-code", "--data", data, "--role", role, "--scope", scope))
		dir := filepath.Join(tmp, name)
		c.run("station", "enroll", "--data", dir, "--server", url, "--code", code)
		return dir
	}
	sup := enroll("sup", "supervisor", "220422100")
	st1 := enroll("st1", "station", "220422100201")
	st2 := enroll("st2", "station", "220422100202")
	st3 := enroll("st3", "station", "220422101201")

	c.run("station", "put", "--data", sup, "--collection", "supervision_visit", "--id", "V-1",
		"--json", `{"village":"220422100201","round":1,"visited_at":"2026-03-01T09:00:00+08:00","notes":"第一轮督导"}`)
	c.run("station", "put", "--data", sup, "--collection", "problem", "--id", "P-1",
		"--json", `{"village":"220422100201","source":"visit","category":"程序","description":"选票未按姓氏笔画排序"}`)
	if r := c.sync(sup); r.Pushed != 2 || r.Pending != 0 {
		t.Fatalf("supervisor sync: got %+v, want 2 pushed, 0 pending", r)
	}

	c.sync(st1)
	var got struct {
		Body map[string]any `json:"body"`
	}
	if err := json.Unmarshal([]byte(c.run("station", "get", "--data", st1, "--collection", "problem", "--id", "P-1")), &got); err != nil {
		t.Fatal(err)
	}
	if got.Body["village"] != "220422100201" {
		t.Fatalf("station 1 got problem body %v", got.Body)
	}
	for _, other := range []string{st2, st3} {
		c.sync(other)
		if _, _, code := c.try("station", "get", "--data", other, "--collection", "problem", "--id", "P-1"); code == 0 {
			t.Fatalf("station %s holds a problem of another village", other)
		}
	}

	c.run("station", "put", "--data", st1, "--collection", "rectification", "--id", "R-1",
		"--json", `{"problem":"P-1","status":"RECTIFIED","notes":"已重新印制选票"}`)
	if r := c.sync(st1); r.Pushed != 1 {
		t.Fatalf("station 1 sync: got %+v, want 1 pushed", r)
	}
	c.sync(sup)
	c.run("station", "get", "--data", sup, "--collection", "rectification", "--id", "R-1")

	// Repeated syncs move nothing and duplicate nothing.
	for _, dir := range []string{sup, st1, st2, st3} {
		if r := c.sync(dir); r.Pushed != 0 || r.Pulled != 0 || r.RoundTrips != 1 {
			t.Fatalf("repeat sync of %s: got %+v, want nothing moved in 1 round trip", dir, r)
		}
	}
	var st struct {
		Pending     int `json:"pending"`
		LastReceipt *struct {
			Through int `json:"through"`
		} `json:"last_receipt"`
	}
	if err := json.Unmarshal([]byte(c.run("station", "status", "--data", st1, "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Pending != 0 || st.LastReceipt == nil || st.LastReceipt.Through != 1 {
		t.Fatalf("station 1 status: got %+v, want 0 pending and a receipt through 1", st)
	}

	// A station cannot author a record about another village.
	_, errOut, code := c.try("station", "put", "--data", st2, "--collection", "problem", "--id", "P-X",
		"--json", `{"village":"220422100201","source":"visit","category":"x","description":"y"}`)
	if code == 0 || !strings.Contains(errOut, "out_of_scope") && !strings.Contains(errOut, "forbidden") {
		t.Fatalf("station 2 authoring for village 1: exit %d, %q; want a scope refusal", code, errOut)
	}
}

func TestHelp(t *testing.T) {
	c := cli{t}
	for _, args := range [][]string{
		{"--help"}, {"serve", "--help"}, {"admin", "--help"}, {"admin", "enroll-code", "--help"},
		{"station", "--help"}, {"station", "sync", "--help"}, {"station", "put", "--help"},
	} {
		if _, errOut, code := c.try(args...); code != 0 || errOut == "" {
			t.Fatalf("%v: exit %d, usage %q", args, code, errOut)
		}
	}
	if _, errOut, code := c.try("station", "put", "--data", t.TempDir()); code != 2 || !strings.Contains(errOut, "--collection is required") {
		t.Fatalf("missing flag: exit %d, %q", code, errOut)
	}
}

// TestTallySheetConflict is issue 3's walk-through with the CLI alone: two
// laptops of one village record different tally sheets for the same round;
// the county sees the conflict, resolves it with a reason, and both laptops
// show the resolution.
func TestTallySheetConflict(t *testing.T) {
	c := cli{t}
	tmp := t.TempDir()
	data := filepath.Join(tmp, "server")
	c.run("admin", "seed", "--data", data)
	url := startServer(t, data)
	const village = "220422100201"
	laptops := make([]string, 2)
	for i := range laptops {
		code := strings.TrimSpace(c.run("admin", "enroll-code", "--data", data, "--role", "station", "--scope", village))
		laptops[i] = filepath.Join(tmp, fmt.Sprintf("laptop%d", i))
		c.run("station", "enroll", "--data", laptops[i], "--server", url, "--code", code)
	}
	var el struct {
		Body struct {
			Candidates []string `json:"candidates"`
			Seats      int      `json:"seats"`
		} `json:"body"`
	}
	if err := json.Unmarshal([]byte(c.run("station", "get", "--data", laptops[0], "--collection", "election", "--id", village+"-PC")), &el); err != nil {
		t.Fatal(err)
	}
	sheet := func(firstYes int) string {
		votes := map[string]map[string]int{}
		for i, cand := range el.Body.Candidates {
			yes := 45 - i
			if i == 0 {
				yes = firstYes
			}
			votes[cand] = map[string]int{"yes": yes, "no": 50 - yes, "abstain": 0}
		}
		b, _ := json.Marshal(map[string]any{"election": village + "-PC", "round": 1, "kind": "FORMAL",
			"issued": 50, "returned": 50, "valid": 50, "invalid": 0, "votes": votes, "signers": []string{"监票人甲", "计票人乙"}})
		return string(b)
	}
	c.run("station", "put", "--data", laptops[0], "--collection", "tally_sheet", "--id", "TS-A", "--json", sheet(48))
	c.run("station", "put", "--data", laptops[1], "--collection", "tally_sheet", "--id", "TS-B", "--json", sheet(47))
	for _, l := range laptops {
		c.sync(l)
	}

	token := strings.TrimSpace(c.run("admin", "token", "--data", data, "--role", "county"))
	var queue struct {
		Items []struct {
			ID       string `json:"id"`
			Kind     string `json:"kind"`
			Slot     string `json:"slot"`
			Versions []struct {
				Ref string `json:"ref"`
				ID  string `json:"id"`
			} `json:"versions"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(c.run("review", "list", "--server", url, "--token", token, "--json")), &queue); err != nil {
		t.Fatal(err)
	}
	conflict, keep := "", ""
	for _, it := range queue.Items {
		if it.Kind == "conflict" {
			conflict = it.ID
			for _, v := range it.Versions {
				if v.ID == "TS-A" {
					keep = v.Ref
				}
			}
		}
	}
	if conflict == "" || keep == "" {
		t.Fatalf("no conflict between TS-A and TS-B in the review queue: %+v", queue)
	}
	var rep struct {
		County struct {
			OpenConflicts int `json:"open_conflicts"`
		} `json:"county"`
	}
	if err := json.Unmarshal([]byte(c.run("report", "--server", url, "--token", token, "--format", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.County.OpenConflicts != 1 {
		t.Fatalf("report: got %d open conflicts, want 1", rep.County.OpenConflicts)
	}
	if _, errOut, code := c.try("review", "resolve", "--server", url, "--token", token, "--id", conflict, "--keep", keep, "--reason", " "); code == 0 {
		t.Fatalf("resolve with a blank reason succeeded: %s", errOut)
	}
	c.run("review", "resolve", "--server", url, "--token", token, "--id", conflict, "--keep", keep, "--reason", "与签字的纸质计票单核对，保留A")

	for _, l := range laptops {
		c.sync(l)
		var b struct {
			Superseded bool   `json:"superseded"`
			Conflict   string `json:"conflict"`
		}
		if err := json.Unmarshal([]byte(c.run("station", "get", "--data", l, "--collection", "tally_sheet", "--id", "TS-B")), &b); err != nil {
			t.Fatal(err)
		}
		if !b.Superseded || b.Conflict != "" {
			t.Fatalf("%s: TS-B after the resolution: %+v, want superseded and no open conflict", l, b)
		}
	}
	if err := json.Unmarshal([]byte(c.run("report", "--server", url, "--token", token, "--format", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.County.OpenConflicts != 0 {
		t.Fatalf("report after resolution: got %d open conflicts, want 0", rep.County.OpenConflicts)
	}
}
