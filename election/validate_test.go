package election_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"villagesync/election"
)

// resolver is a Resolver over records keyed "collection/id".
type resolver map[string]election.Place

func (r resolver) Place(collection, id string) (election.Place, bool) {
	p, ok := r[collection+"/"+id]
	return p, ok
}

// known holds two villages of 白泉镇 and one of 渭津镇, the election of the
// first (the second's is known only by the shape of its id) and a problem in
// each 白泉镇 village.
var known = resolver{
	"village/220422100201":     ownVillage,
	"village/220422100202":     siblingVillage,
	"village/220422101203":     foreignVillage,
	"election/220422100201-PC": ownVillage,
	"problem/p-own":            ownVillage,
	"problem/p-sibling":        siblingVillage,
	"township/220422100":       ownTownship,
	"tally_sheet/t-own":        ownVillage,
}

const (
	tallyOK = `{"election":"220422100201-PC","round":1,"kind":"FORMAL","issued":40,"returned":40,"valid":39,"invalid":1,` +
		`"votes":{"220422100201-PC-C1":{"yes":30,"no":5,"abstain":4}},"signers":["监票人甲","计票人乙"],` +
		`"write_ins":{"王某":1},"photo":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}`
	sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
)

func mustLookup(tb testing.TB, name string) *election.Collection {
	tb.Helper()
	c, ok := election.LookupCollection(name)
	if !ok {
		tb.Fatalf("LookupCollection(%q): not found", name)
	}
	return c
}

