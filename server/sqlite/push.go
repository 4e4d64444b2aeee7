package sqlite

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"villagesync/election"
	"villagesync/server"
	"villagesync/syncproto"
)

// alertEquivocation is the kind of the alert RecordEquivocation raises.
const alertEquivocation = "equivocation"

// changeCols are the columns of a change as the device sent it, shared by
// the changes and held tables, in the order scanChange reads them.
const changeCols = `device, seq, collection, record_id, base, wall, logical, at, clock_offset, schema_version, body, sig`

// The statements of the push path, prepared once on the writer connection
// (see Store.prepare) so that a push spends its time executing them, not
// parsing them.
const (
	sqlPushHead = `SELECT h.seq, h.hash, d.revoked FROM devices d
		LEFT JOIN device_heads h ON h.device = d.id WHERE d.id = ?`
	sqlPushAnyHeld   = `SELECT EXISTS (SELECT 1 FROM held WHERE device = ?)`
	sqlPushWriteHead = `INSERT INTO device_heads (device, seq, hash) VALUES (?, ?, ?)
		ON CONFLICT (device) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`
	sqlPushLogHash  = `SELECT hash FROM changes WHERE device = ? AND seq = ?`
	sqlPushHeldLink = `SELECT hash, prev FROM held WHERE device = ? AND seq = ?`
	sqlPushLog      = `INSERT INTO changes (` + changeCols + `, hash, prev, township, village, received)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlPushHold = `INSERT INTO held (` + changeCols + `, hash, prev, township, village, received, slot)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlPushRelease   = `DELETE FROM held WHERE device = ? AND seq = ?`
	sqlPushNewRecord = `INSERT INTO records (collection, id, version, pos, township, village, device, seq, slot)
		VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?) ON CONFLICT (collection, id) DO NOTHING`
	sqlPushMaxPos = sqlMaxPos
	// The slot queries repeat slot <> '' so that the planner may use the
	// partial index records_slot: a bound slot proves nothing.
	sqlPushSlotClaims = `SELECT r.id, r.device, r.seq, r.pos, c.body FROM records r INDEXED BY records_slot
		JOIN changes c ON c.pos = r.pos
		WHERE r.collection = ? AND r.slot = ? AND r.slot <> '' AND r.superseded = '' ORDER BY r.device, r.seq`
	sqlPushSlotOther = `SELECT c.body FROM records r INDEXED BY records_slot JOIN changes c ON c.pos = r.pos
		WHERE r.collection = ? AND r.slot = ? AND r.slot <> '' AND r.superseded = '' AND r.id <> ? LIMIT 1`
	sqlPushOpenConflict = `SELECT id FROM conflicts WHERE collection = ? AND subject = ? AND kind = ?
		AND resolved IS NULL AND superseded_by IS NULL`
)

// pushStatements are prepared by Open.
var pushStatements = []string{
	sqlPushHead, sqlPushAnyHeld, sqlPushWriteHead, sqlPushLogHash, sqlPushHeldLink,
	sqlPushLog, sqlPushHold, sqlPushRelease, sqlPushNewRecord, sqlPushMaxPos, sqlPushSlotClaims,
	sqlPushSlotOther, sqlPushOpenConflict,
}

// Push stores one device's verified changes durably and atomically. See
// server.Store.
//
// For each change in ascending seq: a seq at or below the device's head is a
// duplicate if its hash equals the logged one and an equivocation otherwise;
// the seq right after the head is appended to the log if its prev is the
// head's hash (an equivocation otherwise); a seq beyond a gap is held. Held
// changes the push unblocks are then appended in order. Appending applies the
// change to its record as server.Store.Push describes (see apply).
//
// Concurrent pushes share a commit (see commitGroup): each runs inside its
// own savepoint of one write transaction, so each is all or nothing, and
// Push returns only once that transaction is durably committed.
func (s *Store) Push(ctx context.Context, device string, batch []server.Incoming, now time.Time) (server.PushResult, error) {
	return s.push(ctx, device, batch, nil, now)
}

