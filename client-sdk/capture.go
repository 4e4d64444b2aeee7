package client

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"villagesync/election"
	"villagesync/syncproto"
)

// Record is a record as the device holds it: its own capture or a pulled
// change of another author, with its conflict state. Every replica in scope
// shows the same conflict state for it (see [Conflict]).
type Record struct {
	Collection string          `json:"collection"`
	ID         string          `json:"id"`
	Body       json.RawMessage `json:"body"`
	Version    uint64          `json:"version"` // 1 for a new record; reference records count their edits
	Device     string          `json:"device"`  // author of this version
	Seq        uint64          `json:"seq"`     // the author's seq of this version
	Pending    bool            `json:"pending"` // authored here and not yet covered by a server receipt
	// Conflict is the id of the open conflict the record is in, if any.
	// Body is then provisional: no version wins until the county decides.
	Conflict string `json:"conflict,omitempty"`
	// Versions lists every version of the open conflict (for a slot
	// conflict, the other records' too).
	Versions []Version `json:"versions,omitempty"`
	// Superseded is set when the county resolved a slot conflict in favour
	// of another record: this one is kept as evidence and counts for
	// nothing.
	Superseded bool `json:"superseded,omitempty"`
	// Resolution is the id of the resolution record of the latest resolved
	// conflict the record was in.
	Resolution string `json:"resolution,omitempty"`
}

// Captured is what [Device.Capture] recorded: the signed change and the
// election rules the record breaks or that need review, for the operator
// to see at once. A record with warnings is stored all the same.
type Captured struct {
	Change   syncproto.Change   `json:"change"`
	Warnings []election.Finding `json:"warnings,omitempty"`
}

// Put captures a record like [Device.Capture] and returns the change.
func (d *Device) Put(ctx context.Context, collection, id string, body []byte) (syncproto.Change, error) {
	c, err := d.Capture(ctx, collection, id, body)
	return c.Change, err
}

