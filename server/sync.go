package server

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"villagesync/election"
	"villagesync/syncproto"
)

// parallelVerifyMin is the number of changes from which a push's runs are
// verified on several cores.
const parallelVerifyMin = 64

// Sync runs one sync for a device principal: it verifies and stores the
// pushed changes, signs a receipt, and pulls a page of changes in the
// device's scope, all in one request.
//
// Every pushed change is checked before anything is stored, and any refusal
// (bad chain or signature, unknown collection, unsupported schema, malformed
// record, out-of-scope record) refuses the whole request. A device that
// signed two different changes for one seq gets CodeEquivocation and both
// versions are kept as evidence.
func (s *Service) Sync(ctx context.Context, p *Principal, req *syncproto.SyncRequest) (*syncproto.SyncResponse, error) {
	start := time.Now()
	resp, err := s.sync(ctx, p, req)
	result := resultOK
	if err != nil {
		result = string(syncproto.ErrorCode(err))
	}
	s.metrics.syncRequests.WithLabelValues(result).Inc()
	s.metrics.syncDuration.Observe(time.Since(start).Seconds())
	return resp, err
}

func (s *Service) sync(ctx context.Context, p *Principal, req *syncproto.SyncRequest) (*syncproto.SyncResponse, error) {
	switch {
	case p == nil:
		return nil, errUnauthenticated()
	case p.Device == "":
		return nil, syncproto.Errorf(syncproto.CodeForbidden, "only enrolled devices sync: this token was not issued to a device")
	case req == nil:
		return nil, syncproto.Errorf(syncproto.CodeBadRequest, "empty sync request")
	case len(req.Changes) > 0 && p.Scope.Role == election.RoleObserver:
		s.metrics.changes.WithLabelValues(OutcomeRefused).Add(float64(len(req.Changes)))
		return nil, syncproto.Errorf(syncproto.CodeForbidden, "observers are read-only and cannot push changes")
	}
	after, err := syncproto.DecodeCursor(req.Cursor)
	if err != nil {
		return nil, err
	}
	resp := &syncproto.SyncResponse{}
	var result PushResult
	if len(req.Changes) > 0 {
		dev, err := s.store.Device(ctx, p.Device)
		switch {
		case isCode(err, syncproto.CodeNotFound):
			return nil, errUnauthenticated()
		case err != nil:
			return nil, fmt.Errorf("sync: %w", err)
		case !dev.Revoked.IsZero():
			return nil, errRevoked(dev)
		case dev.ElectionScope() != p.Scope:
			// The device was re-scoped since its token was issued.
			return nil, errUnauthenticated()
		}
		for i := range req.Changes {
			if c := &req.Changes[i]; c.Collection == ResolutionCollection {
				s.metrics.changes.WithLabelValues(OutcomeRefused).Add(float64(len(req.Changes)))
				return nil, &syncproto.Error{Code: syncproto.CodeForbidden, Seq: c.Seq,
					Message: "resolutions are made on the server, with a reason, through POST /v1/review/{id}/resolve"}
			}
		}
		result, err = s.push(ctx, dev, dev.ElectionScope(), req.Changes, nil)
		if isCode(err, syncproto.CodeDeviceRevoked) {
			// Revoked while the request was checked: the store refused it.
			if fresh, derr := s.store.Device(ctx, dev.ID); derr == nil {
				return nil, errRevoked(fresh)
			}
		}
		if err != nil {
			return nil, err
		}
		resp.Held = result.Held
	} else {
		h, err := s.store.Head(ctx, p.Device)
		if err != nil {
			return nil, fmt.Errorf("sync: head: %w", err)
		}
		result = PushResult{Through: h.Seq, Head: h.Hash, Held: h.Held, Pos: h.Pos}
		resp.Held = h.Held
	}
	relayed, err := s.relay(ctx, p, req.Relay)
	if err != nil {
		return nil, err
	}
	resp.Relayed = relayed
	if result.Through > 0 {
		ks, err := s.currentKeys(ctx)
		if err != nil {
			return nil, err
		}
		r := &syncproto.Receipt{
			Device:  p.Device,
			Through: result.Through,
			Head:    result.Head,
			Pos:     result.Pos,
			Issued:  s.now().UnixMilli(),
		}
		r.Sign(ks.signing.KeyID, ks.signing.Private)
		resp.Receipt = r
	}
	resp.Cursor = req.Cursor
	if req.PullMax >= 0 {
		limit := req.PullMax
		if limit == 0 {
			limit = syncproto.DefaultPullBytes
		}
		limit = min(limit, syncproto.MaxPullBytes)
		changes, next, more, err := s.store.Pull(ctx, p.Scope, after, limit, p.Device)
		if err != nil {
			return nil, fmt.Errorf("sync: pull: %w", err)
		}
		resp.Changes = changes
		resp.More = more
		if next > after {
			resp.Cursor = syncproto.EncodeCursor(next)
		}
	}
	nonce, _, err := s.newNonce(ctx)
	if err != nil {
		return nil, err
	}
	resp.Nonce = nonce
	resp.Now = s.now().UnixMilli()
	s.log.DebugContext(ctx, "sync", logDevice, p.Device, logPushed, len(req.Changes), logApplied, result.Applied,
		logDuplicates, result.Duplicates, logHeld, len(result.Held), logPulled, len(resp.Changes))
	return resp, nil
}

