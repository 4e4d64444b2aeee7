package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"villagesync/server"
)

var _ server.Store = (*Store)(nil)

// Connection settings.
const (
	// busyTimeoutMS is how long a connection waits for a lock before
	// failing with SQLITE_BUSY.
	busyTimeoutMS = 10000
	// readConns is the size of the read-only pool.
	readConns = 4
)

// Attribute keys of the package's log records.
const (
	logKeyPath      = "path"
	logKeyVersion   = "sqlite_version"
	logKeyMigration = "migration"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store is the SQLite implementation of server.Store. It is safe for
// concurrent use.
type Store struct {
	path   string
	logger *slog.Logger
	write  *sql.DB              // one connection; every write transaction
	read   *sql.DB              // read-only pool
	stmts  map[string]*sql.Stmt // the push path's statements, prepared on write
	// readStmts are the hottest reads' statements (readStatements),
	// prepared on the read pool: each connection parses them once.
	readStmts map[string]*sql.Stmt

	nonceGC atomic.Int64 // when UseNonce last forgot expired nonces, Unix ns

	pushes   chan *pushRequest // to pushLoop
	stop     chan struct{}     // closed by Close
	loopDone chan struct{}     // closed when pushLoop returns

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the database at path, applies pending
// migrations and checks that the durability settings took effect.
func Open(ctx context.Context, path string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if path == "" {
		return nil, errors.New("open store: empty database path")
	}
	s := &Store{
		path:     path,
		logger:   logger,
		pushes:   make(chan *pushRequest),
		stop:     make(chan struct{}),
		loopDone: make(chan struct{}),
	}

	if err := s.open(ctx); err != nil {
		if s.read != nil {
			_ = s.read.Close()
		}
		if s.write != nil {
			_ = s.write.Close()
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	go s.pushLoop()
	return s, nil
}

// open opens both pools, migrates and checks the settings.
func (s *Store) open(ctx context.Context) error {
	write, err := sql.Open("sqlite", dsn(s.path, false))
	if err != nil {
		return err
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	s.write = write
	if err := checkPragmas(ctx, write); err != nil {
		return err
	}
	if err := s.migrate(ctx); err != nil {
		return err
	}
	if err := s.prepare(ctx); err != nil {
		return err
	}

	// The read pool opens the file read-only, so it can only be opened once
	// the writer has created it.
	read, err := sql.Open("sqlite", dsn(s.path, true))
	if err != nil {
		return err
	}
	read.SetMaxOpenConns(readConns)
	read.SetMaxIdleConns(readConns)
	s.read = read
	if err := checkPragmas(ctx, read); err != nil {
		return fmt.Errorf("read pool: %w", err)
	}
	if s.readStmts, err = prepareAll(ctx, read, readStatements); err != nil {
		return fmt.Errorf("read pool: %w", err)
	}
	var version string
	if err := read.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&version); err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "store opened", logKeyPath, s.path, logKeyVersion, version)
	return nil
}

// dsn is the modernc DSN for path. The pragmas run on every new pooled
// connection, busy_timeout first. Write connections begin transactions
// IMMEDIATE so that a writer waits for the lock instead of failing on
// upgrade; read connections open the file read-only.
func dsn(path string, readOnly bool) string {
	var b strings.Builder
	b.WriteString("file:")
	b.WriteString(escapePath(path))
	b.WriteString("?_pragma=busy_timeout(" + strconv.Itoa(busyTimeoutMS) + ")")
	b.WriteString("&_pragma=journal_mode(WAL)")
	b.WriteString("&_pragma=synchronous(FULL)")
	b.WriteString("&_pragma=foreign_keys(1)")
	if readOnly {
		b.WriteString("&mode=ro")
	} else {
		b.WriteString("&_txlock=immediate")
	}
	return b.String()
}

// escapePath escapes the characters that would end the path part of a
// SQLite URI filename.
func escapePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

// checkPragmas checks that the DSN's durability settings took effect on a
// connection of db.
func checkPragmas(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, want wal (is the file on a filesystem without shared memory?)", mode)
	}
	var sync int
	if err := db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return fmt.Errorf("read synchronous: %w", err)
	}
	if sync != 2 {
		return fmt.Errorf("synchronous is %d, want 2 (FULL)", sync)
	}
	return nil
}

// migration is one embedded schema migration.
type migration struct {
	version int
	name    string
	sql     string
	// step, if set, runs after sql in the same transaction: data changes
	// that need Go (hashes, domain rules).
	step func(ctx context.Context, tx *sql.Tx) error
}

// migrationSteps are the Go steps of migrations, by version.
var migrationSteps = map[int]func(ctx context.Context, tx *sql.Tx) error{
	2: migrateReview,
}

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		if !ok || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql", name)
		}
		v, err := strconv.Atoi(num)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("migration %s: want a positive number before the first _", name)
		}
		text, err := fs.ReadFile(migrationFiles, path.Join("migrations", name))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(text), step: migrationSteps[v]})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", ms[i-1].name, ms[i].name, ms[i].version)
		}
	}
	return ms, nil
}

