package server

import (
	"context"
	"fmt"

	"villagesync/election"
	"villagesync/syncproto"
)

// relay stores changes a device carried for others (imported from their
// bundles) and returns one signed receipt per origin device. Each origin's
// changes are verified against that device's own key and checked against
// that device's own scope: the carrier can neither alter nor widen them.
// Every group is checked (once) before any is stored, so a refusal stores
// nothing.
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
		case !dev.Revoked.IsZero():
			return nil, &syncproto.Error{Code: syncproto.CodeDeviceRevoked, Seq: g[0].Seq,
				Message: fmt.Sprintf("relayed changes of %s, which the county revoked", dev.ID)}
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
		dev := origins[i]
		result, err := s.commit(ctx, dev, g, batches[i], nil)
		if err != nil {
			return nil, err
		}
		r := syncproto.Receipt{Device: dev.ID, Through: result.Through, Head: result.Head, Pos: result.Pos, Issued: s.now().UnixMilli()}
		r.Sign(ks.signing.KeyID, ks.signing.Private)
		receipts = append(receipts, r)
		s.log.InfoContext(ctx, "relayed changes stored", logDevice, dev.ID, "carrier", carrier.Device, logApplied, result.Applied)
	}
	return receipts, nil
}
