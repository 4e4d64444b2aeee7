package client

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"villagesync/election"
	"villagesync/syncproto"
)

// Kinds of conflict, as the election domain names them.
const (
	// ConflictRecord: one record holds versions that cannot both stand —
	// a fact rewritten, or a reference edit based on a version that is no
	// longer current.
	ConflictRecord = election.ConflictRecord
	// ConflictSlot: different facts (different record ids, different
	// bodies) claim one slot, e.g. two tally sheets for one election round.
	ConflictSlot = election.ConflictSlot
)

// resolutionCollection is the collection of the county's resolutions of
// conflicts, authored by the server with the county authority identity.
const resolutionCollection = "resolution"

// Conflict is a conflict as every replica derives it from the versions it
// holds: the same id, kind and versions on the server and on every device
// in scope, whatever order the versions arrived in. While it is open no
// version wins silently: the records involved are marked with its id. The
// county resolves it on the server and the resolution syncs down.
type Conflict struct {
	ID         string    `json:"id"`   // CF-<16 hex>, fleet-wide
	Kind       string    `json:"kind"` // ConflictRecord or ConflictSlot
	Collection string    `json:"collection"`
	RecordID   string    `json:"record_id,omitempty"` // ConflictRecord: the record
	Slot       string    `json:"slot,omitempty"`      // ConflictSlot: the slot claimed
	Versions   []Version `json:"versions"`
	Detected   time.Time `json:"detected"`             // when this device first saw it (device clock)
	Resolution string    `json:"resolution,omitempty"` // id of the resolution record, once resolved
	Keep       string    `json:"keep,omitempty"`       // the version kept, once resolved
}

// Version is one version of a record in a conflict: the change that
// introduced it, its author and its capture time.
type Version struct {
	Ref      string          `json:"ref"` // <device>/<seq> of the change that introduced it
	RecordID string          `json:"id"`
	Device   string          `json:"device"` // author
	Seq      uint64          `json:"seq"`
	Base     uint64          `json:"base,omitempty"` // reference edits: the version it was based on
	Body     json.RawMessage `json:"body"`
	At       time.Time       `json:"at"`  // capture time, corrected by the author's learned clock offset
	Own      bool            `json:"own"` // authored by this device
}

// conflictID is the fleet-wide id of a conflict: "CF-" and the first 16 hex
// characters of SHA-256(kind 0 collection 0 key 0 refs sorted and joined by
// 0), where key is the record id or the slot and refs are the
// <device>/<seq> of the changes that introduced the versions.
func conflictID(kind, collection, key string, refs []string) string {
	sorted := slices.Sorted(slices.Values(refs))
	h := sha256.New()
	for _, s := range []string{kind, collection, key} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write([]byte(strings.Join(sorted, "\x00")))
	return "CF-" + hex.EncodeToString(h.Sum(nil))[:16]
}

func versionRef(device string, seq uint64) string {
	return device + "/" + strconv.FormatUint(seq, 10)
}

// parseRef splits a version ref into device and seq.
func parseRef(ref string) (string, uint64, bool) {
	i := strings.LastIndexByte(ref, '/')
	if i <= 0 {
		return "", 0, false
	}
	seq, err := strconv.ParseUint(ref[i+1:], 10, 64)
	if err != nil || seq == 0 {
		return "", 0, false
	}
	return ref[:i], seq, true
}

// orderKey orders changes for replay: by hybrid logical clock, then by
// author and seq, so that every replica replays a set of changes in the
// same order whatever order they arrived in.
type orderKey struct {
	wall    int64
	logical uint32
	device  string
	seq     uint64
}

func (a orderKey) compare(b orderKey) int {
	return cmp.Or(cmp.Compare(a.wall, b.wall), cmp.Compare(a.logical, b.logical),
		strings.Compare(a.device, b.device), cmp.Compare(a.seq, b.seq))
}

// ver is one held change of a record.
type ver struct {
	orderKey
	id   string // record id
	base uint64
	at   int64
	body []byte
}

func (v *ver) ref() string { return versionRef(v.device, v.seq) }

func refsOf(vs []*ver) []string {
	refs := make([]string, len(vs))
	for i, v := range vs {
		refs[i] = v.ref()
	}
	return refs
}