func TestCollections(t *testing.T) {
	want := []string{
		"approval", "attendance", "ballot", "candidate", "county", "election", "key_village",
		"previous_term", "problem", "rectification", "resolution", "returned_member", "role_assignment", "roll_count",
		"supervision_visit", "tally_amendment", "tally_sheet", "township", "training_session",
		"village", "working_group",
	}
	var got []string
	for _, c := range election.Collections() {
		got = append(got, c.Name)
		if c.Schema != 1 {
			t.Errorf("%s: Schema = %d, want 1", c.Name, c.Schema)
		}
		if len(c.Authors) == 0 {
			t.Errorf("%s: no authors", c.Name)
		}
		if c.Kind == election.KindReference && !slices.Equal(c.Authors, []election.Role{election.RoleCounty}) {
			t.Errorf("%s: Authors = %v, want [county] for a reference collection", c.Name, c.Authors)
		}
		if l, ok := election.LookupCollection(c.Name); !ok || l != c {
			t.Errorf("LookupCollection(%q) = %p, %v; want %p, true", c.Name, l, ok, c)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("Collections() = %v, want %v", got, want)
	}
	if c, ok := election.LookupCollection("ballot_box"); ok || c != nil {
		t.Errorf("LookupCollection(%q) = %v, %v; want nil, false", "ballot_box", c, ok)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name, collection, id, body string
		r                          election.Resolver
		want                       election.Place
	}{
		{"County", "county", "220422", `{"id":"220422","name":"东辽县"}`, nil, countyWide},
		{"Township", "township", "220422203", `{"name":"金州乡","pinyin":"Jīnzhōu Xiāng","alt_names":["金洲乡"]}`, nil, election.Place{Township: "220422203"}},
		{"TownshipNullAltNames", "township", "220422100", `{"name":"白泉镇","pinyin":"Báiquán Zhèn","alt_names":null}`, nil, ownTownship},
		{"Village", "village", "220422100201", `{"township":"220422100","name":"琥砚村","key_village":false,"synthetic":true}`, nil, ownVillage},
		{"Election", "election", "220422100201-PC", `{"village":"220422100201","type":"PARTY_COMMITTEE","seats":3,"date":"2026-03-07","status":"LOCKED","candidates":["a","b","c","d"]}`, nil, ownVillage},
		{"ElectionVC", "election", "220422101203-VC", `{"village":"220422101203","type":"VILLAGE_COMMITTEE","seats":5,"date":"2026-05-01","status":"DRAFT","candidates":[]}`, nil, foreignVillage},
		{"Candidate", "candidate", "220422100201-PC-C1", `{"election":"220422100201-PC","name":"王某甲","birth_year":1983,"sex":"F","education":"COLLEGE","party_status":"FULL_MEMBER"}`, nil, ownVillage},
		{"RollCount", "roll_count", "220422100202-PC", `{"election":"220422100202-PC","full_members":60,"eligible":58,"exclusions":2}`, nil, siblingVillage},
		{"ReferenceIgnoresResolver", "roll_count", "220422100299-PC", `{"election":"220422100299-PC","full_members":60,"eligible":58,"exclusions":2}`, known, election.Place{Township: "220422100", Village: "220422100299"}},

		{"Attendance", "attendance", "a1", `{"election":"220422100201-PC","eligible":58,"present":55}`, known, ownVillage},
		{"AttendanceElectionByShape", "attendance", "a2", `{"election":"220422100202-PC","eligible":58,"present":55}`, known, siblingVillage},
		{"Tally", "tally_sheet", "t1", tallyOK, known, ownVillage},
		{"TallyMinimal", "tally_sheet", "t2", `{"election":"220422100201-PC","round":2,"kind":"ADDITIONAL","issued":0,"returned":0,"valid":0,"invalid":0,"votes":{},"signers":["甲"]}`, known, ownVillage},
		// Breaking election rules (returned > issued, valid+invalid != returned) is a fact to flag, not an error.
		{"TallyBreaksRules", "tally_sheet", "t3", `{"election":"220422100201-PC","round":1,"kind":"FORMAL","issued":40,"returned":41,"valid":10,"invalid":0,"votes":{"x":{"yes":99,"no":0,"abstain":0}},"signers":["甲"]}`, known, ownVillage},
		{"TallyNullOptionals", "tally_sheet", "t4", `{"election":"220422100201-PC","round":1,"kind":"FORMAL","issued":1,"returned":1,"valid":1,"invalid":0,"votes":{},"signers":["甲"],"write_ins":null,"photo":null}`, known, ownVillage},
		{"Visit", "supervision_visit", "v1", `{"village":"220422100202","round":4,"visited_at":"2026-03-07T09:30:00+08:00","notes":""}`, known, siblingVillage},
		{"Problem", "problem", "p1", `{"village":"220422101203","source":"inspection","category":"roll","description":"名册未公示"}`, known, foreignVillage},
		{"Rectification", "rectification", "r1", `{"problem":"p-own","status":"OPEN","notes":""}`, known, ownVillage},
		// The record is placed where its problem is, not where its author is:
		// a station then fails CanAuthor, which is the caller's check.
		{"RectificationOfProblemElsewhere", "rectification", "r2", `{"problem":"p-sibling","status":"VERIFIED","notes":"ok"}`, known, siblingVillage},
		{"ExtraFieldsAllowed", "problem", "p2", `{"village":"220422100201","source":"visit","category":"c","description":"d","checklist":[1,2],"severity":{"x":1}}`, known, ownVillage},
		{"NestedWhitespace", "tally_sheet", "t5", `{"election":"220422100201-PC","round":1,"kind":"FORMAL","issued":1,"returned":1,"valid":1,"invalid":0,"votes":{ "c1" : { "yes" : 1 , "no" : 0 , "abstain" : 0 } },"signers":[ "甲" ],"write_ins":{ "x" : 0 }}`, known, ownVillage},
		{"Whitespace", "attendance", "a3", " {\n \"election\" : \"220422100201-PC\" ,\t\"eligible\" : 58 , \"present\" : 55 }\n", known, ownVillage},
		{"AttendanceProxies", "attendance", "a4", `{"election":"220422100201-VC","eligible":580,"present":300,"proxies":12}`, known, ownVillage},
		{"TallySecretary", "tally_sheet", "t6", `{"election":"220422100201-PC","round":1,"kind":"SECRETARY","issued":3,"returned":3,"valid":3,"invalid":0,"votes":{"c1":{"yes":3,"no":0,"abstain":0}},"signers":["甲"],"elected":["c1"]}`, known, ownVillage},
		{"TallySeatReduction", "tally_sheet", "t7", `{"election":"220422100201-PC","round":1,"kind":"FORMAL","issued":40,"returned":40,"valid":40,"invalid":0,"votes":{},"signers":["甲"],"seat_reduction":{"new_seats":4,"votes_for":30}}`, known, ownVillage},
		{"Ballot", "ballot", "b1", `{"election":"220422100201-PC","round":1,"serial":12,"marks":{"c1":"yes","c2":"no","c3":"abstain"},"write_ins":["王某"]}`, known, ownVillage},
		{"BallotWithID", "ballot", "b2", `{"id":"b2","election":"220422100201-PC","round":2,"serial":1,"marks":{},"write_ins":[]}`, known, ownVillage},
		{"Amendment", "tally_amendment", "m1", `{"sheet":"t-own","reason":"录入错误","signers":{"station":"监票人甲","supervisor":"督导乙"},"returned":40,"votes":{"c1":{"yes":30,"no":5,"abstain":5}}}`, known, ownVillage},
		{"AmendmentElectedOnly", "tally_amendment", "m2", `{"sheet":"t-own","reason":"漏记当选人","signers":{"station":"甲","supervisor":"乙"},"elected":["c1","c2","c3"]}`, known, ownVillage},
		{"Approval", "approval", "ap1", `{"election":"220422100201-PC","kind":"SEAT_REDUCTION","approved_by":"白泉镇党委","approved_at":"2026-03-07T16:00:00+08:00","notes":""}`, known, ownVillage},
		{"RoleAssignment", "role_assignment", "ra1", `{"election":"220422100202-PC","person":"p-17","role":"CHIEF_SCRUTINEER"}`, nil, siblingVillage},
		{"TrainingSession", "training_session", "tr1", `{"township":"220422100","held_on":"2026-02-20","kind":"DRILL","attendance":38}`, known, ownTownship},
		{"ReturnedMember", "returned_member", "rm1", `{"village":"220422100201","origin":"长春市","returned_on":"2026-03-06"}`, known, ownVillage},
		{"KeyVillage", "key_village", "kv1", `{"village":"220422101203","first_secretary":"第一书记甲"}`, nil, foreignVillage},
		{"WorkingGroupVillage", "working_group", "wg1", `{"village":"220422100201","members":3}`, nil, ownVillage},
		{"WorkingGroupTownship", "working_group", "wg2", `{"township":"220422101","members":3,"village":null}`, nil, otherTownship},
		{"RollCountVC", "roll_count", "220422100201-VC", `{"election":"220422100201-VC","full_members":0,"eligible":580,"exclusions":0,"registrants":["v1","v2"],"published_on":"2026-04-01"}`, nil, ownVillage},
		{"RectificationAfter", "rectification", "r3", `{"problem":"p-own","status":"IN_PROGRESS","notes":"","after":"r1"}`, known, ownVillage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mustLookup(t, tt.collection).Validate(tt.id, []byte(tt.body), tt.r)
			if err != nil {
				t.Fatalf("Validate: got error %v, want nil", err)
			}
			if got != tt.want {
				t.Errorf("Validate: got place %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name, collection, id, body string
		r                          election.Resolver
		field, reason              string // reason: a substring of the Reason
	}{
		// Missing fields.
		{"MissingField", "problem", "p1", `{"village":"220422100201","source":"visit","category":"c"}`, known, "description", "required field missing"},
		{"MissingVoteCount", "tally_sheet", "t1", strings.Replace(tallyOK, `,"abstain":4`, "", 1), known, "votes.220422100201-PC-C1.abstain", "required field missing"},
		{"NullRequired", "attendance", "a1", `{"election":"220422100201-PC","eligible":null,"present":1}`, known, "eligible", "got null, want integer"},

		// Wrong JSON types.
		{"StringForInteger", "attendance", "a1", `{"election":"220422100201-PC","eligible":"58","present":55}`, known, "eligible", "got string, want integer"},
		{"FractionForInteger", "attendance", "a1", `{"election":"220422100201-PC","eligible":58.5,"present":55}`, known, "eligible", "got 58.5, want integer"},
		{"NumberForString", "problem", "p1", `{"village":220422100201,"source":"visit","category":"c","description":"d"}`, known, "village", "got number, want string"},
		{"StringForBool", "village", "220422100201", `{"township":"220422100","name":"x","key_village":"false"}`, nil, "key_village", "got string, want boolean"},
		{"StringForList", "tally_sheet", "t1", strings.Replace(tallyOK, `["监票人甲","计票人乙"]`, `"监票人甲"`, 1), known, "signers", "got string, want array of strings"},
		{"NumberInList", "tally_sheet", "t1", strings.Replace(tallyOK, `["监票人甲","计票人乙"]`, `["监票人甲",7]`, 1), known, "signers[1]", "got number, want string"},
		{"ArrayForVotes", "tally_sheet", "t1", `{"election":"220422100201-PC","round":1,"kind":"FORMAL","issued":1,"returned":1,"valid":1,"invalid":0,"votes":[],"signers":["甲"]}`, known, "votes", "got array, want object of candidate votes"},
		{"VoteNotObject", "tally_sheet", "t1", `{"election":"220422100201-PC","round":1,"kind":"FORMAL","issued":1,"returned":1,"valid":1,"invalid":0,"votes":{"c1":3},"signers":["甲"]}`, known, "votes.c1", "got number, want object"},
		{"BodyNotObject", "county", "220422", `["东辽县"]`, nil, "", "got array, want object"},
		{"BodyNull", "county", "220422", `null`, nil, "", "got null, want object"},

		// Out of range and bad enum values.
		{"NegativeCount", "attendance", "a1", `{"election":"220422100201-PC","eligible":-1,"present":55}`, known, "eligible", "got -1, want at least 0"},
		{"HugeCount", "attendance", "a1", `{"election":"220422100201-PC","eligible":99999999999999999999,"present":55}`, known, "eligible", "want at most"},
		{"RoundZero", "tally_sheet", "t1", strings.Replace(tallyOK, `"round":1`, `"round":0`, 1), known, "round", "got 0, want at least 1"},
		{"VisitRoundFive", "supervision_visit", "v1", `{"village":"220422100201","round":5,"visited_at":"2026-03-07T09:30:00Z","notes":""}`, known, "round", "got 5, want at most 4"},
		{"ZeroSeats", "election", "220422100201-PC", `{"village":"220422100201","type":"PARTY_COMMITTEE","seats":0,"date":"2026-03-07","status":"LOCKED","candidates":[]}`, nil, "seats", "got 0, want at least 1"},
		{"BadEnum", "tally_sheet", "t1", strings.Replace(tallyOK, `"FORMAL"`, `"formal"`, 1), known, "kind", `got "formal", want one of FORMAL, ADDITIONAL, RERUN, TIE_BREAK, SECRETARY`},
		{"BadStatus", "rectification", "r1", `{"problem":"p-own","status":"DONE","notes":""}`, known, "status", `got "DONE", want one of`},
		{"BadSource", "problem", "p1", `{"village":"220422100201","source":"phone","category":"c","description":"d"}`, known, "source", `got "phone"`},
		{"BadSex", "candidate", "c1", `{"election":"220422100201-PC","name":"王某甲","birth_year":1983,"sex":"X","education":"COLLEGE","party_status":"FULL_MEMBER"}`, nil, "sex", `got "X"`},
		{"EmptyText", "problem", "p1", `{"village":"220422100201","source":"visit","category":"","description":"d"}`, known, "category", "got empty string, want non-empty"},
		{"NoSigners", "tally_sheet", "t1", strings.Replace(tallyOK, `["监票人甲","计票人乙"]`, `[]`, 1), known, "signers", "got 0 items, want at least 1"},
		{"BadDate", "election", "220422100201-PC", `{"village":"220422100201","type":"PARTY_COMMITTEE","seats":3,"date":"2026-3-7","status":"LOCKED","candidates":[]}`, nil, "date", `got "2026-3-7", want a date YYYY-MM-DD`},
		{"BadTime", "supervision_visit", "v1", `{"village":"220422100201","round":1,"visited_at":"2026-03-07 09:30","notes":""}`, known, "visited_at", "want an RFC 3339 time"},
		{"BadPhoto", "tally_sheet", "t1", strings.Replace(tallyOK, sha, strings.ToUpper(sha), 1), known, "photo", "want 64 lowercase hex digits"},
		{"NegativeWriteIn", "tally_sheet", "t1", strings.Replace(tallyOK, `{"王某":1}`, `{"王某":-2}`, 1), known, "write_ins.王某", "got -2, want at least 0"},

		// Codes and ids.
		{"BadVillageCode", "problem", "p1", `{"village":"22042210020","source":"visit","category":"c","description":"d"}`, known, "village", `got "22042210020", want 12 digits`},
		{"BadTownshipID", "township", "22042210", `{"name":"x","pinyin":"x"}`, nil, "id", "want 9 digits"},
		{"BadElectionID", "election", "220422100201-XX", `{"village":"220422100201","type":"PARTY_COMMITTEE","seats":3,"date":"2026-03-07","status":"LOCKED","candidates":[]}`, nil, "id", "want <12-digit village>-PC or -VC"},
		{"ElectionVillageMismatch", "election", "220422100201-PC", `{"village":"220422100202","type":"PARTY_COMMITTEE","seats":3,"date":"2026-03-07","status":"LOCKED","candidates":[]}`, nil, "village", `got "220422100202", want "220422100201" (from election id)`},
		{"ElectionTypeMismatch", "election", "220422100201-PC", `{"village":"220422100201","type":"VILLAGE_COMMITTEE","seats":3,"date":"2026-03-07","status":"LOCKED","candidates":[]}`, nil, "type", `want "PARTY_COMMITTEE" (from election id)`},
		{"VillageTownshipMismatch", "village", "220422100201", `{"township":"220422101","name":"x","key_village":false}`, nil, "township", `want "220422100" (from village code)`},
		{"CandidateBadElection", "candidate", "c1", `{"election":"c-1","name":"王某甲","birth_year":1983,"sex":"F","education":"COLLEGE","party_status":"FULL_MEMBER"}`, nil, "election", "want <12-digit village>-PC or -VC"},
		{"EmptyID", "problem", "", `{"village":"220422100201","source":"visit","category":"c","description":"d"}`, known, "id", "want non-empty"},
		{"BodyIDMismatch", "county", "220422", `{"id":"220421","name":"东辽县"}`, nil, "id", `got "220421", want record id "220422"`},

		// New collections.
		{"BallotVoterField", "ballot", "b1", `{"election":"220422100201-PC","round":1,"serial":1,"marks":{},"write_ins":[],"voter":"王某"}`, known, "voter", "unknown field: ballot records carry only election, round, serial, marks, write_ins"},
		{"BallotSerialZero", "ballot", "b1", `{"election":"220422100201-PC","round":1,"serial":0,"marks":{},"write_ins":[]}`, known, "serial", "got 0, want at least 1"},
		{"BallotBadMark", "ballot", "b1", `{"election":"220422100201-PC","round":1,"serial":1,"marks":{"c1":"YES"},"write_ins":[]}`, known, "marks.c1", `got "YES", want one of yes, no, abstain`},
		{"BallotMarksArray", "ballot", "b1", `{"election":"220422100201-PC","round":1,"serial":1,"marks":["c1"],"write_ins":[]}`, known, "marks", "got array, want object of marks"},
		{"BallotNoWriteIns", "ballot", "b1", `{"election":"220422100201-PC","round":1,"serial":1,"marks":{}}`, known, "write_ins", "required field missing"},
		{"AmendmentNoSupervisor", "tally_amendment", "m1", `{"sheet":"t-own","reason":"r","signers":{"station":"甲"},"returned":1}`, known, "signers.supervisor", "required field missing"},
		{"AmendmentEmptySignature", "tally_amendment", "m1", `{"sheet":"t-own","reason":"r","signers":{"station":"甲","supervisor":""},"returned":1}`, known, "signers.supervisor", "got empty string"},
		{"AmendmentSignersList", "tally_amendment", "m1", `{"sheet":"t-own","reason":"r","signers":["甲","乙"],"returned":1}`, known, "signers", "got array, want object"},
		{"AmendmentNothingCorrected", "tally_amendment", "m1", `{"sheet":"t-own","reason":"r","signers":{"station":"甲","supervisor":"乙"},"returned":null}`, known, "", "no corrected field"},
		{"AmendmentUnknownSheet", "tally_amendment", "m1", `{"sheet":"t-none","reason":"r","signers":{"station":"甲","supervisor":"乙"},"returned":1}`, known, "sheet", `unknown tally sheet "t-none"`},
		{"SeatReductionZero", "tally_sheet", "t1", strings.Replace(tallyOK, `"signers"`, `"seat_reduction":{"new_seats":0,"votes_for":3},"signers"`, 1), known, "seat_reduction.new_seats", "got 0, want at least 1"},
		{"SeatReductionNoVote", "tally_sheet", "t1", strings.Replace(tallyOK, `"signers"`, `"seat_reduction":{"new_seats":2},"signers"`, 1), known, "seat_reduction.votes_for", "required field missing"},
		{"ApprovalBadKind", "approval", "ap1", `{"election":"220422100201-PC","kind":"OTHER","approved_by":"x","approved_at":"2026-03-07T16:00:00Z","notes":""}`, known, "kind", `got "OTHER"`},
		{"RoleBadRole", "role_assignment", "ra1", `{"election":"220422100201-PC","person":"p","role":"监票人"}`, nil, "role", "want one of SCRUTINEER, COUNTER, CHIEF_SCRUTINEER, TELLER"},
		{"TrainingUnknownTownship", "training_session", "tr1", `{"township":"220422199","held_on":"2026-02-20","kind":"DRILL","attendance":38}`, known, "township", `unknown township "220422199"`},
		{"TrainingBadKind", "training_session", "tr1", `{"township":"220422100","held_on":"2026-02-20","kind":"LECTURE","attendance":38}`, known, "kind", `got "LECTURE"`},
		{"ReturnedMemberUnknownVillage", "returned_member", "rm1", `{"village":"220422100299","origin":"x","returned_on":"2026-03-06"}`, known, "village", "unknown village"},
		{"WorkingGroupBoth", "working_group", "wg1", `{"village":"220422100201","township":"220422100","members":3}`, nil, "township", "got both village and township"},
		{"WorkingGroupNeither", "working_group", "wg1", `{"members":3}`, nil, "village", "want village or township"},
		{"WorkingGroupNoMembers", "working_group", "wg1", `{"village":"220422100201","members":0}`, nil, "members", "got 0, want at least 1"},
		{"KeyVillageBadCode", "key_village", "kv1", `{"village":"2204221002","first_secretary":"x"}`, nil, "village", "want 12 digits"},
		{"RollBadPublished", "roll_count", "220422100201-VC", `{"election":"220422100201-VC","full_members":0,"eligible":5,"exclusions":0,"published_on":"April 1"}`, nil, "published_on", "want a date"},

		// References the resolver does not know.
		{"UnknownVillage", "problem", "p1", `{"village":"220422100299","source":"visit","category":"c","description":"d"}`, known, "village", `unknown village "220422100299"`},
		{"UnknownElection", "attendance", "a1", `{"election":"220422100299-PC","eligible":1,"present":1}`, known, "election", `unknown election "220422100299-PC"`},
		{"UnknownElectionShape", "attendance", "a1", `{"election":"e-1","eligible":1,"present":1}`, known, "election", `unknown election "e-1"`},
		{"UnknownProblem", "rectification", "r1", `{"problem":"p-none","status":"OPEN","notes":""}`, known, "problem", `unknown problem "p-none"`},
		{"NilResolverKnowsNothing", "supervision_visit", "v1", `{"village":"220422100201","round":1,"visited_at":"2026-03-07T09:30:00Z","notes":""}`, nil, "village", "unknown village"},

		// Malformed JSON.
		{"DuplicateField", "attendance", "a1", `{"election":"220422100201-PC","eligible":58,"present":55,"present":99}`, known, "present", "duplicate field"},
		{"DuplicateVote", "tally_sheet", "t1", strings.Replace(tallyOK, `"votes":{`, `"votes":{"220422100201-PC-C1":{"yes":1,"no":0,"abstain":0},`, 1), known, "votes.220422100201-PC-C1", "duplicate field"},
		{"TrailingData", "county", "220422", `{"name":"东辽县"}{}`, nil, "", "data after the object"},
		{"Truncated", "county", "220422", `{"name":"东辽县"`, nil, "", "invalid JSON"},
		{"Empty", "county", "220422", ``, nil, "", "invalid JSON"},
		{"InvalidUTF8", "county", "220422", "{\"name\":\"\xff\"}", nil, "", "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := mustLookup(t, tt.collection).Validate(tt.id, []byte(tt.body), tt.r)
			if err == nil {
				t.Fatalf("Validate: got place %+v and no error, want error on %q", p, tt.field)
			}
			if p != (election.Place{}) {
				t.Errorf("Validate: got place %+v with an error, want zero Place", p)
			}
			var ve *election.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate: got error %T %v, want *ValidationError", err, err)
			}
			if ve.Collection != tt.collection {
				t.Errorf("Collection: got %q, want %q", ve.Collection, tt.collection)
			}
			if ve.Field != tt.field {
				t.Errorf("Field: got %q, want %q (%v)", ve.Field, tt.field, err)
			}
			if !strings.Contains(ve.Reason, tt.reason) {
				t.Errorf("Reason: got %q, want it to contain %q", ve.Reason, tt.reason)
			}
		})
	}
}

func TestValidationErrorMessage(t *testing.T) {
	tests := []struct {
		err  *election.ValidationError
		want string
	}{
		{&election.ValidationError{Collection: "problem", Field: "village", Reason: "required field missing"}, "problem.village: required field missing"},
		{&election.ValidationError{Collection: "county", Reason: "body is not valid UTF-8"}, "county: body is not valid UTF-8"},
		{&election.ValidationError{Reason: "unknown collection"}, "unknown collection"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error(): got %q, want %q", got, tt.want)
		}
	}

	_, err := mustLookup(t, "problem").Validate("p1", []byte(`{"source":"visit"}`), known)
	if got, want := err.Error(), "problem.village: required field missing"; got != want {
		t.Errorf("Validate error: got %q, want %q", got, want)
	}
}

func TestValidateNilCollection(t *testing.T) {
	var c *election.Collection
	_, err := c.Validate("x", []byte(`{}`), nil)
	var ve *election.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate on nil collection: got %v, want *ValidationError", err)
	}
}

func TestValidateLongValueIsAbbreviated(t *testing.T) {
	long := strings.Repeat("无", 10000)
	_, err := mustLookup(t, "problem").Validate("p1", []byte(`{"village":"220422100201","source":"`+long+`","category":"c","description":"d"}`), known)
	if err == nil {
		t.Fatal("Validate: got nil error, want bad source")
	}
	if n := len(err.Error()); n > 500 {
		t.Errorf("error message: got %d bytes, want at most 500", n)
	}
}

func TestCollectionEditable(t *testing.T) {
	for _, c := range election.Collections() {
		if got, want := c.Editable(), c.Kind == election.KindReference; got != want {
			t.Errorf("%s.Editable(): got %v, want %v", c.Name, got, want)
		}
	}
	var nilColl *election.Collection
	if nilColl.Editable() || nilColl.Slot("x", []byte(`{}`)) != "" {
		t.Error("nil collection: got editable or a slot, want neither")
	}
}

func TestCollectionSlot(t *testing.T) {
	tests := []struct {
		name, collection, id, body, want string
	}{
		{"TallyRound", "tally_sheet", "t1", tallyOK, "220422100201-PC/round/1"},
		{"TallySecretary", "tally_sheet", "t2", strings.Replace(tallyOK, `"FORMAL"`, `"SECRETARY"`, 1), "220422100201-PC/secretary/1"},
		{"TallyOtherRound", "tally_sheet", "t3", strings.Replace(tallyOK, `"round":1`, `"round":2`, 1), "220422100201-PC/round/2"},
		{"TallyRoundWhitespace", "tally_sheet", "t3", strings.Replace(tallyOK, `"round":1`, `"round": 2 `, 1), "220422100201-PC/round/2"},
		{"Attendance", "attendance", "a1", `{"election":"220422100201-PC","eligible":58,"present":55}`, "220422100201-PC"},
		{"Ballot", "ballot", "b1", `{"election":"220422100201-PC","round":2,"serial":17,"marks":{},"write_ins":[]}`, "220422100201-PC/2/ballot/17"},
		{"RollCountByID", "roll_count", "220422100201-PC", `{"election":"220422100201-PC","full_members":60,"eligible":58,"exclusions":2}`, "220422100201-PC"},
		{"ElectionByID", "election", "220422100201-PC", `{}`, "220422100201-PC"},
		{"VisitUnion", "supervision_visit", "v1", `{"village":"220422100202","round":4,"visited_at":"2026-03-07T09:30:00+08:00","notes":""}`, ""},
		{"ProblemUnion", "problem", "p1", `{"village":"220422100201","source":"visit","category":"c","description":"d"}`, ""},
		{"RectificationUnion", "rectification", "r1", `{"problem":"p-own","status":"OPEN","notes":""}`, ""},
		{"AmendmentUnion", "tally_amendment", "m1", `{"sheet":"t-own","reason":"r","signers":{"station":"甲","supervisor":"乙"},"returned":1}`, ""},
		{"TrainingUnion", "training_session", "tr1", `{"township":"220422100","held_on":"2026-02-20","kind":"DRILL","attendance":38}`, ""},
		{"MalformedBody", "tally_sheet", "t9", `{"election":`, ""},
		{"MissingRound", "tally_sheet", "t9", `{"election":"220422100201-PC"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustLookup(t, tt.collection).Slot(tt.id, []byte(tt.body)); got != tt.want {
				t.Errorf("Slot: got %q, want %q", got, tt.want)
			}
		})
	}
}
