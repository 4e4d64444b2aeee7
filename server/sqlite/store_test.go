package sqlite_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/sqlite"
	"villagesync/syncproto"
)

// Codes of the seeded county used across the tests.
const (
	county    = "220422"
	baiquan   = "220422100" // 白泉镇
	weijin    = "220422101" // 渭津镇
	village1  = "220422100201"
	village2  = "220422100202"
	village3  = "220422101201"
	testEpoch = 1_741_305_600_000 // 2025-03-07T00:00:00Z, Unix ms
)

// t0 is the tests' reference time.
var t0 = time.UnixMilli(testEpoch).UTC()

// MustOpen opens a store in a fresh temporary directory and closes it when
// the test ends.
func MustOpen(tb testing.TB) *sqlite.Store {
	tb.Helper()
	return mustOpenPath(tb, filepath.Join(tb.TempDir(), "server.db"))
}

// mustOpenPath opens the store at path and closes it when the test ends.
func mustOpenPath(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() {
		if err := st.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return st
}

// fataler is what the change builders need of a test: a *testing.T, B or
// *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// testDevice is an enrolled device that authors a valid signed chain.
type testDevice struct {
	priv  ed25519.PrivateKey
	dev   server.Device
	seq   uint64         // last seq authored
	prev  syncproto.Hash // hash of change seq
	clock int64          // Unix ms of the next change
}

// newDevice makes a device with a key derived from name and enrolls it with
// the given role and scope code.
func newDevice(tb testing.TB, st *sqlite.Store, name string, role election.Role, code string) *testDevice {
	tb.Helper()
	d := makeDevice(name, role, code)
	if err := st.PutDevice(context.Background(), d.dev); err != nil {
		tb.Fatalf("put device %s: %v", name, err)
	}
	return d
}

// makeDevice makes a device without enrolling it.
func makeDevice(name string, role election.Role, code string) *testDevice {
	seed := sha256.Sum256([]byte("villagesync test device " + name))
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub := priv.Public().(ed25519.PublicKey)
	return &testDevice{
		priv: priv,
		dev: server.Device{
			ID:        syncproto.DeviceID(pub),
			PublicKey: pub,
			Role:      role,
			Scope:     code,
			Label:     name,
			Enrolled:  t0,
		},
		clock: testEpoch,
	}
}

func (d *testDevice) id() string { return d.dev.ID }

// build signs a change of d at seq whose prev is prev, without advancing
// d's chain, and verifies it the way the service does.
func (d *testDevice) build(tb fataler, seq uint64, prev syncproto.Hash, collection, id, body string, base uint64, place election.Place) server.Incoming {
	tb.Helper()
	d.clock++
	p := prev
	c := syncproto.Change{
		Device:     d.id(),
		Seq:        seq,
		Collection: collection,
		ID:         id,
		Base:       base,
		HLC:        syncproto.HLC{Wall: d.clock, Logical: uint32(seq % 3)},
		At:         d.clock - 5,
		Offset:     5,
		Schema:     1,
		Body:       []byte(body),
		Prev:       &p,
	}
	if err := c.CheckShape(); err != nil {
		tb.Fatalf("change %d of %s: %v", seq, d.dev.Label, err)
	}
	h := c.Hash(prev)
	c.Sig = syncproto.SignHash(d.priv, h)
	hashes, err := syncproto.VerifyRun(d.dev.PublicKey, []syncproto.Change{c})
	if err != nil || len(hashes) != 1 || hashes[0] != h {
		tb.Fatalf("change %d of %s does not verify: %v", seq, d.dev.Label, err)
	}
	return server.Incoming{Change: c, Hash: h, Prev: prev, Place: place}
}

// next authors d's next change.
func (d *testDevice) next(tb fataler, collection, id, body string, base uint64, place election.Place) server.Incoming {
	tb.Helper()
	in := d.build(tb, d.seq+1, d.prev, collection, id, body, base, place)
	d.seq = in.Change.Seq
	d.prev = in.Hash
	return in
}

// facts authors n attendance-like facts about the village.
func (d *testDevice) facts(tb fataler, n int, village string) []server.Incoming {
	tb.Helper()
	ins := make([]server.Incoming, n)
	for i := range ins {
		seq := d.seq + 1
		ins[i] = d.next(tb, "attendance", fmt.Sprintf("%s-%s-%d", village, d.dev.Label, seq),
			fmt.Sprintf(`{"election":"%s-PC","eligible":%d,"present":%d}`, village, 100+seq, 90+seq%10),
			0, villagePlace(village))
	}
	return ins
}

func villagePlace(v string) election.Place {
	return election.Place{Township: election.TownshipOf(v), Village: v}
}

// mustPush pushes batch for d and fails the test on error.
func mustPush(tb testing.TB, st *sqlite.Store, d *testDevice, batch ...server.Incoming) server.PushResult {
	tb.Helper()
	res, err := st.Push(context.Background(), d.id(), batch, t0)
	if err != nil {
		tb.Fatalf("push %d changes of %s: %v", len(batch), d.dev.Label, err)
	}
	return res
}

// mustStats returns the store's row counts.
func mustStats(tb testing.TB, st *sqlite.Store) sqlite.Stats {
	tb.Helper()
	s, err := st.Stats(context.Background())
	if err != nil {
		tb.Fatalf("stats: %v", err)
	}
	return s
}

// wantCode fails unless err is a *syncproto.Error with code.
func wantCode(tb testing.TB, err error, code syncproto.Code) {
	tb.Helper()
	var pe *syncproto.Error
	if !errors.As(err, &pe) {
		tb.Fatalf("got error %v, want a %s error", err, code)
	}
	if pe.Code != code {
		tb.Fatalf("got code %s (%v), want %s", pe.Code, err, code)
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	st := MustOpen(t)

	t.Run("SQLiteVersion", func(t *testing.T) {
		var v string
		if err := sqlite.ReadPool(st).QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&v); err != nil {
			t.Fatal(err)
		}
		if !versionAtLeast(v, 3, 51, 3) {
			t.Fatalf("got SQLite %s, want >= 3.51.3 (the WAL-reset fix)", v)
		}
	})

	for name, db := range map[string]*sql.DB{"Writer": sqlite.WritePool(st), "Reader": sqlite.ReadPool(st)} {
		t.Run("Pragmas"+name, func(t *testing.T) {
			// Several connections at once, so that each pooled
			// connection is checked, not just the first.
			conns := make([]*sql.Conn, 0, 4)
			defer func() {
				for _, c := range conns {
					_ = c.Close()
				}
			}()
			n := 4
			if name == "Writer" {
				n = 1
			}
			for range n {
				c, err := db.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c)
				var mode string
				var syncMode, fk, busy int
				if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
					t.Fatal(err)
				}
				if err := c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncMode); err != nil {
					t.Fatal(err)
				}
				if err := c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
					t.Fatal(err)
				}
				if err := c.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil {
					t.Fatal(err)
				}
				if mode != "wal" {
					t.Errorf("connection %d: got journal_mode %q, want wal", len(conns), mode)
				}
				if syncMode != 2 {
					t.Errorf("connection %d: got synchronous %d, want 2 (FULL)", len(conns), syncMode)
				}
				if fk != 1 {
					t.Errorf("connection %d: got foreign_keys %d, want 1", len(conns), fk)
				}
				if busy != 10000 {
					t.Errorf("connection %d: got busy_timeout %d, want 10000", len(conns), busy)
				}
			}
		})
	}

	t.Run("ReaderIsReadOnly", func(t *testing.T) {
		_, err := sqlite.ReadPool(st).ExecContext(ctx, "INSERT INTO alerts (kind, device, detail, created) VALUES ('x', '', '', 0)")
		if err == nil {
			t.Fatal("got a write through the read pool, want it refused")
		}
	})

	t.Run("Migrations", func(t *testing.T) {
		var n, v int
		if err := sqlite.ReadPool(st).QueryRowContext(ctx, "SELECT count(*), MAX(version) FROM schema_migrations").Scan(&n, &v); err != nil {
			t.Fatal(err)
		}
		entries, err := os.ReadDir("migrations")
		if err != nil {
			t.Fatal(err)
		}
		if n != len(entries) || v != len(entries) {
			t.Fatalf("got %d migrations up to version %d, want %d up to %d", n, v, len(entries), len(entries))
		}
	})

	t.Run("ErrEmptyPath", func(t *testing.T) {
		if _, err := sqlite.Open(ctx, "", nil); err == nil {
			t.Fatal("got a store for an empty path, want an error")
		}
	})
}