// migrate applies every embedded migration not yet recorded, each in its
// own transaction.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name    TEXT    NOT NULL,
		applied TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
	) STRICT`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := s.write.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if n := len(ms); n > 0 && current > ms[n-1].version {
		return fmt.Errorf("database schema version %d is newer than this program's %d: upgrade villagesync", current, ms[n-1].version)
	}
	for _, m := range ms {
		if m.version <= current {
			continue
		}
		if err := s.apply(ctx, m); err != nil {
			return err
		}
		s.logger.InfoContext(ctx, "migration applied", logKeyMigration, m.name)
	}
	return nil
}

func (s *Store) apply(ctx context.Context, m migration) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: begin: %w", m.name, err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	if m.step != nil {
		if err := m.step(ctx, tx); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", m.version, m.name); err != nil {
		return fmt.Errorf("migration %s: record: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", m.name, err)
	}
	return nil
}

// prepare prepares the push path's statements on the writer connection.
func (s *Store) prepare(ctx context.Context) error {
	var err error
	s.stmts, err = prepareAll(ctx, s.write, pushStatements)
	return err
}

// readStatements are prepared on the read pool by Open: those every sync
// runs (the device lookup, the pull queries, the log position, the head).
var readStatements = []string{
	sqlDevice, sqlMaxPos, sqlLoadHead, sqlHeldSeqs, pullAllSQL, pullTownshipSQL, pullVillageSQL,
}

// prepareAll prepares queries on db.
func prepareAll(ctx context.Context, db *sql.DB, queries []string) (map[string]*sql.Stmt, error) {
	stmts := make(map[string]*sql.Stmt, len(queries))
	for _, q := range queries {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			for _, st := range stmts {
				_ = st.Close()
			}
			return nil, fmt.Errorf("prepare %q: %w", q, err)
		}
		stmts[q] = st
	}
	return stmts, nil
}

// readStmt is the read pool's prepared statement for query, bound to tx, a
// transaction of the read pool; query must be one of readStatements.
func (s *Store) readStmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	return tx.StmtContext(ctx, s.readStmts[query])
}

// Close waits for the pushes under way, checkpoints the write-ahead log into
// the database file, truncating it, and closes both pools. Pushes after
// Close fail. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		ctx := context.Background()
		close(s.stop)
		<-s.loopDone
		var errs []error
		for _, st := range s.readStmts {
			if err := st.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close statement: %w", err))
			}
		}
		if err := s.read.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close read pool: %w", err))
		}
		var busy, logPages, done int
		if err := s.write.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logPages, &done); err != nil {
			errs = append(errs, fmt.Errorf("checkpoint: %w", err))
		} else if busy != 0 {
			s.logger.WarnContext(ctx, "checkpoint at close could not complete", logKeyPath, s.path)
		}
		for _, st := range s.stmts {
			if err := st.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close statement: %w", err))
			}
		}
		if err := s.write.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close write pool: %w", err))
		}
		s.closeErr = errors.Join(errs...)
		s.logger.InfoContext(ctx, "store closed", logKeyPath, s.path)
	})
	return s.closeErr
}

// Checkpoint copies the write-ahead log into the database file and
// truncates it. SQLite checkpoints on its own as the log grows, but only
// passively, which steady readers can starve; a server runs this now and
// then so that the log stays small. Writes wait while it runs.
func (s *Store) Checkpoint(ctx context.Context) error {
	var busy, logPages, done int
	if err := s.write.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logPages, &done); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if busy != 0 {
		return fmt.Errorf("checkpoint: readers kept %d of %d log pages from being copied", logPages-done, logPages)
	}
	return nil
}

// beginWrite starts a write transaction (BEGIN IMMEDIATE) on the writer.
func (s *Store) beginWrite(ctx context.Context) (*sql.Tx, error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	return tx, nil
}

// beginRead starts a read transaction on the read-only pool: one consistent
// snapshot of the database.
func (s *Store) beginRead(ctx context.Context) (*sql.Tx, error) {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("begin read: %w", err)
	}
	return tx, nil
}

// IntegrityCheck runs SQLite's integrity and foreign key checks and fails
// unless both find nothing wrong.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	problems, err := integrityProblems(ctx, tx)
	if err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("integrity check failed: %s", strings.Join(problems, "; "))
	}
	return tx.Commit()
}

func integrityProblems(ctx context.Context, tx *sql.Tx) ([]string, error) {
	const maxProblems = 10
	rows, err := tx.QueryContext(ctx, "PRAGMA integrity_check("+strconv.Itoa(maxProblems)+")")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	fk, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return nil, err
	}
	defer fk.Close()
	for fk.Next() && len(problems) < maxProblems {
		var table, parent string
		var rowid sql.NullInt64
		var index int
		if err := fk.Scan(&table, &rowid, &parent, &index); err != nil {
			return nil, err
		}
		problems = append(problems, fmt.Sprintf("row %d of %s refers to a missing %s", rowid.Int64, table, parent))
	}
	return problems, fk.Err()
}

// Stats are row counts, for metrics and tests.
type Stats struct {
	Changes       int64 // changes in the log
	Records       int64 // records with a current version
	Devices       int64 // enrolled devices, revoked included
	Held          int64 // changes held beyond a gap
	Conflicts     int64 // conflicts ever recorded
	OpenConflicts int64 // conflicts neither resolved nor superseded
	Audit         int64 // audit trail entries
	UsedNonces    int64 // used nonces remembered until they expire
	Equivocations int64 // equivocation evidence rows
	Alerts        int64 // security alerts
}

// Stats counts the rows of the main tables in one snapshot. Counting reads
// every row of an index, so it suits tests and an occasional metrics
// scrape, not a request path.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var st Stats
	counts := []struct {
		dst   *int64
		query string
	}{
		{&st.Changes, "SELECT count(*) FROM changes"},
		{&st.Records, "SELECT count(*) FROM records"},
		{&st.Devices, "SELECT count(*) FROM devices"},
		{&st.Held, "SELECT count(*) FROM held"},
		{&st.Conflicts, "SELECT count(*) FROM conflicts"},
		{&st.OpenConflicts, "SELECT count(*) FROM conflicts WHERE resolved IS NULL AND superseded_by IS NULL"},
		{&st.Audit, "SELECT count(*) FROM audit"},
		{&st.UsedNonces, "SELECT count(*) FROM used_nonces"},
		{&st.Equivocations, "SELECT count(*) FROM equivocations"},
		{&st.Alerts, "SELECT count(*) FROM alerts"},
	}
	for _, c := range counts {
		if err := tx.QueryRowContext(ctx, c.query).Scan(c.dst); err != nil {
			return Stats{}, fmt.Errorf("stats: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	return st, nil
}

// isConstraint reports whether err is a SQLite constraint failure of the
// given extended code.
func isConstraint(err error, code int) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == code
}

// isUniqueViolation reports whether err is a primary key or unique
// constraint failure.
func isUniqueViolation(err error) bool {
	return isConstraint(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) ||
		isConstraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE)
}

// nanos is t as stored: Unix nanoseconds, or NULL for the zero time.
func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// fromNanos is the inverse of nanos.
func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}
