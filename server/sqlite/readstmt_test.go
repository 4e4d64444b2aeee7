package sqlite_test

import (
	"context"
	"sync"
	"testing"

	"villagesync/election"
	"villagesync/syncproto"
)

// TestReadStatements_SeeLatestCommit checks Device, Head and Pull through
// the statements prepared on the read pool, on every pooled connection at
// once: each read must see every commit before it (a reused statement left
// unreset would keep an old snapshot open on its connection), including
// after pulls that stop early with rows left unread.
func TestReadStatements_SeeLatestCommit(t *testing.T) {
	ctx := context.Background()
	st := MustOpen(t)
	d := newDevice(t, st, "station", election.RoleStation, village1)
	scope := election.Scope{Role: election.RoleCounty, Code: county}
	const readers = 8 // more than the read pool's connections

	// readAll runs fn on readers goroutines at once, so that every pooled
	// connection runs the prepared statements.
	readAll := func(fn func() error) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, readers)
		for range readers {
			wg.Go(func() {
				if err := fn(); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}

	for round := 1; round <= 3; round++ {
		mustPush(t, st, d, d.facts(t, 3, village1)...)
		want := uint64(3 * round)
		readAll(func() error {
			// A page of one change: the rows are abandoned with more left.
			page, _, more, err := st.Pull(ctx, scope, 0, 1, "")
			if err != nil {
				return err
			}
			if len(page) != 1 || !more {
				t.Errorf("round %d: got a page of %d (more %t), want 1 with more", round, len(page), more)
			}
			h, err := st.Head(ctx, d.id())
			if err != nil {
				return err
			}
			if h.Seq != want {
				t.Errorf("round %d: got head %d, want %d", round, h.Seq, want)
			}
			all, next, more, err := st.Pull(ctx, scope, 0, syncproto.MaxPullBytes, "")
			if err != nil {
				return err
			}
			if len(all) != int(want) || more || next != h.Pos {
				t.Errorf("round %d: pulled %d changes to %d (more %t), want %d to %d", round, len(all), next, more, want, h.Pos)
			}
			dev, err := st.Device(ctx, d.id())
			if err != nil {
				return err
			}
			if !dev.Revoked.IsZero() {
				t.Errorf("round %d: got device revoked at %v, want not revoked", round, dev.Revoked)
			}
			return nil
		})
	}

	if _, err := st.RevokeDevice(ctx, d.id(), t0); err != nil {
		t.Fatal(err)
	}
	readAll(func() error {
		dev, err := st.Device(ctx, d.id())
		if err != nil {
			return err
		}
		if !dev.Revoked.Equal(t0) || dev.RevokedAfter != 9 {
			t.Errorf("got device revoked at %v after %d, want %v after 9", dev.Revoked, dev.RevokedAfter, t0)
		}
		_, err = st.Device(ctx, "dev-missing")
		if code := syncproto.ErrorCode(err); code != syncproto.CodeNotFound {
			t.Errorf("unknown device: got %v, want %s", err, syncproto.CodeNotFound)
		}
		return nil
	})
}
