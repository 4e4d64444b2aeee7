package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"villagesync/server"
	"villagesync/syncproto"
)

// checkAudit checks what every audit entry needs.
func checkAudit(a server.Audit) error {
	switch {
	case a.Action != server.AuditResolve && a.Action != server.AuditAcknowledge:
		return syncproto.Errorf(syncproto.CodeBadRequest, "audit action %q: want %s or %s", a.Action, server.AuditResolve, server.AuditAcknowledge)
	case a.Subject == "" || a.Target == "" || a.Reason == "":
		return syncproto.Errorf(syncproto.CodeBadRequest, "an audit entry needs a subject, a target and a reason")
	}
	return nil
}

// insertAudit appends an audit entry and returns its id.
func insertAudit(ctx context.Context, tx *sql.Tx, a server.Audit) (int64, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO audit (action, subject, target, keep, reason, change, created)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, a.Action, a.Subject, a.Target, a.Keep, a.Reason, a.Change, a.Created.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("insert audit: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("insert audit: %w", err)
	}
	return id, nil
}

// Acknowledge records the county's acknowledgement of a rule violation
// (audit.Target) and its audit entry in one transaction. A violation
// already acknowledged is CodeConflict.
func (s *Store) Acknowledge(ctx context.Context, a server.Audit) error {
	if err := checkAudit(a); err != nil {
		return err
	}
	if a.Created.IsZero() {
		return syncproto.Errorf(syncproto.CodeBadRequest, "an audit entry needs a time")
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("acknowledge: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	id, err := insertAudit(ctx, tx, a)
	if err != nil {
		return fmt.Errorf("acknowledge: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO acknowledgements (violation, audit) VALUES (?, ?)`, a.Target, id)
	if isUniqueViolation(err) {
		return syncproto.Errorf(syncproto.CodeConflict, "violation %s is already acknowledged", a.Target)
	}
	if err != nil {
		return fmt.Errorf("acknowledge: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("acknowledge: %w", err)
	}
	return nil
}

// auditCols are the columns scanAudit reads.
const auditCols = `a.id, a.action, a.subject, a.target, a.keep, a.reason, a.change, a.created`

func scanAudit(sc scanner) (server.Audit, error) {
	var a server.Audit
	var created int64
	if err := sc.Scan(&a.ID, &a.Action, &a.Subject, &a.Target, &a.Keep, &a.Reason, &a.Change, &created); err != nil {
		return server.Audit{}, err
	}
	a.Created = time.Unix(0, created).UTC()
	return a, nil
}

// Acknowledgements returns the audit entries of the acknowledged
// violations, by violation id.
func (s *Store) Acknowledgements(ctx context.Context) (map[string]server.Audit, error) {
	out := make(map[string]server.Audit)
	err := s.audit(ctx, `SELECT `+auditCols+` FROM acknowledgements k JOIN audit a ON a.id = k.audit`, func(a server.Audit) {
		out[a.Target] = a
	})
	if err != nil {
		return nil, fmt.Errorf("acknowledgements: %w", err)
	}
	return out, nil
}

// AuditTrail returns every audit entry, oldest first.
func (s *Store) AuditTrail(ctx context.Context) ([]server.Audit, error) {
	var out []server.Audit
	if err := s.audit(ctx, `SELECT `+auditCols+` FROM audit a ORDER BY a.id`, func(a server.Audit) { out = append(out, a) }); err != nil {
		return nil, fmt.Errorf("audit trail: %w", err)
	}
	return out, nil
}

// audit reads audit entries with query in one read transaction.
func (s *Store) audit(ctx context.Context, query string, each func(server.Audit)) error {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAudit(rows)
		if err != nil {
			return err
		}
		each(a)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if err := rows.Close(); err != nil {
		return err
	}
	return tx.Commit()
}
