package server

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"villagesync/election"
	"villagesync/syncproto"
)

// ResolutionCollection is the reference collection of the county's
// resolutions of conflicts. Only the server's county authority authors
// them, through Resolve.
const ResolutionCollection = "resolution"

// Kinds of review item.
const (
	ItemConflict  = "conflict"
	ItemViolation = "violation"
	ItemRevoked   = "revoked" // changes a revoked device signed after its revocation point
)

// Statuses of review items: a conflict is open, resolved or superseded (a
// newer conflict holds its versions and more); a violation is open or
// acknowledged; a revoked device's changes are open, accepted or rejected.
const (
	StatusOpen         = ConflictOpen
	StatusResolved     = ConflictResolved
	StatusSuperseded   = ConflictSuperseded
	StatusAcknowledged = "acknowledged"
	StatusAccepted     = QuarantineAccepted
	StatusRejected     = QuarantineRejected
)

// Keep values that are not version refs: KeepAccept acknowledges a rule
// violation or accepts a revoked device's changes into the log; KeepReject
// rejects a revoked device's changes, which stay as evidence.
const (
	KeepAccept = "accept"
	KeepReject = "reject"
)

// maxReasonLen bounds a resolution's reason, in characters.
const maxReasonLen = 2000

// Attribute keys of review log records.
const (
	logConflict  = "conflict"
	logViolation = "violation"
	logKeep      = "keep"
	logPos       = "pos"
	logSkipped   = "skipped"
)

// PlaceJSON is a place on the wire.
type PlaceJSON struct {
	Township string `json:"township"`
	Village  string `json:"village"`
}

// ReviewQueue is the body of GET /v1/review.
type ReviewQueue struct {
	Pos   uint64       `json:"pos"` // the log position it reflects
	Items []ReviewItem `json:"items"`
}

// ReviewItem is one conflict, one rule violation or one batch of a revoked
// device's late changes for the county to look at. Kind tells which; the
// fields of the other kinds are empty.
type ReviewItem struct {
	Kind     string    `json:"kind"` // ItemConflict, ItemViolation or ItemRevoked
	ID       string    `json:"id"`   // CF-…, RV-… or RD-…
	Status   string    `json:"status"`
	Township string    `json:"township"`
	Village  string    `json:"village"`
	Place    PlaceJSON `json:"place"`

	// Conflicts.
	ConflictKind string          `json:"conflict_kind,omitempty"` // election.ConflictRecord or ConflictSlot
	Collection   string          `json:"collection,omitempty"`
	Slot         string          `json:"slot,omitempty"`   // slot conflicts
	Record       string          `json:"record,omitempty"` // record conflicts
	Records      []string        `json:"records,omitempty"`
	Versions     []ReviewVersion `json:"versions,omitempty"`
	Created      string          `json:"created,omitempty"` // RFC 3339; also of revoked items
	Resolution   string          `json:"resolution,omitempty"`
	ResolvedAt   string          `json:"resolved_at,omitempty"` // also when a revoked item was decided
	SupersededBy string          `json:"superseded_by,omitempty"`

	// Violations.
	Election     string           `json:"election,omitempty"`
	Problem      string           `json:"problem,omitempty"`
	Rule         election.RuleID  `json:"rule,omitempty"`
	Outcome      election.Outcome `json:"outcome,omitempty"`
	Message      string           `json:"message,omitempty"` // also of revoked items
	MessageEN    string           `json:"message_en,omitempty"`
	Evidence     []election.Ref   `json:"evidence,omitempty"`
	Acknowledged *bool            `json:"acknowledged,omitempty"` // set for every violation
	Reason       string           `json:"reason,omitempty"`       // of the acknowledgement, or of a revoked item's decision

	// A revoked device's changes signed after its revocation point: the
	// device, when it was revoked and after which seq, the seqs held and
	// the changes (Collection set on each).
	Device       string          `json:"device,omitempty"`
	RevokedAt    string          `json:"revoked_at,omitempty"` // RFC 3339
	RevokedAfter uint64          `json:"revoked_after,omitempty"`
	FirstSeq     uint64          `json:"first_seq,omitempty"`
	LastSeq      uint64          `json:"last_seq,omitempty"`
	Changes      []ReviewVersion `json:"changes,omitempty"`
}

