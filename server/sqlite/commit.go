package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"villagesync/server"
	"villagesync/syncproto"
)

// Group commit. Every push must be durable before it is acknowledged, and
// on this store a durable commit costs an fsync of the write-ahead log,
// which takes longer than storing a batch of changes. So one goroutine owns
// the push path: it takes every push waiting, runs each in its own savepoint
// of one write transaction, commits once, and then answers them all. A push
// that fails rolls back to its savepoint and leaves the others intact;
// alone, a push commits exactly as it would in a transaction of its own.

// Bounds of one commit group.
const (
	maxGroupPushes  = 64
	maxGroupChanges = 20000
)

// errClosed is the error of a push into a closed store: the server is
// shutting down, and the device should retry later.
func errClosed() error {
	return syncproto.Errorf(syncproto.CodeUnavailable, "the server is shutting down: retry later")
}

// pushRequest is one Push waiting for its group's commit.
type pushRequest struct {
	ctx    context.Context
	device string
	batch  []server.Incoming
	now    time.Time
	audit  *server.Audit // written in the push's savepoint, if set

	res  server.PushResult
	err  error
	done chan struct{} // closed once res and err are final
}

// group is one write transaction shared by several pushes.
type group struct {
	ctx   context.Context
	tx    *sql.Tx
	stmts map[string]*sql.Stmt // prepared on the writer
	bound map[string]*sql.Stmt // stmts bound to tx
}

// stmt returns the prepared statement for query bound to the group's
// transaction, or nil if query was not prepared.
func (g *group) stmt(query string) *sql.Stmt {
	if st, ok := g.bound[query]; ok {
		return st
	}
	prepared, ok := g.stmts[query]
	if !ok {
		return nil
	}
	st := g.tx.StmtContext(g.ctx, prepared)
	g.bound[query] = st
	return st
}

// pushLoop commits pushes in groups until the store closes.
func (s *Store) pushLoop() {
	defer close(s.loopDone)
	for {
		var first *pushRequest
		select {
		case first = <-s.pushes:
		case <-s.stop:
			return
		}
		reqs := []*pushRequest{first}
		changes := len(first.batch)
	collect:
		for len(reqs) < maxGroupPushes && changes < maxGroupChanges {
			select {
			case r := <-s.pushes:
				reqs = append(reqs, r)
				changes += len(r.batch)
			default:
				break collect
			}
		}
		s.commitGroup(reqs)
		for _, r := range reqs {
			close(r.done)
		}
	}
}

// commitGroup runs reqs in one write transaction and sets each one's
// result. The statements run under the store's context, not the callers':
// interrupting one statement would abort the whole transaction, so a
// caller's context is only checked before its push starts.
func (s *Store) commitGroup(reqs []*pushRequest) {
	ctx := context.Background()
	fail := func(err error) {
		for _, r := range reqs {
			if r.err == nil {
				r.res, r.err = server.PushResult{}, err
			}
		}
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		fail(fmt.Errorf("push: %w", err))
		return
	}
	defer func() { _ = tx.Rollback() }()
	g := &group{ctx: ctx, tx: tx, stmts: s.stmts, bound: make(map[string]*sql.Stmt, len(s.stmts))}
	for _, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			r.err = fmt.Errorf("push: %w", err)
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT push"); err != nil {
			fail(fmt.Errorf("push: savepoint: %w", err))
			return
		}
		r.res, r.err = g.pushOne(r)
		if r.err != nil {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO push"); err != nil {
				// The transaction is gone: nothing in it stands.
				fail(fmt.Errorf("push: roll back to savepoint: %w", err))
				return
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE push"); err != nil {
			fail(fmt.Errorf("push: release savepoint: %w", err))
			return
		}
	}
	if err := tx.Commit(); err != nil {
		fail(fmt.Errorf("push: commit: %w", err))
	}
}
