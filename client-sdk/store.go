package client

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// dbFile is the name of the device store inside the device directory.
const dbFile = "device.db"

//go:embed migrations/*.sql
var migrations embed.FS

// Keys of the meta table.
const (
	metaDevice       = "device"        // device id
	metaPublicKey    = "public_key"    // Ed25519 public key
	metaPrivateKey   = "private_key"   // Ed25519 private key: never leaves this file
	metaRole         = "role"          // election.Role
	metaScope        = "scope"         // village, township or county code
	metaServer       = "server"        // server base URL
	metaServerKeys   = "server_keys"   // JSON []syncproto.ServerKey
	metaEnrolled     = "enrolled"      // device clock, Unix ms
	metaCursor       = "cursor"        // pull cursor
	metaReceipt      = "receipt"       // JSON of the last verified receipt
	metaClockOffset  = "clock_offset"  // learned server-minus-device offset, ms
	metaHLCWall      = "hlc_wall"      // last HLC issued or observed
	metaHLCLogical   = "hlc_logical"   //
	metaNonce        = "nonce"         // saved single-use server nonce
	metaToken        = "token"         // cached access token
	metaTokenExpires = "token_expires" // its expiry, server clock, Unix ms
	metaLastSync     = "last_sync"     // device clock, Unix ms
	metaReindex      = "reindex"       // set by a migration: rebuild versions and conflicts on open
)

// store is the device's SQLite database: one writer connection, so writes
// are serialized and BEGIN IMMEDIATE never fails with SQLITE_BUSY, and a
// small pool of query-only readers that WAL lets run beside it.
type store struct {
	path  string
	db    *sql.DB // writer
	rdb   *sql.DB // readers
	stmts map[string]*sql.Stmt
}

// Statements of the capture and sync hot paths, prepared once on the writer
// connection: parsing SQL costs more than running these.
const (
	qLoadRecord = `SELECT body, version, device, seq, township, village, own, slot
		FROM records WHERE collection = ? AND id = ?`
	qPutRecord = `INSERT INTO records (collection, id, body, version, device, seq, township, village, own, slot)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (collection, id) DO UPDATE SET body = excluded.body, version = excluded.version,
			device = excluded.device, seq = excluded.seq, township = excluded.township,
			village = excluded.village, own = excluded.own, slot = excluded.slot`
	qCaptureState = `SELECT
		(SELECT value FROM meta WHERE key = '` + metaClockOffset + `'),
		(SELECT value FROM meta WHERE key = '` + metaHLCWall + `'),
		(SELECT value FROM meta WHERE key = '` + metaHLCLogical + `'),
		(SELECT seq FROM outbox ORDER BY seq DESC LIMIT 1),
		(SELECT hash FROM outbox ORDER BY seq DESC LIMIT 1)`
	qInsertOutbox = `INSERT INTO outbox (seq, hash, prev, change, acked) VALUES (?, ?, ?, ?, 0)`
	qSaveClock    = `INSERT INTO meta (key, value) VALUES ('` + metaHLCWall + `', ?), ('` + metaHLCLogical + `', ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`
	qInsertRemote = `INSERT INTO remote (device, seq, change, received) VALUES (?, ?, ?, ?)
		ON CONFLICT (device, seq) DO NOTHING`
	qGetMeta = `SELECT value FROM meta WHERE key = ?`
	qSetMeta = `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`
	qDeleteMeta = `DELETE FROM meta WHERE key = ?`
)

var preparedQueries = []string{
	qLoadRecord, qPutRecord, qCaptureState, qInsertOutbox, qSaveClock, qInsertRemote, qGetMeta, qSetMeta, qDeleteMeta,
	qInsertVersion, qRecordVersions, qSlotClaims, qKeyResolutions, qKeyConflicts,
	qDeleteConflict, qInsertConflict, qInsertConflictVersion,
}

// writeTx is a write transaction that runs the prepared hot-path
// statements through their prepared form and any other SQL as given.
type writeTx struct {
	*sql.Tx
	stmts map[string]*sql.Stmt
}

// begin starts a write transaction (BEGIN IMMEDIATE, from the DSN).
func (s *store) begin(ctx context.Context) (*writeTx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &writeTx{Tx: tx, stmts: s.stmts}, nil
}