// push checks a device's changes and stores them. It is the one path by
// which changes enter the store, for devices and for the county authority;
// audit, if set, is written in the same transaction.
func (s *Service) push(ctx context.Context, dev Device, scope election.Scope, changes []syncproto.Change, audit *Audit) (PushResult, error) {
	release, err := s.acquireCheck(ctx)
	if err != nil {
		return PushResult{}, err
	}
	batch, err := s.checkCounted(ctx, dev, scope, changes)
	release()
	if err != nil {
		return PushResult{}, err
	}
	return s.commit(ctx, dev, changes, batch, audit)
}

// acquireCheck waits until fewer than GOMAXPROCS-1 (at least one) pushes
// are being checked and returns the function that ends this one's check.
// Checking is mostly CPU work; every push's commit runs on the store's one commit goroutine (group
// commit), which the Go scheduler treats like any other. With more checks
// than cores runnable at once, the committer waits its turn behind them
// and ingest is bounded by its share of a core: with 200 devices pushing
// 100-change runs on 2 cores, limiting checks raised ingest from about
// 10,600 to 14,300 changes/s.
func (s *Service) acquireCheck(ctx context.Context) (release func(), err error) {
	if s.checking == nil {
		return func() {}, nil
	}
	select {
	case s.checking <- struct{}{}:
		return func() { <-s.checking }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait to check changes: %w", ctx.Err())
	}
}

// checkCounted is check, counting a refusal in the metrics.
func (s *Service) checkCounted(ctx context.Context, dev Device, scope election.Scope, changes []syncproto.Change) ([]Incoming, error) {
	batch, err := s.check(ctx, dev, scope, changes)
	if err != nil {
		if _, ok := errors.AsType[*syncproto.Error](err); ok {
			s.metrics.changes.WithLabelValues(OutcomeRefused).Add(float64(len(changes)))
		}
		return nil, err
	}
	return batch, nil
}

// commit writes a checked batch of dev's changes (changes as received, batch
// as check returned them) and counts the outcome.
func (s *Service) commit(ctx context.Context, dev Device, changes []syncproto.Change, batch []Incoming, audit *Audit) (PushResult, error) {
	var err error
	now := s.now()
	var result PushResult
	if audit != nil {
		result, err = s.store.PushAudited(ctx, dev.ID, batch, *audit, now)
	} else {
		result, err = s.store.Push(ctx, dev.ID, batch, now)
	}
	if eq, ok := errors.AsType[*EquivocationError](err); ok {
		return PushResult{}, s.equivocation(ctx, eq, now, len(changes))
	}
	if err != nil {
		return PushResult{}, clientOrWrap(err, "push")
	}
	held := 0
	if len(result.Held) > 0 {
		isHeld := make(map[uint64]bool, len(result.Held))
		for _, seq := range result.Held {
			isHeld[seq] = true
		}
		for _, c := range changes {
			if isHeld[c.Seq] {
				held++
			}
		}
	}
	s.metrics.changes.WithLabelValues(OutcomeAccepted).Add(float64(result.Applied))
	s.metrics.changes.WithLabelValues(OutcomeDuplicate).Add(float64(result.Duplicates))
	s.metrics.changes.WithLabelValues(OutcomeConflict).Add(float64(result.Conflicts))
	s.metrics.changes.WithLabelValues(OutcomeHeld).Add(float64(held))
	return result, nil
}

