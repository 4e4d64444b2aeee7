package client

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"villagesync/election"
	"villagesync/syncproto"
)

// maxObservedSkew bounds how far ahead of the device's corrected clock a
// pulled change's HLC may be and still be merged into the device's clock: a
// laptop that has never synced and whose clock is years ahead must not drag
// every other device's clock with it. Ordering falls back to per-device seq.
const maxObservedSkew = 24 * time.Hour

// Report says what one Sync moved.
type Report struct {
	Pushed     int    `json:"pushed"`      // own changes newly covered by a server receipt
	Relayed    int    `json:"relayed"`     // other devices' changes carried to the server (from imported bundles)
	Pulled     int    `json:"pulled"`      // changes of other devices newly received
	RoundTrips int    `json:"round_trips"` // HTTP requests sent, retries included
	BytesUp    int64  `json:"bytes_up"`    // request bodies as sent (compressed)
	BytesDown  int64  `json:"bytes_down"`  // response bodies as received (compressed)
	Through    uint64 `json:"through"`     // the last receipt covers seqs 1..Through
	Pending    int    `json:"pending"`     // own changes still waiting for a receipt
	Conflicts  int    `json:"conflicts"`   // conflicts newly opened by pulled changes
	Offset     int64  `json:"offset_ms"`   // learned server-minus-device clock offset, ms
}

// Sync exchanges changes with the server until nothing is left to push and
// the pull has caught up. Each round trip pushes one batch of unacknowledged
// changes (bounded by Options.BatchBytes) and pulls one page, so a sync with
// a valid token and little to move is a single HTTP round trip.
//
// Nothing is marked synced unless a server receipt with a valid signature
// covers it and names the device's own chain head at that seq; a receipt
// naming a different head is a CodeEquivocation error. Network errors, 5xx
// answers and retryable codes are retried with backoff, resending the same
// batch: the server is idempotent on (device, seq). Completed rounds stay
// committed when a later one fails; the Report counts them.
func (d *Device) Sync(ctx context.Context) (Report, error) {
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	var rep Report
	var ex exchange
	err := d.sync(ctx, &rep, &ex)
	rep.RoundTrips, rep.BytesUp, rep.BytesDown = ex.roundTrips, ex.bytesUp, ex.bytesDown
	// The report describes local state, so it is filled in even when the
	// sync was cancelled.
	if ferr := d.fillReport(context.WithoutCancel(ctx), &rep); ferr != nil && err == nil {
		err = ferr
	}
	if err != nil {
		d.log.Warn("sync failed", logPushed, rep.Pushed, logPulled, rep.Pulled, logRoundTrips, rep.RoundTrips, logErr, err)
		return rep, fmt.Errorf("sync: %w", err)
	}
	d.log.Info("synced", logPushed, rep.Pushed, logPulled, rep.Pulled, logPending, rep.Pending,
		logRoundTrips, rep.RoundTrips, logBytesUp, rep.BytesUp, logBytesDown, rep.BytesDown)
	return rep, nil
}

func (d *Device) sync(ctx context.Context, rep *Report, ex *exchange) error {
	for round := 1; ; round++ {
		cursor, err := metaString(ctx, d.st.db, metaCursor)
		if err != nil {
			return err
		}
		b, err := d.nextBatch(ctx, cursor)
		if err != nil {
			return err
		}
		resp, t0, t1, err := d.send(ctx, b, ex)
		if err != nil {
			return err
		}
		res, err := d.accept(ctx, b, resp, t0, t1, ex)
		if err != nil {
			return err
		}
		rep.Pushed += res.acked
		rep.Pulled += res.pulled
		rep.Conflicts += res.conflicts
		d.log.Debug("sync round", logRound, round, logSent, len(b.changes), logAcked, res.acked,
			logPulled, res.pulled, logMore, resp.More)

		switch {
		case res.pending == 0 && !resp.More:
			n, err := d.relay(ctx, ex)
			rep.Relayed += n
			return err
		case len(b.changes) > 0 && res.firstUnacked == b.first:
			return syncproto.Errorf(syncproto.CodeInternal,
				"the server acknowledged none of the %d changes sent (seqs %d-%d); they stay pending for the next sync",
				len(b.changes), b.first, b.last)
		case resp.More && (resp.Cursor == "" || resp.Cursor == cursor):
			return syncproto.Errorf(syncproto.CodeInternal, "the server reports more changes to pull but its cursor did not advance")
		}
	}
}

