package server

import (
	"context"
	"fmt"

	"villagesync/election"
	"villagesync/syncproto"
)

// Record returns the current state of one record if p's scope may read it.
// A record that does not exist and one outside the scope get the same
// CodeNotFound answer, so the caller learns nothing about the other.
func (s *Service) Record(ctx context.Context, p *Principal, collection, id string) (Record, error) {
	if p == nil {
		return Record{}, errUnauthenticated()
	}
	notFound := syncproto.Errorf(syncproto.CodeNotFound, "no %s record %q in your scope", collection, id)
	if _, ok := election.LookupCollection(collection); !ok {
		return Record{}, syncproto.Errorf(syncproto.CodeNotFound, "no collection %q", collection)
	}
	if id == "" || len(id) > syncproto.MaxIDBytes {
		return Record{}, notFound
	}
	rec, err := s.store.Record(ctx, collection, id)
	switch {
	case isCode(err, syncproto.CodeNotFound):
		return Record{}, notFound
	case err != nil:
		return Record{}, fmt.Errorf("read record: %w", err)
	case !p.Scope.CanRead(rec.Collection, rec.Place):
		return Record{}, notFound
	}
	return rec, nil
}
