package election

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Kind says how a collection's records come to be.
type Kind int

const (
	// KindReference records are authored centrally by the county, versioned
	// and synced down: county, townships, villages, elections, candidates,
	// roll counts, role assignments, key villages, working groups. They are
	// editable: each edit carries the version it was based on.
	KindReference Kind = iota + 1
	// KindFact records are authored in the field, append-only and signed:
	// attendance, ballots, tally sheets and their amendments, approvals,
	// supervision visits, problems, rectifications, training sessions,
	// returned members.
	KindFact
)

func (k Kind) String() string {
	switch k {
	case KindReference:
		return "reference"
	case KindFact:
		return "fact"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Collection describes one named kind of record: who may author it and the
// fields its JSON body must carry.
//
// Collections are shared and must not be modified.
type Collection struct {
	Name    string
	Kind    Kind
	Authors []Role // who may author it
	Schema  uint32 // current schema version

	id     func(id string) *fieldError // checks the shape of the record id
	fields []field
	// closed collections refuse fields they do not list: a ballot must not
	// be able to carry a voter's identity.
	closed bool
	// slot names the logical slot a valid record claims; nil for records
	// that merge by set union.
	slot func(id string, rec record) string
	// place reports where a record whose fields are valid is about.
	place func(id string, rec record, r Resolver) (Place, *ValidationError)
}

// Values of enumerated fields.
const (
	TypePartyCommittee   = "PARTY_COMMITTEE"   // 村党组织委员会
	TypeVillageCommittee = "VILLAGE_COMMITTEE" // 村民委员会

	StatusDraft     = "DRAFT"
	StatusLocked    = "LOCKED"
	StatusHeld      = "HELD"
	StatusCertified = "CERTIFIED"

	RoundFormal     = "FORMAL"     // first round
	RoundAdditional = "ADDITIONAL" // 另行选举
	RoundRerun      = "RERUN"      // 重新选举
	RoundTieBreak   = "TIE_BREAK"
	RoundSecretary  = "SECRETARY" // committee plenary electing 书记/副书记

	SourceVisit      = "visit"      // found on a supervision visit
	SourceInspection = "inspection" // found by the county inspection team

	RectificationOpen       = "OPEN"
	RectificationInProgress = "IN_PROGRESS"
	RectificationRectified  = "RECTIFIED"
	RectificationVerified   = "VERIFIED"

	SexMale   = "M"
	SexFemale = "F"

	EducationPrimary      = "PRIMARY"      // 小学
	EducationJuniorHigh   = "JUNIOR_HIGH"  // 初中
	EducationSeniorHigh   = "SENIOR_HIGH"  // 高中、中专
	EducationCollege      = "COLLEGE"      // 大专
	EducationBachelor     = "BACHELOR"     // 本科
	EducationPostgraduate = "POSTGRADUATE" // 研究生

	PartyFullMember         = "FULL_MEMBER"         // 正式党员
	PartyProbationaryMember = "PROBATIONARY_MEMBER" // 预备党员
	PartyNonMember          = "NON_MEMBER"          // 群众

	MarkYes     = "yes"     // 赞成
	MarkNo      = "no"      // 反对
	MarkAbstain = "abstain" // 弃权

	RoleScrutineer      = "SCRUTINEER"       // 监票人
	RoleCounter         = "COUNTER"          // 计票人
	RoleChiefScrutineer = "CHIEF_SCRUTINEER" // 总监票人
	RoleTeller          = "TELLER"           // 唱票人

	ApprovalSecretary       = "SECRETARY"        // 书记、副书记选举结果报上级党组织批准
	ApprovalSeatReduction   = "SEAT_REDUCTION"   // 减少职数
	ApprovalQuorumExclusion = "QUORUM_EXCLUSION" // 经批准不计入应到会人数
	ApprovalManualFallback  = "MANUAL_FALLBACK"  // 改用纸质记录等例外

	TrainingDrill = "DRILL" // 模拟演练
)

// CollegeOrAbove reports whether education is 大专 (college) or higher, the
// measure of the "one down, one up" (一降一升) target.
func CollegeOrAbove(education string) bool {
	switch education {
	case EducationCollege, EducationBachelor, EducationPostgraduate:
		return true
	}
	return false
}

var (
	countyOnly = []Role{RoleCounty}

	electionTypes         = []string{TypePartyCommittee, TypeVillageCommittee}
	electionStatuses      = []string{StatusDraft, StatusLocked, StatusHeld, StatusCertified}
	roundKinds            = []string{RoundFormal, RoundAdditional, RoundRerun, RoundTieBreak, RoundSecretary}
	problemSources        = []string{SourceVisit, SourceInspection}
	rectificationStatuses = []string{RectificationOpen, RectificationInProgress, RectificationRectified, RectificationVerified}
	sexes                 = []string{SexMale, SexFemale}
	educations            = []string{EducationPrimary, EducationJuniorHigh, EducationSeniorHigh, EducationCollege, EducationBachelor, EducationPostgraduate}
	partyStatuses         = []string{PartyFullMember, PartyProbationaryMember, PartyNonMember}
	markValues            = []string{MarkYes, MarkNo, MarkAbstain}
	electionRoles         = []string{RoleScrutineer, RoleCounter, RoleChiefScrutineer, RoleTeller}
	approvalKinds         = []string{ApprovalSecretary, ApprovalSeatReduction, ApprovalQuorumExclusion, ApprovalManualFallback}
	trainingKinds         = []string{TrainingDrill}
	stationSupervisor     = []Role{RoleStation, RoleSupervisor}
	supervisorCounty      = []Role{RoleSupervisor, RoleCounty}
)

// registry holds every collection.
var registry = []*Collection{
	{
		Name: "approval", Kind: KindFact, Authors: supervisorCounty, Schema: 1,
		id: anyID,
		fields: []field{
			text("election"),
			enum("kind", approvalKinds...),
			text("approved_by"),
			timestamp("approved_at"),
			note("notes"),
		},
		place: electionPlace,
	},
	{
		Name: "attendance", Kind: KindFact, Authors: []Role{RoleStation}, Schema: 1,
		id: anyID,
		fields: []field{
			text("election"),
			count("eligible"),
			count("present"),
			optional(count("proxies")),
		},
		place: electionPlace,
		slot:  func(_ string, rec record) string { return slotOf(rec.str("election")) },
	},
	{
		Name: "ballot", Kind: KindFact, Authors: []Role{RoleStation}, Schema: 1,
		id: anyID,
		fields: []field{
			text("election"),
			integer("round", 1, maxCount),
			integer("serial", 1, maxCount),
			markMap("marks"),
			stringList("write_ins", 0),
		},
		closed: true,
		place:  electionPlace,
		slot: func(_ string, rec record) string {
			return slotOf(rec.str("election"), rec.num("round"), "ballot", rec.num("serial"))
		},
	},
	{
		Name: "candidate", Kind: KindReference, Authors: countyOnly, Schema: 1,
		id: anyID,
		fields: []field{
			electionRef("election"),
			text("name"),
			integer("birth_year", 1900, 2100),
			enum("sex", sexes...),
			enum("education", educations...),
			enum("party_status", partyStatuses...),
		},
		place: electionShapePlace,
	},
	{
		Name: "county", Kind: KindReference, Authors: countyOnly, Schema: 1,
		id: codeID(CountyCodeLen),
		fields: []field{
			text("name"),
		},
		place: func(string, record, Resolver) (Place, *ValidationError) { return Place{}, nil },
	},
	{
		Name: "election", Kind: KindReference, Authors: countyOnly, Schema: 1,
		id: electionID,
		fields: []field{
			code("village", VillageCodeLen),
			enum("type", electionTypes...),
			integer("seats", 1, maxCount),
			date("date"),
			enum("status", electionStatuses...),
			stringList("candidates", 0),
		},
		place: electionRecordPlace,
	},
	{
		Name: "key_village", Kind: KindReference, Authors: countyOnly, Schema: 1,
		id: anyID,
		fields: []field{
			code("village", VillageCodeLen),
			text("first_secretary"),
		},
		place: func(_ string, rec record, _ Resolver) (Place, *ValidationError) {
			return villagePlaceOf(rec.str("village")), nil
		},
	},
	{
		Name: "previous_term", Kind: KindReference, Authors: countyOnly, Schema: 1,
		id: codeID(CountyCodeLen),
		fields: []field{
			count("members"),
			count("age_sum"),
			count("college"),
		},
		place: func(string, record, Resolver) (Place, *ValidationError) { return Place{}, nil },
	},
	{
		Name: "problem", Kind: KindFact, Authors: supervisorCounty, Schema: 1,
		id: anyID,
		fields: []field{
			code("village", VillageCodeLen),
			enum("source", problemSources...),
			text("category"),
			text("description"),
		},
		place: villagePlace,
	},
	{
		Name: "rectification", Kind: KindFact, Authors: stationSupervisor, Schema: 1,
		id: anyID,
		fields: []field{
			text("problem"),
			enum("status", rectificationStatuses...),
			note("notes"),
			optional(text("after")),
		},
		place: problemPlace,
	},
	{
		Name: "resolution", Kind: KindReference, Authors: countyOnly, Schema: 1,
		id: anyID,
		fields: []field{
			text("conflict"),
			enum("kind", ConflictRecord, ConflictSlot),
			text("collection"),
			note("slot"),
			versionList("versions"),
			text("keep"),
			text("reason"),
			text("resolved_by"),
			timestamp("resolved_at"),
			optional(code("township", TownshipCodeLen)),
			optional(code("village", VillageCodeLen)),
		},
		place: resolutionPlace,
	},
	{
		Name: "returned_member", Kind: KindFact, Authors: stationSupervisor, Schema: 1,
		id: anyID,
		fields: []field{
			code("village", VillageCodeLen),
			text("origin"),
			date("returned_on"),
		},
		place: villagePlace,
	},
	{
		Name: "role_assignment", Kind: KindReference, Authors: countyOnly, Schema: 1,
		id: anyID,
		fields: []field{
			electionRef("election"),
			text("person"),
			enum("role", electionRoles...),
		},
		place: electionShapePlace,
	},
	{
		Name: "roll_count", Kind: KindReference, Authors: countyOnly, Schema: 1,
		id: anyID,
		fields: []field{
			electionRef("election"),
			count("full_members"),
			count("eligible"),
			count("exclusions"),
			optional(stringList("registrants", 0)),
			optional(date("published_on")),
		},
		place: electionShapePlace,
	},
	{
		Name: "supervision_visit", Kind: KindFact, Authors: []Role{RoleSupervisor}, Schema: 1,
		id: anyID,
		fields: []field{
			code("village", VillageCodeLen),
			integer("round", 1, 4),
			timestamp("visited_at"),
			note("notes"),
		},
		place: villagePlace,
	},
	{
		Name: "tally_amendment", Kind: KindFact, Authors: stationSupervisor, Schema: 1,
		id: anyID,
		fields: []field{
			text("sheet"),
			text("reason"),
			object("signers", text("station"), text("supervisor")),
			optional(count("issued")),
			optional(count("returned")),
			optional(count("valid")),
			optional(count("invalid")),
			optional(votes("votes")),
			optional(counts("write_ins")),
			optional(stringList("elected", 0)),
		},
		place: amendmentPlace,
	},
	{
		Name: "tally_sheet", Kind: KindFact, Authors: []Role{RoleStation}, Schema: 1,
		id: anyID,
		fields: []field{
			text("election"),
			integer("round", 1, maxCount),
			enum("kind", roundKinds...),
			count("issued"),
			count("returned"),
			count("valid"),
			count("invalid"),
			votes("votes"),
			stringList("signers", 1),
			optional(counts("write_ins")),
			optional(sha256Hex("photo")),
			optional(stringList("elected", 0)),
			optional(object("seat_reduction", integer("new_seats", 1, maxCount), count("votes_for"))),
		},
		place: electionPlace,
		slot: func(_ string, rec record) string {
			if rec.str("kind") == RoundSecretary {
				return slotOf(rec.str("election"), "secretary", rec.num("round"))
			}
			return slotOf(rec.str("election"), "round", rec.num("round"))
		},
	},
	{
		Name: "township", Kind: KindReference, Authors: countyOnly, Schema: 1,
		id: codeID(TownshipCodeLen),
		fields: []field{
			text("name"),
			text("pinyin"),
			optional(stringList("alt_names", 0)),
		},
		place: func(id string, _ record, _ Resolver) (Place, *ValidationError) {
			return Place{Township: id}, nil
		},
	},
	{
		Name: "training_session", Kind: KindFact, Authors: supervisorCounty, Schema: 1,
		id: anyID,
		fields: []field{
			code("township", TownshipCodeLen),
			date("held_on"),
			enum("kind", trainingKinds...),
			count("attendance"),
		},
		place: townshipPlace,
	},
	{
		Name: "village", Kind: KindReference, Authors: countyOnly, Schema: 1,
		id: codeID(VillageCodeLen),
		fields: []field{
			code("township", TownshipCodeLen),
			text("name"),
			boolean("key_village"),
			optional(boolean("synthetic")),
		},
		place: villageRecordPlace,
	},
	{
		Name: "working_group", Kind: KindReference, Authors: countyOnly, Schema: 1,
		id: anyID,
		fields: []field{
			optional(code("village", VillageCodeLen)),
			optional(code("township", TownshipCodeLen)),
			integer("members", 1, maxCount),
		},
		place: workingGroupPlace,
	},
}

var byName = func() map[string]*Collection {
	m := make(map[string]*Collection, len(registry))
	for _, c := range registry {
		m[c.Name] = c
	}
	return m
}()

// LookupCollection returns the collection called name.
func LookupCollection(name string) (*Collection, bool) {
	c, ok := byName[name]
	return c, ok
}

// Collections returns every collection, sorted by name. The slice is the
// caller's; the collections are shared.
func Collections() []*Collection {
	cs := slices.Clone(registry)
	slices.SortFunc(cs, func(a, b *Collection) int { return strings.Compare(a.Name, b.Name) })
	return cs
}

// Editable reports whether records of c are edited in place: reference
// records, authored by the county, whose every edit carries the version it
// was based on. An edit based on a version that is no longer current is a
// conflict for the county to resolve, never last-writer-wins. Facts are
// append-only and never edited.
func (c *Collection) Editable() bool {
	return c != nil && c.Kind == KindReference
}

// Slot returns the logical slot a record claims, within its collection: two
// different records of one collection claiming the same non-empty slot are
// a conflict to show the county with both versions, never a silent merge.
//
//   - Reference records: the slot is the record id; edits are ordered by
//     their base version ([Collection.Editable]).
//   - attendance: <election>, one sign-in count per election.
//   - tally_sheet: <election>/round/<round>, one sheet per election round;
//     a SECRETARY plenary sheet claims <election>/secretary/<round>.
//   - ballot: <election>/<round>/ballot/<serial>, one ballot per serial.
//   - Every other fact (approval, problem, rectification, returned_member,
//     supervision_visit, tally_amendment, training_session) claims no slot
//     and merges by set union: two records are two facts. Contradictions
//     among them are found by [Evaluate] (amendments that disagree) and
//     [RectificationStatus] (events that disagree), not by slot.
//
// body should be a record [Collection.Validate] accepted; Slot returns ""
// for a body it cannot read.
func (c *Collection) Slot(id string, body []byte) string {
	if c == nil {
		return ""
	}
	if c.Editable() {
		return id
	}
	if c.slot == nil {
		return ""
	}
	members, err := parseObject(body)
	if err != nil {
		return ""
	}
	rec := make(record, len(members))
	for _, m := range members {
		rec[m.name] = m.value
	}
	return c.slot(id, rec)
}

// slotOf joins the parts of a slot with "/", or returns "" if any is empty.
func slotOf(parts ...string) string {
	if slices.Contains(parts, "") {
		return ""
	}
	return strings.Join(parts, "/")
}

// Kinds of conflict a [Resolution] settles.
const (
	// ConflictRecord: one record id holds versions that are not one edit
	// after another (a fact rewritten, a reference edit on a stale base).
	ConflictRecord = "record"
	// ConflictSlot: records with different ids and bodies claim one slot
	// ([Collection.Slot]), such as two tally sheets for one round.
	ConflictSlot = "slot"
)

// versionList is the "versions" of a resolution: at least two objects, each
// with a "ref" (<device>/<seq> of the change that introduced the version)
// and the "id" of the record it is a version of.
func versionList(name string) field {
	item := object("", text("ref"), text("id")).check
	return field{name: name, check: func(raw json.RawMessage) *fieldError {
		if jsonType(raw) != "array" {
			return wrongType(raw, "array of versions")
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return &fieldError{reason: err.Error()}
		}
		if len(items) < 2 {
			return &fieldError{reason: fmt.Sprintf("got %d versions, want at least 2", len(items))}
		}
		for i, it := range items {
			if fe := item(it); fe != nil {
				return fe.under("[" + strconv.Itoa(i) + "]")
			}
		}
		return nil
	}}
}

// resolutionPlace places a resolution where the records it settles are:
// at its "village" (or "township") field when present, otherwise where r
// holds one of its versions' records. Its id must be RES-<conflict> and
// keep must name one of its versions.
func resolutionPlace(id string, rec record, r Resolver) (Place, *ValidationError) {
	if want := "RES-" + rec.str("conflict"); id != want {
		return Place{}, &ValidationError{Field: "conflict", Reason: fmt.Sprintf("got record id %s, want %s", quote(id), quote(want))}
	}
	res, err := decodeResolution(&decoder{what: "resolution", rec: rec})
	if err != nil {
		return Place{}, &ValidationError{Field: "versions", Reason: err.Error()}
	}
	if !slices.ContainsFunc(res.Versions, func(v ResolutionVersion) bool { return v.Ref == res.Keep }) {
		return Place{}, &ValidationError{Field: "keep", Reason: fmt.Sprintf("got %s, want the ref of one of the versions", quote(res.Keep))}
	}
	switch {
	case res.Village != "":
		p := villagePlaceOf(res.Village)
		if res.Township != "" && res.Township != p.Township {
			return Place{}, &ValidationError{Field: "township", Reason: fmt.Sprintf("got %s, want %q (from village)", quote(res.Township), p.Township)}
		}
		return p, nil
	case res.Township != "":
		return Place{Township: res.Township}, nil
	}
	for _, v := range res.Versions {
		if p, ok := lookup(r, res.Collection, v.ID); ok {
			return p, nil
		}
	}
	return Place{}, &ValidationError{Field: "versions", Reason: "unknown " + res.Collection + " records: want a village or township field, or records known here"}
}