// PushAudited is Push with an audit entry written in the same savepoint:
// either both are stored or neither is. The entry's Created is now.
func (s *Store) PushAudited(ctx context.Context, device string, batch []server.Incoming, audit server.Audit, now time.Time) (server.PushResult, error) {
	if err := checkAudit(audit); err != nil {
		return server.PushResult{}, err
	}
	return s.push(ctx, device, batch, &audit, now)
}

func (s *Store) push(ctx context.Context, device string, batch []server.Incoming, audit *server.Audit, now time.Time) (server.PushResult, error) {
	if err := checkBatch(device, batch); err != nil {
		return server.PushResult{}, err
	}
	r := &pushRequest{ctx: ctx, device: device, batch: batch, audit: audit, now: now, done: make(chan struct{})}
	select {
	case s.pushes <- r:
	case <-ctx.Done():
		return server.PushResult{}, fmt.Errorf("push: %w", ctx.Err())
	case <-s.stop:
		return server.PushResult{}, errClosed()
	}
	// Once taken, a push runs to its commit; waiting for it bounds nothing
	// but keeps the answer truthful.
	<-r.done
	return r.res, r.err
}

// pushOne runs one push inside the group's transaction.
func (g *group) pushOne(r *pushRequest) (server.PushResult, error) {
	p := &push{ctx: g.ctx, g: g, tx: g.tx, device: r.device, now: r.now.UnixNano()}
	err := p.run(r.batch)
	if err == nil && r.audit != nil {
		a := *r.audit
		a.Created = r.now
		_, err = insertAudit(g.ctx, g.tx, a)
	}
	if err != nil {
		var eq *server.EquivocationError
		var pe *syncproto.Error
		if errors.As(err, &eq) || errors.As(err, &pe) {
			return server.PushResult{}, err
		}
		return server.PushResult{}, fmt.Errorf("push: %w", err)
	}
	return p.res, nil
}

// checkBatch checks what the store relies on: one device, strictly
// ascending seqs from 1, and numbers SQLite can hold.
func checkBatch(device string, batch []server.Incoming) error {
	if device == "" {
		return syncproto.Errorf(syncproto.CodeBadRequest, "push needs a device")
	}
	var last uint64
	for i := range batch {
		c := &batch[i].Change
		switch {
		case c.Device != device:
			return &syncproto.Error{Code: syncproto.CodeForbidden, Message: fmt.Sprintf("change is authored by %q, not %q", c.Device, device), Seq: c.Seq}
		case c.Seq == 0 || c.Seq > math.MaxInt64:
			return &syncproto.Error{Code: syncproto.CodeBadRequest, Message: "seq out of range", Seq: c.Seq}
		case c.Seq <= last:
			return &syncproto.Error{Code: syncproto.CodeChainBroken, Message: "changes must be in strictly ascending seq order", Seq: c.Seq}
		case c.Base > math.MaxInt64:
			return &syncproto.Error{Code: syncproto.CodeBadRequest, Message: "base version out of range", Seq: c.Seq}
		}
		last = c.Seq
	}
	return nil
}

// push is the state of one Push transaction.
type push struct {
	ctx    context.Context
	g      *group
	tx     *sql.Tx
	device string
	now    int64
	// review is set when the county accepts a revoked device's
	// quarantined changes: the one way they enter the log.
	review bool

	head     uint64         // contiguous head so far
	headHash syncproto.Hash // hash of change head
	anyHeld  bool           // whether the device may have held changes
	lastPos  int64          // log position of the last change appended
	res      server.PushResult
}