// fillReport sets the figures that describe the state after the sync.
func (d *Device) fillReport(ctx context.Context, rep *Report) error {
	if err := d.st.db.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE acked = 0`).Scan(&rep.Pending); err != nil {
		return fmt.Errorf("count pending: %w", err)
	}
	off, err := metaInt(ctx, d.st.db, metaClockOffset)
	if err != nil {
		return err
	}
	rep.Offset = off
	raw, ok, err := metaBytes(ctx, d.st.db, metaReceipt)
	if err != nil || !ok {
		return err
	}
	var r syncproto.Receipt
	if err := syncproto.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("read receipt: %w", err)
	}
	rep.Through = r.Through
	return nil
}

// batch is one sync request.
type batch struct {
	changes     []syncproto.Change // as sent: Prev on the first, Sig on the last
	first, last uint64
	body        []byte // the encoded SyncRequest
}

// Extra encoded bytes of the fields a batch carries only at its ends.
var (
	prevExtra = len(`,"prev":""`) + base64.RawURLEncoding.EncodedLen(len(syncproto.Hash{}))
	sigExtra  = len(`,"sig":""`) + base64.RawURLEncoding.EncodedLen(ed25519.SignatureSize)
)

// nextBatch builds the next sync request: the oldest unacknowledged
// changes, as one run, cut before the encoded request would pass
// BatchBytes (but with at least one change). Only the run's first change
// carries Prev and only its last carries Sig: the chain makes the last
// signature vouch for the whole run.
func (d *Device) nextBatch(ctx context.Context, cursor string) (*batch, error) {
	req := syncproto.SyncRequest{Cursor: cursor, PullMax: d.opts.PullBytes, Now: d.nowMS()}
	env, err := syncproto.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	limit := d.opts.BatchBytes
	size := len(env) + len(`"changes":[],`)

	rows, err := d.st.rdb.QueryContext(ctx, `SELECT seq, prev, change FROM outbox WHERE acked = 0 ORDER BY seq LIMIT ?`,
		syncproto.MaxPushChanges)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	var (
		wire      []syncproto.Change
		sigs      [][]byte
		firstPrev syncproto.Hash
	)
	for rows.Next() {
		var seq uint64
		var prev, js []byte
		if err := rows.Scan(&seq, &prev, &js); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("read outbox: %w", err)
		}
		var c syncproto.Change
		if err := syncproto.Unmarshal(js, &c); err != nil || c.Seq != seq || len(c.Sig) == 0 {
			_ = rows.Close()
			return nil, fmt.Errorf("read outbox: change seq %d is damaged", seq)
		}
		if n := len(wire); n > 0 && seq != wire[n-1].Seq+1 {
			break
		}
		sig := c.Sig
		c.Prev, c.Sig = nil, nil
		enc, err := syncproto.Marshal(c)
		if err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("encode change seq %d: %w", seq, err)
		}
		add := len(enc)
		if len(wire) == 0 {
			if seq > 1 {
				add += prevExtra
				copy(firstPrev[:], prev)
			}
		} else {
			add++ // the comma
		}
		if len(wire) > 0 && size+add+sigExtra > limit {
			break
		}
		size += add
		wire = append(wire, c)
		sigs = append(sigs, sig)
	}
	if err := rows.Err(); err != nil {
		_ = rows.Close()
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}

	b := &batch{}
	for k := len(wire); ; k-- {
		req.Changes = nil
		if k > 0 {
			req.Changes = slices.Clone(wire[:k])
			if req.Changes[0].Seq > 1 {
				prev := firstPrev
				req.Changes[0].Prev = &prev
			}
			req.Changes[k-1].Sig = sigs[k-1]
		}
		if b.body, err = syncproto.Marshal(req); err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		if len(b.body) <= limit || k <= 1 {
			break
		}
	}
	b.changes = req.Changes
	if n := len(b.changes); n > 0 {
		b.first, b.last = b.changes[0].Seq, b.changes[n-1].Seq
	}
	return b, nil
}

// pullResponse is a decoded sync response whose pulled changes are also
// kept as the bytes received.
type pullResponse struct {
	syncproto.SyncResponse
	changes []syncproto.Change
	raw     []json.RawMessage
}

// decodeSyncResponse decodes and checks a sync response body.
func decodeSyncResponse(data []byte) (*pullResponse, error) {
	var w struct {
		syncproto.SyncResponse
		// Changes shadows SyncResponse.Changes so that each pulled
		// change is kept exactly as received.
		Changes []json.RawMessage `json:"changes,omitempty"`
	}
	if err := syncproto.Unmarshal(data, &w); err != nil {
		return nil, &transportError{op: "sync: invalid response", err: err}
	}
	resp := &pullResponse{SyncResponse: w.SyncResponse, raw: w.Changes}
	resp.changes = make([]syncproto.Change, len(w.Changes))
	for i, raw := range w.Changes {
		c := &resp.changes[i]
		if err := syncproto.Unmarshal(raw, c); err != nil {
			return nil, fmt.Errorf("the server sent an invalid pulled change (#%d): %w", i+1, err)
		}
		if err := c.CheckShape(); err != nil {
			return nil, fmt.Errorf("the server sent an invalid pulled change (#%d): %w", i+1, err)
		}
	}
	if _, err := syncproto.DecodeCursor(resp.Cursor); err != nil {
		return nil, fmt.Errorf("the server sent an invalid cursor: %w", err)
	}
	return resp, nil
}

// send sends a batch, renewing the token and retrying as needed, and
// returns the response with the device clock when the successful attempt
// was sent (t0) and answered (t1).
func (d *Device) send(ctx context.Context, b *batch, ex *exchange) (_ *pullResponse, t0, t1 int64, _ error) {
	zbody, err := d.api.compress(b.body)
	if err != nil {
		return nil, 0, 0, err
	}
	reauthed := false
	for attempt := 1; ; {
		var tok string
		tok, err = d.accessToken(ctx, ex)
		if err == nil {
			t0 = d.nowMS()
			var data []byte
			data, err = d.api.do(ctx, "POST", "/v1/sync", tok, zbody, true, ex)
			t1 = d.nowMS()
			if err == nil {
				resp, derr := decodeSyncResponse(data)
				if derr == nil {
					return resp, t0, t1, nil
				}
				err = derr
			} else if authFailed(err) {
				if derr := d.dropToken(ctx); derr != nil {
					return nil, 0, 0, derr
				}
				if !reauthed {
					reauthed = true
					continue
				}
			}
		}
		if ctx.Err() != nil {
			return nil, 0, 0, ctx.Err()
		}
		if syncproto.ErrorCode(err) == syncproto.CodeDeviceRevoked {
			// The operator reads Chinese first; the server's words follow.
			return nil, 0, 0, &syncproto.Error{Code: syncproto.CodeDeviceRevoked, Message: "本设备已被县里吊销，不能再同步；" +
				"已录入的数据仍保存在本机：请用 villagesync station export --out 文件 导出，交给乡镇督导带回，县里审核后入库。" +
				serverMessage(err)}
		}
		if !retryable(err) {
			return nil, 0, 0, err
		}
		if attempt >= d.opts.MaxAttempts {
			return nil, 0, 0, fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		wait := max(d.opts.Backoff(attempt), retryAfter(err))
		d.log.Warn("sync attempt failed, retrying", logAttempt, attempt, logWait, wait, logErr, err)
		if err := d.opts.Sleep(ctx, wait); err != nil {
			return nil, 0, 0, err
		}
		attempt++
	}
}

// authFailed reports whether a sync request was refused for its token.
func authFailed(err error) bool {
	switch syncproto.ErrorCode(err) {
	case syncproto.CodeTokenExpired, syncproto.CodeUnauthenticated:
		_, ok := errors.AsType[*statusError](err)
		return ok
	}
	return false
}

// roundResult is what accept did with one response.
type roundResult struct {
	acked        int    // rows newly acknowledged
	pulled       int    // pulled changes newly stored
	conflicts    int    // conflicts newly opened
	firstUnacked uint64 // lowest unacknowledged seq after the round, 0 if none
	pending      int    // unacknowledged rows after the round
}

// accept verifies a sync response and applies it in one transaction:
// acknowledgements, receipt, pulled changes, cursor, clock, nonce.
func (d *Device) accept(ctx context.Context, b *batch, resp *pullResponse, t0, t1 int64, ex *exchange) (roundResult, error) {
	var res roundResult
	r := resp.Receipt
	if r == nil && len(b.changes) > 0 {
		return res, fmt.Errorf("the server sent no receipt for the %d changes pushed; they stay pending", len(b.changes))
	}
	if r != nil {
		if err := d.verifyReceipt(ctx, r, ex); err != nil {
			return res, err
		}
	}

	tx, err := d.st.begin(ctx)
	if err != nil {
		return res, fmt.Errorf("apply response: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	if r != nil {
		if res.acked, err = d.applyReceipt(ctx, tx, r); err != nil {
			return res, err
		}
	}
	offset, err := metaInt(ctx, tx, metaClockOffset)
	if err != nil {
		return res, err
	}
	if resp.Now != 0 {
		offset = syncproto.ClockOffset(t0, resp.Now, t1)
		if err := setMeta(ctx, tx, metaClockOffset, offset); err != nil {
			return res, err
		}
	}
	clk, err := loadClock(ctx, tx)
	if err != nil {
		return res, err
	}
	rc := d.reconciler(ctx, tx)
	phys := t1 + offset
	for i := range resp.changes {
		c := &resp.changes[i]
		if c.Device == d.id {
			continue // the outbox is the truth about the device's own changes
		}
		ins, err := tx.ExecContext(ctx, qInsertRemote, c.Device, c.Seq, []byte(resp.raw[i]), t1)
		if err != nil {
			return res, fmt.Errorf("store pulled change: %w", err)
		}
		if n, err := ins.RowsAffected(); err != nil {
			return res, fmt.Errorf("store pulled change: %w", err)
		} else if n == 0 {
			continue // already held
		}
		res.pulled++
		if c.Wall <= phys+maxObservedSkew.Milliseconds() {
			clk.Observe(c.HLC, phys)
		}
		if err := rc.add(c, nil, false); err != nil {
			return res, err
		}
	}
	res.conflicts = rc.opened
	if err := saveClock(ctx, tx, clk); err != nil {
		return res, err
	}
	if d.opts.PullBytes >= 0 && resp.Cursor != "" {
		if err := setMeta(ctx, tx, metaCursor, resp.Cursor); err != nil {
			return res, err
		}
	}
	if resp.Nonce != "" {
		if err := setMeta(ctx, tx, metaNonce, resp.Nonce); err != nil {
			return res, err
		}
	}
	if err := setMeta(ctx, tx, metaLastSync, t1); err != nil {
		return res, err
	}
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(min(seq), 0), count(*) FROM outbox WHERE acked = 0`).
		Scan(&res.firstUnacked, &res.pending); err != nil {
		return res, fmt.Errorf("apply response: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("apply response: %w", err)
	}
	if res.conflicts > 0 {
		d.log.Warn("pulled changes opened conflicts for the county to resolve", logConflicts, res.conflicts)
	}
	return res, nil
}

