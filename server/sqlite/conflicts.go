package sqlite

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"villagesync/election"
	"villagesync/server"
	"villagesync/syncproto"
)

// resolutionCollection holds the county's resolutions of conflicts.
const resolutionCollection = "resolution"

// editable reports whether records of collection are edited in place (by
// an edit on the current version) rather than append-only, as on devices:
// reference records, and collections this build does not know.
func editable(collection string) bool {
	c, ok := election.LookupCollection(collection)
	return !ok || c.Editable()
}

// factSlot is the slot a fact's body claims, "" for none.
func factSlot(collection, id string, body []byte) string {
	c, ok := election.LookupCollection(collection)
	if !ok || c.Editable() {
		return ""
	}
	return c.Slot(id, body)
}

// dbtx is what the conflict code needs of a transaction.
type dbtx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// versionKey names one version of a conflict.
type versionKey struct {
	recordID string
	device   string
	seq      uint64
	pos      uint64
}

func (v versionKey) ref() string { return server.VersionRef(v.device, v.seq) }

// conflictStore detects, records and settles conflicts inside one write
// transaction.
type conflictStore struct {
	ctx context.Context
	db  dbtx
	now int64 // Unix ns
	// query and queryRow run the push path's statements, prepared where
	// they can be.
	query    func(q string, args ...any) (*sql.Rows, error)
	queryRow func(q string, args ...any) *sql.Row
}

// conflicts returns the push's conflict store.
func (p *push) conflicts() *conflictStore {
	return &conflictStore{ctx: p.ctx, db: p.tx, now: p.now,
		query: func(q string, args ...any) (*sql.Rows, error) {
			if st := p.g.stmt(q); st != nil {
				return st.QueryContext(p.ctx, args...)
			}
			return p.tx.QueryContext(p.ctx, q, args...)
		},
		queryRow: p.queryRow,
	}
}

// txConflicts returns a conflict store over a plain transaction.
func txConflicts(ctx context.Context, tx *sql.Tx, now int64) *conflictStore {
	return &conflictStore{ctx: ctx, db: tx, now: now,
		query:    func(q string, args ...any) (*sql.Rows, error) { return tx.QueryContext(ctx, q, args...) },
		queryRow: func(q string, args ...any) *sql.Row { return tx.QueryRowContext(ctx, q, args...) },
	}
}

// openID returns the id of the open conflict of kind about a record id or
// slot of collection, or "".
func (cs *conflictStore) openID(kind, collection, subject string) (string, error) {
	var id string
	err := cs.queryRow(sqlPushOpenConflict, collection, subject, kind).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read open conflict: %w", err)
	}
	return id, nil
}

// open returns the open conflict of kind about a record id or slot of
// collection, or nil.
func (cs *conflictStore) open(kind, collection, subject string) (*server.Conflict, error) {
	id, err := cs.openID(kind, collection, subject)
	if err != nil || id == "" {
		return nil, err
	}
	c, ok, err := loadConflict(cs.ctx, cs.db, id)
	if err != nil || !ok {
		return nil, fmt.Errorf("read conflict %s (found %t): %w", id, ok, err)
	}
	return &c, nil
}

