package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"villagesync/election"
	"villagesync/syncproto"
)

// Statuses of a quarantine item.
const (
	QuarantineOpen     = "open"
	QuarantineAccepted = "accepted"
	QuarantineRejected = "rejected"
)

// Attribute keys of quarantine log records.
const (
	logItem        = "item"
	logCarrier     = "carrier"
	logQuarantined = "quarantined"
)

// quarantinePrefix starts the id of a quarantine item.
const quarantinePrefix = "RD-"

// maxQuarantineIDLen bounds a quarantine item id: the prefix, a device id,
// a dash and a seq.
const maxQuarantineIDLen = len(quarantinePrefix) + syncproto.MaxDeviceBytes + 1 + 20

// QuarantineItemID is the id of the quarantine item of device whose first
// quarantined change was seq: "RD-<device>-<seq>". It stays the item's id
// when changes of lower seqs join it later.
func QuarantineItemID(device string, seq uint64) string {
	return quarantinePrefix + device + "-" + strconv.FormatUint(seq, 10)
}

// ParseQuarantineItemID splits a quarantine item id into device and seq.
func ParseQuarantineItemID(id string) (device string, seq uint64, ok bool) {
	rest, ok := strings.CutPrefix(id, quarantinePrefix)
	if !ok || len(id) > maxQuarantineIDLen {
		return "", 0, false
	}
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 {
		return "", 0, false
	}
	seq, err := strconv.ParseUint(rest[i+1:], 10, 64)
	if err != nil || seq == 0 {
		return "", 0, false
	}
	return rest[:i], seq, true
}

// QuarantineResult is what the store did with a revoked device's changes.
type QuarantineResult struct {
	// Through is the highest seq such that every change 1..Through of the
	// device is held durably, in the log or in quarantine; Head its hash.
	Through uint64
	Head    syncproto.Hash
	Pos     uint64 // server log position (quarantine does not move it)
	// Quarantined counts the batch's changes newly stored in quarantine
	// (not the device's changes held from before its revocation, which
	// move in too).
	Quarantined int
	Duplicates  int    // changes already held, identical, in the log or in quarantine
	Item        string // the open item holding the device's quarantined changes, "" if none
}

// QuarantinedChange is one change held in quarantine.
type QuarantinedChange struct {
	Incoming
	Received time.Time
}

// QuarantineItem is a batch of changes a revoked device signed after its
// revocation point, awaiting the county's decision or decided.
type QuarantineItem struct {
	ID           string
	Device       string
	Scope        election.Scope // the device's: it places the item
	Revoked      time.Time
	RevokedAfter uint64
	Status       string // QuarantineOpen, QuarantineAccepted or QuarantineRejected
	Created      time.Time
	Decided      time.Time           // zero while open
	Decision     Audit               // the audit entry of the decision; zero while open
	Changes      []QuarantinedChange // by seq
}

// QuarantineStore is the storage of changes a revoked device signed after
// its revocation point, held for the county's review: never applied to
// records, appended to the log or pulled until the county accepts them.
type QuarantineStore interface {
	// Quarantine stores a revoked device's verified changes (ascending
	// seq) durably in one transaction. Changes the log holds, or the
	// quarantine, are duplicates if identical; a different change for a
	// held seq, or a prev that contradicts the held chain (log or
	// quarantine), is an *EquivocationError and nothing is stored. The
	// others join the device's open item, created if there is none; so do
	// the device's changes held beyond a gap from before its revocation.
	// A device that is not revoked is CodeConflict.
	Quarantine(ctx context.Context, device string, batch []Incoming, now time.Time) (QuarantineResult, error)
	// QuarantinedPlace reports where a record that a change of device in
	// quarantine wrote is about; ok is false if there is none.
	QuarantinedPlace(ctx context.Context, device, collection, id string) (p election.Place, ok bool, err error)
	// QuarantineItems returns the open items, or every item if all, oldest
	// first, with their changes.
	QuarantineItems(ctx context.Context, all bool) ([]QuarantineItem, error)
	// QuarantineItem returns one item with its changes, or CodeNotFound.
	QuarantineItem(ctx context.Context, id string) (QuarantineItem, error)
	// AcceptQuarantine commits an open item's changes to the log exactly as
	// Push does (records applied, conflicts detected), marks the item
	// accepted and writes audit, all in one transaction. The changes must
	// continue the device's logged chain without a gap, else CodeConflict;
	// so is an item not open, and an unknown one is CodeNotFound.
	AcceptQuarantine(ctx context.Context, id string, audit Audit, now time.Time) (PushResult, error)
	// RejectQuarantine marks an open item rejected and writes audit in one
	// transaction: its changes stay in quarantine as evidence, never
	// applied. An item not open is CodeConflict, an unknown one
	// CodeNotFound.
	RejectQuarantine(ctx context.Context, id string, audit Audit, now time.Time) error
}

// errRevoked is the answer to a revoked device's own requests: it says what
// to do with the changes still on the laptop.
func errRevoked(dev Device) error {
	what := "give the file to your township supervisor"
	if dev.Role != election.RoleStation {
		what = "give the file to a township supervisor or the county office"
	}
	return syncproto.Errorf(syncproto.CodeDeviceRevoked,
		"device %s was revoked by the county at %s: the changes on this laptop are kept; export them "+
			"(villagesync station export --out FILE) and %s, who carries them to the server: "+
			"they go to the county's review queue",
		dev.ID, rfc3339(dev.Revoked), what)
}