// verifyReceipt checks that a receipt names this device and carries a valid
// signature of a server key. A key id the device does not know is looked up
// once in the server's published key set (the server rotated its key).
func (d *Device) verifyReceipt(ctx context.Context, r *syncproto.Receipt, ex *exchange) error {
	if r.Device != d.id {
		return syncproto.Errorf(syncproto.CodeBadSignature,
			"the server's receipt is for device %q, not this device; nothing was marked synced", r.Device)
	}
	return d.verifyReceiptSig(ctx, r, ex)
}

// verifyReceiptSig checks that a receipt, for this device or one whose
// changes it relayed, carries the signature of a server key.
func (d *Device) verifyReceiptSig(ctx context.Context, r *syncproto.Receipt, ex *exchange) error {
	d.keysMu.Lock()
	defer d.keysMu.Unlock()
	pub := serverKey(d.keys, r.KeyID)
	if pub == nil {
		fetched, err := d.fetchServerKeys(ctx, ex)
		if err != nil {
			return fmt.Errorf("receipt is signed by unknown server key %q: %w", r.KeyID, err)
		}
		pub = serverKey(fetched, r.KeyID)
		if pub == nil || !r.Verify(pub) {
			return syncproto.Errorf(syncproto.CodeBadSignature,
				"the server's receipt is signed by key %q, which this device cannot verify; nothing was marked synced", r.KeyID)
		}
		keys := slices.Clone(d.keys)
		for _, k := range fetched {
			if serverKey(keys, k.KeyID) == nil {
				keys = append(keys, k)
			}
		}
		js, err := syncproto.Marshal(keys)
		if err != nil {
			return fmt.Errorf("save server keys: %w", err)
		}
		if err := setMeta(ctx, d.st.db, metaServerKeys, js); err != nil {
			return err
		}
		d.keys = keys
		d.log.Info("learned rotated server key", logKeyID, r.KeyID)
	}
	if !r.Verify(pub) {
		return syncproto.Errorf(syncproto.CodeBadSignature,
			"the server's receipt signature does not verify with key %q; nothing was marked synced", r.KeyID)
	}
	return nil
}