// Capture captures a record: it validates body against the collection,
// checks that the device may author it, then chains, signs and stores the
// change and applies it to the local records, all in one transaction. When
// Capture returns without error the change is durable.
//
// A record that breaks an election rule is still captured — the paper is
// the primary record — and the findings come back as warnings (e.g. P3 for
// a tally sheet with more ballots returned than issued). So is a fact that
// claims a slot another record already claims with different content (a
// second tally sheet for one round): it is stored, marked in a slot
// conflict for the county to resolve, and a D2 warning names the other
// record.
//
// Facts are append-only: capturing an existing fact id again with a body
// this device already captured returns the change already held (capture is
// idempotent); with a different body it is a CodeConflict error. Capturing
// an existing reference record records a new version based on the local
// one.
//
// Errors the operator can act on are *syncproto.Error: CodeMalformedRecord
// (naming the offending field), CodeForbidden (the role never authors this
// collection), CodeOutOfScope (the record is about a place outside the
// device's scope) and CodeConflict.
func (d *Device) Capture(ctx context.Context, collection, id string, body []byte) (Captured, error) {
	canon, err := syncproto.CanonicalBody(body)
	if err != nil {
		return Captured{}, malformed("%s %q: %v", collection, id, err)
	}
	coll, ok := election.LookupCollection(collection)
	if !ok {
		names := make([]string, 0, 16)
		for _, c := range election.Collections() {
			names = append(names, c.Name)
		}
		return Captured{}, malformed("unknown collection %q: want one of %s", collection, strings.Join(names, ", "))
	}
	if !slices.Contains(coll.Authors, d.scope.Role) {
		return Captured{}, syncproto.Errorf(syncproto.CodeForbidden,
			"a %s device may not author %s records (authored by: %s)", d.scope.Role, coll.Name, rolesList(coll.Authors))
	}
	probe := syncproto.Change{Device: d.id, Seq: 1, Collection: coll.Name, ID: id, Schema: coll.Schema, Body: canon}
	if err := probe.CheckShape(); err != nil {
		var e *syncproto.Error
		if errors.As(err, &e) {
			return Captured{}, malformed("%s", e.Message)
		}
		return Captured{}, malformed("%v", err)
	}

	tx, err := d.st.begin(ctx)
	if err != nil {
		return Captured{}, fmt.Errorf("capture: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	res := &resolver{ctx: ctx, q: tx}
	place, verr := coll.Validate(id, canon, res)
	if res.err != nil {
		return Captured{}, fmt.Errorf("capture: %w", res.err)
	}
	if verr != nil {
		return Captured{}, malformed("%v", verr)
	}
	if !d.scope.CanAuthor(coll.Name, place) {
		return Captured{}, d.outOfScope(coll.Name, place)
	}

	var (
		base  uint64
		after syncproto.HLC // the new change must come after every version it is based on
		out   Captured
	)
	cur, found, err := loadRecord(ctx, tx, coll.Name, id)
	if err != nil {
		return Captured{}, fmt.Errorf("capture: %w", err)
	}
	if found {
		held, ok, err := d.heldCapture(ctx, tx, cur, canon)
		switch {
		case err != nil:
			return Captured{}, fmt.Errorf("capture: %w", err)
		case ok:
			out.Change = held
		case !coll.Editable():
			return Captured{}, syncproto.Errorf(syncproto.CodeConflict,
				"%s %q already exists with a different body; facts are append-only: record a correction (e.g. a tally_amendment) instead", coll.Name, id)
		default:
			base = cur.version
			if after, err = latestVersion(ctx, tx, coll.Name, id); err != nil {
				return Captured{}, fmt.Errorf("capture: %w", err)
			}
		}
	}
	rc := d.reconciler(ctx, tx)
	inConflict := found // a record captured before may be in a slot conflict
	if out.Change.Seq == 0 {
		if out.Change, err = d.capture(ctx, tx, rc, coll, id, canon, base, !found, place, after); err != nil {
			return Captured{}, fmt.Errorf("capture: %w", err)
		}
		inConflict = rc.inSlotConflict(coll.Name, id)
	}
	if out.Warnings, err = d.warnings(ctx, tx, coll.Name, id, canon, inConflict); err != nil {
		return Captured{}, fmt.Errorf("capture: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Captured{}, fmt.Errorf("capture: %w", err)
	}
	return out, nil
}

// heldCapture returns the change of a version with body that this device
// captured before, or that the record shows, so that capturing it again
// changes nothing.
func (d *Device) heldCapture(ctx context.Context, q querier, cur record, body []byte) (syncproto.Change, bool, error) {
	if bytes.Equal(cur.body, body) {
		c, err := heldChange(ctx, q, d.id, cur)
		return c, err == nil, err
	}
	var seq uint64
	err := q.QueryRowContext(ctx, `SELECT seq FROM versions WHERE collection = ? AND id = ? AND device = ? AND body = ?
		ORDER BY seq LIMIT 1`, cur.collection, cur.id, d.id, body).Scan(&seq)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return syncproto.Change{}, false, nil
	case err != nil:
		return syncproto.Change{}, false, fmt.Errorf("read versions: %w", err)
	}
	c, err := heldChange(ctx, q, d.id, record{device: d.id, seq: seq, own: true})
	return c, err == nil, err
}

// latestVersion returns the latest clock of a record's versions.
func latestVersion(ctx context.Context, q querier, collection, id string) (syncproto.HLC, error) {
	var h syncproto.HLC
	err := q.QueryRowContext(ctx, `SELECT wall, logical FROM versions WHERE collection = ? AND id = ?
		ORDER BY wall DESC, logical DESC LIMIT 1`, collection, id).Scan(&h.Wall, &h.Logical)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return h, fmt.Errorf("read versions: %w", err)
	}
	return h, nil
}

// warnings returns what the operator should know about a record just
// captured: the election rules it breaks or that need review, and, if
// inConflict, the slot conflict it is in.
func (d *Device) warnings(ctx context.Context, q querier, collection, id string, body []byte, inConflict bool) ([]election.Finding, error) {
	res := &resolver{ctx: ctx, q: q}
	ws := election.Warnings(collection, body, res)
	if res.err != nil {
		return nil, res.err
	}
	if !inConflict {
		return ws, nil
	}
	f, err := slotWarning(ctx, q, collection, id)
	if err != nil {
		return nil, err
	}
	if f != nil {
		ws = append(ws, *f)
	}
	return ws, nil
}

// capture appends a new change to the outbox and applies it to records.
// The change's clock is after after (the versions an edit is based on);
// fresh says the device holds no version of the record yet.
func (d *Device) capture(ctx context.Context, tx querier, rc *reconciler, coll *election.Collection, id string, body []byte, base uint64, fresh bool, place election.Place, after syncproto.HLC) (syncproto.Change, error) {
	var offsetRaw, wallRaw, logicalRaw, prev []byte
	var last sql.NullInt64
	if err := tx.QueryRowContext(ctx, qCaptureState).Scan(&offsetRaw, &wallRaw, &logicalRaw, &last, &prev); err != nil {
		return syncproto.Change{}, fmt.Errorf("read capture state: %w", err)
	}
	var prevHash syncproto.Hash
	if last.Valid && copy(prevHash[:], prev) != len(prevHash) {
		return syncproto.Change{}, errors.New("outbox head: damaged hash")
	}
	offset, err1 := parseInt(offsetRaw)
	wall, err2 := parseInt(wallRaw)
	logical, err3 := parseInt(logicalRaw)
	if err := errors.Join(err1, err2, err3); err != nil {
		return syncproto.Change{}, fmt.Errorf("read capture state: %w", err)
	}
	var clk syncproto.Clock
	clk.Restore(syncproto.HLC{Wall: wall, Logical: uint32(logical)})
	raw := d.nowMS()
	if after.Wall != 0 {
		clk.Observe(after, raw+offset)
	}
	c := syncproto.Change{
		Device:     d.id,
		Seq:        uint64(last.Int64) + 1,
		Collection: coll.Name,
		ID:         id,
		Base:       base,
		HLC:        clk.Now(raw + offset),
		At:         raw,
		Offset:     offset,
		Schema:     coll.Schema,
		Body:       body,
	}
	h := c.Hash(prevHash)
	c.Sig = syncproto.SignHash(d.priv, h)
	if c.Seq > 1 {
		c.Prev = &prevHash
	}
	js, err := syncproto.Marshal(c)
	if err != nil {
		return syncproto.Change{}, fmt.Errorf("encode change: %w", err)
	}
	if _, err := tx.ExecContext(ctx, qInsertOutbox,
		c.Seq, h[:], prevHash[:], js); err != nil {
		return syncproto.Change{}, fmt.Errorf("append to outbox: %w", err)
	}
	if err := rc.add(&c, &place, fresh); err != nil {
		return syncproto.Change{}, err
	}
	if err := saveClock(ctx, tx, &clk); err != nil {
		return syncproto.Change{}, err
	}
	return c, nil
}

// heldChange returns the change that produced the current version of a
// record: from the outbox if it is the device's own, else as pulled.
func heldChange(ctx context.Context, q querier, self string, r record) (syncproto.Change, error) {
	var js []byte
	var err error
	if r.own && r.device == self {
		err = q.QueryRowContext(ctx, `SELECT change FROM outbox WHERE seq = ?`, r.seq).Scan(&js)
	} else {
		err = q.QueryRowContext(ctx, `SELECT change FROM remote WHERE device = ? AND seq = ?`, r.device, r.seq).Scan(&js)
	}
	if err != nil {
		return syncproto.Change{}, fmt.Errorf("held change %s/%d: %w", r.device, r.seq, err)
	}
	var c syncproto.Change
	if err := syncproto.Unmarshal(js, &c); err != nil {
		return syncproto.Change{}, fmt.Errorf("held change %s/%d: %w", r.device, r.seq, err)
	}
	return c, nil
}

func (d *Device) outOfScope(collection string, p election.Place) *syncproto.Error {
	where := "county-wide"
	switch {
	case p.Village != "":
		where = "about village " + p.Village
	case p.Township != "":
		where = "about township " + p.Township
	}
	var allowed string
	switch d.scope.Role {
	case election.RoleStation:
		allowed = "only records about its own village " + d.scope.Code
	case election.RoleSupervisor:
		allowed = "only records about its township " + d.scope.Code + " and its villages"
	case election.RoleCounty:
		allowed = "records anywhere in county " + d.scope.Code
	default:
		allowed = "no records"
	}
	return syncproto.Errorf(syncproto.CodeOutOfScope, "this %s record is %s, but this %s device may author %s",
		collection, where, d.scope.Role, allowed)
}

func malformed(format string, args ...any) *syncproto.Error {
	return syncproto.Errorf(syncproto.CodeMalformedRecord, format, args...)
}

func rolesList(roles []election.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// Get returns a record the device holds, or a CodeNotFound error.
func (d *Device) Get(ctx context.Context, collection, id string) (Record, error) {
	recs, err := d.records(ctx, ` WHERE r.collection = ? AND r.id = ?`, collection, id)
	if err != nil {
		return Record{}, fmt.Errorf("get: %w", err)
	}
	if len(recs) == 0 {
		return Record{}, syncproto.Errorf(syncproto.CodeNotFound, "no %s record %q on this device", collection, id)
	}
	return recs[0], nil
}

// List returns every record of a collection the device holds, by id.
func (d *Device) List(ctx context.Context, collection string) ([]Record, error) {
	recs, err := d.records(ctx, ` WHERE r.collection = ? ORDER BY r.id`, collection)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	return recs, nil
}

// recordQuery reads records with their conflict state, derived from the
// conflicts table: the open conflict (a record conflict before a slot
// conflict), whether a resolved slot conflict kept another record, and the
// latest resolution.
const recordQuery = `SELECT r.collection, r.id, r.body, r.version, r.device, r.seq,
	r.own = 1 AND EXISTS (SELECT 1 FROM outbox o WHERE o.seq = r.seq AND o.acked = 0),
	coalesce((SELECT c.id FROM conflict_versions cv JOIN conflicts c ON c.id = cv.conflict
		WHERE cv.collection = r.collection AND cv.record_id = r.id AND c.resolution IS NULL
		ORDER BY c.kind, c.id LIMIT 1), ''),
	EXISTS (SELECT 1 FROM conflict_versions cv JOIN conflicts c ON c.id = cv.conflict
		WHERE cv.collection = r.collection AND cv.record_id = r.id AND c.kind = 'slot'
		AND c.resolution IS NOT NULL AND c.keep_id <> r.id),
	coalesce((SELECT c.resolution FROM conflict_versions cv JOIN conflicts c ON c.id = cv.conflict
		WHERE cv.collection = r.collection AND cv.record_id = r.id AND c.resolution IS NOT NULL
		ORDER BY c.res_wall DESC, c.res_logical DESC, c.res_device DESC, c.res_seq DESC LIMIT 1), '')
	FROM records r`

// records runs recordQuery with a condition and adds the versions of the
// records in conflict, in one read transaction.
func (d *Device) records(ctx context.Context, where string, args ...any) ([]Record, error) {
	tx, err := d.st.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, recordQuery+where, args...)
	if err != nil {
		return nil, err
	}
	recs, err := scanRecords(rows)
	if err != nil {
		return nil, err
	}
	for i := range recs {
		if recs[i].Conflict == "" {
			continue
		}
		if recs[i].Versions, err = d.conflictVersions(ctx, tx, recs[i].Conflict); err != nil {
			return nil, err
		}
	}
	return recs, nil
}

func scanRecords(rows *sql.Rows) ([]Record, error) {
	defer func() { _ = rows.Close() }()
	var out []Record
	for rows.Next() {
		var r Record
		var body []byte
		if err := rows.Scan(&r.Collection, &r.ID, &body, &r.Version, &r.Device, &r.Seq, &r.Pending,
			&r.Conflict, &r.Superseded, &r.Resolution); err != nil {
			return nil, err
		}
		r.Body = body
		out = append(out, r)
	}
	return out, rows.Err()
}

// record is a row of the records table.
type record struct {
	collection, id string
	body           []byte
	version        uint64
	device         string
	seq            uint64
	place          election.Place
	placed         bool // place is known
	own            bool
	slot           string // the slot the body claims, "" for none
}

func loadRecord(ctx context.Context, q querier, collection, id string) (record, bool, error) {
	r := record{collection: collection, id: id}
	var township, village sql.NullString
	err := q.QueryRowContext(ctx, qLoadRecord, collection, id).
		Scan(&r.body, &r.version, &r.device, &r.seq, &township, &village, &r.own, &r.slot)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return record{}, false, nil
	case err != nil:
		return record{}, false, fmt.Errorf("read record %s/%s: %w", collection, id, err)
	}
	r.placed = township.Valid
	r.place = election.Place{Township: township.String, Village: village.String}
	return r, true, nil
}