// ReviewVersion is one version of a conflict, or one change of a revoked
// device. Body is left out when the reader's scope may not read the record
// the version was written for.
type ReviewVersion struct {
	Ref        string          `json:"ref"`
	Collection string          `json:"collection,omitempty"` // changes of a revoked device only
	ID         string          `json:"id"`
	Device     string          `json:"device"`
	Seq        uint64          `json:"seq"`
	Base       uint64          `json:"base,omitempty"`
	Body       json.RawMessage `json:"body,omitempty"`
	At         int64           `json:"at"`       // raw device clock at capture, Unix ms
	Captured   string          `json:"captured"` // corrected capture time, RFC 3339
	HLC        syncproto.HLC   `json:"hlc"`      // {"t", "l"}
	Received   string          `json:"received"` // server receipt, RFC 3339
	Kept       bool            `json:"kept,omitempty"`
}

// ResolveRequest is the body of POST /v1/review/{id}/resolve.
type ResolveRequest struct {
	Keep   string `json:"keep"`
	Reason string `json:"reason"`
}

// ResolveResult is the answer to a resolution or an acknowledgement.
type ResolveResult struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	Keep       string `json:"keep"`
	Resolution string `json:"resolution,omitempty"` // the resolution record id
	Change     string `json:"change,omitempty"`     // its change, <device>/<seq>
}

// reviewCache holds the county's assessment at one log position: built on
// demand by the first review or report request after the log moved, never
// on the ingest path.
type reviewCache struct {
	mu       sync.Mutex
	state    *reviewState
	assessor *election.Assessor // re-reads only what changed
}

type reviewState struct {
	pos        uint64
	assessment *election.Assessment
	conflicts  []Conflict
}

// reviewState returns the assessment of the log as it is now.
func (s *Service) reviewState(ctx context.Context) (*reviewState, error) {
	pos, err := s.store.Position(ctx)
	if err != nil {
		return nil, fmt.Errorf("review: %w", err)
	}
	s.review.mu.Lock()
	defer s.review.mu.Unlock()
	if st := s.review.state; st != nil && st.pos >= pos {
		return st, nil
	}
	snap, err := s.store.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("review: %w", err)
	}
	var open []election.Place
	for _, c := range snap.Conflicts {
		if c.Status() == ConflictOpen {
			open = append(open, c.Place)
		}
	}
	if s.review.assessor == nil {
		s.review.assessor = election.NewAssessor(s.cfg.CountyCode)
	}
	assessment, skipped := s.review.assessor.Assess(snap.Records, open)
	if len(skipped) > 0 {
		s.log.WarnContext(ctx, "records left out of the county assessment: their bodies do not decode", logSkipped, len(skipped))
	}
	st := &reviewState{pos: snap.Pos, assessment: assessment, conflicts: snap.Conflicts}
	s.review.state = st
	s.metrics.openConflicts.Set(float64(len(open)))
	s.log.DebugContext(ctx, "county assessed", logPos, snap.Pos, logCount, len(snap.Records))
	return st, nil
}

// canReview reports whether p may see the review queue.
func canReview(p *Principal) error {
	switch {
	case p == nil:
		return errUnauthenticated()
	case p.Scope.Validate() != nil:
		return errUnauthenticated()
	case p.Scope.Role == election.RoleObserver:
		return syncproto.Errorf(syncproto.CodeForbidden, "observers see reports, not the review queue")
	}
	return nil
}

// Review lists the conflicts, rule violations and revoked devices' late
// changes p's scope may see: the county everything, a supervisor its
// township, a station its village. status is "open" (the default: open
// conflicts, unacknowledged violations, undecided late changes) or "all".
// A version's or a change's body is left out where the scope may not read
// its record.
func (s *Service) Review(ctx context.Context, p *Principal, status string) (*ReviewQueue, error) {
	if err := canReview(p); err != nil {
		return nil, err
	}
	all := false
	switch status {
	case "", StatusOpen:
	case "all":
		all = true
	default:
		return nil, syncproto.Errorf(syncproto.CodeBadRequest, "status %q: want open or all", status)
	}
	st, err := s.reviewState(ctx)
	if err != nil {
		return nil, err
	}
	acks, err := s.store.Acknowledgements(ctx)
	if err != nil {
		return nil, fmt.Errorf("review: %w", err)
	}
	q := &ReviewQueue{Pos: st.pos, Items: []ReviewItem{}}
	for i := range st.conflicts {
		c := &st.conflicts[i]
		if !all && c.Status() != ConflictOpen || !p.Scope.CanRead(c.Collection, c.Place) {
			continue
		}
		q.Items = append(q.Items, conflictItem(c, p.Scope))
	}
	for _, v := range st.assessment.Violations() {
		place := election.Place{Township: v.Township, Village: v.Village}
		ack, acked := acks[v.ID]
		if !all && acked || !p.Scope.CanRead("election", place) {
			continue
		}
		it := ReviewItem{
			Kind: ItemViolation, ID: v.ID, Status: StatusOpen,
			Township: v.Township, Village: v.Village, Place: PlaceJSON(place),
			Election: v.Election, Problem: v.Problem, Rule: v.Rule, Outcome: v.Outcome,
			Message: v.Message, MessageEN: v.MessageEN, Evidence: v.Evidence, Acknowledged: &acked,
		}
		if acked {
			it.Status, it.Reason = StatusAcknowledged, ack.Reason
		}
		q.Items = append(q.Items, it)
	}
	held, err := s.store.QuarantineItems(ctx, all)
	if err != nil {
		return nil, fmt.Errorf("review: %w", err)
	}
	for i := range held {
		if canSeeQuarantine(p.Scope, scopePlace(held[i].Scope)) {
			q.Items = append(q.Items, quarantineItem(&held[i], p.Scope))
		}
	}
	return q, nil
}