// equivocation keeps the evidence of a device that signed two different
// changes for one seq and returns the client's error. If the evidence cannot
// be stored the push fails as an internal error, so the device retries and
// the evidence is recorded then.
func (s *Service) equivocation(ctx context.Context, eq *EquivocationError, now time.Time, n int) error {
	s.metrics.equivocations.Inc()
	s.metrics.changes.WithLabelValues(OutcomeRefused).Add(float64(n))
	s.log.ErrorContext(ctx, "equivocation: device signed two different changes for one seq", logDevice, eq.Device, logSeq, eq.Seq)
	if err := s.store.RecordEquivocation(ctx, eq, now); err != nil {
		return fmt.Errorf("record equivocation: %w", err)
	}
	return &syncproto.Error{
		Code:    syncproto.CodeEquivocation,
		Message: fmt.Sprintf("device %s signed two different changes for seq %d: both are kept as evidence for the county", eq.Device, eq.Seq),
		Seq:     eq.Seq,
	}
}

// check verifies changes of dev and returns them ready to store. The chain
// and signatures are verified first (pure CPU work, outside any store
// transaction), then each change's collection, schema version, record and
// scope.
func (s *Service) check(ctx context.Context, dev Device, scope election.Scope, changes []syncproto.Change) ([]Incoming, error) {
	if len(changes) > syncproto.MaxPushChanges {
		return nil, syncproto.Errorf(syncproto.CodeTooLarge, "%d changes in one request, over the %d limit", len(changes), syncproto.MaxPushChanges)
	}
	for i := range changes {
		c := &changes[i]
		if err := c.CheckShape(); err != nil {
			return nil, err
		}
		if c.Device != dev.ID {
			return nil, &syncproto.Error{Code: syncproto.CodeForbidden, Message: fmt.Sprintf("change is authored by %q, not by the token's device", c.Device), Seq: c.Seq}
		}
	}
	runs, err := syncproto.SplitRuns(changes)
	if err != nil {
		return nil, err
	}
	hashes, err := verifyRuns(dev.PublicKey, runs, len(changes))
	if err != nil {
		if e, ok := errors.AsType[*syncproto.Error](err); ok && e.Code == syncproto.CodeBadSignature {
			s.log.WarnContext(ctx, "device signature does not verify", logDevice, dev.ID, logSeq, e.Seq)
		}
		return nil, err
	}
	res := newBatchResolver(ctx, s.store)
	if !dev.Revoked.IsZero() {
		// Its earlier late changes are in quarantine, not in records.
		res.quarantined = dev.ID
	}
	batch := make([]Incoming, 0, len(changes))
	for r, run := range runs {
		var prev syncproto.Hash
		if run[0].Prev != nil {
			prev = *run[0].Prev
		}
		for i := range run {
			c := run[i]
			place, slot, err := checkChange(&c, scope, res)
			if res.err != nil {
				return nil, fmt.Errorf("resolve references: %w", res.err)
			}
			if err != nil {
				return nil, err
			}
			res.add(c.Collection, c.ID, place)
			batch = append(batch, Incoming{Change: c, Hash: hashes[r][i], Prev: prev, Place: place, Slot: slot})
			prev = hashes[r][i]
		}
	}
	return batch, nil
}

// checkChange checks one change against its collection and the author's
// scope and returns the place it is about and the slot it claims (facts
// only).
func checkChange(c *syncproto.Change, scope election.Scope, res *batchResolver) (election.Place, string, error) {
	place, coll, err := checkRecord(c, scope, res)
	if err != nil || coll.Editable() {
		return place, "", err
	}
	return place, coll.Slot(c.ID, c.Body), nil
}