// raise records an open conflict holding versions, raised by the change at
// log position pos, and marks the conflict supersede ("" for none) as
// superseded by it. It returns the new conflict's id.
func (cs *conflictStore) raise(kind, collection, subject string, place election.Place, versions []versionKey, pos int64, supersede string) (string, error) {
	refs := make([]string, len(versions))
	for i, v := range versions {
		refs[i] = v.ref()
	}
	id := server.ConflictID(kind, collection, subject, refs)
	if id == supersede {
		return id, nil
	}
	if _, err := cs.db.ExecContext(cs.ctx, `INSERT INTO conflicts (id, kind, collection, subject, township, village, pos, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET superseded_by = NULL WHERE resolved IS NULL`,
		id, kind, collection, subject, place.Township, place.Village, pos, cs.now); err != nil {
		return "", fmt.Errorf("insert conflict: %w", err)
	}
	for _, v := range versions {
		if _, err := cs.db.ExecContext(cs.ctx, `INSERT INTO conflict_versions (conflict, device, seq, record_id, pos)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, id, v.device, int64(v.seq), v.recordID, int64(v.pos)); err != nil {
			return "", fmt.Errorf("insert conflict version: %w", err)
		}
	}
	if supersede != "" {
		if _, err := cs.db.ExecContext(cs.ctx, `UPDATE conflicts SET superseded_by = ? WHERE id = ?`, id, supersede); err != nil {
			return "", fmt.Errorf("supersede conflict: %w", err)
		}
	}
	return id, nil
}

// claim handles a new record id claiming a slot with body. Without an open
// conflict every claim of a slot has one body, so comparing with any other
// claim tells whether the slot falls into conflict: a slot claimed once, or
// by copies, costs two index look-ups however many claims it has. Only a
// slot in conflict is re-derived in full.
// It reports whether the claim opened or grew a conflict.
func (cs *conflictStore) claim(collection, slot, id string, body []byte, place election.Place, pos int64) (bool, error) {
	var other []byte
	err := cs.queryRow(sqlPushSlotOther, collection, slot, id).Scan(&other)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil // the only claim
	}
	if err != nil {
		return false, fmt.Errorf("read slot claims: %w", err)
	}
	open, err := cs.openID(election.ConflictSlot, collection, slot)
	if err != nil {
		return false, err
	}
	if open == "" && bytes.Equal(other, body) {
		return false, nil // a copy
	}
	return true, cs.checkSlot(collection, slot, place, pos, "")
}

// checkSlot re-derives the conflict of one slot from the records that
// claim it and no resolution superseded: in conflict while they hold two
// different bodies, with all of them as versions. A new claim (settled "")
// can only open or grow a conflict; after a resolution (settled is its
// record id) an open conflict that no longer holds is closed as superseded
// by it.
func (cs *conflictStore) checkSlot(collection, slot string, place election.Place, pos int64, settled string) error {
	rows, err := cs.query(sqlPushSlotClaims, collection, slot)
	if err != nil {
		return fmt.Errorf("read slot claims: %w", err)
	}
	var versions []versionKey
	var first []byte
	differ := false
	for rows.Next() {
		var v versionKey
		var seq, vpos int64
		var body []byte
		if err := rows.Scan(&v.recordID, &v.device, &seq, &vpos, &body); err != nil {
			_ = rows.Close()
			return fmt.Errorf("read slot claims: %w", err)
		}
		v.seq, v.pos = uint64(seq), uint64(vpos)
		if first == nil {
			first = body
		} else if !bytes.Equal(body, first) {
			differ = true
		}
		versions = append(versions, v)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("read slot claims: %w", err)
	}
	if len(versions) < 2 && settled == "" {
		return nil // the only claim: nothing can be open
	}
	open, err := cs.open(election.ConflictSlot, collection, slot)
	if err != nil {
		return err
	}
	if !differ {
		if open != nil {
			if _, err := cs.db.ExecContext(cs.ctx, `UPDATE conflicts SET superseded_by = ? WHERE id = ?`, settled, open.ID); err != nil {
				return fmt.Errorf("close conflict: %w", err)
			}
		}
		return nil
	}
	supersede := ""
	if open != nil {
		supersede = open.ID
	}
	_, err = cs.raise(election.ConflictSlot, collection, slot, place, versions, pos, supersede)
	return err
}

// resolve applies a resolution record logged at pos: the conflict it names
// must be open; it is marked resolved and the kept version wins.
func (cs *conflictStore) resolve(c *syncproto.Change, pos int64) error {
	res, err := election.DecodeResolution(c.Body)
	if err != nil {
		return &syncproto.Error{Code: syncproto.CodeMalformedRecord, Message: fmt.Sprintf("resolution %q: %v", c.ID, err), Seq: c.Seq}
	}
	conf, ok, err := loadConflict(cs.ctx, cs.db, res.Conflict)
	if err != nil {
		return fmt.Errorf("resolve: %w", err)
	}
	if !ok {
		return &syncproto.Error{Code: syncproto.CodeConflict, Message: fmt.Sprintf("no conflict %s to resolve", res.Conflict), Seq: c.Seq}
	}
	if st := conf.Status(); st != server.ConflictOpen {
		return &syncproto.Error{Code: syncproto.CodeConflict, Message: fmt.Sprintf("conflict %s is %s, no longer open", conf.ID, st), Seq: c.Seq}
	}
	kept, ok := conf.Version(res.Keep)
	if !ok {
		return &syncproto.Error{Code: syncproto.CodeMalformedRecord, Message: fmt.Sprintf("resolution %q keeps %q, not a version of conflict %s", c.ID, res.Keep, conf.ID), Seq: c.Seq}
	}
	if _, err := cs.db.ExecContext(cs.ctx, `UPDATE conflicts SET resolved = ?, resolution = ? WHERE id = ?`, cs.now, c.ID, conf.ID); err != nil {
		return fmt.Errorf("resolve: %w", err)
	}
	switch conf.Kind {
	case election.ConflictRecord:
		return cs.keepVersion(&conf, kept, c.ID, pos)
	case election.ConflictSlot:
		for _, v := range conf.Versions {
			if v.RecordID == kept.RecordID {
				continue
			}
			if _, err := cs.db.ExecContext(cs.ctx, `UPDATE records SET superseded = ? WHERE collection = ? AND id = ? AND superseded = ''`,
				c.ID, conf.Collection, v.RecordID); err != nil {
				return fmt.Errorf("resolve: supersede %s: %w", v.RecordID, err)
			}
		}
		return cs.checkSlot(conf.Collection, conf.Subject, conf.Place, pos, c.ID)
	}
	return fmt.Errorf("resolve: conflict %s has unknown kind %q", conf.ID, conf.Kind)
}

// keepVersion makes a record conflict's kept version the record's current
// one. A reference record's version number becomes the highest base+1 of
// the conflict's versions if that is higher, as on every device.
func (cs *conflictStore) keepVersion(conf *server.Conflict, kept server.ConflictVersion, resolution string, pos int64) error {
	cur, found, err := loadRecord(cs.ctx, cs.db, conf.Collection, conf.Subject)
	if err != nil || !found {
		return fmt.Errorf("keep version: read record (found %t): %w", found, err)
	}
	version := cur.Version
	if editable(conf.Collection) {
		for _, v := range conf.Versions {
			version = max(version, v.Base+1)
		}
	}
	slot := factSlot(conf.Collection, conf.Subject, kept.Body)
	if _, err := cs.db.ExecContext(cs.ctx, `UPDATE records SET version = ?, pos = ?, township = ?, village = ?, device = ?, seq = ?, slot = ?
		WHERE collection = ? AND id = ?`, int64(version), int64(kept.Pos), kept.Place.Township, kept.Place.Village,
		kept.Device, int64(kept.Seq), slot, conf.Collection, conf.Subject); err != nil {
		return fmt.Errorf("keep version: %w", err)
	}
	if cur.Slot != "" && cur.Slot != slot {
		if err := cs.checkSlot(conf.Collection, cur.Slot, cur.Place, pos, resolution); err != nil {
			return err
		}
	}
	if slot != "" && slot != cur.Slot {
		if err := cs.checkSlot(conf.Collection, slot, kept.Place, pos, ""); err != nil {
			return err
		}
	}
	return nil
}

// conflictCols are the columns loadConflicts reads, in scanConflict order.
const conflictCols = `id, kind, collection, subject, township, village, pos, created, resolved, resolution, superseded_by`

// versionCols are the columns of a conflict version, in scanVersion order;
// the query joins conflict_versions cv with changes c.
const versionCols = `cv.conflict, cv.record_id, c.device, c.seq, c.base, c.pos, c.body, c.wall, c.logical, c.at,
	c.clock_offset, c.township, c.village, c.received`

func scanConflict(sc scanner) (server.Conflict, error) {
	var c server.Conflict
	var pos int64
	var created sql.NullInt64
	var resolved sql.NullInt64
	var resolution, superseded sql.NullString
	if err := sc.Scan(&c.ID, &c.Kind, &c.Collection, &c.Subject, &c.Place.Township, &c.Place.Village, &pos,
		&created, &resolved, &resolution, &superseded); err != nil {
		return server.Conflict{}, err
	}
	c.Pos = uint64(pos)
	c.Created = fromNanos(created)
	c.Resolved = fromNanos(resolved)
	c.Resolution = resolution.String
	c.SupersededBy = superseded.String
	return c, nil
}

func scanVersion(sc scanner) (conflict string, v server.ConflictVersion, err error) {
	var seq, base, pos, logical int64
	var received sql.NullInt64
	if err := sc.Scan(&conflict, &v.RecordID, &v.Device, &seq, &base, &pos, &v.Body, &v.HLC.Wall, &logical, &v.At,
		&v.Offset, &v.Place.Township, &v.Place.Village, &received); err != nil {
		return "", server.ConflictVersion{}, err
	}
	v.Seq, v.Base, v.Pos, v.HLC.Logical = uint64(seq), uint64(base), uint64(pos), uint32(logical)
	v.Received = fromNanos(received)
	return conflict, v, nil
}

// sortVersions orders a conflict's versions by ref.
func sortVersions(vs []server.ConflictVersion) {
	slices.SortFunc(vs, func(a, b server.ConflictVersion) int { return strings.Compare(a.Ref(), b.Ref()) })
}

// loadConflict reads one conflict and its versions.
func loadConflict(ctx context.Context, db dbtx, id string) (server.Conflict, bool, error) {
	c, err := scanConflict(db.QueryRowContext(ctx, `SELECT `+conflictCols+` FROM conflicts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return server.Conflict{}, false, nil
	}
	if err != nil {
		return server.Conflict{}, false, fmt.Errorf("read conflict: %w", err)
	}
	rows, err := db.QueryContext(ctx, `SELECT `+versionCols+` FROM conflict_versions cv JOIN changes c ON c.pos = cv.pos
		WHERE cv.conflict = ?`, id)
	if err != nil {
		return server.Conflict{}, false, fmt.Errorf("read conflict versions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		_, v, err := scanVersion(rows)
		if err != nil {
			return server.Conflict{}, false, fmt.Errorf("read conflict versions: %w", err)
		}
		c.Versions = append(c.Versions, v)
	}
	if err := rows.Err(); err != nil {
		return server.Conflict{}, false, fmt.Errorf("read conflict versions: %w", err)
	}
	sortVersions(c.Versions)
	return c, true, nil
}

// allConflicts reads every conflict with its versions, oldest first.
func allConflicts(ctx context.Context, tx *sql.Tx) ([]server.Conflict, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+conflictCols+` FROM conflicts ORDER BY pos, id`)
	if err != nil {
		return nil, fmt.Errorf("read conflicts: %w", err)
	}
	var cs []server.Conflict
	index := make(map[string]int)
	for rows.Next() {
		c, err := scanConflict(rows)
		if err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("read conflicts: %w", err)
		}
		index[c.ID] = len(cs)
		cs = append(cs, c)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read conflicts: %w", err)
	}
	if len(cs) == 0 {
		return cs, nil
	}
	vrows, err := tx.QueryContext(ctx, `SELECT `+versionCols+` FROM conflict_versions cv JOIN changes c ON c.pos = cv.pos`)
	if err != nil {
		return nil, fmt.Errorf("read conflict versions: %w", err)
	}
	defer vrows.Close()
	for vrows.Next() {
		id, v, err := scanVersion(vrows)
		if err != nil {
			return nil, fmt.Errorf("read conflict versions: %w", err)
		}
		if i, ok := index[id]; ok {
			cs[i].Versions = append(cs[i].Versions, v)
		}
	}
	if err := vrows.Err(); err != nil {
		return nil, fmt.Errorf("read conflict versions: %w", err)
	}
	for i := range cs {
		sortVersions(cs[i].Versions)
	}
	slices.SortStableFunc(cs, func(a, b server.Conflict) int { return cmp.Compare(a.Pos, b.Pos) })
	return cs, nil
}