func (p *push) run(batch []server.Incoming) error {
	var seq, revoked sql.NullInt64
	var hash []byte
	err := p.queryRow(sqlPushHead, p.device).Scan(&seq, &hash, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return syncproto.Errorf(syncproto.CodeNotFound, "device %s is not enrolled", p.device)
	}
	if err != nil {
		return fmt.Errorf("read head: %w", err)
	}
	if revoked.Valid && !p.review {
		// Revoked after the service checked it: what it signed since its
		// revocation point goes to review (Quarantine), never in here.
		return syncproto.Errorf(syncproto.CodeDeviceRevoked, "device %s was revoked by the county: its changes go to the county's review", p.device)
	}
	if seq.Valid {
		p.head = uint64(seq.Int64)
		if p.headHash, err = toHash(hash); err != nil {
			return fmt.Errorf("read head: %w", err)
		}
	}
	start := p.head
	if err := p.queryRow(sqlPushAnyHeld, p.device).Scan(&p.anyHeld); err != nil {
		return fmt.Errorf("read held: %w", err)
	}

	for i := range batch {
		if err := p.one(&batch[i]); err != nil {
			return err
		}
	}
	if err := p.drain(); err != nil {
		return err
	}

	if p.head != start {
		if _, err := p.exec(sqlPushWriteHead, p.device, int64(p.head), p.headHash[:]); err != nil {
			return fmt.Errorf("write head: %w", err)
		}
	}
	p.res.Through = p.head
	p.res.Head = p.headHash
	if p.anyHeld {
		held, err := heldSeqs(p.ctx, p.tx, p.device)
		if err != nil {
			return err
		}
		p.res.Held = held
	}
	// The log has one writer and positions only grow, so the last change
	// appended is the end of the log.
	pos := p.lastPos
	if p.res.Applied == 0 {
		if err := p.queryRow(sqlPushMaxPos).Scan(&pos); err != nil {
			return fmt.Errorf("read log position: %w", err)
		}
	}
	p.res.Pos = uint64(pos)
	return nil
}

func (p *push) exec(query string, args ...any) (sql.Result, error) {
	if st := p.g.stmt(query); st != nil {
		return st.ExecContext(p.ctx, args...)
	}
	return p.tx.ExecContext(p.ctx, query, args...)
}

func (p *push) queryRow(query string, args ...any) *sql.Row {
	if st := p.g.stmt(query); st != nil {
		return st.QueryRowContext(p.ctx, args...)
	}
	return p.tx.QueryRowContext(p.ctx, query, args...)
}

// one handles one incoming change.
func (p *push) one(in *server.Incoming) error {
	seq := in.Change.Seq
	if seq <= p.head {
		var stored []byte
		if err := p.queryRow(sqlPushLogHash, p.device, int64(seq)).Scan(&stored); err != nil {
			return fmt.Errorf("read logged change %d: %w", seq, err)
		}
		if !bytes.Equal(stored, in.Hash[:]) {
			return p.equivocation(seq, "changes", seq, incomingChange(in))
		}
		p.res.Duplicates++
		return nil
	}
	if p.anyHeld {
		hash, _, ok, err := p.heldLink(seq)
		if err != nil {
			return err
		}
		if ok {
			if hash != in.Hash {
				return p.equivocation(seq, "held", seq, incomingChange(in))
			}
			p.res.Duplicates++
			return nil
		}
	}
	if seq == p.head+1 {
		return p.append(in)
	}
	return p.hold(in)
}

// append adds a change that extends the device's contiguous head to the
// log and applies it to its record.
func (p *push) append(in *server.Incoming) error {
	c := &in.Change
	if in.Prev != p.headHash {
		if p.head == 0 {
			return &syncproto.Error{Code: syncproto.CodeChainBroken, Message: "seq 1 must have a zero prev hash", Seq: c.Seq}
		}
		// The device signed a change whose history contradicts the
		// change the server logged at seq-1.
		return p.equivocation(p.head, "changes", p.head, incomingChange(in))
	}
	res, err := p.exec(sqlPushLog, changeArgs(c, in.Hash, in.Prev, in.Place, p.now)...)
	if err != nil {
		return fmt.Errorf("log change %d: %w", c.Seq, err)
	}
	pos, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("log change %d: %w", c.Seq, err)
	}
	p.lastPos = pos
	if err := p.apply(in, pos); err != nil {
		return err
	}
	p.head = c.Seq
	p.headHash = in.Hash
	p.res.Applied++
	return nil
}