// resolution is a well-formed resolution record, as indexed.
type resolution struct {
	record     string // RES-<conflict>
	conflict   string
	kind       string
	collection string
	key        string   // record id or slot
	keep       string   // ref kept
	keepID     string   // record id of the version kept
	refs       []string // every version of the conflict
	versions   []byte   // the body's versions, as JSON
	order      orderKey // of the resolution change
}

// resolutionBody is the body of a resolution record.
type resolutionBody struct {
	Conflict   string `json:"conflict"`
	Kind       string `json:"kind"`
	Collection string `json:"collection"`
	Slot       string `json:"slot"`
	Versions   []struct {
		Ref string `json:"ref"`
		ID  string `json:"id"`
	} `json:"versions"`
	Keep       string `json:"keep"`
	Reason     string `json:"reason"`
	ResolvedBy string `json:"resolved_by"`
	ResolvedAt string `json:"resolved_at"`
}

// parseResolution reads and checks a resolution record: its id names the
// conflict, the conflict id matches its kind, collection, key and versions,
// and the version kept is one of them.
func parseResolution(id string, body []byte) (*resolution, error) {
	var b resolutionBody
	if err := syncproto.Unmarshal(body, &b); err != nil {
		return nil, err
	}
	r := &resolution{record: id, conflict: b.Conflict, kind: b.Kind, collection: b.Collection, keep: b.Keep}
	switch {
	case !strings.HasPrefix(b.Conflict, "CF-") || id != "RES-"+b.Conflict:
		return nil, fmt.Errorf("record id %q does not name conflict %q", id, b.Conflict)
	case b.Kind != ConflictRecord && b.Kind != ConflictSlot:
		return nil, fmt.Errorf("unknown conflict kind %q", b.Kind)
	case b.Collection == "" || b.Collection == resolutionCollection:
		return nil, fmt.Errorf("invalid collection %q", b.Collection)
	case len(b.Versions) < 2:
		return nil, fmt.Errorf("%d versions, want at least 2", len(b.Versions))
	case strings.TrimSpace(b.Reason) == "":
		return nil, errors.New("no reason given")
	}
	seen := make(map[string]bool, len(b.Versions))
	for _, v := range b.Versions {
		if _, _, ok := parseRef(v.Ref); !ok || v.ID == "" || seen[v.Ref] {
			return nil, fmt.Errorf("invalid or repeated version %q", v.Ref)
		}
		seen[v.Ref] = true
		r.refs = append(r.refs, v.Ref)
		if v.Ref == b.Keep {
			r.keepID = v.ID
		}
	}
	if r.keepID == "" {
		return nil, fmt.Errorf("kept version %q is not one of the conflict's versions", b.Keep)
	}
	switch b.Kind {
	case ConflictRecord:
		r.key = b.Versions[0].ID
		for _, v := range b.Versions {
			if v.ID != r.key {
				return nil, errors.New("a record conflict's versions name different records")
			}
		}
	case ConflictSlot:
		if b.Slot == "" {
			return nil, errors.New("a slot conflict without a slot")
		}
		r.key = b.Slot
	}
	if want := conflictID(b.Kind, b.Collection, r.key, r.refs); b.Conflict != want {
		return nil, fmt.Errorf("conflict id %s does not match its versions (want %s)", b.Conflict, want)
	}
	vs, err := syncproto.Marshal(b.Versions)
	if err != nil {
		return nil, err
	}
	r.versions = vs
	return r, nil
}

// formed is a conflict found by a replay. The id of an open one is
// computed once the replay is over (see finish): a storm of versions
// joining one conflict must not cost a hash of them all at each step.
type formed struct {
	id       string
	versions []*ver
	res      *resolution // what closed it; nil while open
}

// finish sets the id of the open conflict a replay ended with.
func finish(open *formed, kind, collection, key string) *formed {
	if open != nil {
		open.id = conflictID(kind, collection, key, refsOf(open.versions))
	}
	return open
}

// take finds the versions a resolution names among vs: the version kept,
// those named, and the others. ok is false unless every version named is
// among vs.
func take(vs []*ver, r *resolution) (kept *ver, named, rest []*ver, ok bool) {
	if len(vs) < len(r.refs) {
		return nil, nil, nil, false
	}
	refs := make(map[string]bool, len(r.refs))
	for _, ref := range r.refs {
		refs[ref] = true
	}
	for _, v := range vs {
		switch ref := v.ref(); {
		case !refs[ref]:
			rest = append(rest, v)
		default:
			named = append(named, v)
			if ref == r.keep {
				kept = v
			}
		}
	}
	return kept, named, rest, kept != nil && len(named) == len(r.refs)
}