// Conflict returns one conflict with its versions, or CodeNotFound.
func (s *Store) Conflict(ctx context.Context, id string) (server.Conflict, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return server.Conflict{}, fmt.Errorf("conflict: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	c, ok, err := loadConflict(ctx, tx, id)
	if err != nil {
		return server.Conflict{}, fmt.Errorf("conflict: %w", err)
	}
	if !ok {
		return server.Conflict{}, syncproto.Errorf(syncproto.CodeNotFound, "no conflict %q", id)
	}
	if err := tx.Commit(); err != nil {
		return server.Conflict{}, fmt.Errorf("conflict: %w", err)
	}
	return c, nil
}

// Position returns the server log's last position.
func (s *Store) Position(ctx context.Context) (uint64, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return 0, fmt.Errorf("position: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	pos, err := maxPos(ctx, tx)
	if err != nil {
		return 0, fmt.Errorf("position: %w", err)
	}
	return pos, tx.Commit()
}

// Snapshot reads every record (with the clock of the change that carried
// its body) and every conflict at one log position.
func (s *Store) Snapshot(ctx context.Context) (server.Snapshot, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return server.Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var snap server.Snapshot
	if snap.Pos, err = maxPos(ctx, tx); err != nil {
		return server.Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT r.collection, r.id, c.body, r.township, r.village, c.wall, c.logical,
		r.device, r.seq, r.superseded FROM records r JOIN changes c ON c.pos = r.pos`)
	if err != nil {
		return server.Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r election.StoredRecord
		var logical, seq int64
		var superseded string
		if err := rows.Scan(&r.Collection, &r.ID, &r.Body, &r.Place.Township, &r.Place.Village, &r.Wall, &logical,
			&r.Device, &seq, &superseded); err != nil {
			return server.Snapshot{}, fmt.Errorf("snapshot: %w", err)
		}
		r.Logical, r.Seq, r.Superseded = uint32(logical), uint64(seq), superseded != ""
		snap.Records = append(snap.Records, r)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return server.Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	if snap.Conflicts, err = allConflicts(ctx, tx); err != nil {
		return server.Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return server.Snapshot{}, fmt.Errorf("snapshot: %w", err)
	}
	return snap, nil
}

// recordConflict returns the open conflict a record is part of, "" if
// none: a record conflict about it, or a slot conflict holding its current
// version.
func recordConflict(ctx context.Context, tx *sql.Tx, rec server.Record) (string, error) {
	var id string
	err := tx.QueryRowContext(ctx, `SELECT id FROM conflicts WHERE collection = ? AND subject = ? AND kind = 'record'
		AND resolved IS NULL AND superseded_by IS NULL`, rec.Collection, rec.ID).Scan(&id)
	switch {
	case err == nil:
		return id, nil
	case !errors.Is(err, sql.ErrNoRows):
		return "", err
	case rec.Slot == "":
		return "", nil
	}
	err = tx.QueryRowContext(ctx, `SELECT c.id FROM conflicts c JOIN conflict_versions cv ON cv.conflict = c.id
		WHERE c.collection = ? AND c.subject = ? AND c.kind = 'slot' AND c.resolved IS NULL AND c.superseded_by IS NULL
		AND cv.record_id = ?`, rec.Collection, rec.Slot, rec.ID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}
