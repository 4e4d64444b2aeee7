package client_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	client "villagesync/client-sdk"
	"villagesync/election"
	"villagesync/syncproto"
)

// wantCode fails the test unless err carries a *syncproto.Error with code.
func wantCode(tb testing.TB, err error, code syncproto.Code) *syncproto.Error {
	tb.Helper()
	var e *syncproto.Error
	if !errors.As(err, &e) {
		tb.Fatalf("got error %v, want a *syncproto.Error with code %s", err, code)
	}
	if e.Code != code {
		tb.Fatalf("got code %s (%v), want %s", e.Code, err, code)
	}
	return e
}

// openDB opens a closed device's store directly, read-only.
func openDB(tb testing.TB, dir string) *sql.DB {
	tb.Helper()
	u := url.URL{Scheme: "file", Path: filepath.Join(dir, "device.db"), RawQuery: "mode=ro"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

func TestEnroll(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)

	t.Run("OK", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "村 station #1?") // the path must survive the SQLite URI
		d, err := client.Enroll(ctx, dir, f.URL()+"/", f.code(election.RoleStation, village), testOptions(&sleeps{}))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if got, want := d.Scope(), (election.Scope{Role: election.RoleStation, Code: village}); got != want {
			t.Errorf("got scope %v, want %v", got, want)
		}
		if !strings.HasPrefix(d.ID(), "dev-") {
			t.Errorf("got device id %q, want dev-…", d.ID())
		}
		if got, want := d.Server(), f.URL(); got != want {
			t.Errorf("got server %q, want %q", got, want)
		}
		for _, name := range []string{"device.db", "device.db-wal", "device.db-shm"} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != 0o600 {
				t.Errorf("got %s mode %v, want 0600 (the store holds the private key)", name, got)
			}
		}
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("got directory %v (%v), want mode 0700", fi.Mode().Perm(), err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		db := openDB(t, dir)
		var version, mode, integrity string
		if err := db.QueryRowContext(ctx, `SELECT sqlite_version()`).Scan(&version); err != nil {
			t.Fatal(err)
		}
		if !versionAtLeast(version, 3, 51, 3) {
			t.Errorf("got SQLite %s, want at least 3.51.3 (WAL-reset bug fix)", version)
		}
		if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" {
			t.Errorf("got journal mode %q, want wal", mode)
		}
		if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&integrity); err != nil {
			t.Fatal(err)
		}
		if integrity != "ok" {
			t.Errorf("got integrity_check %q, want ok", integrity)
		}
	})

	t.Run("ErrCodeReused", func(t *testing.T) {
		code := f.code(election.RoleStation, village)
		d, err := client.Enroll(ctx, t.TempDir(), f.URL(), code, testOptions(&sleeps{}))
		if err != nil {
			t.Fatal(err)
		}
		_ = d.Close()
		dir := filepath.Join(t.TempDir(), "laptop")
		_, err = client.Enroll(ctx, dir, f.URL(), code, testOptions(&sleeps{}))
		wantCode(t, err, syncproto.CodeEnrollCodeInvalid)
		if _, err := os.Stat(filepath.Join(dir, "device.db")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("got %v after a refused enrollment, want no device.db left behind", err)
		}
	})

	t.Run("ErrAlreadyEnrolled", func(t *testing.T) {
		d, dir := mustEnroll(t, f, election.RoleStation, village, testOptions(&sleeps{}))
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		_, err := client.Enroll(ctx, dir, f.URL(), f.code(election.RoleStation, village), testOptions(&sleeps{}))
		if err == nil || !strings.Contains(err.Error(), "already holds enrolled device") {
			t.Fatalf("got %v, want refusal of an enrolled directory", err)
		}
		reopened, err := client.Open(ctx, dir, testOptions(&sleeps{}))
		if err != nil {
			t.Fatalf("got %v, want the original device intact", err)
		}
		defer reopened.Close()
		if reopened.ID() != d.ID() {
			t.Errorf("got device %s after refused re-enrollment, want %s", reopened.ID(), d.ID())
		}
	})

	t.Run("ErrBadServer", func(t *testing.T) {
		_, err := client.Enroll(ctx, t.TempDir(), "ftp://example", "code", testOptions(&sleeps{}))
		if err == nil || !strings.Contains(err.Error(), "invalid server address") {
			t.Fatalf("got %v, want an invalid server address error", err)
		}
	})
}

