package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"villagesync/election"
	"villagesync/server"
	"villagesync/syncproto"
)

// Place reports where a stored record is about; ok is false if the store
// holds no such record.
func (s *Store) Place(ctx context.Context, collection, id string) (election.Place, bool, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return election.Place{}, false, fmt.Errorf("place: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var p election.Place
	err = tx.QueryRowContext(ctx, `SELECT township, village FROM records WHERE collection = ? AND id = ?`, collection, id).
		Scan(&p.Township, &p.Village)
	if errors.Is(err, sql.ErrNoRows) {
		return election.Place{}, false, nil
	}
	if err != nil {
		return election.Place{}, false, fmt.Errorf("place: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return election.Place{}, false, fmt.Errorf("place: %w", err)
	}
	return p, true, nil
}

// Record returns the current version of a record, or CodeNotFound.
func (s *Store) Record(ctx context.Context, collection, id string) (server.Record, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return server.Record{}, fmt.Errorf("record: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	rec, ok, err := loadRecord(ctx, tx, collection, id)
	if err != nil {
		return server.Record{}, fmt.Errorf("record: %w", err)
	}
	if !ok {
		return server.Record{}, syncproto.Errorf(syncproto.CodeNotFound, "no %s record %q", collection, id)
	}
	if rec.Conflict, err = recordConflict(ctx, tx, rec); err != nil {
		return server.Record{}, fmt.Errorf("record: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return server.Record{}, fmt.Errorf("record: %w", err)
	}
	return rec, nil
}

// loadRecord reads a record's current version; ok is false if there is none.
func loadRecord(ctx context.Context, db dbtx, collection, id string) (server.Record, bool, error) {
	rec := server.Record{Collection: collection, ID: id}
	var version, seq, pos int64
	err := db.QueryRowContext(ctx, `SELECT r.version, c.body, r.township, r.village, r.device, r.seq, r.pos, r.slot, r.superseded
		FROM records r JOIN changes c ON c.pos = r.pos WHERE r.collection = ? AND r.id = ?`, collection, id).
		Scan(&version, &rec.Body, &rec.Place.Township, &rec.Place.Village, &rec.Device, &seq, &pos, &rec.Slot, &rec.Superseded)
	if errors.Is(err, sql.ErrNoRows) {
		return server.Record{}, false, nil
	}
	if err != nil {
		return server.Record{}, false, err
	}
	rec.Version = uint64(version)
	rec.Seq = uint64(seq)
	rec.Pos = uint64(pos)
	return rec, true, nil
}
