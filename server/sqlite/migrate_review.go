package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"villagesync/election"
)

// migrateReview is the Go half of migration 0002, run in its transaction
// after its SQL: it fills the slot of existing facts and held changes,
// turns the conflict rows of 0001 (one per colliding change) into record
// conflicts with the shared ids, finds the slot conflicts among the
// existing records, and drops the old table. Conflicts it creates are
// dated by the log's last receipt time: the store reads no clock.
func migrateReview(ctx context.Context, tx *sql.Tx) error {
	var now int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(received), 0) FROM changes`).Scan(&now); err != nil {
		return fmt.Errorf("read log time: %w", err)
	}
	cs := txConflicts(ctx, tx, now)

	type row struct{ collection, id, slot string }
	fill := func(query, update string) ([]row, error) {
		rows, err := tx.QueryContext(ctx, query)
		if err != nil {
			return nil, err
		}
		var todo []row
		for rows.Next() {
			var r row
			var body []byte
			if err := rows.Scan(&r.collection, &r.id, &body); err != nil {
				_ = rows.Close()
				return nil, err
			}
			if r.slot = factSlot(r.collection, r.id, body); r.slot != "" {
				todo = append(todo, r)
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, err
		}
		for _, r := range todo {
			if _, err := tx.ExecContext(ctx, update, r.slot, r.collection, r.id); err != nil {
				return nil, err
			}
		}
		return todo, nil
	}
	slotted, err := fill(`SELECT r.collection, r.id, c.body FROM records r JOIN changes c ON c.pos = r.pos`,
		`UPDATE records SET slot = ? WHERE collection = ? AND id = ?`)
	if err != nil {
		return fmt.Errorf("record slots: %w", err)
	}
	if _, err := fill(`SELECT collection, CAST(rowid AS TEXT), body FROM held`,
		`UPDATE held SET slot = ? WHERE collection = ? AND rowid = CAST(? AS INTEGER)`); err != nil {
		return fmt.Errorf("held slots: %w", err)
	}

	// The conflicts of 0001, one record conflict per record.
	type key struct{ collection, id string }
	rows, err := tx.QueryContext(ctx, `SELECT collection, record_id, existing_device, existing_seq, existing_pos,
		incoming_device, incoming_seq, incoming_pos FROM conflicts_v1 ORDER BY id`)
	if err != nil {
		return fmt.Errorf("read old conflicts: %w", err)
	}
	var order []key
	versions := make(map[key][]versionKey)
	for rows.Next() {
		var k key
		var a, b versionKey
		var aSeq, aPos, bSeq, bPos int64
		if err := rows.Scan(&k.collection, &k.id, &a.device, &aSeq, &aPos, &b.device, &bSeq, &bPos); err != nil {
			_ = rows.Close()
			return fmt.Errorf("read old conflicts: %w", err)
		}
		a.recordID, a.seq, a.pos = k.id, uint64(aSeq), uint64(aPos)
		b.recordID, b.seq, b.pos = k.id, uint64(bSeq), uint64(bPos)
		if _, seen := versions[k]; !seen {
			order = append(order, k)
		}
		for _, v := range []versionKey{a, b} {
			dup := false
			for _, have := range versions[k] {
				dup = dup || have.device == v.device && have.seq == v.seq
			}
			if !dup {
				versions[k] = append(versions[k], v)
			}
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("read old conflicts: %w", err)
	}
	for _, k := range order {
		rec, ok, err := loadRecord(ctx, tx, k.collection, k.id)
		if err != nil || !ok {
			return fmt.Errorf("old conflict on %s %s: read record (found %t): %w", k.collection, k.id, ok, err)
		}
		var pos uint64
		for _, v := range versions[k] {
			pos = max(pos, v.pos)
		}
		if _, err := cs.raise(election.ConflictRecord, k.collection, k.id, rec.Place, versions[k], int64(pos), ""); err != nil {
			return fmt.Errorf("old conflict on %s %s: %w", k.collection, k.id, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE conflicts_v1`); err != nil {
		return fmt.Errorf("drop old conflicts: %w", err)
	}

	// Slots already claimed twice.
	done := make(map[key]bool)
	for _, r := range slotted {
		k := key{r.collection, r.slot}
		if done[k] {
			continue
		}
		done[k] = true
		var p election.Place
		var pos int64
		if err := tx.QueryRowContext(ctx, `SELECT township, village, pos FROM records WHERE collection = ? AND slot = ? AND slot <> ''
			ORDER BY pos DESC LIMIT 1`, r.collection, r.slot).Scan(&p.Township, &p.Village, &pos); err != nil {
			return fmt.Errorf("slot %s: %w", r.slot, err)
		}
		if err := cs.checkSlot(r.collection, r.slot, p, pos, ""); err != nil {
			return fmt.Errorf("slot %s: %w", r.slot, err)
		}
	}
	return nil
}