func versionAtLeast(v string, want ...int) bool {
	parts := strings.Split(v, ".")
	for i, w := range want {
		if i >= len(parts) {
			return false
		}
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return false
		}
		if n != w {
			return n > w
		}
	}
	return true
}

func TestOpen(t *testing.T) {
	t.Run("OKServerOverride", func(t *testing.T) {
		f := newFakeServer(t)
		d, dir := mustEnroll(t, f, election.RoleStation, village, testOptions(&sleeps{}))
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		relay := newFakeServer(t)
		opts := testOptions(&sleeps{})
		opts.Server = relay.URL()
		d2, err := client.Open(context.Background(), dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer d2.Close()
		if d2.Server() != relay.URL() || d2.ID() != d.ID() {
			t.Errorf("got device %s at %s, want %s at %s", d2.ID(), d2.Server(), d.ID(), relay.URL())
		}
		_, err = d2.Sync(context.Background())
		wantCode(t, err, syncproto.CodeUnauthenticated) // the relay does not know this device
	})
	t.Run("ErrNotEnrolled", func(t *testing.T) {
		_, err := client.Open(context.Background(), t.TempDir(), testOptions(&sleeps{}))
		if err == nil || !strings.Contains(err.Error(), "enroll") {
			t.Fatalf("got %v, want an error telling the operator to enroll", err)
		}
	})
}

// stationWithElection enrolls a station and pulls its village's reference data.
func stationWithElection(tb testing.TB, opts client.Options) (*fakeServer, *client.Device, string) {
	tb.Helper()
	f := newFakeServer(tb)
	f.seedVillage(village)
	d, dir := mustEnroll(tb, f, election.RoleStation, village, opts)
	mustSync(tb, d)
	return f, d, dir
}

func TestPutGet(t *testing.T) {
	ctx := context.Background()
	_, d, _ := stationWithElection(t, testOptions(&sleeps{}))

	c := mustPut(t, d, "attendance", "att-1", "{ \"election\": \"220422100201-PC\",\n \"eligible\": 120, \"present\": 101 }")
	want := `{"election":"220422100201-PC","eligible":120,"present":101}`
	if string(c.Body) != want {
		t.Errorf("got change body %s, want canonical %s", c.Body, want)
	}
	if c.Seq != 1 || c.Device != d.ID() || len(c.Sig) == 0 {
		t.Errorf("got change seq %d device %s sig %d bytes, want seq 1 by %s, signed", c.Seq, c.Device, len(c.Sig), d.ID())
	}
	if c.Schema == 0 || c.Base != 0 || c.At == 0 || c.Wall == 0 {
		t.Errorf("got schema %d base %d at %d hlc %d, want schema ≥ 1, base 0, times set", c.Schema, c.Base, c.At, c.Wall)
	}
	c2 := mustPut(t, d, "attendance", "att-2", attendance(village, 99))
	if c2.Seq != 2 || c2.Prev == nil || *c2.Prev != c.Hash(syncproto.Hash{}) {
		t.Errorf("got seq %d prev %v, want seq 2 chained to seq 1", c2.Seq, c2.Prev)
	}

	got, err := d.Get(ctx, "attendance", "att-1")
	if err != nil {
		t.Fatal(err)
	}
	wantRec := client.Record{Collection: "attendance", ID: "att-1", Body: json.RawMessage(want), Version: 1, Device: d.ID(), Seq: 1, Pending: true}
	if string(got.Body) != string(wantRec.Body) || got.Collection != wantRec.Collection || got.ID != wantRec.ID ||
		got.Version != wantRec.Version || got.Device != wantRec.Device || got.Seq != wantRec.Seq || got.Pending != wantRec.Pending {
		t.Errorf("got %+v, want %+v", got, wantRec)
	}

	list, err := d.List(ctx, "attendance")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "att-1" || list[1].ID != "att-2" {
		t.Errorf("got %d records %v, want att-1 and att-2", len(list), list)
	}

	_, err = d.Get(ctx, "attendance", "missing")
	wantCode(t, err, syncproto.CodeNotFound)

	// The pulled reference data is readable and not pending.
	ref, err := d.Get(ctx, "election", village+"-PC")
	if err != nil {
		t.Fatal(err)
	}
	if ref.Pending || ref.Version != 1 || ref.Device == d.ID() {
		t.Errorf("got election record %+v, want version 1 pulled from the county", ref)
	}
}

func TestPutRefused(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	f.seedVillage(village)
	f.seedVillage(village2)
	f.shareAll = true // the device must check scope itself, whatever the server sends
	d, _ := mustEnroll(t, f, election.RoleStation, village, testOptions(&sleeps{}))
	mustSync(t, d)
	mustPut(t, d, "attendance", "att-1", attendance(village, 100))

	tests := []struct {
		name       string
		collection string
		id         string
		body       string
		code       syncproto.Code
		mention    string
	}{
		{"ErrMissingField", "attendance", "att-2", `{"election":"220422100201-PC","eligible":120}`, syncproto.CodeMalformedRecord, "present"},
		{"ErrWrongType", "attendance", "att-2", `{"election":"220422100201-PC","eligible":"many","present":3}`, syncproto.CodeMalformedRecord, "eligible"},
		{"ErrNotJSON", "attendance", "att-2", `{"election":`, syncproto.CodeMalformedRecord, "JSON"},
		{"ErrNotObject", "attendance", "att-2", `[1,2]`, syncproto.CodeMalformedRecord, "object"},
		{"ErrUnknownElection", "attendance", "att-2", attendance("220422101201", 3), syncproto.CodeMalformedRecord, "election"},
		{"ErrUnknownCollection", "ballots", "b-1", `{}`, syncproto.CodeMalformedRecord, "tally_sheet"},
		{"ErrBadID", "attendance", strings.Repeat("x", 200), attendance(village, 3), syncproto.CodeMalformedRecord, "record id"},
		{"ErrForbiddenRole", "village", village, `{"township":"220422100","name":"x","key_village":true}`, syncproto.CodeForbidden, "county"},
		{"ErrOutOfScope", "attendance", "att-9", attendance(village2, 3), syncproto.CodeOutOfScope, village},
		{"ErrFactExists", "attendance", "att-1", attendance(village, 99), syncproto.CodeConflict, "append-only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.Put(ctx, tt.collection, tt.id, []byte(tt.body))
			e := wantCode(t, err, tt.code)
			if !strings.Contains(e.Message, tt.mention) {
				t.Errorf("got message %q, want it to mention %q", e.Message, tt.mention)
			}
		})
	}
	st, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.LastSeq != 1 {
		t.Errorf("got last seq %d after refused captures, want 1", st.LastSeq)
	}
}