func checkRecord(c *syncproto.Change, scope election.Scope, res *batchResolver) (election.Place, *election.Collection, error) {
	coll, ok := election.LookupCollection(c.Collection)
	if !ok {
		return election.Place{}, nil, &syncproto.Error{Code: syncproto.CodeMalformedRecord, Message: fmt.Sprintf("unknown collection %q", c.Collection), Seq: c.Seq}
	}
	if c.Schema != coll.Schema && c.Schema+1 != coll.Schema {
		msg := fmt.Sprintf("%s schema version %d is not supported: this server accepts version %d", coll.Name, c.Schema, coll.Schema)
		if coll.Schema > 1 {
			msg += fmt.Sprintf(" and %d", coll.Schema-1)
		}
		return election.Place{}, nil, &syncproto.Error{Code: syncproto.CodeUnsupported, Message: msg, Seq: c.Seq}
	}
	place, err := coll.Validate(c.ID, c.Body, res)
	if err != nil {
		return election.Place{}, nil, &syncproto.Error{Code: syncproto.CodeMalformedRecord, Message: fmt.Sprintf("%s %q: %v", coll.Name, c.ID, err), Seq: c.Seq}
	}
	if !slices.Contains(coll.Authors, scope.Role) {
		return election.Place{}, nil, &syncproto.Error{Code: syncproto.CodeForbidden, Message: fmt.Sprintf("a %s may not author %s records", scope.Role, coll.Name), Seq: c.Seq}
	}
	if !scope.CanAuthor(coll.Name, place) {
		return election.Place{}, nil, &syncproto.Error{
			Code:    syncproto.CodeOutOfScope,
			Message: fmt.Sprintf("%s %q is about %s, outside the scope of %s %s", coll.Name, c.ID, describePlace(place), scope.Role, scope.Code),
			Seq:     c.Seq,
		}
	}
	return place, coll, nil
}

// describePlace names a place for an error message.
func describePlace(p election.Place) string {
	switch {
	case p.Village != "":
		return fmt.Sprintf("village %s (township %s)", p.Village, p.Township)
	case p.Township != "":
		return "township " + p.Township
	}
	return "the whole county"
}

// verifyRuns verifies every run's chain and signatures and returns each
// run's hashes. With at least parallelVerifyMin changes in several runs, the
// runs are verified on up to GOMAXPROCS goroutines. The error reported is
// that of the earliest failing run, as if verified in order.
func verifyRuns(pub ed25519.PublicKey, runs [][]syncproto.Change, total int) ([][]syncproto.Hash, error) {
	hashes := make([][]syncproto.Hash, len(runs))
	workers := min(runtime.GOMAXPROCS(0), len(runs))
	if total < parallelVerifyMin || workers < 2 {
		for i, run := range runs {
			h, err := syncproto.VerifyRun(pub, run)
			if err != nil {
				return nil, err
			}
			hashes[i] = h
		}
		return hashes, nil
	}
	errs := make([]error, len(runs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(runs) {
					return
				}
				hashes[i], errs[i] = syncproto.VerifyRun(pub, runs[i])
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return hashes, nil
}

// batchResolver answers election.Resolver questions from the changes
// already checked in the same batch, then from the store (caching answers),
// and for a revoked device's changes from that device's own quarantined
// changes too. A store failure is kept in err and reads as "unknown" until
// the caller checks it.
type batchResolver struct {
	ctx         context.Context
	store       Store
	quarantined string // the revoked device whose quarantine also answers, if any
	known       map[recordKey]resolved
	err         error
}

type recordKey struct{ collection, id string }

type resolved struct {
	place election.Place
	ok    bool
}

func newBatchResolver(ctx context.Context, store Store) *batchResolver {
	return &batchResolver{ctx: ctx, store: store, known: make(map[recordKey]resolved)}
}

// add records where a change of the batch is.
func (r *batchResolver) add(collection, id string, p election.Place) {
	r.known[recordKey{collection, id}] = resolved{place: p, ok: true}
}

// Place implements election.Resolver.
func (r *batchResolver) Place(collection, id string) (election.Place, bool) {
	k := recordKey{collection, id}
	if v, ok := r.known[k]; ok {
		return v.place, v.ok
	}
	if r.err != nil {
		return election.Place{}, false
	}
	p, ok, err := r.store.Place(r.ctx, collection, id)
	if err == nil && !ok && r.quarantined != "" {
		p, ok, err = r.store.QuarantinedPlace(r.ctx, r.quarantined, collection, id)
	}
	if err != nil {
		r.err = err
		return election.Place{}, false
	}
	r.known[k] = resolved{place: p, ok: ok}
	return p, ok
}