// apply applies a logged change at log position pos to its record, as
// server.Store.Push describes.
func (p *push) apply(in *server.Incoming, pos int64) error {
	c, place := &in.Change, in.Place
	res, err := p.exec(sqlPushNewRecord, c.Collection, c.ID, pos, place.Township, place.Village, c.Device, int64(c.Seq), in.Slot)
	if err != nil {
		return fmt.Errorf("apply change %d: %w", c.Seq, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("apply change %d: %w", c.Seq, err)
	}
	if n == 1 { // a new record
		if in.Slot != "" {
			raised, err := p.conflicts().claim(c.Collection, in.Slot, c.ID, c.Body, place, pos)
			if err != nil {
				return fmt.Errorf("apply change %d: %w", c.Seq, err)
			}
			if raised {
				p.res.Conflicts++
			}
		}
		if c.Collection == resolutionCollection {
			return p.conflicts().resolve(c, pos)
		}
		return nil
	}
	cur, ok, err := loadRecord(p.ctx, p.tx, c.Collection, c.ID)
	if err != nil || !ok {
		return fmt.Errorf("apply change %d: read record (found %t): %w", c.Seq, ok, err)
	}
	if bytes.Equal(cur.Body, c.Body) {
		return nil // the same content again: nothing to merge
	}
	cs := p.conflicts()
	open, err := cs.open(election.ConflictRecord, c.Collection, c.ID)
	if err != nil {
		return fmt.Errorf("apply change %d: %w", c.Seq, err)
	}
	if open != nil && slices.ContainsFunc(open.Versions, func(v server.ConflictVersion) bool { return bytes.Equal(v.Body, c.Body) }) {
		return nil // a version the open conflict already holds
	}
	if editable(c.Collection) && c.Base == cur.Version {
		if _, err := p.tx.ExecContext(p.ctx, `UPDATE records SET version = version + 1, pos = ?, township = ?, village = ?,
			device = ?, seq = ? WHERE collection = ? AND id = ?`,
			pos, place.Township, place.Village, c.Device, int64(c.Seq), c.Collection, c.ID); err != nil {
			return fmt.Errorf("apply change %d: %w", c.Seq, err)
		}
		return nil
	}
	// A fact rewritten (whatever its base) or an edit on a stale base.
	versions := []versionKey{{c.ID, cur.Device, cur.Seq, cur.Pos}}
	supersede := ""
	if open != nil {
		versions = versions[:0]
		for _, v := range open.Versions {
			versions = append(versions, versionKey{v.RecordID, v.Device, v.Seq, v.Pos})
		}
		supersede = open.ID
	}
	versions = append(versions, versionKey{c.ID, c.Device, c.Seq, uint64(pos)})
	if _, err := cs.raise(election.ConflictRecord, c.Collection, c.ID, cur.Place, versions, pos, supersede); err != nil {
		return fmt.Errorf("record conflict for change %d: %w", c.Seq, err)
	}
	p.res.Conflicts++
	return p.showProvisional(c.Collection, c.ID, versions)
}

// showProvisional points a record in conflict at the version every replica
// shows while the conflict is open: the first of its versions in hybrid
// logical clock order, then author and seq (the order devices replay in),
// so the server and every device show the same body whatever order the
// versions arrived in. No version is dropped: all stay in the conflict.
func (p *push) showProvisional(collection, id string, versions []versionKey) error {
	type key struct {
		wall    int64
		logical int64
		device  string
		seq     uint64
		pos     uint64
	}
	var first *key
	for _, v := range versions {
		k := key{device: v.device, seq: v.seq, pos: v.pos}
		if err := p.tx.QueryRowContext(p.ctx, `SELECT wall, logical FROM changes WHERE pos = ?`, int64(v.pos)).Scan(&k.wall, &k.logical); err != nil {
			return fmt.Errorf("order conflict versions: %w", err)
		}
		if first == nil || cmp.Or(cmp.Compare(k.wall, first.wall), cmp.Compare(k.logical, first.logical),
			strings.Compare(k.device, first.device), cmp.Compare(k.seq, first.seq)) < 0 {
			first = &k
		}
	}
	if _, err := p.tx.ExecContext(p.ctx, `UPDATE records SET pos = ?, device = ?, seq = ? WHERE collection = ? AND id = ? AND pos <> ?`,
		int64(first.pos), first.device, int64(first.seq), collection, id, int64(first.pos)); err != nil {
		return fmt.Errorf("show provisional version: %w", err)
	}
	return nil
}

// hold stores a change beyond a gap, after checking that it chains with
// any held neighbours.
func (p *push) hold(in *server.Incoming) error {
	c := &in.Change
	if p.anyHeld {
		if hash, _, ok, err := p.heldLink(c.Seq - 1); err != nil {
			return err
		} else if ok && hash != in.Prev {
			return p.equivocation(c.Seq-1, "held", c.Seq-1, incomingChange(in))
		}
		if _, prev, ok, err := p.heldLink(c.Seq + 1); err != nil {
			return err
		} else if ok && prev != in.Hash {
			return p.equivocation(c.Seq, "held", c.Seq+1, incomingChange(in))
		}
	}
	if _, err := p.exec(sqlPushHold, append(changeArgs(c, in.Hash, in.Prev, in.Place, p.now), in.Slot)...); err != nil {
		return fmt.Errorf("hold change %d: %w", c.Seq, err)
	}
	p.anyHeld = true
	return nil
}

// drain appends the held changes that now extend the contiguous head.
func (p *push) drain() error {
	for p.anyHeld {
		in, ok, err := p.heldChange(p.head + 1)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if err := p.append(&in); err != nil {
			return err
		}
		if _, err := p.exec(sqlPushRelease, p.device, int64(in.Change.Seq)); err != nil {
			return fmt.Errorf("release held change %d: %w", in.Change.Seq, err)
		}
	}
	return nil
}

// heldLink returns the hash and prev of the device's held change seq.
func (p *push) heldLink(seq uint64) (hash, prev syncproto.Hash, ok bool, err error) {
	if seq == 0 || seq > math.MaxInt64 {
		return hash, prev, false, nil
	}
	var h, pr []byte
	err = p.queryRow(sqlPushHeldLink, p.device, int64(seq)).Scan(&h, &pr)
	if errors.Is(err, sql.ErrNoRows) {
		return hash, prev, false, nil
	}
	if err != nil {
		return hash, prev, false, fmt.Errorf("read held change %d: %w", seq, err)
	}
	if hash, err = toHash(h); err != nil {
		return hash, prev, false, fmt.Errorf("read held change %d: %w", seq, err)
	}
	if prev, err = toHash(pr); err != nil {
		return hash, prev, false, fmt.Errorf("read held change %d: %w", seq, err)
	}
	return hash, prev, true, nil
}

// heldChange reads the device's held change seq in full.
func (p *push) heldChange(seq uint64) (server.Incoming, bool, error) {
	in, err := storedChange(p.ctx, p.tx, "held", p.device, seq)
	if errors.Is(err, sql.ErrNoRows) {
		return server.Incoming{}, false, nil
	}
	if err != nil {
		return server.Incoming{}, false, fmt.Errorf("read held change %d: %w", seq, err)
	}
	return in, true, nil
}

// equivocation builds the error for two versions of the device's change
// seq: the one stored in table at storedSeq and the incoming one.
func (p *push) equivocation(seq uint64, table string, storedSeq uint64, incoming syncproto.Change) error {
	stored, err := storedChange(p.ctx, p.tx, table, p.device, storedSeq)
	if err != nil {
		return fmt.Errorf("read equivocation evidence: %w", err)
	}
	return &server.EquivocationError{
		Device:   p.device,
		Seq:      seq,
		Stored:   stored.Change,
		Incoming: incoming,
	}
}

// incomingChange is the change of in with its prev attached, as evidence of
// the history the device claimed.
func incomingChange(in *server.Incoming) syncproto.Change {
	c := in.Change
	prev := in.Prev
	c.Prev = &prev
	return c
}

// storedChange reads a change of device from table (changes, held or
// quarantine), with its Prev set to the stored prev hash.
func storedChange(ctx context.Context, tx *sql.Tx, table, device string, seq uint64) (server.Incoming, error) {
	var q string
	switch table {
	case "changes":
		q = `SELECT ` + changeCols + `, hash, prev, township, village, '' FROM changes WHERE device = ? AND seq = ?`
	case "held":
		q = `SELECT ` + changeCols + `, hash, prev, township, village, slot FROM held WHERE device = ? AND seq = ?`
	case "quarantine":
		q = `SELECT ` + changeCols + `, hash, prev, township, village, slot FROM quarantine WHERE device = ? AND seq = ?`
	default:
		return server.Incoming{}, fmt.Errorf("no change table %q", table)
	}
	var in server.Incoming
	var hash, prev []byte
	row := tx.QueryRowContext(ctx, q, device, int64(seq))
	if err := scanChange(row, &in.Change, &hash, &prev, &in.Place.Township, &in.Place.Village, &in.Slot); err != nil {
		return server.Incoming{}, err
	}
	var err error
	if in.Hash, err = toHash(hash); err != nil {
		return server.Incoming{}, err
	}
	if in.Prev, err = toHash(prev); err != nil {
		return server.Incoming{}, err
	}
	p := in.Prev
	in.Change.Prev = &p
	return in, nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// scanChange scans the changeCols columns into c, then any extra columns.
func scanChange(sc scanner, c *syncproto.Change, extra ...any) error {
	var seq, base, logical, schema int64
	var body, sig []byte
	dest := append([]any{&c.Device, &seq, &c.Collection, &c.ID, &base, &c.Wall, &logical, &c.At, &c.Offset, &schema, &body, &sig}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return err
	}
	c.Seq = uint64(seq)
	c.Base = uint64(base)
	c.Logical = uint32(logical)
	c.Schema = uint32(schema)
	c.Body = json.RawMessage(body)
	if len(sig) > 0 {
		c.Sig = syncproto.Bytes(sig)
	}
	return nil
}

// changeArgs are the values of changeCols followed by hash, prev, township,
// village and received.
func changeArgs(c *syncproto.Change, hash, prev syncproto.Hash, place election.Place, received int64) []any {
	var sig []byte
	if len(c.Sig) > 0 {
		sig = []byte(c.Sig)
	}
	return []any{
		c.Device, int64(c.Seq), c.Collection, c.ID, int64(c.Base), c.Wall, int64(c.Logical), c.At, c.Offset,
		int64(c.Schema), []byte(c.Body), sig,
		hash[:], prev[:], place.Township, place.Village, received,
	}
}

func toHash(b []byte) (syncproto.Hash, error) {
	var h syncproto.Hash
	if len(b) != len(h) {
		return h, fmt.Errorf("stored hash is %d bytes, want %d", len(b), len(h))
	}
	copy(h[:], b)
	return h, nil
}

// The queries of a device's head and held seqs and of the log position,
// run by pushes on the writer and by Head and Pull on the read pool.
const (
	sqlLoadHead = `SELECT seq, hash FROM device_heads WHERE device = ?`
	sqlHeldSeqs = `SELECT seq FROM held WHERE device = ? ORDER BY seq`
	sqlMaxPos   = `SELECT COALESCE(MAX(pos), 0) FROM changes`
)

// loadHead returns a device's contiguous head seq and hash (0 and zero if
// it has none).
func loadHead(ctx context.Context, tx *sql.Tx, device string) (uint64, syncproto.Hash, error) {
	return scanHead(tx.QueryRowContext(ctx, sqlLoadHead, device))
}

// scanHead reads the row of sqlLoadHead.
func scanHead(row *sql.Row) (uint64, syncproto.Hash, error) {
	var seq int64
	var hash []byte
	err := row.Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, syncproto.Hash{}, nil
	}
	if err != nil {
		return 0, syncproto.Hash{}, fmt.Errorf("read head: %w", err)
	}
	h, err := toHash(hash)
	if err != nil {
		return 0, syncproto.Hash{}, fmt.Errorf("read head: %w", err)
	}
	return uint64(seq), h, nil
}

// heldSeqs returns the seqs a device holds beyond a gap, ascending.
func heldSeqs(ctx context.Context, tx *sql.Tx, device string) ([]uint64, error) {
	return scanHeldSeqs(tx.QueryContext(ctx, sqlHeldSeqs, device))
}

// scanHeldSeqs reads the rows of sqlHeldSeqs.
func scanHeldSeqs(rows *sql.Rows, err error) ([]uint64, error) {
	if err != nil {
		return nil, fmt.Errorf("read held: %w", err)
	}
	defer rows.Close()
	var seqs []uint64
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return nil, fmt.Errorf("read held: %w", err)
		}
		seqs = append(seqs, uint64(seq))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read held: %w", err)
	}
	return seqs, nil
}