// rfc3339 formats t, "" for the zero time.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func conflictItem(c *Conflict, scope election.Scope) ReviewItem {
	it := ReviewItem{
		Kind: ItemConflict, ID: c.ID, Status: c.Status(),
		Township: c.Place.Township, Village: c.Place.Village, Place: PlaceJSON(c.Place),
		ConflictKind: c.Kind, Collection: c.Collection, Created: rfc3339(c.Created),
		Resolution: c.Resolution, ResolvedAt: rfc3339(c.Resolved), SupersededBy: c.SupersededBy,
	}
	if c.Kind == election.ConflictSlot {
		it.Slot = c.Subject
	} else {
		it.Record = c.Subject
	}
	for _, v := range c.Versions {
		rv := ReviewVersion{
			Ref: v.Ref(), ID: v.RecordID, Device: v.Device, Seq: v.Seq, Base: v.Base,
			At: v.At, Captured: rfc3339(time.UnixMilli(v.At + v.Offset)), HLC: v.HLC, Received: rfc3339(v.Received),
		}
		if scope.CanRead(c.Collection, v.Place) {
			rv.Body = json.RawMessage(v.Body)
		}
		if !slices.Contains(it.Records, v.RecordID) {
			it.Records = append(it.Records, v.RecordID)
		}
		it.Versions = append(it.Versions, rv)
	}
	return it
}

// checkReason returns reason trimmed, or a client error if it is blank,
// too long or holds control characters other than line breaks and tabs.
func checkReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return "", syncproto.Errorf(syncproto.CodeBadRequest, "a reason is required: say why (it is kept in the audit trail and sent to every device that holds the records)")
	case utf8.RuneCountInString(reason) > maxReasonLen:
		return "", syncproto.Errorf(syncproto.CodeBadRequest, "the reason is over %d characters", maxReasonLen)
	case !utf8.ValidString(reason):
		return "", syncproto.Errorf(syncproto.CodeBadRequest, "the reason is not valid UTF-8")
	}
	for _, r := range reason {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f {
			return "", syncproto.Errorf(syncproto.CodeBadRequest, "the reason holds control characters")
		}
	}
	return reason, nil
}

// Resolve settles a review item for the county: a conflict (id CF-…) by
// keeping one version (keep: its ref, <device>/<seq>), a rule violation
// (id RV-…) by acknowledging it (keep: "accept"), or a revoked device's late
// changes (id RD-…) by accepting (keep: "accept") or rejecting them (keep:
// "reject"). reason is required. Only the county role may (a person's or a
// device's token). A conflict's resolution is a signed change of the county
// authority in the resolution collection, stored with its audit entry and
// pulled by every device whose scope holds the records; an acknowledgement
// is audited and the violation stays in the rule matrix; accepted late
// changes enter the log with their audit entry as if they had arrived before
// the revocation, rejected ones stay in quarantine as evidence. The device
// stays revoked either way.
func (s *Service) Resolve(ctx context.Context, p *Principal, id string, req ResolveRequest) (*ResolveResult, error) {
	switch {
	case p == nil:
		return nil, errUnauthenticated()
	case p.Scope.Role != election.RoleCounty:
		return nil, syncproto.Errorf(syncproto.CodeForbidden, "only the county resolves conflicts, acknowledges rule violations and decides on a revoked device's changes")
	}
	reason, err := checkReason(req.Reason)
	if err != nil {
		return nil, err
	}
	keep := strings.TrimSpace(req.Keep)
	if keep == "" {
		return nil, syncproto.Errorf(syncproto.CodeBadRequest, "keep is required: the ref (<device>/<seq>) of the version to keep, %q for a rule violation, or %q or %q for a revoked device's changes", KeepAccept, KeepAccept, KeepReject)
	}
	switch {
	case strings.HasPrefix(id, "CF-") && len(id) <= 64:
		return s.resolveConflict(ctx, p, id, keep, reason)
	case strings.HasPrefix(id, "RV-") && len(id) <= 2*syncproto.MaxIDBytes:
		return s.acknowledge(ctx, p, id, keep, reason)
	case strings.HasPrefix(id, quarantinePrefix) && len(id) <= maxQuarantineIDLen:
		return s.decideQuarantine(ctx, p, id, keep, reason)
	}
	return nil, syncproto.Errorf(syncproto.CodeNotFound, "no review item %q: ids start with CF- (conflicts), RV- (rule violations) or RD- (a revoked device's changes)", id)
}

