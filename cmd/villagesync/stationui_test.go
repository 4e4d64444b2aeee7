package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestStationUIAddr checks that the UI refuses to listen beyond the laptop
// unless told to, and says why.
func TestStationUIAddr(t *testing.T) {
	c := cli{t}
	dir := filepath.Join(t.TempDir(), "none")
	for _, addr := range []string{"0.0.0.0:8181", ":8181", "192.168.1.5:8181", "example.org:8181"} {
		t.Run(addr, func(t *testing.T) {
			_, errOut, code := c.try("station", "ui", "--data", dir, "--addr", addr)
			if code != 1 || !strings.Contains(errOut, "not a loopback address") || !strings.Contains(errOut, "--allow-remote") {
				t.Errorf("station ui --addr %s: exit %d, %q; want a refusal naming --allow-remote", addr, code, errOut)
			}
		})
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0"} {
		if err := checkUIAddr(addr, false); err != nil {
			t.Errorf("checkUIAddr(%s): %v, want nil", addr, err)
		}
	}
	if err := checkUIAddr("0.0.0.0:8181", true); err != nil {
		t.Errorf("checkUIAddr with allowRemote: %v, want nil", err)
	}
	if _, errOut, code := c.try("station", "ui", "--help"); code != 0 || !strings.Contains(errOut, "--allow-remote") {
		t.Errorf("station ui --help: exit %d, %q", code, errOut)
	}
}

// TestStationUI runs the UI over a real listener for a device enrolled
// with a real server: the home page, a refused DNS-rebinding Host, a sync
// from the page, and a clean shutdown.
func TestStationUI(t *testing.T) {
	c := cli{t}
	tmp := t.TempDir()
	data := filepath.Join(tmp, "server")
	c.run("admin", "seed", "--data", data)
	srv := startServer(t, data)
	code := strings.TrimSpace(c.run("admin", "enroll-code", "--data", data, "--role", "station", "--scope", "220422100201"))
	dir := filepath.Join(tmp, "station")
	c.run("station", "enroll", "--data", dir, "--server", srv, "--code", code)
	c.run("station", "put", "--data", dir, "--collection", "attendance", "--id", "220422100201-PC-ATT",
		"--json", `{"election":"220422100201-PC","eligible":30,"present":29}`)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ui, err := OpenStationUI(ctx, StationUIConfig{DataDir: dir, Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ui.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		if err := ui.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	t.Cleanup(stop)

	resp, err := http.Get(ui.URL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "本机状态") {
		t.Fatalf("GET %s: %d %s", ui.URL(), resp.StatusCode, body)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token on the home page")
	}

	req, err := http.NewRequest(http.MethodGet, ui.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, port, err := net.SplitHostPort(ui.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "rebind.example:" + port
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("GET with Host %s: got %d, want 421", req.Host, resp.StatusCode)
	}

	req, err = http.NewRequest(http.MethodPost, ui.URL()+"sync", strings.NewReader(url.Values{"csrf": {string(m[1])}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `id="sync-pushed">1<`) {
		t.Fatalf("POST /sync: %d %s", resp.StatusCode, body)
	}
	stop()
	if out := c.run("station", "status", "--data", dir, "--json"); !strings.Contains(out, `"pending":0`) {
		t.Errorf("status after the UI's sync: %s, want 0 pending", out)
	}
}