// maxPos is the server log's last position (0 when empty).
func maxPos(ctx context.Context, tx *sql.Tx) (uint64, error) {
	return scanMaxPos(tx.QueryRowContext(ctx, sqlMaxPos))
}

// scanMaxPos reads the row of sqlMaxPos.
func scanMaxPos(row *sql.Row) (uint64, error) {
	var pos int64
	if err := row.Scan(&pos); err != nil {
		return 0, fmt.Errorf("read log position: %w", err)
	}
	return uint64(pos), nil
}

// Head returns a device's contiguous head, the seqs it holds beyond a gap
// and the log position, from one snapshot.
func (s *Store) Head(ctx context.Context, device string) (server.DeviceHead, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return server.DeviceHead{}, fmt.Errorf("head: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var h server.DeviceHead
	if h.Seq, h.Hash, err = scanHead(s.readStmt(ctx, tx, sqlLoadHead).QueryRowContext(ctx, device)); err != nil {
		return server.DeviceHead{}, fmt.Errorf("head: %w", err)
	}
	if h.Held, err = scanHeldSeqs(s.readStmt(ctx, tx, sqlHeldSeqs).QueryContext(ctx, device)); err != nil {
		return server.DeviceHead{}, fmt.Errorf("head: %w", err)
	}
	if h.Pos, err = scanMaxPos(s.readStmt(ctx, tx, sqlMaxPos).QueryRowContext(ctx)); err != nil {
		return server.DeviceHead{}, fmt.Errorf("head: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return server.DeviceHead{}, fmt.Errorf("head: %w", err)
	}
	return h, nil
}

// RecordEquivocation keeps both versions of an equivocating change as
// evidence and raises an "equivocation" alert. The alert names the device
// and seq only; the bodies stay in the evidence table.
func (s *Store) RecordEquivocation(ctx context.Context, e *server.EquivocationError, now time.Time) error {
	if e == nil {
		return syncproto.Errorf(syncproto.CodeBadRequest, "no equivocation to record")
	}
	stored, err := syncproto.Marshal(e.Stored)
	if err != nil {
		return fmt.Errorf("record equivocation: encode stored change: %w", err)
	}
	incoming, err := syncproto.Marshal(e.Incoming)
	if err != nil {
		return fmt.Errorf("record equivocation: encode incoming change: %w", err)
	}
	if e.Seq > math.MaxInt64 {
		return syncproto.Errorf(syncproto.CodeBadRequest, "equivocation seq out of range")
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("record equivocation: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `INSERT INTO equivocations (device, seq, stored, incoming, created) VALUES (?, ?, ?, ?, ?)`,
		e.Device, int64(e.Seq), string(stored), string(incoming), now.UnixNano()); err != nil {
		return fmt.Errorf("record equivocation: %w", err)
	}
	alert := server.Alert{
		Kind:    alertEquivocation,
		Device:  e.Device,
		Detail:  fmt.Sprintf("device signed two different changes for seq %d; both kept as evidence", e.Seq),
		Created: now,
	}
	if err := insertAlert(ctx, tx, alert); err != nil {
		return fmt.Errorf("record equivocation: alert: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record equivocation: %w", err)
	}
	return nil
}
