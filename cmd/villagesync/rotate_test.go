package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRotateKey rotates the server's signing key with the CLI while the
// server runs: tokens signed by the new key work at once, the JWKS lists
// both keys, and stations keep syncing — no restart, no downtime.
func TestRotateKey(t *testing.T) {
	c := cli{t}
	tmp := t.TempDir()
	data := filepath.Join(tmp, "server")
	c.run("admin", "seed", "--data", data)
	url := startServer(t, data)
	code := strings.TrimSpace(c.run("admin", "enroll-code", "--data", data, "--role", "station", "--scope", "220422100201"))
	st := filepath.Join(tmp, "st")
	c.run("station", "enroll", "--data", st, "--server", url, "--code", code)
	oldToken := strings.TrimSpace(c.run("admin", "token", "--data", data, "--role", "county"))

	kid := strings.TrimSpace(c.run("admin", "rotate-key", "--data", data))
	if !strings.HasPrefix(kid, "srv-") {
		t.Fatalf("rotate-key printed %q, want the new key id", kid)
	}
	newToken := strings.TrimSpace(c.run("admin", "token", "--data", data, "--role", "county"))
	for _, tok := range []string{newToken, oldToken} {
		c.run("report", "--server", url, "--token", tok, "--format", "json")
	}

	resp, err := http.Get(url + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	if len(kids) != 2 || !slices.Contains(kids, kid) {
		t.Errorf("JWKS lists %v, want the new key %s and the retired one", kids, kid)
	}

	c.run("station", "put", "--data", st, "--collection", "returned_member", "--id", "RM-1",
		"--json", `{"village":"220422100201","origin":"长春市","returned_on":"2026-02-11"}`)
	if r := c.sync(st); r.Pushed != 1 || r.Pending != 0 {
		t.Fatalf("station sync after rotation: %+v", r)
	}
}
