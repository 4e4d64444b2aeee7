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
// change of another author.
type Record struct {
	Collection string          `json:"collection"`
	ID         string          `json:"id"`
	Body       json.RawMessage `json:"body"`
	Version    uint64          `json:"version"` // 1 for a new record; reference records count their edits
	Device     string          `json:"device"`  // author of this version
	Seq        uint64          `json:"seq"`     // the author's seq of this version
	Pending    bool            `json:"pending"` // authored here and not yet covered by a server receipt
}

// Put captures a record: it validates body against the collection, checks
// that the device may author it, then chains, signs and stores the change
// and applies it to the local records, all in one transaction. When Put
// returns without error the change is durable.
//
// Facts are append-only: putting an existing fact id again with an
// identical body returns the change already held (capture is idempotent);
// with a different body it is a CodeConflict error. Putting an existing
// reference record records a new version based on the local one.
//
// Errors the operator can act on are *syncproto.Error: CodeMalformedRecord
// (naming the offending field), CodeForbidden (the role never authors this
// collection), CodeOutOfScope (the record is about a place outside the
// device's scope) and CodeConflict.
func (d *Device) Put(ctx context.Context, collection, id string, body []byte) (syncproto.Change, error) {
	canon, err := syncproto.CanonicalBody(body)
	if err != nil {
		return syncproto.Change{}, malformed("%s %q: %v", collection, id, err)
	}
	coll, ok := election.LookupCollection(collection)
	if !ok {
		names := make([]string, 0, 16)
		for _, c := range election.Collections() {
			names = append(names, c.Name)
		}
		return syncproto.Change{}, malformed("unknown collection %q: want one of %s", collection, strings.Join(names, ", "))
	}
	if !slices.Contains(coll.Authors, d.scope.Role) {
		return syncproto.Change{}, syncproto.Errorf(syncproto.CodeForbidden,
			"a %s device may not author %s records (authored by: %s)", d.scope.Role, coll.Name, rolesList(coll.Authors))
	}
	probe := syncproto.Change{Device: d.id, Seq: 1, Collection: coll.Name, ID: id, Schema: coll.Schema, Body: canon}
	if err := probe.CheckShape(); err != nil {
		var e *syncproto.Error
		if errors.As(err, &e) {
			return syncproto.Change{}, malformed("%s", e.Message)
		}
		return syncproto.Change{}, malformed("%v", err)
	}

	tx, err := d.st.begin(ctx)
	if err != nil {
		return syncproto.Change{}, fmt.Errorf("put: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	res := &resolver{ctx: ctx, q: tx}
	place, verr := coll.Validate(id, canon, res)
	if res.err != nil {
		return syncproto.Change{}, fmt.Errorf("put: %w", res.err)
	}
	if verr != nil {
		return syncproto.Change{}, malformed("%v", verr)
	}
	if !d.scope.CanAuthor(coll.Name, place) {
		return syncproto.Change{}, d.outOfScope(coll.Name, place)
	}

	var base uint64
	cur, found, err := loadRecord(ctx, tx, coll.Name, id)
	if err != nil {
		return syncproto.Change{}, fmt.Errorf("put: %w", err)
	}
	if found {
		if bytes.Equal(cur.body, canon) {
			c, err := heldChange(ctx, tx, d.id, cur)
			if err != nil {
				return syncproto.Change{}, fmt.Errorf("put: %w", err)
			}
			return c, nil
		}
		if coll.Kind != election.KindReference {
			return syncproto.Change{}, syncproto.Errorf(syncproto.CodeConflict,
				"%s %q already exists with a different body; facts are append-only: record a correction (e.g. a tally_amendment) instead", coll.Name, id)
		}
		base = cur.version
	}

	c, err := d.capture(ctx, tx, coll, id, canon, base, place)
	if err != nil {
		return syncproto.Change{}, fmt.Errorf("put: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return syncproto.Change{}, fmt.Errorf("put: %w", err)
	}
	return c, nil
}

// capture appends a new change to the outbox and applies it to records.
func (d *Device) capture(ctx context.Context, tx querier, coll *election.Collection, id string, body []byte, base uint64, place election.Place) (syncproto.Change, error) {
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
	if err := putRecord(ctx, tx, record{
		collection: c.Collection, id: c.ID, body: body, version: base + 1,
		device: d.id, seq: c.Seq, place: place, placed: true, own: true,
	}); err != nil {
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
	rows, err := d.st.rdb.QueryContext(ctx, recordQuery+` WHERE r.collection = ? AND r.id = ?`, collection, id)
	if err != nil {
		return Record{}, fmt.Errorf("get: %w", err)
	}
	recs, err := scanRecords(rows)
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
	rows, err := d.st.rdb.QueryContext(ctx, recordQuery+` WHERE r.collection = ? ORDER BY r.id`, collection)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	recs, err := scanRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	return recs, nil
}

const recordQuery = `SELECT r.collection, r.id, r.body, r.version, r.device, r.seq,
	r.own = 1 AND EXISTS (SELECT 1 FROM outbox o WHERE o.seq = r.seq AND o.acked = 0)
	FROM records r`

func scanRecords(rows *sql.Rows) ([]Record, error) {
	defer func() { _ = rows.Close() }()
	var out []Record
	for rows.Next() {
		var r Record
		var body []byte
		if err := rows.Scan(&r.Collection, &r.ID, &body, &r.Version, &r.Device, &r.Seq, &r.Pending); err != nil {
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
}

func loadRecord(ctx context.Context, q querier, collection, id string) (record, bool, error) {
	r := record{collection: collection, id: id}
	var township, village sql.NullString
	err := q.QueryRowContext(ctx, qLoadRecord, collection, id).
		Scan(&r.body, &r.version, &r.device, &r.seq, &township, &village, &r.own)
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
	_, err := q.ExecContext(ctx, qPutRecord, r.collection, r.id, r.body, r.version, r.device, r.seq, township, village, r.own)
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