// resolutionBody is the body of a resolution record, in wire order.
type resolutionBody struct {
	Conflict   string                       `json:"conflict"`
	Kind       string                       `json:"kind"`
	Collection string                       `json:"collection"`
	Slot       string                       `json:"slot"`
	Versions   []election.ResolutionVersion `json:"versions"`
	Keep       string                       `json:"keep"`
	Reason     string                       `json:"reason"`
	ResolvedBy string                       `json:"resolved_by"`
	ResolvedAt string                       `json:"resolved_at"`
	Township   string                       `json:"township,omitempty"`
	Village    string                       `json:"village,omitempty"`
}

func (s *Service) resolveConflict(ctx context.Context, p *Principal, id, keep, reason string) (*ResolveResult, error) {
	s.authorMu.Lock()
	defer s.authorMu.Unlock()
	c, err := s.store.Conflict(ctx, id)
	if err != nil {
		return nil, clientOrWrap(err, "resolve")
	}
	switch c.Status() {
	case ConflictResolved:
		return nil, syncproto.Errorf(syncproto.CodeConflict, "conflict %s is already resolved (%s)", id, c.Resolution)
	case ConflictSuperseded:
		return nil, syncproto.Errorf(syncproto.CodeConflict, "conflict %s was superseded by %s, which holds a newer version: resolve that one", id, c.SupersededBy)
	}
	if _, _, ok := ParseVersionRef(keep); !ok {
		return nil, syncproto.Errorf(syncproto.CodeBadRequest, "keep %q: want the ref of a version, <device>/<seq>", keep)
	}
	if _, ok := c.Version(keep); !ok {
		refs := make([]string, len(c.Versions))
		for i, v := range c.Versions {
			refs[i] = v.Ref()
		}
		return nil, syncproto.Errorf(syncproto.CodeBadRequest, "keep %q is not a version of conflict %s: want one of %s", keep, id, strings.Join(refs, ", "))
	}
	a, err := s.loadAuthority(ctx)
	if err != nil {
		return nil, fmt.Errorf("resolve: %w", err)
	}
	now := s.now()
	body := resolutionBody{
		Conflict: c.ID, Kind: c.Kind, Collection: c.Collection,
		Keep: keep, Reason: reason, ResolvedBy: p.Subject, ResolvedAt: now.UTC().Format(time.RFC3339),
		Township: c.Place.Township, Village: c.Place.Village,
	}
	if c.Kind == election.ConflictSlot {
		body.Slot = c.Subject
	}
	for _, v := range c.Versions {
		body.Versions = append(body.Versions, election.ResolutionVersion{Ref: v.Ref(), ID: v.RecordID})
	}
	b, err := syncproto.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("resolve: encode: %w", err)
	}
	h, err := s.store.Head(ctx, a.dev.ID)
	if err != nil {
		return nil, fmt.Errorf("resolve: head: %w", err)
	}
	if len(h.Held) > 0 {
		return nil, fmt.Errorf("resolve: county authority chain has a gap before seq %d", h.Held[0])
	}
	coll, _ := election.LookupCollection(ResolutionCollection)
	ch := syncproto.Change{
		Device: a.dev.ID, Seq: h.Seq + 1, Collection: ResolutionCollection, ID: "RES-" + c.ID,
		HLC: a.clock.Now(now.UnixMilli()), At: now.UnixMilli(), Schema: coll.Schema, Body: b,
	}
	if h.Seq > 0 {
		prev := h.Hash
		ch.Prev = &prev
	}
	ch.Sig = syncproto.SignHash(a.priv, ch.Hash(h.Hash))
	ref := VersionRef(ch.Device, ch.Seq)
	audit := Audit{Action: AuditResolve, Subject: p.Subject, Target: c.ID, Keep: keep, Reason: reason, Change: ref}
	if _, err := s.push(ctx, a.dev, a.dev.ElectionScope(), []syncproto.Change{ch}, &audit); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "conflict resolved", logConflict, c.ID, logSubject, p.Subject, logKeep, keep)
	return &ResolveResult{ID: c.ID, Status: StatusResolved, Keep: keep, Resolution: ch.ID, Change: ref}, nil
}

