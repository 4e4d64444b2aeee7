package sqlite

import (
	"context"
	"fmt"
	"math"

	"villagesync/election"
	"villagesync/syncproto"
)

// pullOverhead is the estimated encoded size of a pulled change beyond its
// body: field names, ids, numbers and a signature.
const pullOverhead = 200

// pullCols are the columns Pull reads: changeCols, then the log position.
const pullCols = changeCols + `, pos`

// The pull queries, one per scope shape. Each arm of a UNION ALL reads one
// range of a partial index (named, so that the plan cannot drift) already in
// log order; SQLite merges the arms and stops at the page limit, so a page
// costs the same however long the log is. Parameters: ?1 after, ?2 exclude,
// ?3 limit, then the scope's codes. Every arm is exactly one clause of
// election.Scope.CanRead.
const (
	// County and observer read everything.
	pullAllSQL = `SELECT ` + pullCols + ` FROM changes
		WHERE pos > ?1 AND device <> ?2 ORDER BY pos LIMIT ?3`

	// A supervisor of township ?4 reads the township and its villages
	// plus county-wide records. The GLOB ?5 (the township code and three
	// digits) is not implied by township = ?4: it is CanRead's consistency
	// check, which refuses a place whose village is not a 12-digit code of
	// that township (TestPull_SupervisorFilter).
	pullTownshipSQL = `SELECT ` + pullCols + ` FROM changes INDEXED BY changes_township
			WHERE township = ?4 AND township <> '' AND pos > ?1 AND device <> ?2
				AND (village = '' OR village GLOB ?5)
		UNION ALL
		SELECT ` + pullCols + ` FROM changes INDEXED BY changes_wide
			WHERE township = '' AND village = '' AND pos > ?1 AND device <> ?2
		ORDER BY pos LIMIT ?3`

	// A station of village ?5 in township ?4 reads the village, its
	// township's "township" record and the "county" record.
	pullVillageSQL = `SELECT ` + pullCols + ` FROM changes INDEXED BY changes_village
			WHERE village = ?5 AND village <> '' AND township = ?4 AND pos > ?1 AND device <> ?2
		UNION ALL
		SELECT ` + pullCols + ` FROM changes INDEXED BY changes_wide
			WHERE township = ?4 AND village = '' AND collection = 'township' AND pos > ?1 AND device <> ?2
		UNION ALL
		SELECT ` + pullCols + ` FROM changes INDEXED BY changes_wide
			WHERE township = '' AND village = '' AND collection = 'county' AND pos > ?1 AND device <> ?2
		ORDER BY pos LIMIT ?3`
)

// Pull returns the changes after log position after that scope may read
// (exactly those election.Scope.CanRead allows), excluding those authored by
// exclude, in log order. See server.Store.
//
// A page holds changes while their estimated encoded size (body plus
// pullOverhead each) stays within maxBytes, and always at least one change
// when any remain. next is the position of the last change returned when
// more remain; otherwise it is the log's last position, so the cursor also
// moves past changes outside the scope. Pulled changes carry the signature
// where the device sent one, never Prev.
func (s *Store) Pull(ctx context.Context, scope election.Scope, after uint64, maxBytes int, exclude string) ([]syncproto.Change, uint64, bool, error) {
	if err := scope.Validate(); err != nil {
		return nil, 0, false, syncproto.Errorf(syncproto.CodeForbidden, "pull: %v", err)
	}
	if after > math.MaxInt64 {
		return nil, 0, false, syncproto.Errorf(syncproto.CodeBadRequest, "pull cursor out of range")
	}
	// Every change costs at least pullOverhead, so a page holds at most
	// limit-1 of them; the extra row tells whether more remain.
	limit := int64(1)
	if maxBytes > pullOverhead {
		limit = int64(maxBytes / pullOverhead)
	}
	limit++

	var query string
	args := []any{int64(after), exclude, limit}
	switch scope.Role {
	case election.RoleCounty, election.RoleObserver:
		query = pullAllSQL
	case election.RoleSupervisor:
		query = pullTownshipSQL
		args = append(args, scope.Code, scope.Code+"[0-9][0-9][0-9]")
	case election.RoleStation:
		query = pullVillageSQL
		args = append(args, election.TownshipOf(scope.Code), scope.Code)
	default:
		return nil, 0, false, syncproto.Errorf(syncproto.CodeForbidden, "pull: role %q reads nothing", scope.Role)
	}

	tx, err := s.beginRead(ctx)
	if err != nil {
		return nil, 0, false, fmt.Errorf("pull: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// The last position and the rows come from the same snapshot, so no
	// change at or below it can appear later.
	last, err := scanMaxPos(s.readStmt(ctx, tx, sqlMaxPos).QueryRowContext(ctx))
	if err != nil {
		return nil, 0, false, fmt.Errorf("pull: %w", err)
	}
	rows, err := s.readStmt(ctx, tx, query).QueryContext(ctx, args...)
	if err != nil {
		return nil, 0, false, fmt.Errorf("pull: %w", err)
	}
	defer rows.Close()
	var (
		page    []syncproto.Change
		size    int
		more    bool
		lastPos int64
	)
	for rows.Next() {
		var c syncproto.Change
		var pos int64
		if err := scanChange(rows, &c, &pos); err != nil {
			return nil, 0, false, fmt.Errorf("pull: %w", err)
		}
		n := len(c.Body) + pullOverhead
		if len(page) > 0 && size+n > maxBytes {
			more = true
			break
		}
		page = append(page, c)
		size += n
		lastPos = pos
	}
	if err := rows.Err(); err != nil {
		return nil, 0, false, fmt.Errorf("pull: %w", err)
	}
	if err := rows.Close(); err != nil {
		return nil, 0, false, fmt.Errorf("pull: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, 0, false, fmt.Errorf("pull: %w", err)
	}
	next := last
	if more {
		next = uint64(lastPos)
	}
	return page, next, more, nil
}