func TestPutIdempotent(t *testing.T) {
	ctx := context.Background()
	_, d, _ := stationWithElection(t, testOptions(&sleeps{}))
	first := mustPut(t, d, "attendance", "att-1", attendance(village, 100))
	again, err := d.Put(ctx, "attendance", "att-1", []byte(`{"election": "220422100201-PC", "eligible": 120, "present": 100}`))
	if err != nil {
		t.Fatalf("got %v, want the identical capture accepted", err)
	}
	if again.Seq != first.Seq || string(again.Sig) != string(first.Sig) {
		t.Errorf("got seq %d, want the existing change seq %d", again.Seq, first.Seq)
	}
	st, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.LastSeq != 1 || st.Pending != 1 {
		t.Errorf("got last seq %d pending %d, want 1 and 1", st.LastSeq, st.Pending)
	}
}

func TestPutDurable(t *testing.T) {
	ctx := context.Background()
	_, d, dir := stationWithElection(t, testOptions(&sleeps{}))
	var last syncproto.Change
	for i := range 3 {
		last = mustPut(t, d, "attendance", "att-"+strconv.Itoa(i), attendance(village, 100+i))
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d2, err := client.Open(ctx, dir, testOptions(&sleeps{}))
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	st, err := d2.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 3 || st.LastSeq != 3 {
		t.Errorf("got pending %d last seq %d after reopen, want 3 and 3", st.Pending, st.LastSeq)
	}
	rec, err := d2.Get(ctx, "attendance", "att-2")
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Pending || rec.Seq != 3 {
		t.Errorf("got %+v, want seq 3 still pending", rec)
	}
	// The chain continues across the reopen and the clock does not go back.
	next := mustPut(t, d2, "attendance", "att-3", attendance(village, 1))
	if next.Seq != 4 || *next.Prev != last.Hash(*last.Prev) {
		t.Errorf("got seq %d, want 4 chained to seq 3", next.Seq)
	}
	if !last.HLC.Less(next.HLC) {
		t.Errorf("got HLC %v after %v, want it later", next.HLC, last.HLC)
	}
}
