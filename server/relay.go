package server

import (
	"context"
	"fmt"
	"log/slog"

	"villagesync/election"
	"villagesync/syncproto"
)

// relay stores changes a device carried for others (imported from their
// bundles) and returns one signed receipt per origin device. Each origin's
// changes are verified against that device's own key and checked against
// that device's own scope: the carrier can neither alter nor widen them.
// Every group is checked (once) before any is stored, so a refusal stores
// nothing.
//
// A revoked origin's changes are checked the same way, but those the log
// does not hold go to quarantine for the county's review (see
// QuarantineStore), never into records or the log. Its receipt covers them
// all the same, as held durably for review, so the carrier stops carrying
// them and its own sync is never blocked by a revocation.
func (s *Service) relay(ctx context.Context, carrier *Principal, changes []syncproto.Change) ([]syncproto.Receipt, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	if carrier.Scope.Role == election.RoleObserver {
		return nil, syncproto.Errorf(syncproto.CodeForbidden, "observers are read-only and cannot carry changes")
	}
	if err := syncproto.CheckRelay(changes); err != nil {
		return nil, err
	}
	groups := syncproto.GroupByDevice(changes)
	origins := make([]Device, len(groups))
	batches := make([][]Incoming, len(groups))
	for i, g := range groups {
		dev, err := s.store.Device(ctx, g[0].Device)
		switch {
		case isCode(err, syncproto.CodeNotFound):
			return nil, &syncproto.Error{Code: syncproto.CodeBadRequest, Seq: g[0].Seq,
				Message: fmt.Sprintf("relayed changes of %s, which is not an enrolled device", g[0].Device)}
		case err != nil:
			return nil, fmt.Errorf("relay: %w", err)
		case dev.Label == AuthorityLabel:
			return nil, &syncproto.Error{Code: syncproto.CodeForbidden, Seq: g[0].Seq,
				Message: "the county authority's changes are not relayed"}
		}
		batch, err := s.checkCounted(ctx, dev, dev.ElectionScope(), g)
		if err != nil {
			return nil, err
		}
		batches[i] = batch
		for _, c := range g {
			if c.Collection == ResolutionCollection {
				return nil, &syncproto.Error{Code: syncproto.CodeForbidden, Seq: c.Seq,
					Message: "resolutions are made on the server, not relayed"}
			}
		}
		origins[i] = dev
	}
	ks, err := s.currentKeys(ctx)
	if err != nil {
		return nil, err
	}
	receipts := make([]syncproto.Receipt, 0, len(groups))
	for i, g := range groups {
		r, err := s.storeRelayed(ctx, carrier, origins[i], g, batches[i])
		if err != nil {
			return nil, err
		}
		r.Issued = s.now().UnixMilli()
		r.Sign(ks.signing.KeyID, ks.signing.Private)
		receipts = append(receipts, r)
	}
	return receipts, nil
}

// storeRelayed stores one origin's checked changes (changes as received,
// batch as check returned them), in the log or, for a revoked origin, in
// quarantine, and returns the origin's receipt, not yet signed.
func (s *Service) storeRelayed(ctx context.Context, carrier *Principal, dev Device, changes []syncproto.Change, batch []Incoming) (syncproto.Receipt, error) {
	if dev.Revoked.IsZero() {
		result, err := s.commit(ctx, dev, changes, batch, nil)
		switch {
		case err == nil:
			s.log.InfoContext(ctx, "relayed changes stored", logDevice, dev.ID, logCarrier, carrier.Device, logApplied, result.Applied)
			return syncproto.Receipt{Device: dev.ID, Through: result.Through, Head: result.Head, Pos: result.Pos}, nil
		case !isCode(err, syncproto.CodeDeviceRevoked):
			return syncproto.Receipt{}, err
		}
		// Revoked since it was read: the store refused the changes, which
		// go to review instead.
		if dev, err = s.store.Device(ctx, dev.ID); err != nil {
			return syncproto.Receipt{}, fmt.Errorf("relay: %w", err)
		}
	}
	result, err := s.quarantine(ctx, dev, changes, batch)
	if err != nil {
		return syncproto.Receipt{}, err
	}
	level := slog.LevelInfo
	if result.Quarantined > 0 {
		level = slog.LevelWarn
	}
	s.log.Log(ctx, level, "relayed changes of a revoked device held for the county's review", logDevice, dev.ID,
		logCarrier, carrier.Device, logQuarantined, result.Quarantined, logDuplicates, result.Duplicates, logItem, result.Item)
	return syncproto.Receipt{Device: dev.ID, Through: result.Through, Head: result.Head, Pos: result.Pos}, nil
}
