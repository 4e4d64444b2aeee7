package election

import (
	"slices"
	"strconv"
	"strings"
)

// Kind says how a collection's records come to be.
type Kind int

const (
	// KindReference records are authored centrally by the county, versioned
	// and synced down: county, townships, villages, elections, candidates,
	// roll counts.
	KindReference Kind = iota + 1
	// KindFact records are authored in the field, append-only and signed:
	// attendance, tally sheets, supervision visits, problems, rectifications.
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
)

// registry holds every collection.
var registry = []*Collection{
	{
		Name: "attendance", Kind: KindFact, Authors: []Role{RoleStation}, Schema: 1,
		id: anyID,
		fields: []field{
			text("election"),
			count("eligible"),
			count("present"),
		},
		place: electionPlace,
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
		Name: "problem", Kind: KindFact, Authors: []Role{RoleSupervisor, RoleCounty}, Schema: 1,
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
		Name: "rectification", Kind: KindFact, Authors: []Role{RoleStation, RoleSupervisor}, Schema: 1,
		id: anyID,
		fields: []field{
			text("problem"),
			enum("status", rectificationStatuses...),
			note("notes"),
		},
		place: problemPlace,
	},
	{
		Name: "roll_count", Kind: KindReference, Authors: countyOnly, Schema: 1,
		id: anyID,
		fields: []field{
			electionRef("election"),
			count("full_members"),
			count("eligible"),
			count("exclusions"),
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
		},
		place: electionPlace,
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