func putRecord(ctx context.Context, q querier, r record) error {
	var township, village sql.NullString
	if r.placed {
		township = sql.NullString{String: r.place.Township, Valid: true}
		village = sql.NullString{String: r.place.Village, Valid: true}
	}
	_, err := q.ExecContext(ctx, qPutRecord, r.collection, r.id, r.body, r.version, r.device, r.seq, township, village, r.own, r.slot)
	if err != nil {
		return fmt.Errorf("write record %s/%s: %w", r.collection, r.id, err)
	}
	return nil
}

// resolver answers the election domain's questions about held records from
// the device store, inside the caller's transaction. Resolver has no error
// result, so the first error is kept in err for the caller to check.
type resolver struct {
	ctx context.Context
	q   querier
	err error
}

var _ election.Resolver = (*resolver)(nil)

// Place implements election.Resolver.
func (r *resolver) Place(collection, id string) (election.Place, bool) {
	if r.err != nil {
		return election.Place{}, false
	}
	rec, ok, err := loadRecord(r.ctx, r.q, collection, id)
	if err != nil {
		r.err = err
		return election.Place{}, false
	}
	if !ok || !rec.placed {
		return election.Place{}, false
	}
	return rec.place, true
}

// loadClock restores the hybrid logical clock from meta.
func loadClock(ctx context.Context, q querier) (*syncproto.Clock, error) {
	wall, err := metaInt(ctx, q, metaHLCWall)
	if err != nil {
		return nil, err
	}
	logical, err := metaInt(ctx, q, metaHLCLogical)
	if err != nil {
		return nil, err
	}
	var c syncproto.Clock
	c.Restore(syncproto.HLC{Wall: wall, Logical: uint32(logical)})
	return &c, nil
}

func saveClock(ctx context.Context, q querier, c *syncproto.Clock) error {
	last := c.Last()
	wall := strconv.AppendInt(nil, last.Wall, 10)
	logical := strconv.AppendUint(nil, uint64(last.Logical), 10)
	if _, err := q.ExecContext(ctx, qSaveClock, wall, logical); err != nil {
		return fmt.Errorf("write clock: %w", err)
	}
	return nil
}

// parseInt parses a decimal meta value; nil is 0.
func parseInt(v []byte) (int64, error) {
	if v == nil {
		return 0, nil
	}
	return strconv.ParseInt(string(v), 10, 64)
}
