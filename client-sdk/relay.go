package client

import (
	"context"
	"fmt"

	"villagesync/syncproto"
)

// Export returns a bundle of this device's changes that no server receipt
// covers yet, for a USB stick or a supervisor's laptop to carry; nil if
// there are none. Nothing is marked synced: the changes stay in the outbox
// until a receipt (from the device's own sync, or relayed back) covers them.
func (d *Device) Export(ctx context.Context) (*syncproto.Bundle, error) {
	rows, err := d.st.rdb.QueryContext(ctx, `SELECT seq, prev, change FROM outbox WHERE acked = 0 ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer rows.Close()
	var out []syncproto.Change
	for rows.Next() {
		var seq uint64
		var prev, js []byte
		if err := rows.Scan(&seq, &prev, &js); err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		var c syncproto.Change
		if err := syncproto.Unmarshal(js, &c); err != nil || c.Seq != seq || len(c.Sig) == 0 {
			return nil, fmt.Errorf("export: change seq %d is damaged", seq)
		}
		if n := len(out); n > 0 && seq != out[n-1].Seq+1 {
			break // the outbox is contiguous; stop at anything else
		}
		var p syncproto.Hash
		copy(p[:], prev)
		c.Prev = &p
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	// Every change is signed at capture; carry prev on the first and the
	// signature on the last, as runs travel on the wire.
	for i := range out {
		if i > 0 {
			out[i].Prev = nil
		}
		if i < len(out)-1 {
			out[i].Sig = nil
		}
	}
	return &syncproto.Bundle{Format: syncproto.BundleFormat, Device: d.id, Created: d.nowMS(), Changes: out}, nil
}

// Import stores another device's bundle to carry it to the server at this
// device's next sync, and returns how many changes were new. The changes'
// chain must be intact (each change's hash follows from the bundle's prev);
// their signatures are checked by the server, which holds the author's key.
func (d *Device) Import(ctx context.Context, b *syncproto.Bundle) (int, error) {
	if b == nil || len(b.Changes) == 0 {
		return 0, nil
	}
	if b.Device == d.id {
		return 0, syncproto.Errorf(syncproto.CodeBadRequest, "this bundle is this device's own: sync instead")
	}
	if err := syncproto.CheckRelay(b.Changes); err != nil {
		return 0, err
	}
	runs, err := syncproto.SplitRuns(b.Changes)
	if err != nil {
		return 0, err
	}
	tx, err := d.st.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("import: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	added := 0
	for _, run := range runs {
		var prev syncproto.Hash
		switch {
		case run[0].Prev != nil:
			prev = *run[0].Prev
		case run[0].Seq != 1:
			return 0, &syncproto.Error{Code: syncproto.CodeChainBroken, Message: "bundle run does not say where it starts", Seq: run[0].Seq}
		}
		for _, c := range run {
			c.Prev = nil
			js, err := syncproto.Marshal(c)
			if err != nil {
				return 0, err
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO relay (device, seq, prev, change) VALUES (?, ?, ?, ?)
				ON CONFLICT (device, seq) DO UPDATE SET change = excluded.change
				WHERE excluded.prev = relay.prev AND json_extract(relay.change, '$.sig') IS NULL
					AND excluded.change <> relay.change`,
				c.Device, c.Seq, prev[:], js)
			if err != nil {
				return 0, fmt.Errorf("import: %w", err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				added++
			}
			prev = c.Hash(prev)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("import: %w", err)
	}
	return added, nil
}

// relay sends the changes imported from bundles, device by device, until
// server receipts cover them all, and returns how many the server newly
// covered.
func (d *Device) relay(ctx context.Context, ex *exchange) (int, error) {
	total := 0
	for {
		changes, err := d.relayBatch(ctx)
		if err != nil || len(changes) == 0 {
			return total, err
		}
		req := syncproto.SyncRequest{Relay: changes, PullMax: -1, Now: d.nowMS()}
		body, err := syncproto.Marshal(req)
		if err != nil {
			return total, err
		}
		resp, _, _, err := d.send(ctx, &batch{body: body}, ex)
		if err != nil {
			return total, err
		}
		covered := 0
		for i := range resp.Relayed {
			r := &resp.Relayed[i]
			if err := d.verifyReceiptSig(ctx, r, ex); err != nil {
				return total, err
			}
			res, err := d.st.db.ExecContext(ctx, `DELETE FROM relay WHERE device = ? AND seq <= ?`, r.Device, r.Through)
			if err != nil {
				return total, fmt.Errorf("relay: %w", err)
			}
			n, _ := res.RowsAffected()
			covered += int(n)
		}
		if covered == 0 {
			return total, syncproto.Errorf(syncproto.CodeInternal,
				"the server took none of %d relayed changes; they stay to be carried at the next sync", len(changes))
		}
		total += covered
	}
}

// relayBatch reads relayed changes as runs that each end on a signed
// change, bounded by BatchBytes.
func (d *Device) relayBatch(ctx context.Context) ([]syncproto.Change, error) {
	rows, err := d.st.rdb.QueryContext(ctx, `SELECT device, seq, prev, change FROM relay ORDER BY device, seq`)
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	defer rows.Close()
	var out, run []syncproto.Change
	size := 0
	flush := func() {
		// A run may only end on a signed change: drop an unsigned tail
		// (it is sent once a later bundle brings its signature).
		for len(run) > 0 && len(run[len(run)-1].Sig) == 0 {
			run = run[:len(run)-1]
		}
		if len(run) > 0 {
			out = append(out, run...)
		}
		run = nil
	}
	for rows.Next() {
		var dev string
		var seq uint64
		var prev, js []byte
		if err := rows.Scan(&dev, &seq, &prev, &js); err != nil {
			return nil, fmt.Errorf("relay: %w", err)
		}
		var c syncproto.Change
		if err := syncproto.Unmarshal(js, &c); err != nil {
			return nil, fmt.Errorf("relay: change %s/%d is damaged", dev, seq)
		}
		if n := len(run); n > 0 && (run[n-1].Device != dev || run[n-1].Seq+1 != seq) {
			flush()
		}
		if len(run) == 0 {
			var p syncproto.Hash
			copy(p[:], prev)
			if seq > 1 {
				c.Prev = &p
			}
		}
		run = append(run, c)
		size += len(js)
		if size > d.opts.BatchBytes && len(run[len(run)-1].Sig) > 0 {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	flush()
	return out, nil
}