func (s *Service) acknowledge(ctx context.Context, p *Principal, id, keep, reason string) (*ResolveResult, error) {
	if keep != KeepAccept {
		return nil, syncproto.Errorf(syncproto.CodeBadRequest, "a rule violation is acknowledged, not resolved: send keep %q", KeepAccept)
	}
	st, err := s.reviewState(ctx)
	if err != nil {
		return nil, err
	}
	found := false
	for _, v := range st.assessment.Violations() {
		found = found || v.ID == id
	}
	if !found {
		return nil, syncproto.Errorf(syncproto.CodeNotFound, "no rule violation %s: it may have been corrected since", id)
	}
	audit := Audit{Action: AuditAcknowledge, Subject: p.Subject, Target: id, Keep: KeepAccept, Reason: reason, Created: s.now()}
	if err := s.store.Acknowledge(ctx, audit); err != nil {
		return nil, clientOrWrap(err, "acknowledge")
	}
	s.log.InfoContext(ctx, "rule violation acknowledged", logViolation, id, logSubject, p.Subject)
	return &ResolveResult{ID: id, Status: StatusAcknowledged, Keep: KeepAccept}, nil
}

// Report computes the county report (SPEC §7) for p: county and observer
// see the county, a supervisor its township; stations see no report.
func (s *Service) Report(ctx context.Context, p *Principal) (*election.CountyReport, error) {
	switch {
	case p == nil:
		return nil, errUnauthenticated()
	case p.Scope.Role == election.RoleStation:
		return nil, syncproto.Errorf(syncproto.CodeForbidden, "stations see their own records, not the county report")
	}
	st, err := s.reviewState(ctx)
	if err != nil {
		return nil, err
	}
	acks, err := s.store.Acknowledgements(ctx)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	acked := make(map[string]bool, len(acks))
	for id := range acks {
		acked[id] = true
	}
	a := st.assessment
	if p.Scope.Role == election.RoleSupervisor {
		a = a.Within(p.Scope.Code)
	}
	rep := a.Report(acked)
	return &rep, nil
}

// utf8BOM starts the CSV export, so that Excel reads it as UTF-8.
const utf8BOM = "\uFEFF"

// csvText keeps a spreadsheet from reading a name as a formula.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// ReportCSV is the villages table of Report as CSV for Excel: UTF-8 with a
// byte order mark, a header in Chinese, one line per village and one
// column per rule of the matrix.
func (s *Service) ReportCSV(ctx context.Context, p *Principal) ([]byte, error) {
	rep, err := s.Report(ctx, p)
	if err != nil {
		return nil, err
	}
	townships := make(map[string]string, len(rep.Townships))
	for _, t := range rep.Townships {
		townships[t.Code] = t.Name
	}
	titles := make(map[election.RuleID]string)
	for _, r := range election.Rules() {
		titles[r.ID] = r.Title
	}
	rules := rep.RuleOrder()
	var buf bytes.Buffer
	buf.WriteString(utf8BOM)
	w := csv.NewWriter(&buf)
	header := []string{"村代码", "村名", "乡镇代码", "乡镇", "重点村", "选举", "状态", "按期举行", "一次性选举成功", "当选人数", "未解决冲突", "规则问题"}
	for _, r := range rules {
		header = append(header, string(r)+" "+titles[r])
	}
	yes := func(b bool) string {
		if b {
			return "是"
		}
		return "否"
	}
	if err := w.Write(header); err != nil {
		return nil, fmt.Errorf("report csv: %w", err)
	}
	for _, v := range rep.Villages {
		line := []string{v.Code, csvText(v.Name), v.Township, csvText(townships[v.Township]), yes(v.KeyVillage), v.Election,
			election.VillageStatusZH(v.Status), yes(v.HeldOnTime), yes(v.OneTimeSuccess),
			strconv.Itoa(v.MembersElected), strconv.Itoa(v.OpenConflicts), strconv.Itoa(v.RuleViolations)}
		for _, r := range rules {
			cell := ""
			if o, ok := v.Rules[r]; ok {
				cell = election.OutcomeZH(o)
			}
			line = append(line, cell)
		}
		if err := w.Write(line); err != nil {
			return nil, fmt.Errorf("report csv: %w", err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("report csv: %w", err)
	}
	return buf.Bytes(), nil
}