// replay walks versions and resolutions together in order, calling
// onVersion for each version. Each resolution is handed to apply when its
// turn comes; one that does not apply yet (apply returns false) waits and
// is handed again after every later event until it does.
func replay(vs []*ver, rs []*resolution, onVersion func(*ver), apply func(*resolution) bool) {
	var pending []*resolution
	settle := func() {
		for i := 0; i < len(pending); i++ {
			if apply(pending[i]) {
				pending = slices.Delete(pending, i, i+1)
				i = -1 // the state changed: try every pending one again
			}
		}
	}
	for i, j := 0, 0; i < len(vs) || j < len(rs); {
		if j == len(rs) || i < len(vs) && vs[i].orderKey.compare(rs[j].order) < 0 {
			onVersion(vs[i])
			i++
		} else {
			pending = append(pending, rs[j])
			j++
		}
		settle()
	}
}

// recordState is the state of one record derived from its versions.
type recordState struct {
	cur     *ver // the version the record shows
	version uint64
	open    *formed
	done    []*formed
}

// replayRecord derives a record's state from every version held (sorted by
// orderKey) and the resolutions of its record conflicts (sorted by order).
//
// The first version creates the record. A version with the body shown, or
// the body of a version already in the open conflict, changes nothing. For
// an editable (reference) record, a version based on the current version
// number is an edit and becomes current. Any other version conflicts: with
// the current version, or it joins the open conflict (a new conflict id).
// A resolution applies once every version it names is in the open
// conflict: the version kept becomes current and the others leave the
// conflict; any left conflict with the version kept. A resolution that
// arrives before one of its versions thus applies when that version does.
func replayRecord(collection, id string, editable bool, vs []*ver, rs []*resolution) recordState {
	var st recordState
	bodies := map[string]bool{} // of the open conflict's versions
	form := func(versions []*ver) {
		st.open = &formed{versions: versions}
		clear(bodies)
		for _, v := range versions {
			bodies[string(v.body)] = true
		}
	}
	onVersion := func(v *ver) {
		switch {
		case st.cur == nil:
			st.cur, st.version = v, v.base+1
			return
		case bytes.Equal(v.body, st.cur.body):
			return
		case st.open != nil && bodies[string(v.body)]:
			return
		case editable && v.base == st.version:
			st.cur = v
			st.version++
			return
		case st.open != nil:
			st.open.versions = append(st.open.versions, v)
			bodies[string(v.body)] = true
		default:
			form([]*ver{st.cur, v})
		}
	}
	apply := func(r *resolution) bool {
		if st.open == nil {
			return false
		}
		kept, named, rest, ok := take(st.open.versions, r)
		if !ok {
			return false
		}
		st.done = append(st.done, &formed{id: r.conflict, versions: named, res: r})
		st.cur = kept
		if editable {
			for _, v := range named {
				st.version = max(st.version, v.base+1)
			}
		}
		st.open = nil
		if len(rest) > 0 {
			form(append([]*ver{kept}, rest...))
		}
		return true
	}
	replay(vs, rs, onVersion, apply)
	st.open = finish(st.open, ConflictRecord, collection, id)
	return st
}

// slotState is the state of one slot derived from its claims.
type slotState struct {
	open       *formed
	done       []*formed
	superseded map[string]bool // record ids a resolution set aside
}

