package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"

	"villagesync/election"
	"villagesync/syncproto"
)

// seedChunk is the number of changes the county authority pushes at once.
const seedChunk = 1000

// authority is the server's own county authoring identity: a device row
// (role county, label AuthorityLabel) whose Ed25519 key is kept in the store
// as a SigningKey with a KeyID starting with AuthorityKeyPrefix.
type authority struct {
	dev   Device
	priv  ed25519.PrivateKey
	clock syncproto.Clock // hybrid logical clock of the changes it authors
}

// loadAuthority returns the county authority, creating its key and device
// row on first use. The caller holds authorMu.
func (s *Service) loadAuthority(ctx context.Context) (*authority, error) {
	if s.authority != nil {
		return s.authority, nil
	}
	keys, err := s.store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load authority key: %w", err)
	}
	var key SigningKey
	for _, k := range keys {
		if strings.HasPrefix(k.KeyID, AuthorityKeyPrefix) && len(k.Private) == ed25519.PrivateKeySize {
			key = k
			break
		}
	}
	now := s.now()
	if key.KeyID == "" {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate authority key: %w", err)
		}
		id, err := randomString(12)
		if err != nil {
			return nil, err
		}
		key = SigningKey{KeyID: AuthorityKeyPrefix + id, Private: priv, Created: now}
		if err := s.store.AddSigningKey(ctx, key); err != nil {
			return nil, fmt.Errorf("add authority key: %w", err)
		}
		s.log.InfoContext(ctx, "created county authority key", logKeyID, key.KeyID)
	}
	pub := key.Private.Public().(ed25519.PublicKey)
	id := syncproto.DeviceID(pub)
	dev, err := s.store.Device(ctx, id)
	switch {
	case isCode(err, syncproto.CodeNotFound):
		dev = Device{
			ID:        id,
			PublicKey: pub,
			Role:      election.RoleCounty,
			Scope:     s.cfg.CountyCode,
			Label:     AuthorityLabel,
			Enrolled:  now,
		}
		if err := s.store.PutDevice(ctx, dev); err != nil {
			return nil, fmt.Errorf("store authority device: %w", err)
		}
		s.log.InfoContext(ctx, "created county authority device", logDevice, id)
	case err != nil:
		return nil, fmt.Errorf("load authority device: %w", err)
	}
	if !dev.Revoked.IsZero() {
		return nil, fmt.Errorf("county authority device %s is revoked", id)
	}
	s.authority = &authority{dev: dev, priv: key.Private}
	return s.authority, nil
}

// Seed loads a dataset's reference records (and its county's previous-term
// figures, election.Dataset.PreviousTermRecord) as changes authored and
// signed by the server's county authority, through the same verification
// and store path as a device push. It is idempotent: records already stored
// with the same body are skipped, and a record whose body differs is stored
// as a new version based on the stored one. It returns the number of
// records stored.
func (s *Service) Seed(ctx context.Context, d *election.Dataset) (int, error) {
	if d == nil {
		return 0, fmt.Errorf("seed: nil dataset")
	}
	s.authorMu.Lock()
	defer s.authorMu.Unlock()
	a, err := s.loadAuthority(ctx)
	if err != nil {
		return 0, fmt.Errorf("seed: %w", err)
	}
	h, err := s.store.Head(ctx, a.dev.ID)
	if err != nil {
		return 0, fmt.Errorf("seed: head: %w", err)
	}
	if len(h.Held) > 0 {
		return 0, fmt.Errorf("seed: county authority chain has a gap before seq %d", h.Held[0])
	}
	seq, head := h.Seq, h.Hash
	now := s.now().UnixMilli()
	recs := d.Records()
	if pt, ok := d.PreviousTermRecord(); ok {
		recs = append(recs, pt)
	}
	var todo []syncproto.Change
	for _, rec := range recs {
		coll, ok := election.LookupCollection(rec.Collection)
		if !ok {
			return 0, fmt.Errorf("seed: %s %s: unknown collection", rec.Collection, rec.ID)
		}
		body, err := syncproto.CanonicalBody(rec.Body)
		if err != nil {
			return 0, fmt.Errorf("seed: %s %s: %w", rec.Collection, rec.ID, err)
		}
		var base uint64
		cur, err := s.store.Record(ctx, rec.Collection, rec.ID)
		switch {
		case err == nil && bytes.Equal(cur.Body, body):
			continue
		case err == nil:
			base = cur.Version
		case !isCode(err, syncproto.CodeNotFound):
			return 0, fmt.Errorf("seed: %s %s: %w", rec.Collection, rec.ID, err)
		}
		seq++
		todo = append(todo, syncproto.Change{
			Device:     a.dev.ID,
			Seq:        seq,
			Collection: rec.Collection,
			ID:         rec.ID,
			Base:       base,
			HLC:        a.clock.Now(now),
			At:         now,
			Schema:     coll.Schema,
			Body:       body,
		})
	}
	stored := 0
	for len(todo) > 0 {
		chunk := todo[:min(seedChunk, len(todo))]
		todo = todo[len(chunk):]
		if chunk[0].Seq > 1 {
			prev := head
			chunk[0].Prev = &prev
		}
		for i := range chunk {
			head = chunk[i].Hash(head)
		}
		chunk[len(chunk)-1].Sig = syncproto.SignHash(a.priv, head)
		res, err := s.push(ctx, a.dev, a.dev.ElectionScope(), chunk, nil)
		if err != nil {
			return stored, fmt.Errorf("seed: push: %w", err)
		}
		stored += res.Applied
	}
	s.log.InfoContext(ctx, "seeded reference data", logCount, stored, logDevice, a.dev.ID)
	return stored, nil
}
