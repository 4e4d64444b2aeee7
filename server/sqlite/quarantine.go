package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"villagesync/election"
	"villagesync/server"
	"villagesync/syncproto"
)

// quarantineCols are the columns of a quarantined change, in the order
// scanQuarantined reads them (changeCols first, as scanChange wants).
const quarantineCols = changeCols + `, hash, prev, township, village, slot, received`

// Quarantine stores a revoked device's verified changes for the county's
// review. See server.QuarantineStore.
//
// For each change in ascending seq: a seq the log holds is a duplicate if
// its hash equals the logged one and an equivocation otherwise; so is a seq
// the quarantine holds, against the quarantined one. Any other change must
// chain with its neighbours held in the log or in quarantine (an
// equivocation otherwise) and joins the device's open item. The device's
// changes held beyond a gap from before its revocation move to the item
// first: they too are above its revocation point.
func (s *Store) Quarantine(ctx context.Context, device string, batch []server.Incoming, now time.Time) (server.QuarantineResult, error) {
	if err := checkBatch(device, batch); err != nil {
		return server.QuarantineResult{}, err
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return server.QuarantineResult{}, fmt.Errorf("quarantine: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	q := &quarantine{ctx: ctx, tx: tx, device: device, now: now.UnixNano()}
	if err := q.run(batch); err != nil {
		var eq *server.EquivocationError
		var pe *syncproto.Error
		if errors.As(err, &eq) || errors.As(err, &pe) {
			return server.QuarantineResult{}, err
		}
		return server.QuarantineResult{}, fmt.Errorf("quarantine: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return server.QuarantineResult{}, fmt.Errorf("quarantine: %w", err)
	}
	return q.res, nil
}

// quarantine is the state of one Quarantine transaction.
type quarantine struct {
	ctx    context.Context
	tx     *sql.Tx
	device string
	now    int64

	head     uint64         // the device's contiguous head in the log
	headHash syncproto.Hash // hash of change head
	item     string         // the device's open item, "" until there is one
	res      server.QuarantineResult
}

func (q *quarantine) run(batch []server.Incoming) error {
	dev, err := device(q.ctx, q.tx, q.device)
	if err != nil {
		return err
	}
	if dev.Revoked.IsZero() {
		return syncproto.Errorf(syncproto.CodeConflict, "device %s is not revoked: its changes are pushed, not quarantined", q.device)
	}
	if q.head, q.headHash, err = loadHead(q.ctx, q.tx, q.device); err != nil {
		return err
	}
	err = q.tx.QueryRowContext(q.ctx, `SELECT id FROM quarantine_items WHERE device = ? AND status = ?`,
		q.device, server.QuarantineOpen).Scan(&q.item)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read open item: %w", err)
	}
	if err := q.moveHeld(); err != nil {
		return err
	}
	for i := range batch {
		if err := q.one(&batch[i]); err != nil {
			return err
		}
	}
	if err := q.through(); err != nil {
		return err
	}
	if q.res.Pos, err = maxPos(q.ctx, q.tx); err != nil {
		return err
	}
	q.res.Item = q.item
	return nil
}

// moveHeld moves the device's changes held beyond a gap into its open item.
func (q *quarantine) moveHeld() error {
	var first sql.NullInt64
	if err := q.tx.QueryRowContext(q.ctx, `SELECT MIN(seq) FROM held WHERE device = ?`, q.device).Scan(&first); err != nil {
		return fmt.Errorf("read held: %w", err)
	}
	if !first.Valid {
		return nil
	}
	if err := q.openItem(uint64(first.Int64)); err != nil {
		return err
	}
	if _, err := q.tx.ExecContext(q.ctx, `INSERT INTO quarantine (`+changeCols+`, hash, prev, township, village, received, slot, item)
		SELECT `+changeCols+`, hash, prev, township, village, received, slot, ? FROM held WHERE device = ?`, q.item, q.device); err != nil {
		return fmt.Errorf("quarantine held changes: %w", err)
	}
	if _, err := q.tx.ExecContext(q.ctx, `DELETE FROM held WHERE device = ?`, q.device); err != nil {
		return fmt.Errorf("quarantine held changes: %w", err)
	}
	return nil
}

// openItem makes sure the device has an open item, creating it for a first
// change seq.
func (q *quarantine) openItem(seq uint64) error {
	if q.item != "" {
		return nil
	}
	id := server.QuarantineItemID(q.device, seq)
	if _, err := q.tx.ExecContext(q.ctx, `INSERT INTO quarantine_items (id, device, first_seq, status, created) VALUES (?, ?, ?, ?, ?)`,
		id, q.device, int64(seq), server.QuarantineOpen, q.now); err != nil {
		return fmt.Errorf("open item %s: %w", id, err)
	}
	q.item = id
	return nil
}

// one handles one incoming change.
func (q *quarantine) one(in *server.Incoming) error {
	c := &in.Change
	seq := c.Seq
	if seq <= q.head {
		var stored []byte
		if err := q.tx.QueryRowContext(q.ctx, sqlPushLogHash, q.device, int64(seq)).Scan(&stored); err != nil {
			return fmt.Errorf("read logged change %d: %w", seq, err)
		}
		if !bytes.Equal(stored, in.Hash[:]) {
			return q.equivocation(seq, "changes", seq, in)
		}
		q.res.Duplicates++
		return nil
	}
	hash, _, ok, err := q.link(seq)
	if err != nil {
		return err
	}
	if ok {
		if hash != in.Hash {
			return q.equivocation(seq, "quarantine", seq, in)
		}
		q.res.Duplicates++
		return nil
	}
	switch {
	case seq == 1 && in.Prev != (syncproto.Hash{}):
		return &syncproto.Error{Code: syncproto.CodeChainBroken, Message: "seq 1 must have a zero prev hash", Seq: seq}
	case seq-1 == q.head && seq > 1:
		if in.Prev != q.headHash {
			// The history it claims contradicts the logged change seq-1.
			return q.equivocation(q.head, "changes", q.head, in)
		}
	case seq > 1:
		if hash, _, ok, err := q.link(seq - 1); err != nil {
			return err
		} else if ok && hash != in.Prev {
			return q.equivocation(seq-1, "quarantine", seq-1, in)
		}
	}
	if _, prev, ok, err := q.link(seq + 1); err != nil {
		return err
	} else if ok && prev != in.Hash {
		return q.equivocation(seq, "quarantine", seq+1, in)
	}
	if err := q.openItem(seq); err != nil {
		return err
	}
	args := append(changeArgs(c, in.Hash, in.Prev, in.Place, q.now), in.Slot, q.item)
	if _, err := q.tx.ExecContext(q.ctx, `INSERT INTO quarantine (`+changeCols+`, hash, prev, township, village, received, slot, item)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
		return fmt.Errorf("quarantine change %d: %w", seq, err)
	}
	q.res.Quarantined++
	return nil
}

// link returns the hash and prev of the device's quarantined change seq.
func (q *quarantine) link(seq uint64) (hash, prev syncproto.Hash, ok bool, err error) {
	if seq == 0 || seq > math.MaxInt64 {
		return hash, prev, false, nil
	}
	var h, pr []byte
	err = q.tx.QueryRowContext(q.ctx, `SELECT hash, prev FROM quarantine WHERE device = ? AND seq = ?`, q.device, int64(seq)).Scan(&h, &pr)
	if errors.Is(err, sql.ErrNoRows) {
		return hash, prev, false, nil
	}
	if err != nil {
		return hash, prev, false, fmt.Errorf("read quarantined change %d: %w", seq, err)
	}
	if hash, err = toHash(h); err != nil {
		return hash, prev, false, fmt.Errorf("read quarantined change %d: %w", seq, err)
	}
	if prev, err = toHash(pr); err != nil {
		return hash, prev, false, fmt.Errorf("read quarantined change %d: %w", seq, err)
	}
	return hash, prev, true, nil
}

// through sets the result's Through and Head: how far the device's chain
// is held without a gap, in the log and then in quarantine.
func (q *quarantine) through() error {
	q.res.Through, q.res.Head = q.head, q.headHash
	rows, err := q.tx.QueryContext(q.ctx, `SELECT seq, hash FROM quarantine WHERE device = ? AND seq > ? ORDER BY seq`,
		q.device, int64(q.head))
	if err != nil {
		return fmt.Errorf("read quarantined chain: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var hash []byte
		if err := rows.Scan(&seq, &hash); err != nil {
			return fmt.Errorf("read quarantined chain: %w", err)
		}
		if uint64(seq) != q.res.Through+1 {
			break
		}
		h, err := toHash(hash)
		if err != nil {
			return fmt.Errorf("read quarantined chain: %w", err)
		}
		q.res.Through, q.res.Head = uint64(seq), h
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read quarantined chain: %w", err)
	}
	return nil
}

// equivocation builds the error for two versions of the device's change
// seq: the one stored in table at storedSeq and the incoming one.
func (q *quarantine) equivocation(seq uint64, table string, storedSeq uint64, in *server.Incoming) error {
	stored, err := storedChange(q.ctx, q.tx, table, q.device, storedSeq)
	if err != nil {
		return fmt.Errorf("read equivocation evidence: %w", err)
	}
	return &server.EquivocationError{Device: q.device, Seq: seq, Stored: stored.Change, Incoming: incomingChange(in)}
}

// QuarantinedPlace reports where a record a quarantined change of device
// wrote is about (its latest such change); ok is false if there is none.
func (s *Store) QuarantinedPlace(ctx context.Context, device, collection, id string) (election.Place, bool, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return election.Place{}, false, fmt.Errorf("quarantined place: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var p election.Place
	err = tx.QueryRowContext(ctx, `SELECT township, village FROM quarantine WHERE device = ? AND collection = ? AND record_id = ?
		ORDER BY seq DESC LIMIT 1`, device, collection, id).Scan(&p.Township, &p.Village)
	if errors.Is(err, sql.ErrNoRows) {
		return election.Place{}, false, nil
	}
	if err != nil {
		return election.Place{}, false, fmt.Errorf("quarantined place: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return election.Place{}, false, fmt.Errorf("quarantined place: %w", err)
	}
	return p, true, nil
}

// quarantineItemQuery reads items with their device and decision, in the
// order scanQuarantineItem reads them.
const quarantineItemQuery = `SELECT i.id, i.device, d.role, d.scope, d.revoked, d.revoked_after, i.status, i.created, i.decided,
	a.id, a.action, a.subject, a.target, a.keep, a.reason, a.change, a.created
	FROM quarantine_items i JOIN devices d ON d.id = i.device LEFT JOIN audit a ON a.id = i.audit`

func scanQuarantineItem(sc scanner) (server.QuarantineItem, error) {
	var it server.QuarantineItem
	var role string
	var revoked, decided, auditID, auditCreated sql.NullInt64
	var revokedAfter, created int64
	var action, subject, target, keep, reason, change sql.NullString
	if err := sc.Scan(&it.ID, &it.Device, &role, &it.Scope.Code, &revoked, &revokedAfter, &it.Status, &created, &decided,
		&auditID, &action, &subject, &target, &keep, &reason, &change, &auditCreated); err != nil {
		return server.QuarantineItem{}, err
	}
	it.Scope.Role = election.Role(role)
	it.Revoked = fromNanos(revoked)
	it.RevokedAfter = uint64(revokedAfter)
	it.Created = time.Unix(0, created).UTC()
	it.Decided = fromNanos(decided)
	if auditID.Valid {
		it.Decision = server.Audit{
			ID: auditID.Int64, Action: action.String, Subject: subject.String, Target: target.String,
			Keep: keep.String, Reason: reason.String, Change: change.String, Created: fromNanos(auditCreated),
		}
	}
	return it, nil
}

// quarantinedChanges reads the changes of an item, by seq.
func quarantinedChanges(ctx context.Context, db dbtx, item string) ([]server.QuarantinedChange, error) {
	rows, err := db.QueryContext(ctx, `SELECT `+quarantineCols+` FROM quarantine WHERE item = ? ORDER BY seq`, item)
	if err != nil {
		return nil, fmt.Errorf("read quarantined changes: %w", err)
	}
	defer rows.Close()
	var out []server.QuarantinedChange
	for rows.Next() {
		var qc server.QuarantinedChange
		var hash, prev []byte
		var received int64
		if err := scanChange(rows, &qc.Change, &hash, &prev, &qc.Place.Township, &qc.Place.Village, &qc.Slot, &received); err != nil {
			return nil, fmt.Errorf("read quarantined changes: %w", err)
		}
		if qc.Hash, err = toHash(hash); err != nil {
			return nil, fmt.Errorf("read quarantined changes: %w", err)
		}
		if qc.Prev, err = toHash(prev); err != nil {
			return nil, fmt.Errorf("read quarantined changes: %w", err)
		}
		qc.Received = time.Unix(0, received).UTC()
		out = append(out, qc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read quarantined changes: %w", err)
	}
	return out, nil
}

// loadQuarantineItem reads one item with its changes, or CodeNotFound.
func loadQuarantineItem(ctx context.Context, db dbtx, id string) (server.QuarantineItem, error) {
	it, err := scanQuarantineItem(db.QueryRowContext(ctx, quarantineItemQuery+` WHERE i.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return server.QuarantineItem{}, syncproto.Errorf(syncproto.CodeNotFound, "no review item %s", id)
	}
	if err != nil {
		return server.QuarantineItem{}, fmt.Errorf("read item %s: %w", id, err)
	}
	if it.Changes, err = quarantinedChanges(ctx, db, id); err != nil {
		return server.QuarantineItem{}, err
	}
	return it, nil
}

// QuarantineItems returns the open quarantine items, or every item if all,
// oldest first, with their changes.
func (s *Store) QuarantineItems(ctx context.Context, all bool) ([]server.QuarantineItem, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return nil, fmt.Errorf("quarantine items: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	query := quarantineItemQuery + ` WHERE i.status = ? OR ? ORDER BY i.created, i.id`
	rows, err := tx.QueryContext(ctx, query, server.QuarantineOpen, all)
	if err != nil {
		return nil, fmt.Errorf("quarantine items: %w", err)
	}
	var items []server.QuarantineItem
	for rows.Next() {
		it, err := scanQuarantineItem(rows)
		if err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("quarantine items: %w", err)
		}
		items = append(items, it)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("quarantine items: %w", err)
	}
	for i := range items {
		if items[i].Changes, err = quarantinedChanges(ctx, tx, items[i].ID); err != nil {
			return nil, fmt.Errorf("quarantine items: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("quarantine items: %w", err)
	}
	return items, nil
}

// QuarantineItem returns one quarantine item with its changes, or
// CodeNotFound.
func (s *Store) QuarantineItem(ctx context.Context, id string) (server.QuarantineItem, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return server.QuarantineItem{}, fmt.Errorf("quarantine item: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	it, err := loadQuarantineItem(ctx, tx, id)
	if err != nil {
		return server.QuarantineItem{}, err
	}
	if err := tx.Commit(); err != nil {
		return server.QuarantineItem{}, fmt.Errorf("quarantine item: %w", err)
	}
	return it, nil
}

// AcceptQuarantine commits an open item's changes to the log as Push does,
// marks it accepted and writes its audit entry, in one transaction. See
// server.QuarantineStore.
func (s *Store) AcceptQuarantine(ctx context.Context, id string, audit server.Audit, now time.Time) (server.PushResult, error) {
	if err := checkAudit(audit); err != nil {
		return server.PushResult{}, err
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return server.PushResult{}, fmt.Errorf("accept quarantine: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	it, err := loadQuarantineItem(ctx, tx, id)
	if err != nil {
		return server.PushResult{}, err
	}
	if it.Status != server.QuarantineOpen {
		return server.PushResult{}, syncproto.Errorf(syncproto.CodeConflict, "review item %s is already %s", id, it.Status)
	}
	head, _, err := loadHead(ctx, tx, it.Device)
	if err != nil {
		return server.PushResult{}, fmt.Errorf("accept quarantine: %w", err)
	}
	if err := checkAcceptable(ctx, tx, it, head); err != nil {
		return server.PushResult{}, err
	}
	var held bool
	if err := tx.QueryRowContext(ctx, sqlPushAnyHeld, it.Device).Scan(&held); err != nil {
		return server.PushResult{}, fmt.Errorf("accept quarantine: %w", err)
	}
	if held {
		// Quarantine moves them into the open item: none may be left to
		// be drained into the log unreviewed.
		return server.PushResult{}, fmt.Errorf("accept quarantine %s: device %s has held changes outside review", id, it.Device)
	}
	batch := make([]server.Incoming, len(it.Changes))
	for i := range it.Changes {
		batch[i] = it.Changes[i].Incoming
	}
	g := &group{ctx: ctx, tx: tx}
	p := &push{ctx: ctx, g: g, tx: tx, device: it.Device, now: now.UnixNano(), review: true}
	if err := p.run(batch); err != nil {
		var pe *syncproto.Error
		if errors.As(err, &pe) {
			return server.PushResult{}, err
		}
		return server.PushResult{}, fmt.Errorf("accept quarantine %s: %w", id, err)
	}
	if p.res.Applied != len(batch) {
		return server.PushResult{}, fmt.Errorf("accept quarantine %s: %d of %d changes applied", id, p.res.Applied, len(batch))
	}
	if err := decide(ctx, tx, id, server.QuarantineAccepted, audit, now); err != nil {
		return server.PushResult{}, err
	}
	if err := tx.Commit(); err != nil {
		return server.PushResult{}, fmt.Errorf("accept quarantine: %w", err)
	}
	return p.res, nil
}

// checkAcceptable checks that an item's changes continue the device's
// logged chain (head) without a gap, so that all of them enter the log.
func checkAcceptable(ctx context.Context, tx *sql.Tx, it server.QuarantineItem, head uint64) error {
	want := head + 1
	for _, c := range it.Changes {
		if c.Change.Seq != want {
			break
		}
		want++
	}
	if want == head+1+uint64(len(it.Changes)) {
		return nil
	}
	var other string
	err := tx.QueryRowContext(ctx, `SELECT item FROM quarantine WHERE device = ? AND seq = ?`, it.Device, int64(want)).Scan(&other)
	switch {
	case err == nil && other != it.ID:
		return syncproto.Errorf(syncproto.CodeConflict,
			"review item %s continues the changes of item %s, which the county rejected: they cannot enter the log without them; reject %s too",
			it.ID, other, it.ID)
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("accept quarantine: %w", err)
	}
	return syncproto.Errorf(syncproto.CodeConflict,
		"change %d of device %s has not reached the server, so the changes of review item %s cannot enter the log: "+
			"accept once it is relayed (it joins the item), or reject the item", want, it.Device, it.ID)
}

// RejectQuarantine marks an open item rejected and writes its audit entry,
// in one transaction; its changes stay in quarantine.
func (s *Store) RejectQuarantine(ctx context.Context, id string, audit server.Audit, now time.Time) error {
	if err := checkAudit(audit); err != nil {
		return err
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("reject quarantine: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var status string
	err = tx.QueryRowContext(ctx, `SELECT status FROM quarantine_items WHERE id = ?`, id).Scan(&status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return syncproto.Errorf(syncproto.CodeNotFound, "no review item %s", id)
	case err != nil:
		return fmt.Errorf("reject quarantine: %w", err)
	case status != server.QuarantineOpen:
		return syncproto.Errorf(syncproto.CodeConflict, "review item %s is already %s", id, status)
	}
	if err := decide(ctx, tx, id, server.QuarantineRejected, audit, now); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("reject quarantine: %w", err)
	}
	return nil
}

// decide writes the audit entry of an open item's decision and marks it.
func decide(ctx context.Context, tx *sql.Tx, id, status string, audit server.Audit, now time.Time) error {
	audit.Created = now
	auditID, err := insertAudit(ctx, tx, audit)
	if err != nil {
		return fmt.Errorf("decide %s: %w", id, err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE quarantine_items SET status = ?, decided = ?, audit = ? WHERE id = ? AND status = ?`,
		status, now.UnixNano(), auditID, id, server.QuarantineOpen)
	if err != nil {
		return fmt.Errorf("decide %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("decide %s: %d items marked (%v), want 1", id, n, err)
	}
	return nil
}