// replaySlot derives a slot's state from its claims (the current version of
// each record claiming it, sorted by orderKey) and the resolutions of its
// slot conflicts. The slot is in conflict while the records claiming it
// (and not superseded) hold at least two different bodies; the conflict's
// versions are all of them. A resolution applies once every version it
// names is in the open conflict: the other records it names are
// superseded.
func replaySlot(collection, slot string, claims []*ver, rs []*resolution) slotState {
	st := slotState{superseded: map[string]bool{}}
	var active []*ver
	differ := false // active holds two different bodies
	open := func() {
		st.open = nil
		if differ {
			st.open = &formed{versions: active}
		}
	}
	onClaim := func(v *ver) {
		active = append(active, v)
		differ = differ || !bytes.Equal(v.body, active[0].body)
		open()
	}
	apply := func(r *resolution) bool {
		if st.open == nil {
			return false
		}
		kept, named, _, ok := take(st.open.versions, r)
		if !ok {
			return false
		}
		st.done = append(st.done, &formed{id: r.conflict, versions: named, res: r})
		for _, v := range named {
			if v.id != kept.id {
				st.superseded[v.id] = true
			}
		}
		active = slices.DeleteFunc(slices.Clone(active), func(v *ver) bool { return st.superseded[v.id] })
		differ = slices.ContainsFunc(active, func(v *ver) bool { return !bytes.Equal(v.body, active[0].body) })
		open()
		return true
	}
	replay(claims, rs, onClaim, apply)
	st.open = finish(st.open, ConflictSlot, collection, slot)
	return st
}

// editable reports whether records of collection are edited in place
// (reference records, resolutions, and collections this build does not
// know: the server decides) rather than append-only facts.
func editable(collection string) bool {
	if c, ok := election.LookupCollection(collection); ok {
		return c.Editable()
	}
	return true
}

// factSlot returns the slot a fact's body claims, "" for none.
func factSlot(collection, id string, body []byte) string {
	c, ok := election.LookupCollection(collection)
	if !ok || c.Editable() {
		return ""
	}
	return c.Slot(id, body)
}

// Statements of the reconciliation path.
const (
	qInsertVersion = `INSERT INTO versions (device, seq, collection, id, base, wall, logical, at, body)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device, seq) DO NOTHING`
	qRecordVersions = `SELECT device, seq, base, wall, logical, at, body FROM versions
		WHERE collection = ? AND id = ? ORDER BY wall, logical, device, seq`
	qSlotClaims = `SELECT r.id, v.device, v.seq, v.base, v.wall, v.logical, v.at, v.body
		FROM records r INDEXED BY records_slot -- without statistics SQLite scans the collection
		JOIN versions v ON v.device = r.device AND v.seq = r.seq
		WHERE r.collection = ? AND r.slot = ? ORDER BY v.wall, v.logical, v.device, v.seq`
	qKeyResolutions = `SELECT record, conflict, keep, versions, device, seq, wall, logical FROM resolutions
		WHERE collection = ? AND kind = ? AND key = ? ORDER BY wall, logical, device, seq`
	qKeyConflicts = `SELECT id, detected, coalesce(resolution, '') FROM conflicts
		WHERE collection = ? AND kind = ? AND key = ?`
	qDeleteConflict = `DELETE FROM conflicts WHERE id = ?`
	qInsertConflict = `INSERT INTO conflicts (id, kind, collection, key, detected,
		resolution, keep, keep_id, res_wall, res_logical, res_device, res_seq)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`
	qInsertConflictVersion = `INSERT INTO conflict_versions (conflict, pos, collection, record_id, device, seq)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`
)

// reconciler derives records and conflicts from the versions held, inside
// the caller's write transaction.
type reconciler struct {
	ctx    context.Context
	q      querier
	self   string // this device
	now    int64  // device clock, Unix ms
	log    *slog.Logger
	opened int             // conflicts newly opened
	open   map[string]bool // records found in an open slot conflict, by collection "\x00" id
}