func TestOpen_ErrNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "server.db")
	st, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.WritePool(st).ExecContext(ctx, "INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future.sql')"); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = sqlite.Open(ctx, path, nil)
	if err == nil {
		_ = st.Close()
		t.Fatal("opened a database with a newer schema, want an error")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Fatalf("got error %q, want it to say the schema is newer", err)
	}
}

func TestOpen_ErrNoWAL(t *testing.T) {
	// An in-memory database cannot use a write-ahead log; Open must say so
	// rather than run without one.
	st, err := sqlite.Open(context.Background(), ":memory:", nil)
	if err == nil {
		_ = st.Close()
		t.Fatal("opened a store without WAL, want an error")
	}
	if !strings.Contains(err.Error(), "want wal") {
		t.Fatalf("got error %q, want it to name the journal mode", err)
	}
}

// versionAtLeast reports whether the dotted version v is at least
// major.minor.patch.
func versionAtLeast(v string, major, minor, patch int) bool {
	parts := strings.Split(v, ".")
	want := []int{major, minor, patch}
	for i, w := range want {
		got := 0
		if i < len(parts) {
			n, err := strconv.Atoi(parts[i])
			if err != nil {
				return false
			}
			got = n
		}
		if got != w {
			return got > w
		}
	}
	return true
}

