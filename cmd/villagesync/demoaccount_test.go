package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDemoAccount: a demo server makes a county login once and prints its
// password on the console, which then logs in; a later start prints how to
// reset it instead, and the log never holds the password.
func TestDemoAccount(t *testing.T) {
	ctx := context.Background()
	var console, logs bytes.Buffer
	data := filepath.Join(t.TempDir(), "server")
	cli{t}.run("admin", "seed", "--data", data)
	s, err := OpenServer(ctx, ServerConfig{DataDir: data, Addr: "127.0.0.1:0", Console: &console,
		Logger: slog.New(slog.NewTextHandler(io.MultiWriter(&logs), nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.demoAccount(ctx); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`username: (\S+)\s+密码 password: (\S+)`).FindStringSubmatch(console.String())
	if m == nil {
		t.Fatalf("console shows no demo login: %q", console.String())
	}
	if _, err := s.Service().Login(ctx, m[1], m[2]); err != nil {
		t.Fatalf("the printed demo login does not log in: %v", err)
	}
	if strings.Contains(logs.String(), m[2]) {
		t.Error("the demo password is in the log")
	}
	console.Reset()
	if err := s.demoAccount(ctx); err != nil {
		t.Fatal(err)
	}
	if out := console.String(); strings.Contains(out, "密码 password:") || !strings.Contains(out, "reset-password") {
		t.Errorf("second start printed %q, want the reset hint and no password", out)
	}
}