// add stores a change as a version of its record and reconciles what it
// touches. place, if not nil, is where the change's record is (known at
// capture); otherwise it is worked out when needed. fresh says the caller
// knows the device holds no version of the record yet.
func (rc *reconciler) add(c *syncproto.Change, place *election.Place, fresh bool) error {
	res, err := rc.q.ExecContext(rc.ctx, qInsertVersion, c.Device, c.Seq, c.Collection, c.ID, c.Base,
		c.Wall, c.Logical, c.CorrectedAt(), []byte(c.Body))
	if err != nil {
		return fmt.Errorf("store version %s: %w", versionRef(c.Device, c.Seq), err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store version %s: %w", versionRef(c.Device, c.Seq), err)
	} else if n == 0 {
		return nil // already held
	}
	var hint *placeHint
	if place != nil {
		hint = &placeHint{device: c.Device, seq: c.Seq, place: *place}
	}
	if fresh {
		// A new record: no other version, no conflict, nothing to replay.
		v := &ver{orderKey: orderKey{c.Wall, c.Logical, c.Device, c.Seq}, id: c.ID, base: c.Base, at: c.CorrectedAt(), body: c.Body}
		return rc.write(c.Collection, c.ID, recordState{cur: v, version: c.Base + 1}, record{}, false, hint)
	}
	return rc.record(c.Collection, c.ID, hint)
}

// placeHint is the known place of one version.
type placeHint struct {
	device string
	seq    uint64
	place  election.Place
}

// record re-derives one record and what depends on it: the slots it
// leaves or claims and, for a resolution record, the conflict it resolves.
func (rc *reconciler) record(collection, id string, hint *placeHint) error {
	vs, err := rc.versions(collection, id)
	if err != nil || len(vs) == 0 {
		return err
	}
	var st recordState
	if len(vs) == 1 {
		// The common case, a new record: it has no conflict, had none
		// (versions are never dropped) and no resolution applies.
		st = recordState{cur: vs[0], version: vs[0].base + 1}
	} else {
		rs, err := rc.resolutions(collection, ConflictRecord, id)
		if err != nil {
			return err
		}
		st = replayRecord(collection, id, editable(collection), vs, rs)
		if err := rc.saveConflicts(ConflictRecord, collection, id, st.open, st.done); err != nil {
			return err
		}
	}
	old, found, err := loadRecord(rc.ctx, rc.q, collection, id)
	if err != nil {
		return err
	}
	return rc.write(collection, id, st, old, found, hint)
}

// write stores a record's derived state, old being what was stored (if
// found), and re-derives what depends on it.
func (rc *reconciler) write(collection, id string, st recordState, old record, found bool, hint *placeHint) error {
	var err error
	slot := factSlot(collection, id, st.cur.body)
	if found && old.device == st.cur.device && old.seq == st.cur.seq && old.version == st.version && old.slot == slot {
		return nil
	}
	r := record{
		collection: collection, id: id, body: st.cur.body, version: st.version,
		device: st.cur.device, seq: st.cur.seq, own: st.cur.device == rc.self, slot: slot,
	}
	switch {
	case hint != nil && hint.device == r.device && hint.seq == r.seq:
		r.place, r.placed = hint.place, true
	case found && old.placed && bytes.Equal(old.body, r.body):
		r.place, r.placed = old.place, true
	default:
		if r.place, r.placed, err = placeOf(rc.ctx, rc.q, collection, id, r.body); err != nil {
			return err
		}
	}
	if err := putRecord(rc.ctx, rc.q, r); err != nil {
		return err
	}
	if found && old.slot != "" && old.slot != r.slot {
		if err := rc.slot(collection, old.slot); err != nil {
			return err
		}
	}
	if r.slot != "" {
		if err := rc.slot(collection, r.slot); err != nil {
			return err
		}
	}
	if collection == resolutionCollection {
		return rc.indexResolution(id, st.cur)
	}
	return nil
}

// slot re-derives the conflicts of one slot.
func (rc *reconciler) slot(collection, slot string) error {
	rows, err := rc.q.QueryContext(rc.ctx, qSlotClaims, collection, slot)
	if err != nil {
		return fmt.Errorf("read slot %s: %w", slot, err)
	}
	claims, err := scanVersions(rows, true)
	if err != nil {
		return fmt.Errorf("read slot %s: %w", slot, err)
	}
	var rs []*resolution
	if len(claims) > 1 { // one claim conflicts with nothing
		if rs, err = rc.resolutions(collection, ConflictSlot, slot); err != nil {
			return err
		}
	}
	st := replaySlot(collection, slot, claims, rs)
	if st.open != nil {
		if rc.open == nil {
			rc.open = map[string]bool{}
		}
		for _, v := range st.open.versions {
			rc.open[collection+"\x00"+v.id] = true
		}
	}
	return rc.saveConflicts(ConflictSlot, collection, slot, st.open, st.done)
}

// inSlotConflict reports whether the reconciler found a record in an open
// slot conflict.
func (rc *reconciler) inSlotConflict(collection, id string) bool {
	return rc.open[collection+"\x00"+id]
}

// indexResolution indexes the current body of a resolution record and
// re-derives the conflicts it resolved before and resolves now.
func (rc *reconciler) indexResolution(id string, cur *ver) error {
	type target struct{ kind, collection, key string }
	var targets []target
	var old target
	err := rc.q.QueryRowContext(rc.ctx, `SELECT kind, collection, key FROM resolutions WHERE record = ?`, id).
		Scan(&old.kind, &old.collection, &old.key)
	switch {
	case err == nil:
		targets = append(targets, old)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("read resolution %s: %w", id, err)
	}
	if _, err := rc.q.ExecContext(rc.ctx, `DELETE FROM resolutions WHERE record = ?`, id); err != nil {
		return fmt.Errorf("index resolution %s: %w", id, err)
	}
	r, perr := parseResolution(id, cur.body)
	if perr != nil {
		rc.log.Warn("ignoring a malformed resolution", logRecord, id, logErr, perr)
	} else {
		if _, err := rc.q.ExecContext(rc.ctx, `INSERT INTO resolutions (conflict, record, kind, collection, key, keep,
			versions, device, seq, wall, logical) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (conflict) DO NOTHING`,
			r.conflict, id, r.kind, r.collection, r.key, r.keep, r.versions, cur.device, cur.seq, cur.wall, cur.logical); err != nil {
			return fmt.Errorf("index resolution %s: %w", id, err)
		}
		if t := (target{r.kind, r.collection, r.key}); !slices.Contains(targets, t) {
			targets = append(targets, t)
		}
	}
	for _, t := range targets {
		var err error
		if t.kind == ConflictRecord {
			err = rc.record(t.collection, t.key, nil)
		} else {
			err = rc.slot(t.collection, t.key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// versions returns every version held of a record, in replay order.
func (rc *reconciler) versions(collection, id string) ([]*ver, error) {
	rows, err := rc.q.QueryContext(rc.ctx, qRecordVersions, collection, id)
	if err != nil {
		return nil, fmt.Errorf("read versions of %s/%s: %w", collection, id, err)
	}
	vs, err := scanVersions(rows, false)
	if err != nil {
		return nil, fmt.Errorf("read versions of %s/%s: %w", collection, id, err)
	}
	for _, v := range vs {
		v.id = id
	}
	return vs, nil
}

// scanVersions reads version rows: [id,] device, seq, base, wall, logical,
// at, body.
func scanVersions(rows *sql.Rows, withID bool) ([]*ver, error) {
	defer func() { _ = rows.Close() }()
	var out []*ver
	for rows.Next() {
		v := &ver{}
		dst := []any{&v.device, &v.seq, &v.base, &v.wall, &v.logical, &v.at, &v.body}
		if withID {
			dst = append([]any{&v.id}, dst...)
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// resolutions returns the indexed resolutions of one record's or slot's
// conflicts, in replay order.
func (rc *reconciler) resolutions(collection, kind, key string) ([]*resolution, error) {
	rows, err := rc.q.QueryContext(rc.ctx, qKeyResolutions, collection, kind, key)
	if err != nil {
		return nil, fmt.Errorf("read resolutions: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []*resolution
	for rows.Next() {
		r := &resolution{kind: kind, collection: collection, key: key}
		var versions []byte
		if err := rows.Scan(&r.record, &r.conflict, &r.keep, &versions, &r.order.device, &r.order.seq,
			&r.order.wall, &r.order.logical); err != nil {
			return nil, fmt.Errorf("read resolutions: %w", err)
		}
		var vs []struct {
			Ref string `json:"ref"`
			ID  string `json:"id"`
		}
		if err := syncproto.Unmarshal(versions, &vs); err != nil {
			return nil, fmt.Errorf("read resolution %s: %w", r.record, err)
		}
		for _, v := range vs {
			r.refs = append(r.refs, v.Ref)
			if v.Ref == r.keep {
				r.keepID = v.ID
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read resolutions: %w", err)
	}
	return out, nil
}

// saveConflicts replaces the stored conflicts of one record or slot with
// those derived, keeping when each was first detected.
func (rc *reconciler) saveConflicts(kind, collection, key string, open *formed, done []*formed) error {
	rows, err := rc.q.QueryContext(rc.ctx, qKeyConflicts, collection, kind, key)
	if err != nil {
		return fmt.Errorf("read conflicts: %w", err)
	}
	type stored struct {
		detected   int64
		resolution string
	}
	have := map[string]stored{}
	for rows.Next() {
		var id string
		var s stored
		if err := rows.Scan(&id, &s.detected, &s.resolution); err != nil {
			_ = rows.Close()
			return fmt.Errorf("read conflicts: %w", err)
		}
		have[id] = s
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("read conflicts: %w", err)
	}

	var want []*formed
	seen := map[string]bool{}
	for _, f := range append(slices.Clone(done), open) {
		if f != nil && !seen[f.id] {
			seen[f.id] = true
			want = append(want, f)
		}
	}
	// Only what changed is written: a conflict's id fixes its versions,
	// so a row with the same id and the same resolution is up to date.
	keepRows := map[string]bool{}
	for _, f := range want {
		res := ""
		if f.res != nil {
			res = f.res.record
		}
		if s, ok := have[f.id]; ok && s.resolution == res {
			keepRows[f.id] = true
		}
	}
	for id := range have {
		if keepRows[id] {
			continue
		}
		if _, err := rc.q.ExecContext(rc.ctx, qDeleteConflict, id); err != nil {
			return fmt.Errorf("write conflicts: %w", err)
		}
	}
	for _, f := range want {
		if keepRows[f.id] {
			continue
		}
		detected := rc.now
		if s, ok := have[f.id]; ok {
			detected = s.detected
		}
		args := []any{f.id, kind, collection, key, detected, nil, nil, nil, nil, nil, nil, nil}
		if r := f.res; r != nil {
			copy(args[5:], []any{r.record, r.keep, r.keepID, r.order.wall, r.order.logical, r.order.device, r.order.seq})
		}
		if _, err := rc.q.ExecContext(rc.ctx, qInsertConflict, args...); err != nil {
			return fmt.Errorf("write conflict %s: %w", f.id, err)
		}
		for i, v := range f.versions {
			if _, err := rc.q.ExecContext(rc.ctx, qInsertConflictVersion, f.id, i, collection, v.id, v.device, v.seq); err != nil {
				return fmt.Errorf("write conflict %s: %w", f.id, err)
			}
		}
	}
	if open != nil {
		if _, ok := have[open.id]; !ok {
			rc.opened++
		}
	}
	return nil
}

// reindex rebuilds the versions, records and conflicts from the outbox and
// the pulled changes, once, after the migration that introduced them.
func (d *Device) reindex(ctx context.Context) error {
	flag, err := metaString(ctx, d.st.db, metaReindex)
	if err != nil || flag == "" {
		return err
	}
	tx, err := d.st.begin(ctx)
	if err != nil {
		return fmt.Errorf("reindex: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	rc := d.reconciler(ctx, tx)
	for _, q := range []string{
		`SELECT change FROM outbox ORDER BY seq`,
		`SELECT change FROM remote ORDER BY pos`,
	} {
		if err := eachChange(ctx, tx, q, func(c *syncproto.Change) error { return rc.add(c, nil, false) }); err != nil {
			return fmt.Errorf("reindex: %w", err)
		}
	}
	if err := setMeta(ctx, tx, metaReindex, ""); err != nil {
		return fmt.Errorf("reindex: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("reindex: %w", err)
	}
	return nil
}

// eachChange calls fn for every change a query returns as protocol JSON.
// The rows are read first: fn may write.
func eachChange(ctx context.Context, q querier, query string, fn func(*syncproto.Change) error) error {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	var raw [][]byte
	for rows.Next() {
		var js []byte
		if err := rows.Scan(&js); err != nil {
			_ = rows.Close()
			return err
		}
		raw = append(raw, js)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, js := range raw {
		var c syncproto.Change
		if err := syncproto.Unmarshal(js, &c); err != nil {
			return fmt.Errorf("damaged change: %w", err)
		}
		if err := fn(&c); err != nil {
			return err
		}
	}
	return nil
}

func (d *Device) reconciler(ctx context.Context, q querier) *reconciler {
	return &reconciler{ctx: ctx, q: q, self: d.id, now: d.nowMS(), log: d.log}
}

// Conflicts lists the open conflicts the device holds, oldest first, each
// with all its versions.
func (d *Device) Conflicts(ctx context.Context) ([]Conflict, error) {
	tx, err := d.st.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("conflicts: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	cs, err := d.loadConflicts(ctx, tx, `WHERE resolution IS NULL ORDER BY detected, id`)
	if err != nil {
		return nil, fmt.Errorf("conflicts: %w", err)
	}
	return cs, nil
}

// Conflict returns one conflict, open or resolved, or a CodeNotFound error.
func (d *Device) Conflict(ctx context.Context, id string) (Conflict, error) {
	tx, err := d.st.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Conflict{}, fmt.Errorf("conflict: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	cs, err := d.loadConflicts(ctx, tx, `WHERE id = ?`, id)
	if err != nil {
		return Conflict{}, fmt.Errorf("conflict: %w", err)
	}
	if len(cs) == 0 {
		return Conflict{}, syncproto.Errorf(syncproto.CodeNotFound, "no conflict %q on this device", id)
	}
	return cs[0], nil
}

func (d *Device) loadConflicts(ctx context.Context, q querier, where string, args ...any) ([]Conflict, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, kind, collection, key, detected, coalesce(resolution, ''),
		coalesce(keep, '') FROM conflicts `+where, args...)
	if err != nil {
		return nil, err
	}
	var out []Conflict
	for rows.Next() {
		var c Conflict
		var key string
		var detected int64
		if err := rows.Scan(&c.ID, &c.Kind, &c.Collection, &key, &detected, &c.Resolution, &c.Keep); err != nil {
			_ = rows.Close()
			return nil, err
		}
		if c.Kind == ConflictSlot {
			c.Slot = key
		} else {
			c.RecordID = key
		}
		c.Detected = time.UnixMilli(detected)
		out = append(out, c)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Versions, err = d.conflictVersions(ctx, q, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// conflictVersions returns the versions of a conflict in replay order.
func (d *Device) conflictVersions(ctx context.Context, q querier, id string) ([]Version, error) {
	rows, err := q.QueryContext(ctx, `SELECT cv.record_id, cv.device, cv.seq, coalesce(v.base, 0),
		coalesce(v.at, 0), v.body FROM conflict_versions cv
		LEFT JOIN versions v ON v.device = cv.device AND v.seq = cv.seq
		WHERE cv.conflict = ? ORDER BY cv.pos`, id)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var out []Version
	for rows.Next() {
		var v Version
		var at int64
		var body []byte
		if err := rows.Scan(&v.RecordID, &v.Device, &v.Seq, &v.Base, &at, &body); err != nil {
			return nil, err
		}
		v.Ref = versionRef(v.Device, v.Seq)
		v.Body = body
		v.At = time.UnixMilli(at)
		v.Own = v.Device == d.id
		out = append(out, v)
	}
	return out, rows.Err()
}

// slotWarning is the finding shown at capture when the record just captured
// claims a slot another record already claims with different content: the
// record is kept (the paper is the primary record) and the conflict goes to
// the county.
func slotWarning(ctx context.Context, q querier, collection, id string) (*election.Finding, error) {
	var cid, slot string
	err := q.QueryRowContext(ctx, `SELECT c.id, c.key FROM conflict_versions cv JOIN conflicts c ON c.id = cv.conflict
		WHERE cv.collection = ? AND cv.record_id = ? AND c.kind = 'slot' AND c.resolution IS NULL`, collection, id).
		Scan(&cid, &slot)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read slot conflict: %w", err)
	}
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT record_id FROM conflict_versions
		WHERE conflict = ? AND record_id <> ? ORDER BY record_id`, cid, id)
	if err != nil {
		return nil, fmt.Errorf("read slot conflict: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var others []string
	var refs []election.Ref
	for rows.Next() {
		var other string
		if err := rows.Scan(&other); err != nil {
			return nil, fmt.Errorf("read slot conflict: %w", err)
		}
		others = append(others, other)
		refs = append(refs, election.Ref{Collection: collection, ID: other})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read slot conflict: %w", err)
	}
	list := strings.Join(others, ", ")
	return &election.Finding{
		Rule:    election.D2,
		Outcome: election.Review,
		Message: fmt.Sprintf("同一事项（%s）已有另一条%s记录 %s，内容不同：本记录已照实保存，并标记为冲突 %s，待县委组织部裁定；裁定之前不据此计算结果。",
			slot, collection, list, cid),
		MessageEN: fmt.Sprintf("%s %s already records %s with different content: this record is saved as captured and marked as conflict %s for the county to resolve; no result is derived from it until then.",
			collection, list, slot, cid),
		Evidence: append(refs, election.Ref{Collection: collection, ID: id}),
	}, nil
}
