package main

import (
	"bytes"
	"context"
	"encoding/json"
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