func serverKey(keys []syncproto.ServerKey, kid string) ed25519.PublicKey {
	for _, k := range keys {
		if k.KeyID == kid && len(k.PublicKey) == ed25519.PublicKeySize {
			return ed25519.PublicKey(k.PublicKey)
		}
	}
	return nil
}

// applyReceipt checks a verified receipt against the local chain and marks
// the outbox rows it covers acknowledged. It returns how many rows were
// newly acknowledged.
func (d *Device) applyReceipt(ctx context.Context, tx querier, r *syncproto.Receipt) (int, error) {
	var last sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(seq) FROM outbox`).Scan(&last); err != nil {
		return 0, fmt.Errorf("apply receipt: %w", err)
	}
	if r.Through > uint64(last.Int64) {
		return 0, syncproto.Errorf(syncproto.CodeEquivocation,
			"the server holds changes of this device up to seq %d but this device has only %d: "+
				"this data directory is an older copy or the device key is in use elsewhere; "+
				"stop capturing on this laptop and contact the county office", r.Through, last.Int64)
	}
	var local syncproto.Hash
	if r.Through > 0 {
		var h []byte
		if err := tx.QueryRowContext(ctx, `SELECT hash FROM outbox WHERE seq = ?`, r.Through).Scan(&h); err != nil {
			return 0, fmt.Errorf("apply receipt: %w", err)
		}
		copy(local[:], h)
	}
	if local != r.Head {
		return 0, &syncproto.Error{
			Code: syncproto.CodeEquivocation,
			Message: fmt.Sprintf("the server holds a different history of this device: its change %d has hash %s, this device's has %s",
				r.Through, r.Head, local),
			Seq: r.Through,
		}
	}
	up, err := tx.ExecContext(ctx, `UPDATE outbox SET acked = 1 WHERE acked = 0 AND seq <= ?`, r.Through)
	if err != nil {
		return 0, fmt.Errorf("apply receipt: %w", err)
	}
	acked, err := up.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("apply receipt: %w", err)
	}
	// A receipt below what was acknowledged before means the server lost
	// changes (restored from a backup): the device still has them and
	// sends them again.
	down, err := tx.ExecContext(ctx, `UPDATE outbox SET acked = 0 WHERE acked = 1 AND seq > ?`, r.Through)
	if err != nil {
		return 0, fmt.Errorf("apply receipt: %w", err)
	}
	if n, err := down.RowsAffected(); err != nil {
		return 0, fmt.Errorf("apply receipt: %w", err)
	} else if n > 0 {
		d.log.Warn("server receipt covers fewer changes than before; resending them", logThrough, r.Through, logResend, n)
	}
	js, err := syncproto.Marshal(r)
	if err != nil {
		return 0, fmt.Errorf("apply receipt: %w", err)
	}
	if err := setMeta(ctx, tx, metaReceipt, js); err != nil {
		return 0, err
	}
	return int(acked), nil
}

// placeOf works out where a pulled record is, for later validation of the
// device's own captures that refer to it. placed is false when the record's
// collection or references are unknown here.
func placeOf(ctx context.Context, q querier, collection, id string, body []byte) (p election.Place, placed bool, err error) {
	coll, ok := election.LookupCollection(collection)
	if !ok {
		return election.Place{}, false, nil
	}
	res := &resolver{ctx: ctx, q: q}
	p, verr := coll.Validate(id, body, res)
	if res.err != nil {
		return election.Place{}, false, res.err
	}
	if verr != nil {
		return election.Place{}, false, nil
	}
	return p, true, nil
}

// serverMessage is the message of the *syncproto.Error in err's chain, or
// err's text.
func serverMessage(err error) string {
	if e, ok := errors.AsType[*syncproto.Error](err); ok {
		return e.Message
	}
	return err.Error()
}