// quarantine stores a checked batch of a revoked device's changes (changes
// as received, batch as check returned them) for review and counts the
// outcome.
func (s *Service) quarantine(ctx context.Context, dev Device, changes []syncproto.Change, batch []Incoming) (QuarantineResult, error) {
	now := s.now()
	res, err := s.store.Quarantine(ctx, dev.ID, batch, now)
	if eq, ok := errors.AsType[*EquivocationError](err); ok {
		return QuarantineResult{}, s.equivocation(ctx, eq, now, len(changes))
	}
	if err != nil {
		return QuarantineResult{}, clientOrWrap(err, "quarantine")
	}
	s.metrics.changes.WithLabelValues(OutcomeQuarantined).Add(float64(res.Quarantined))
	s.metrics.changes.WithLabelValues(OutcomeDuplicate).Add(float64(res.Duplicates))
	return res, nil
}

// decideQuarantine accepts or rejects a quarantine item for the county.
func (s *Service) decideQuarantine(ctx context.Context, p *Principal, id, keep, reason string) (*ResolveResult, error) {
	if _, _, ok := ParseQuarantineItemID(id); !ok {
		return nil, syncproto.Errorf(syncproto.CodeNotFound, "no review item %q", id)
	}
	audit := Audit{Action: AuditResolve, Subject: p.Subject, Target: id, Keep: keep, Reason: reason}
	now := s.now()
	switch keep {
	case KeepAccept:
		res, err := s.store.AcceptQuarantine(ctx, id, audit, now)
		if err != nil {
			return nil, clientOrWrap(err, "accept quarantined changes")
		}
		s.metrics.changes.WithLabelValues(OutcomeAccepted).Add(float64(res.Applied))
		s.metrics.changes.WithLabelValues(OutcomeConflict).Add(float64(res.Conflicts))
		s.log.InfoContext(ctx, "quarantined changes accepted", logItem, id, logSubject, p.Subject, logApplied, res.Applied)
		return &ResolveResult{ID: id, Status: StatusAccepted, Keep: KeepAccept}, nil
	case KeepReject:
		if err := s.store.RejectQuarantine(ctx, id, audit, now); err != nil {
			return nil, clientOrWrap(err, "reject quarantined changes")
		}
		s.log.InfoContext(ctx, "quarantined changes rejected", logItem, id, logSubject, p.Subject)
		return &ResolveResult{ID: id, Status: StatusRejected, Keep: KeepReject}, nil
	}
	return nil, syncproto.Errorf(syncproto.CodeBadRequest,
		"keep %q: the changes of a revoked device are accepted into the log (keep %q) or rejected and kept as evidence (keep %q)",
		keep, KeepAccept, KeepReject)
}

// quarantineItem is the review item of a quarantine item as scope sees it:
// a change's body is left out where scope may not read its record.
func quarantineItem(q *QuarantineItem, scope election.Scope) ReviewItem {
	place := scopePlace(q.Scope)
	it := ReviewItem{
		Kind: ItemRevoked, ID: q.ID, Status: q.Status,
		Township: place.Township, Village: place.Village, Place: PlaceJSON(place),
		Device: q.Device, RevokedAt: rfc3339(q.Revoked), RevokedAfter: q.RevokedAfter,
		Created: rfc3339(q.Created), ResolvedAt: rfc3339(q.Decided), Reason: q.Decision.Reason,
	}
	n := len(q.Changes)
	if n > 0 {
		it.FirstSeq, it.LastSeq = q.Changes[0].Change.Seq, q.Changes[n-1].Change.Seq
	}
	switch q.Status {
	case QuarantineAccepted:
		it.Message = fmt.Sprintf("已吊销设备 %s 在吊销后签名的 %d 条变更已由县里接受，已写入记录", q.Device, n)
		it.MessageEN = fmt.Sprintf("%d changes device %s signed after its revocation were accepted by the county and applied", n, q.Device)
	case QuarantineRejected:
		it.Message = fmt.Sprintf("已吊销设备 %s 在吊销后签名的 %d 条变更已被县里拒绝，作为证据保留", q.Device, n)
		it.MessageEN = fmt.Sprintf("%d changes device %s signed after its revocation were rejected by the county and are kept as evidence", n, q.Device)
	default:
		it.Message = fmt.Sprintf("已吊销设备 %s 在吊销后签名的 %d 条变更待审核", q.Device, n)
		it.MessageEN = fmt.Sprintf("%d changes device %s signed after its revocation await review", n, q.Device)
	}
	for _, c := range q.Changes {
		ch := &c.Change
		rv := ReviewVersion{
			Ref: VersionRef(ch.Device, ch.Seq), Collection: ch.Collection, ID: ch.ID, Device: ch.Device, Seq: ch.Seq, Base: ch.Base,
			At: ch.At, Captured: rfc3339(time.UnixMilli(ch.At + ch.Offset)), HLC: ch.HLC, Received: rfc3339(c.Received),
		}
		if scope.CanRead(ch.Collection, c.Place) {
			rv.Body = ch.Body
		}
		it.Changes = append(it.Changes, rv)
	}
	return it
}

// scopePlace is the place a device's scope covers: its village (and
// township), its township, or the county (the zero place).
func scopePlace(sc election.Scope) election.Place {
	switch sc.Role {
	case election.RoleStation:
		return election.Place{Township: election.TownshipOf(sc.Code), Village: sc.Code}
	case election.RoleSupervisor:
		return election.Place{Township: sc.Code}
	}
	return election.Place{}
}

// canSeeQuarantine reports whether scope may see a quarantine item placed
// at p: the county every item, a supervisor its township's, a station its
// village's. Items of county-wide devices are the county's alone.
func canSeeQuarantine(scope election.Scope, p election.Place) bool {
	if scope.Role == election.RoleCounty {
		return scope.Validate() == nil
	}
	// No collection name: a station reads no wider place through it.
	return p != (election.Place{}) && scope.CanRead("", p)
}