func TestDurability(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "server.db")
	st, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	station := newDevice(t, st, "station", election.RoleStation, village1)
	other := newDevice(t, st, "other", election.RoleStation, village1)
	batch := station.facts(t, 5, village1)
	res := mustPush(t, st, station, batch[:3]...)
	held := mustPush(t, st, station, batch[4])
	if len(held.Held) != 1 {
		t.Fatalf("got held %v, want [5]", held.Held)
	}
	key := server.SigningKey{KeyID: "k1", Private: ed25519.NewKeyFromSeed(make([]byte, 32)), Created: t0}
	if err := st.AddSigningKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := st.AddAlert(ctx, server.Alert{Kind: "bad_signature", Device: station.id(), Detail: "x", Created: t0}); err != nil {
		t.Fatal(err)
	}
	before := pullAll(t, st, election.Scope{Role: election.RoleCounty, Code: county}, other.id())
	statsBefore := mustStats(t, st)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = mustOpenPath(t, path)
	h, err := st.Head(ctx, station.id())
	if err != nil {
		t.Fatal(err)
	}
	if h.Seq != res.Through || h.Hash != res.Head || !slices.Equal(h.Held, []uint64{5}) || h.Pos != res.Pos {
		t.Fatalf("after reopen got head %+v, want %d %v held [5] at %d", h, res.Through, res.Head, res.Pos)
	}
	if got := mustStats(t, st); got != statsBefore {
		t.Fatalf("after reopen got stats %+v, want %+v", got, statsBefore)
	}
	after := pullAll(t, st, election.Scope{Role: election.RoleCounty, Code: county}, other.id())
	if !sameChanges(before, after) {
		t.Fatalf("after reopen pulled %d changes, want the same %d as before", len(after), len(before))
	}
	keys, err := st.SigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !keys[0].Private.Equal(key.Private) {
		t.Fatalf("after reopen got %d signing keys, want the one stored", len(keys))
	}
	// The gap closes after the restart as it would have before.
	res = mustPush(t, st, station, batch[3])
	if res.Through != 5 || len(res.Held) != 0 || res.Applied != 2 {
		t.Fatalf("got through %d held %v applied %d, want 5 [] 2", res.Through, res.Held, res.Applied)
	}
	if err := st.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestClose(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "server.db")
	st, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := newDevice(t, st, "station", election.RoleStation, village1)
	mustPush(t, st, d, d.facts(t, 10, village1)...)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second close: got %v, want nil", err)
	}
	// The checkpoint at close leaves an empty write-ahead log.
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Fatalf("got a %d-byte WAL after close, want it checkpointed and truncated", fi.Size())
	}
}

func TestCheckpoint(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "server.db")
	st := mustOpenPath(t, path)
	d := newDevice(t, st, "station", election.RoleStation, village1)
	mustPush(t, st, d, d.facts(t, 50, village1)...)
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("got WAL %v (%v) after a push, want a non-empty log", fi, err)
	}
	if err := st.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() != 0 {
		t.Fatalf("got WAL %v (%v) after a checkpoint, want it truncated", fi, err)
	}
	// Everything is still there, now in the database file.
	if s := mustStats(t, st); s.Changes != 50 {
		t.Fatalf("got %d changes, want 50", s.Changes)
	}
}

func TestIntegrityCheck(t *testing.T) {
	ctx := context.Background()
	st := MustOpen(t)
	d := newDevice(t, st, "station", election.RoleStation, village1)
	mustPush(t, st, d, d.facts(t, 20, village1)...)

	t.Run("OK", func(t *testing.T) {
		if err := st.IntegrityCheck(ctx); err != nil {
			t.Fatalf("got %v, want ok", err)
		}
	})

	t.Run("ErrDanglingReference", func(t *testing.T) {
		// A record pointing at a log position that does not exist,
		// written with foreign keys off as only a bug or a hand edit could.
		conn, err := sqlite.WritePool(st).Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, q := range []string{
			"PRAGMA foreign_keys = OFF",
			"INSERT INTO records (collection, id, version, pos, township, village, device, seq) VALUES ('attendance', 'ghost', 1, 999999, '', '', 'dev-x', 1)",
			"PRAGMA foreign_keys = ON",
		} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		err = st.IntegrityCheck(ctx)
		if err == nil || !strings.Contains(err.Error(), "records") {
			t.Fatalf("got %v, want a failure naming the records table", err)
		}
	})
}

// pullAll pages through everything scope may read, excluding exclude.
func pullAll(tb testing.TB, st *sqlite.Store, scope election.Scope, exclude string) []syncproto.Change {
	tb.Helper()
	var all []syncproto.Change
	var after uint64
	for range 10000 {
		page, next, more, err := st.Pull(context.Background(), scope, after, syncproto.DefaultPullBytes, exclude)
		if err != nil {
			tb.Fatalf("pull: %v", err)
		}
		all = append(all, page...)
		after = next
		if !more {
			return all
		}
	}
	tb.Fatal("pull did not finish")
	return nil
}

// changeKey identifies a change by author and seq.
func changeKey(c syncproto.Change) string {
	return c.Device + "/" + strconv.FormatUint(c.Seq, 10)
}

func sameChanges(a, b []syncproto.Change) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, err1 := syncproto.Marshal(a[i])
		y, err2 := syncproto.Marshal(b[i])
		if err1 != nil || err2 != nil || string(x) != string(y) {
			return false
		}
	}
	return true
}
