package sqlite

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
)

// Digest returns a SHA-256 over the content of every table but those named
// in except, read in one snapshot: two digests differ exactly when a row was
// added, changed or removed. Attack tests use it to prove that a refused
// request wrote nothing, whatever table a future feature adds.
func (s *Store) Digest(ctx context.Context, except ...string) (string, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return "", fmt.Errorf("digest: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return "", fmt.Errorf("digest: %w", err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			_ = rows.Close()
			return "", fmt.Errorf("digest: %w", err)
		}
		if !slices.Contains(except, name) {
			tables = append(tables, name)
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("digest: %w", err)
	}
	h := sha256.New()
	for _, t := range tables {
		h.Write([]byte(t))
		h.Write([]byte{0})
		// Table names come from the schema, not from input.
		rows, err := tx.QueryContext(ctx, `SELECT * FROM "`+t+`" ORDER BY rowid`)
		if err != nil {
			// WITHOUT ROWID tables: their order is their primary key's.
			rows, err = tx.QueryContext(ctx, `SELECT * FROM "`+t+`"`)
		}
		if err != nil {
			return "", fmt.Errorf("digest %s: %w", t, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			_ = rows.Close()
			return "", fmt.Errorf("digest %s: %w", t, err)
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				_ = rows.Close()
				return "", fmt.Errorf("digest %s: %w", t, err)
			}
			for _, v := range vals {
				b := fmt.Appendf(nil, "%T:%v", v, v)
				h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(b))))
				h.Write(b)
			}
		}
		if err := rows.Err(); err != nil {
			return "", fmt.Errorf("digest %s: %w", t, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