// ExecContext implements querier.
func (t *writeTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st, ok := t.stmts[query]; ok {
		return t.Tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

// QueryContext implements querier.
func (t *writeTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st, ok := t.stmts[query]; ok {
		return t.Tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

// QueryRowContext implements querier.
func (t *writeTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st, ok := t.stmts[query]; ok {
		return t.Tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// dsn builds the modernc DSN. busy_timeout comes first so that it already
// applies while the later pragmas run; pragmas in the DSN apply to every
// pooled connection, not just the first.
func dsn(path string, readOnly bool) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path)}
	q := "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)"
	if readOnly {
		q += "&_pragma=query_only(1)&_txlock=deferred"
	} else {
		q += "&_txlock=immediate"
	}
	return u.String() + "?" + q
}

// openStore opens (creating if needed, with mode 0600) and migrates the
// store at path.
func openStore(ctx context.Context, path string, now func() int64) (_ *store, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	// Create the file ourselves so that it is private from the first byte:
	// it holds the device's private key. SQLite gives the -wal and -shm
	// files the database file's mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := os.Chmod(abs, 0o600); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}

	s := &store{path: abs}
	defer func() {
		if err != nil {
			_ = s.close()
		}
	}()
	if s.db, err = sql.Open("sqlite", dsn(abs, false)); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.db.SetMaxOpenConns(1)
	s.db.SetMaxIdleConns(1)
	s.db.SetConnMaxLifetime(0)
	s.db.SetConnMaxIdleTime(0)

	var mode string
	if err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return nil, fmt.Errorf("open store: journal mode is %q, want wal", mode)
	}
	if err := s.migrate(ctx, now); err != nil {
		return nil, err
	}
	s.stmts = make(map[string]*sql.Stmt, len(preparedQueries))
	for _, q := range preparedQueries {
		st, err := s.db.PrepareContext(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("open store: prepare: %w", err)
		}
		s.stmts[q] = st
	}
	if s.rdb, err = sql.Open("sqlite", dsn(abs, true)); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.rdb.SetMaxOpenConns(4)
	s.rdb.SetMaxIdleConns(2)
	return s, nil
}

func (s *store) close() error {
	var errs []error
	for _, st := range s.stmts {
		errs = append(errs, st.Close())
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	return errors.Join(errs...)
}

// migrate applies the embedded migrations not yet recorded, each in its own
// transaction, in the order of their numbers.
func (s *store) migrate(ctx context.Context, now func() int64) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name    TEXT NOT NULL,
		applied INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		base := filepath.Base(name)
		num, _, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("migrate: %s: want a name like 0001_name.sql", base)
		}
		if err := s.migrateFile(ctx, version, name, now()); err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
	}
	return nil
}

func (s *store) migrateFile(ctx context.Context, version int, name string, now int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	text, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(text)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)`,
		version, filepath.Base(name), now); err != nil {
		return err
	}
	return tx.Commit()
}

// metaBytes returns the value of a meta key; ok is false if it is unset.
func metaBytes(ctx context.Context, q querier, key string) (v []byte, ok bool, err error) {
	err = q.QueryRowContext(ctx, qGetMeta, key).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("read %s: %w", key, err)
	}
	return v, v != nil, nil
}

// metaString returns a text meta value, "" if unset.
func metaString(ctx context.Context, q querier, key string) (string, error) {
	v, _, err := metaBytes(ctx, q, key)
	return string(v), err
}

// metaInt returns an integer meta value, 0 if unset.
func metaInt(ctx context.Context, q querier, key string) (int64, error) {
	v, ok, err := metaBytes(ctx, q, key)
	if err != nil || !ok {
		return 0, err
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", key, err)
	}
	return n, nil
}

// setMeta stores a meta value: []byte as is, strings as text, integers in
// decimal. A nil []byte or "" deletes the key.
func setMeta(ctx context.Context, q querier, key string, value any) error {
	var v []byte
	switch value := value.(type) {
	case []byte:
		v = value
	case string:
		v = []byte(value)
	case int64:
		v = strconv.AppendInt(nil, value, 10)
	case uint64:
		v = strconv.AppendUint(nil, value, 10)
	default:
		return fmt.Errorf("write %s: unsupported type %T", key, value)
	}
	var err error
	if len(v) == 0 {
		_, err = q.ExecContext(ctx, qDeleteMeta, key)
	} else {
		_, err = q.ExecContext(ctx, qSetMeta, key, v)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}
