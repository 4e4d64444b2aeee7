package election

import (
	"cmp"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The county report (SPEC §7): completion, one-time success, the rule
// matrix, members elected against the previous term (一降一升),
// supervision, problems and their rectification, training, returned
// members and open conflicts, per county, township and village. Every
// figure is recomputed from the records alone: nothing derived is ever
// synced as truth.

// Previous-term figures of Dongliao County: the baseline of "one down, one
// up". The new committees are 2.7 years younger (43.4 against 46.1) and
// 10.5 points more often college-educated (25.4% against 14.9%).
const (
	DongliaoPrevMembers = 790
	DongliaoPrevAgeSum  = 36419 // mean 46.1
	DongliaoPrevCollege = 118   // 14.9%
)

// Village statuses in the report.
const (
	VillageNoElection = "NO_ELECTION" // no election record for the village
	VillageNotHeld    = "NOT_HELD"    // no tally sheet yet
	VillageHeld       = "HELD"        // a committee round has a tally sheet
	VillageVoid       = "VOID"        // held, but every committee round is void
	VillageConflict   = "CONFLICT"    // an open conflict about the village, or conflicting sheets
	VillageCertified  = "CERTIFIED"   // the county certified the election
)

// PreviousTerm is the outgoing committees of a county: how many members,
// the sum of their ages and how many were college-educated or above. It is
// the previous_term reference record, whose id is the county code.
type PreviousTerm struct {
	Members int `json:"members"`
	AgeSum  int `json:"age_sum"`
	College int `json:"college"`
}

// Problem is a problem found by a supervision visit (source visit) or by
// the county inspection team (source inspection).
type Problem struct {
	ID          string `json:"id,omitempty"`
	Village     string `json:"village"`
	Source      string `json:"source"`
	Category    string `json:"category"`
	Description string `json:"description"`
}

// SupervisionVisit is one supervision visit (督导) to a village, in one of
// the four rounds.
type SupervisionVisit struct {
	ID        string `json:"id,omitempty"`
	Village   string `json:"village"`
	Round     int    `json:"round"`
	VisitedAt string `json:"visited_at"`
}

// TrainingSession is a training drill (模拟演练) held in a township.
type TrainingSession struct {
	ID         string `json:"id,omitempty"`
	Township   string `json:"township"`
	HeldOn     string `json:"held_on"`
	Kind       string `json:"kind"`
	Attendance int    `json:"attendance"`
}

// ReturnedMember is an out-of-town party member who came back to vote.
type ReturnedMember struct {
	ID         string `json:"id,omitempty"`
	Village    string `json:"village"`
	Origin     string `json:"origin"`
	ReturnedOn string `json:"returned_on"`
}

// Resolution is the county's decision on a conflict: which version to
// keep, why, and who decided. For a record conflict the record takes the
// kept version's body; for a slot conflict the records of the other
// versions are superseded (kept as evidence, out of every derivation).
type Resolution struct {
	ID         string              `json:"id,omitempty"`
	Conflict   string              `json:"conflict"`
	Kind       string              `json:"kind"` // ConflictRecord or ConflictSlot
	Collection string              `json:"collection"`
	Slot       string              `json:"slot"`
	Versions   []ResolutionVersion `json:"versions"`
	Keep       string              `json:"keep"` // the Ref of the kept version
	Reason     string              `json:"reason"`
	ResolvedBy string              `json:"resolved_by"`
	ResolvedAt string              `json:"resolved_at"` // RFC 3339
	Township   string              `json:"township,omitempty"`
	Village    string              `json:"village,omitempty"`
}

// ResolutionVersion is one version of a conflict: the change that
// introduced it, as <device>/<seq>, and the id of its record.
type ResolutionVersion struct {
	Ref string `json:"ref"`
	ID  string `json:"id"`
}

// KeptVersion returns the version r keeps.
func (r Resolution) KeptVersion() (ResolutionVersion, bool) {
	i := slices.IndexFunc(r.Versions, func(v ResolutionVersion) bool { return v.Ref == r.Keep })
	if i < 0 {
		return ResolutionVersion{}, false
	}
	return r.Versions[i], true
}

// DecodeResolution reads a resolution record body.
func DecodeResolution(body []byte) (Resolution, error) {
	d, err := newDecoder("resolution", body)
	if err != nil {
		return Resolution{}, err
	}
	return decodeResolution(d)
}

func decodeResolution(d *decoder) (Resolution, error) {
	r := Resolution{
		ID:         d.str("id"),
		Conflict:   d.str("conflict"),
		Kind:       d.str("kind"),
		Collection: d.str("collection"),
		Slot:       d.str("slot"),
		Keep:       d.str("keep"),
		Reason:     d.str("reason"),
		ResolvedBy: d.str("resolved_by"),
		ResolvedAt: d.str("resolved_at"),
		Township:   d.str("township"),
		Village:    d.str("village"),
	}
	// Each version is read by exact member names, like every body.
	var items []json.RawMessage
	if d.into("versions", &items) {
		for i, raw := range items {
			sub, err := newDecoder("resolution.versions["+strconv.Itoa(i)+"]", raw)
			if err != nil {
				return Resolution{}, err
			}
			r.Versions = append(r.Versions, ResolutionVersion{Ref: sub.str("ref"), ID: sub.str("id")})
			if err := sub.done(); err != nil {
				return Resolution{}, err
			}
		}
	}
	return r, d.done()
}

// DecodePreviousTerm reads a previous_term record body.
func DecodePreviousTerm(body []byte) (PreviousTerm, error) {
	return decodeWith("previous_term", body, func(d *decoder) PreviousTerm {
		pt := PreviousTerm{Members: d.int("members"), AgeSum: d.int("age_sum"), College: d.int("college")}
		return pt
	})
}

// DecodeTownship reads a township record body; the caller sets Code from
// the record id.
func DecodeTownship(body []byte) (Township, error) {
	return decodeWith("township", body, func(d *decoder) Township {
		t := Township{Code: d.str("id"), Name: d.str("name"), Pinyin: d.str("pinyin"), AltNames: d.strs("alt_names")}
		return t
	})
}

// DecodeVillage reads a village record body; the caller sets Code from the
// record id.
func DecodeVillage(body []byte) (Village, error) {
	return decodeWith("village", body, func(d *decoder) Village {
		var key bool
		d.into("key_village", &key)
		v := Village{Code: d.str("id"), Township: d.str("township"), Name: d.str("name"), KeyVillage: key}
		return v
	})
}

// DecodeProblem reads a problem record body.
func DecodeProblem(body []byte) (Problem, error) {
	return decodeWith("problem", body, func(d *decoder) Problem {
		p := Problem{ID: d.str("id"), Village: d.str("village"), Source: d.str("source"), Category: d.str("category"), Description: d.str("description")}
		return p
	})
}

// DecodeSupervisionVisit reads a supervision_visit record body.
func DecodeSupervisionVisit(body []byte) (SupervisionVisit, error) {
	return decodeWith("supervision_visit", body, func(d *decoder) SupervisionVisit {
		v := SupervisionVisit{ID: d.str("id"), Village: d.str("village"), Round: d.int("round"), VisitedAt: d.str("visited_at")}
		return v
	})
}

// DecodeTrainingSession reads a training_session record body.
func DecodeTrainingSession(body []byte) (TrainingSession, error) {
	return decodeWith("training_session", body, func(d *decoder) TrainingSession {
		t := TrainingSession{ID: d.str("id"), Township: d.str("township"), HeldOn: d.str("held_on"), Kind: d.str("kind"), Attendance: d.int("attendance")}
		return t
	})
}

// DecodeReturnedMember reads a returned_member record body.
func DecodeReturnedMember(body []byte) (ReturnedMember, error) {
	return decodeWith("returned_member", body, func(d *decoder) ReturnedMember {
		m := ReturnedMember{ID: d.str("id"), Village: d.str("village"), Origin: d.str("origin"), ReturnedOn: d.str("returned_on")}
		return m
	})
}

// PreviousTermOf returns the previous-term figures of a county this
// package knows: Dongliao's.
func PreviousTermOf(county string) (PreviousTerm, bool) {
	if county != DongliaoCode {
		return PreviousTerm{}, false
	}
	return PreviousTerm{Members: DongliaoPrevMembers, AgeSum: DongliaoPrevAgeSum, College: DongliaoPrevCollege}, true
}

// PreviousTermRecord returns the previous_term reference record of d's
// county, if [PreviousTermOf] knows it. Seeding stores it with d's
// [Dataset.Records]; its body is compact JSON like theirs.
func (d *Dataset) PreviousTermRecord() (SeedRecord, bool) {
	pt, ok := PreviousTermOf(d.County.Code)
	if !ok {
		return SeedRecord{}, false
	}
	b, err := json.Marshal(map[string]any{
		"id":      d.County.Code,
		"members": pt.Members,
		"age_sum": pt.AgeSum,
		"college": pt.College,
	})
	if err != nil {
		// A map of a string and ints always marshals.
		return SeedRecord{}, false
	}
	return SeedRecord{Collection: "previous_term", ID: d.County.Code, Place: Place{}, Body: b}, true
}

// StoredRecord is one record as a replica holds it: its current body, where
// it is, and the change that carried that body (whose clock, device and seq
// order rectification events). Superseded records lost a slot conflict to
// the county's resolution: they are kept as evidence but left out of every
// derivation.
type StoredRecord struct {
	Collection, ID string
	Body           []byte
	Place          Place
	Wall           int64
	Logical        uint32
	Device         string
	Seq            uint64
	Superseded     bool
}

// ReportInput is everything a county report is computed from.
type ReportInput struct {
	CountyCode, CountyName string
	Townships              []Township
	Villages               []Village
	// Elections are the facts of each election with an election record.
	Elections      []ElectionFacts
	KeyVillages    []string // villages named by key_village records
	Visits         []SupervisionVisit
	Problems       []Problem
	Rectifications []RectificationEvent
	Training       []TrainingSession
	Returned       []ReturnedMember
	Previous       *PreviousTerm // nil if unknown: the previous-term figures are then 0
	// OpenConflicts are the places of the conflicts not yet resolved.
	OpenConflicts []Place
}

// NewReportInput sorts the records a replica holds into a report's input.
// Records of collections the report does not use are ignored, superseded
// records are left out, and so are facts about an election without an
// election record (nothing can be derived without its seats). A record
// whose body does not decode is left out and named in skipped. Amendments
// join the election of the sheet they cite.
func NewReportInput(countyCode string, recs []StoredRecord) (in ReportInput, skipped []Ref) {
	in, skipped, _ = buildInput(countyCode, recs, decodeStored, nil)
	return in, skipped
}

// decodedRecord is a stored record's body read into its collection's type,
// with its id set: nil for collections the report does not use.
type decodedRecord struct {
	v   any
	err error
}

// countyRecord and keyVillageRecord are the parts of county and
// key_village records the report reads.
type (
	countyRecord     struct{ Name string }
	keyVillageRecord struct{ Village string }
)

// decodeStored reads one stored record.
func decodeStored(r StoredRecord) decodedRecord {
	var v any
	var err error
	switch r.Collection {
	case "county":
		var c struct {
			Name string `json:"name"`
		}
		err = json.Unmarshal(r.Body, &c)
		v = countyRecord{Name: c.Name}
	case "previous_term":
		v, err = DecodePreviousTerm(r.Body)
	case "township":
		var t Township
		t, err = DecodeTownship(r.Body)
		t.Code = r.ID
		v = t
	case "village":
		var x Village
		x, err = DecodeVillage(r.Body)
		x.Code = r.ID
		v = x
	case "key_village":
		var kv struct {
			Village string `json:"village"`
		}
		err = json.Unmarshal(r.Body, &kv)
		v = keyVillageRecord{Village: kv.Village}
	case "election":
		var e Election
		e, err = DecodeElection(r.Body)
		e.ID = r.ID
		v = e
	case "candidate":
		var c Candidate
		c, err = DecodeCandidate(r.Body)
		c.ID = r.ID
		v = c
	case "roll_count":
		v, err = DecodeRollCount(r.Body)
	case "role_assignment":
		var ra RoleAssignment
		ra, err = DecodeRoleAssignment(r.Body)
		ra.ID = r.ID
		v = ra
	case "attendance":
		var a Attendance
		a, err = DecodeAttendance(r.Body)
		a.ID = r.ID
		v = a
	case "tally_sheet":
		var ts TallySheet
		ts, err = DecodeTallySheet(r.Body)
		ts.ID = r.ID
		v = ts
	case "tally_amendment":
		var a Amendment
		a, err = DecodeAmendment(r.Body)
		a.ID = r.ID
		v = a
	case "ballot":
		var b Ballot
		b, err = DecodeBallot(r.Body)
		b.ID = r.ID
		v = b
	case "approval":
		var a Approval
		a, err = DecodeApproval(r.Body)
		a.ID = r.ID
		v = a
	case "supervision_visit":
		var sv SupervisionVisit
		sv, err = DecodeSupervisionVisit(r.Body)
		sv.ID = r.ID
		v = sv
	case "problem":
		var p Problem
		p, err = DecodeProblem(r.Body)
		p.ID = r.ID
		v = p
	case "rectification":
		var ev RectificationEvent
		ev, err = DecodeRectification(r.Body)
		ev.ID, ev.Wall, ev.Logical, ev.Device, ev.Seq = r.ID, r.Wall, r.Logical, r.Device, r.Seq
		v = ev
	case "training_session":
		var t TrainingSession
		t, err = DecodeTrainingSession(r.Body)
		t.ID = r.ID
		v = t
	case "returned_member":
		var m ReturnedMember
		m, err = DecodeReturnedMember(r.Body)
		m.ID = r.ID
		v = m
	}
	if err != nil {
		return decodedRecord{err: err}
	}
	return decodedRecord{v: v}
}

// buildInput is NewReportInput with a decoder of its choosing. With a
// print function it also returns, by election id, the sorted prints of the
// records its facts rest on: a fingerprint of its facts.
func buildInput(countyCode string, recs []StoredRecord, decode func(StoredRecord) decodedRecord, print func(*StoredRecord) string) (in ReportInput, skipped []Ref, prints map[string][]string) {
	in.CountyCode = countyCode
	type item struct {
		r *StoredRecord
		v any
	}
	items := make([]item, 0, len(recs))
	elections := make(map[string]*ElectionFacts)
	prints = make(map[string][]string)
	sheetElection := make(map[string]string) // live tally sheet id → election
	for i := range recs {
		r := &recs[i]
		if r.Superseded {
			continue
		}
		d := decode(*r)
		if d.err != nil {
			skipped = append(skipped, Ref{r.Collection, r.ID})
			continue
		}
		switch v := d.v.(type) {
		case nil:
			continue
		case Election:
			elections[v.ID] = &ElectionFacts{Election: v}
		case TallySheet:
			sheetElection[v.ID] = v.Election
		}
		items = append(items, item{r, d.v})
	}
	join := func(id string, r *StoredRecord) *ElectionFacts {
		f := elections[id]
		if f != nil && print != nil {
			prints[id] = append(prints[id], print(r))
		}
		return f
	}
	for _, it := range items {
		switch v := it.v.(type) {
		case countyRecord:
			if it.r.ID == countyCode {
				in.CountyName = v.Name
			}
		case PreviousTerm:
			if it.r.ID == countyCode {
				pt := v
				in.Previous = &pt
			}
		case Township:
			in.Townships = append(in.Townships, v)
		case Village:
			in.Villages = append(in.Villages, v)
		case keyVillageRecord:
			in.KeyVillages = append(in.KeyVillages, v.Village)
		case Election:
			join(v.ID, it.r)
		case Candidate:
			if f := join(v.Election, it.r); f != nil {
				f.Candidates = append(f.Candidates, v)
			}
		case RollCount:
			if f := join(v.Election, it.r); f != nil && (f.Roll == nil || it.r.ID == v.Election) {
				rc := v
				f.Roll = &rc
			}
		case RoleAssignment:
			if f := join(v.Election, it.r); f != nil {
				f.Roles = append(f.Roles, v)
			}
		case Attendance:
			if f := join(v.Election, it.r); f != nil {
				f.Attendance = append(f.Attendance, v)
			}
		case TallySheet:
			if f := join(v.Election, it.r); f != nil {
				f.Sheets = append(f.Sheets, v)
			}
		case Amendment:
			if f := join(sheetElection[v.Sheet], it.r); f != nil {
				f.Amendments = append(f.Amendments, v)
			}
		case Ballot:
			if f := join(v.Election, it.r); f != nil {
				f.Ballots = append(f.Ballots, v)
			}
		case Approval:
			if f := join(v.Election, it.r); f != nil {
				f.Approvals = append(f.Approvals, v)
			}
		case SupervisionVisit:
			in.Visits = append(in.Visits, v)
		case Problem:
			in.Problems = append(in.Problems, v)
		case RectificationEvent:
			in.Rectifications = append(in.Rectifications, v)
		case TrainingSession:
			in.Training = append(in.Training, v)
		case ReturnedMember:
			in.Returned = append(in.Returned, v)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(elections)) {
		in.Elections = append(in.Elections, *elections[id])
		slices.Sort(prints[id])
	}
	return in, skipped, prints
}

// Assessor assesses a county again and again as its records change: it
// reads again only the records that changed since its last call and
// evaluates again only the elections whose facts changed. Its results are
// those of NewReportInput and Assess. It is not safe for concurrent use.
type Assessor struct {
	county  string
	seed    maphash.Seed
	decoded map[storedKey]decodedRecord
	results map[string]evaluated // by election id
}

// storedKey identifies a stored record's version: its change and a hash of
// its body.
type storedKey struct {
	collection, id, device string
	seq                    uint64
	body                   uint64
}

type evaluated struct {
	print  []string
	result Result
}

// NewAssessor returns an assessor for the county with code county.
func NewAssessor(county string) *Assessor {
	return &Assessor{county: county, seed: maphash.MakeSeed()}
}

// Assess assesses the records a replica holds, with the places of the
// open conflicts. It returns the records it could not read, like
// NewReportInput.
func (a *Assessor) Assess(recs []StoredRecord, openConflicts []Place) (*Assessment, []Ref) {
	decoded := make(map[storedKey]decodedRecord, len(recs))
	key := func(r *StoredRecord) storedKey {
		return storedKey{r.Collection, r.ID, r.Device, r.Seq, maphash.Bytes(a.seed, r.Body)}
	}
	in, skipped, prints := buildInput(a.county, recs, func(r StoredRecord) decodedRecord {
		k := key(&r)
		d, ok := a.decoded[k]
		if !ok {
			d = decodeStored(r)
		}
		decoded[k] = d
		return d
	}, func(r *StoredRecord) string {
		k := key(r)
		return k.collection + "\x00" + k.id + "\x00" + k.device + "\x00" + strconv.FormatUint(k.seq, 10) + "\x00" + strconv.FormatUint(k.body, 16)
	})
	in.OpenConflicts = openConflicts
	results := make(map[string]evaluated, len(in.Elections))
	as := assess(in, func(f ElectionFacts) Result {
		id := f.Election.ID
		if prev, ok := a.results[id]; ok && slices.Equal(prev.print, prints[id]) {
			results[id] = prev
			return prev.result
		}
		r := Evaluate(f)
		results[id] = evaluated{print: prints[id], result: r}
		return r
	})
	a.decoded, a.results = decoded, results
	return as, skipped
}

// Violation is one cell of the rule matrix that fails or needs review: the
// worst outcome of one rule for one election (id RV-<election>-<rule>), or
// the contradictions among one problem's rectification events (id
// RV-<problem>-D3). Conflicting facts (D2) are not violations: they are
// conflicts, listed and resolved as such.
type Violation struct {
	ID        string  `json:"id"`
	Election  string  `json:"election,omitempty"`
	Problem   string  `json:"problem,omitempty"`
	Township  string  `json:"township"`
	Village   string  `json:"village"`
	Rule      RuleID  `json:"rule"`
	Outcome   Outcome `json:"outcome"`
	Message   string  `json:"message"`    // zh-CN
	MessageEN string  `json:"message_en"` // English
	Evidence  []Ref   `json:"evidence"`
}

// Assessment is a county's facts evaluated: every election's [Result],
// every problem's rectification status, and the rule violations. It is
// immutable once built and safe for concurrent use.
type Assessment struct {
	in         ReportInput
	results    map[string]Result // by election id
	problems   map[string]problemState
	violations []Violation
}

type problemState struct {
	status         string
	contradictions []Finding
}

// Assess evaluates in: [Evaluate] for every election and
// [RectificationStatus] for every problem.
func Assess(in ReportInput) *Assessment { return assess(in, Evaluate) }

func assess(in ReportInput, evaluate func(ElectionFacts) Result) *Assessment {
	a := &Assessment{
		in:       in,
		results:  make(map[string]Result, len(in.Elections)),
		problems: make(map[string]problemState, len(in.Problems)),
	}
	for _, f := range in.Elections {
		a.results[f.Election.ID] = evaluate(f)
	}
	events := make(map[string][]RectificationEvent)
	for _, ev := range in.Rectifications {
		events[ev.Problem] = append(events[ev.Problem], ev)
	}
	for _, p := range in.Problems {
		status, contradictions := RectificationStatus(events[p.ID])
		a.problems[p.ID] = problemState{status: status, contradictions: contradictions}
	}
	a.violations = a.findViolations()
	return a
}

// Result returns the evaluation of one election.
func (a *Assessment) Result(election string) (Result, bool) {
	r, ok := a.results[election]
	return r, ok
}

// RectificationStatus returns the derived status of one problem.
func (a *Assessment) RectificationStatus(problem string) (string, bool) {
	p, ok := a.problems[problem]
	return p.status, ok
}

// Violations returns the rule violations, by village, then election or
// problem, then rule. The slice is the caller's.
func (a *Assessment) Violations() []Violation { return slices.Clone(a.violations) }

func (a *Assessment) findViolations() []Violation {
	var vs []Violation
	for _, f := range a.in.Elections {
		e := f.Election
		res := a.results[e.ID]
		place := villagePlaceOf(e.Village)
		seen := make(map[RuleID]bool)
		for _, fi := range res.Findings {
			if fi.Rule == D2 || seen[fi.Rule] {
				continue
			}
			seen[fi.Rule] = true
			worst := res.Outcome(fi.Rule)
			if worst != Fail && worst != Review {
				continue
			}
			v := Violation{ID: "RV-" + e.ID + "-" + string(fi.Rule), Election: e.ID, Township: place.Township, Village: place.Village, Rule: fi.Rule, Outcome: worst}
			v.Message, v.MessageEN, v.Evidence = worstOf(res.Findings, fi.Rule, worst)
			vs = append(vs, v)
		}
	}
	for _, p := range a.in.Problems {
		st := a.problems[p.ID]
		if len(st.contradictions) == 0 {
			continue
		}
		place := villagePlaceOf(p.Village)
		v := Violation{ID: "RV-" + p.ID + "-" + string(D3), Problem: p.ID, Township: place.Township, Village: place.Village, Rule: D3, Outcome: Review}
		v.Message, v.MessageEN, v.Evidence = worstOf(st.contradictions, D3, Review)
		v.Evidence = append([]Ref{{"problem", p.ID}}, v.Evidence...)
		vs = append(vs, v)
	}
	slices.SortFunc(vs, func(x, y Violation) int {
		return cmp.Or(strings.Compare(x.Village, y.Village), strings.Compare(x.Election+x.Problem, y.Election+y.Problem),
			cmp.Compare(ruleIndex[x.Rule], ruleIndex[y.Rule]))
	})
	return vs
}

// worstOf returns the messages of the first finding of rule with outcome
// worst, and the evidence of all of them, each record once.
func worstOf(fs []Finding, rule RuleID, worst Outcome) (zh, en string, evidence []Ref) {
	evidence = []Ref{}
	for _, f := range fs {
		if f.Rule != rule || f.Outcome != worst {
			continue
		}
		if zh == "" {
			zh, en = f.Message, f.MessageEN
		}
		for _, r := range f.Evidence {
			if !slices.Contains(evidence, r) {
				evidence = append(evidence, r)
			}
		}
	}
	return zh, en, evidence
}

// Within returns the assessment restricted to one township: its villages,
// their elections and facts, its training sessions and the conflicts in it.
// County-wide records (and the previous-term figures) are left out.
func (a *Assessment) Within(township string) *Assessment {
	in := a.in
	in.Townships = filter(a.in.Townships, func(t Township) bool { return t.Code == township })
	in.Villages = filter(a.in.Villages, func(v Village) bool { return v.Township == township && TownshipOf(v.Code) == township })
	in.Elections = filter(a.in.Elections, func(f ElectionFacts) bool { return TownshipOf(f.Election.Village) == township })
	in.KeyVillages = filter(a.in.KeyVillages, func(v string) bool { return TownshipOf(v) == township })
	in.Visits = filter(a.in.Visits, func(v SupervisionVisit) bool { return TownshipOf(v.Village) == township })
	in.Problems = filter(a.in.Problems, func(p Problem) bool { return TownshipOf(p.Village) == township })
	problems := make(map[string]bool, len(in.Problems))
	for _, p := range in.Problems {
		problems[p.ID] = true
	}
	in.Rectifications = filter(a.in.Rectifications, func(ev RectificationEvent) bool { return problems[ev.Problem] })
	in.Training = filter(a.in.Training, func(t TrainingSession) bool { return t.Township == township })
	in.Returned = filter(a.in.Returned, func(m ReturnedMember) bool { return TownshipOf(m.Village) == township })
	in.OpenConflicts = filter(a.in.OpenConflicts, func(p Place) bool { return p.Township == township })
	in.Previous = nil
	return &Assessment{
		in:         in,
		results:    a.results,
		problems:   a.problems,
		violations: filter(a.violations, func(v Violation) bool { return v.Township == township }),
	}
}

// CountyReport is the county report of SPEC §7. Rates are fractions
// rounded to three places (0.254), ages years rounded to one decimal.
type CountyReport struct {
	County    CountySummary     `json:"county"`
	Townships []TownshipSummary `json:"townships"`
	Villages  []VillageSummary  `json:"villages"`
}

// CountySummary is the county line of the report.
type CountySummary struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	Villages int    `json:"villages"`
	// HeldOnTime is the share of villages whose election has a FORMAL
	// round's tally sheet: held on its scheduled day (completion). On the
	// wire the counts are "held_on_time" and "one_time_success" (as the
	// county reports them: 235 of 235) and the shares carry "_rate".
	HeldOnTime float64 `json:"held_on_time_rate"`
	// OneTimeSuccess is the share of villages whose election filled every
	// seat in its first, FORMAL round (一次性选举成功), with no open
	// conflict about the village.
	OneTimeSuccess         float64 `json:"one_time_success_rate"`
	HeldOnTimeVillages     int     `json:"held_on_time"`
	OneTimeSuccessVillages int     `json:"one_time_success"`
	// MembersElected are the Party-committee members elected; AvgAge their
	// mean age in the election's year; College how many are college-
	// educated (大专) or above, CollegeShare its share.
	MembersElected   int     `json:"members_elected"`
	AvgAge           float64 `json:"avg_age"`
	PrevMembers      int     `json:"prev_members"`
	PrevAvgAge       float64 `json:"prev_avg_age"`
	College          int     `json:"college"`
	CollegeShare     float64 `json:"college_share"`
	PrevCollegeShare float64 `json:"prev_college_share"`
	// SupervisionVisits counts visit records; SupervisionCoverage is the
	// share of the 4 rounds × villages visited at least once.
	SupervisionVisits   int     `json:"supervision_visits"`
	SupervisionCoverage float64 `json:"supervision_coverage"`
	// Problems found on supervision visits and those rectified (status
	// RECTIFIED or VERIFIED); ProblemsVerified those VERIFIED.
	ProblemsFound     int `json:"problems_found"`
	ProblemsRectified int `json:"problems_rectified"`
	ProblemsVerified  int `json:"problems_verified"`
	// Problems found by the county inspection team.
	InspectionProblemsFound     int `json:"inspection_problems_found"`
	InspectionProblemsRectified int `json:"inspection_problems_rectified"`
	KeyVillages                 int `json:"key_villages"`
	TrainingSessions            int `json:"training_sessions"`
	TrainingAttendance          int `json:"training_attendance"`
	ReturnedMembers             int `json:"returned_members"`
	OpenConflicts               int `json:"open_conflicts"`
	// RuleViolations counts the cells of the rule matrix that fail or need
	// review (see [Violation]); Acknowledged those the county acknowledged.
	RuleViolations         int `json:"rule_violations"`
	ViolationsAcknowledged int `json:"violations_acknowledged"`
}

// TownshipSummary is one township's line of the report.
type TownshipSummary struct {
	Code                   string  `json:"code"`
	Name                   string  `json:"name"`
	Villages               int     `json:"villages"`
	HeldOnTime             float64 `json:"held_on_time_rate"`
	OneTimeSuccess         float64 `json:"one_time_success_rate"`
	HeldOnTimeVillages     int     `json:"held_on_time"`
	OneTimeSuccessVillages int     `json:"one_time_success"`
	MembersElected         int     `json:"members_elected"`
	SupervisionVisits      int     `json:"supervision_visits"`
	ProblemsFound          int     `json:"problems_found"`
	ProblemsRectified      int     `json:"problems_rectified"`
	OpenConflicts          int     `json:"open_conflicts"`
	RuleViolations         int     `json:"rule_violations"`
}

// VillageSummary is one village's line of the report: its election (the
// Party committee's, else the villagers' committee's) and its cell of the
// rule matrix for every rule of its elections.
type VillageSummary struct {
	Code           string             `json:"code"`
	Name           string             `json:"name"`
	Township       string             `json:"township"`
	KeyVillage     bool               `json:"key_village"`
	Election       string             `json:"election,omitempty"`
	Status         string             `json:"status"`
	HeldOnTime     bool               `json:"held_on_time"`
	OneTimeSuccess bool               `json:"one_time_success"`
	MembersElected int                `json:"members_elected"`
	Rules          map[RuleID]Outcome `json:"rules"`
	OpenConflicts  int                `json:"open_conflicts"`
	RuleViolations int                `json:"rule_violations"`
	// Acknowledged lists the rules whose violation the county acknowledged.
	Acknowledged []RuleID `json:"acknowledged,omitempty"`
}

// rate is n/d rounded to three places, 0 when d is 0.
func rate(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return math.Round(float64(n)/float64(d)*1000) / 1000
}

// mean1 is sum/n rounded to one decimal, 0 when n is 0.
func mean1(sum, n int) float64 {
	if n == 0 {
		return 0
	}
	return math.Round(float64(sum)/float64(n)*10) / 10
}

// electionYear is the year of a YYYY-MM-DD date, or 0.
func electionYear(date string) int {
	if len(date) < 4 {
		return 0
	}
	y, err := strconv.Atoi(date[:4])
	if err != nil {
		return 0
	}
	return y
}

// villageTally is what one village contributes to the report.
type villageTally struct {
	summary       VillageSummary
	ageSum, aged  int
	college       int
	visitRounds   map[int]bool
	visits        int
	found, fixed  int // visit problems
	verified      int
	inspFound     int
	inspFixed     int
	returned      int
	acknowledged  int
	conflictCount int
}

// Report computes the county report. acknowledged holds the ids of the
// violations the county acknowledged (nil for none).
func (a *Assessment) Report(acknowledged map[string]bool) CountyReport {
	in := a.in
	byVillage := make(map[string][]*ElectionFacts)
	for i := range in.Elections {
		f := &in.Elections[i]
		byVillage[f.Election.Village] = append(byVillage[f.Election.Village], f)
	}
	keys := make(map[string]bool)
	for _, v := range in.KeyVillages {
		keys[v] = true
	}
	tallies := make(map[string]*villageTally, len(in.Villages))
	villages := slices.SortedFunc(slices.Values(in.Villages), func(x, y Village) int { return strings.Compare(x.Code, y.Code) })
	villages = slices.CompactFunc(villages, func(x, y Village) bool { return x.Code == y.Code })
	for _, v := range villages {
		tallies[v.Code] = a.villageTally(v, byVillage[v.Code], keys[v.Code] || v.KeyVillage)
	}
	for _, p := range in.OpenConflicts {
		if t := tallies[p.Village]; t != nil {
			t.conflictCount++
		}
	}
	for _, t := range tallies {
		a.finishVillage(t, acknowledged)
	}
	for _, v := range in.Visits {
		if t := tallies[v.Village]; t != nil {
			t.visits++
			t.visitRounds[v.Round] = true
		}
	}
	for _, p := range in.Problems {
		t := tallies[p.Village]
		if t == nil {
			continue
		}
		status := a.problems[p.ID].status
		fixed := status == RectificationRectified || status == RectificationVerified
		switch p.Source {
		case SourceVisit:
			t.found++
			if fixed {
				t.fixed++
			}
			if status == RectificationVerified {
				t.verified++
			}
		case SourceInspection:
			t.inspFound++
			if fixed {
				t.inspFixed++
			}
		}
	}
	for _, m := range in.Returned {
		if t := tallies[m.Village]; t != nil {
			t.returned++
		}
	}

	rep := CountyReport{
		County:    CountySummary{Code: in.CountyCode, Name: in.CountyName},
		Townships: []TownshipSummary{},
		Villages:  []VillageSummary{},
	}
	c := &rep.County
	townships := make(map[string]*TownshipSummary)
	var townshipOrder []string
	for _, t := range slices.SortedFunc(slices.Values(in.Townships), func(x, y Township) int { return strings.Compare(x.Code, y.Code) }) {
		if townships[t.Code] == nil {
			townships[t.Code] = &TownshipSummary{Code: t.Code, Name: t.Name}
			townshipOrder = append(townshipOrder, t.Code)
		}
	}
	var ageSum, aged, covered int
	for _, v := range villages {
		t := tallies[v.Code]
		s := t.summary
		rep.Villages = append(rep.Villages, s)
		c.Villages++
		c.MembersElected += s.MembersElected
		ageSum += t.ageSum
		aged += t.aged
		c.College += t.college
		c.SupervisionVisits += t.visits
		covered += len(t.visitRounds)
		c.ProblemsFound += t.found
		c.ProblemsRectified += t.fixed
		c.ProblemsVerified += t.verified
		c.InspectionProblemsFound += t.inspFound
		c.InspectionProblemsRectified += t.inspFixed
		c.ReturnedMembers += t.returned
		c.RuleViolations += s.RuleViolations
		c.ViolationsAcknowledged += t.acknowledged
		if s.KeyVillage {
			c.KeyVillages++
		}
		if s.HeldOnTime {
			c.HeldOnTimeVillages++
		}
		if s.OneTimeSuccess {
			c.OneTimeSuccessVillages++
		}
		ts := townships[v.Township]
		if ts == nil {
			continue
		}
		ts.Villages++
		ts.MembersElected += s.MembersElected
		ts.SupervisionVisits += t.visits
		ts.ProblemsFound += t.found
		ts.ProblemsRectified += t.fixed
		ts.OpenConflicts += s.OpenConflicts
		ts.RuleViolations += s.RuleViolations
		if s.HeldOnTime {
			ts.HeldOnTimeVillages++
		}
		if s.OneTimeSuccess {
			ts.OneTimeSuccessVillages++
		}
	}
	// Township-wide conflicts count for their township and the county.
	for _, p := range in.OpenConflicts {
		if ts := townships[p.Township]; ts != nil && p.Village == "" {
			ts.OpenConflicts++
		}
	}
	c.OpenConflicts = len(in.OpenConflicts)
	// Violations about villages without a village record still count.
	for _, v := range a.violations {
		if tallies[v.Village] == nil {
			c.RuleViolations++
			if acknowledged[v.ID] {
				c.ViolationsAcknowledged++
			}
		}
	}
	for _, code := range townshipOrder {
		ts := townships[code]
		ts.HeldOnTime = rate(ts.HeldOnTimeVillages, ts.Villages)
		ts.OneTimeSuccess = rate(ts.OneTimeSuccessVillages, ts.Villages)
		rep.Townships = append(rep.Townships, *ts)
	}
	c.HeldOnTime = rate(c.HeldOnTimeVillages, c.Villages)
	c.OneTimeSuccess = rate(c.OneTimeSuccessVillages, c.Villages)
	c.AvgAge = mean1(ageSum, aged)
	c.CollegeShare = rate(c.College, c.MembersElected)
	c.SupervisionCoverage = rate(covered, 4*c.Villages)
	for _, t := range in.Training {
		c.TrainingSessions++
		c.TrainingAttendance += t.Attendance
	}
	if p := in.Previous; p != nil {
		c.PrevMembers = p.Members
		c.PrevAvgAge = mean1(p.AgeSum, p.Members)
		c.PrevCollegeShare = rate(p.College, p.Members)
	}
	return rep
}

// villageTally evaluates one village: its main election (Party committee
// first) gives its status, success and members; every election of the
// village fills its rule matrix.
func (a *Assessment) villageTally(v Village, elections []*ElectionFacts, key bool) *villageTally {
	t := &villageTally{
		summary: VillageSummary{
			Code: v.Code, Name: v.Name, Township: v.Township, KeyVillage: key,
			Status: VillageNoElection, Rules: make(map[RuleID]Outcome),
		},
		visitRounds: make(map[int]bool),
	}
	s := &t.summary
	slices.SortFunc(elections, func(x, y *ElectionFacts) int {
		// Party committee first, then by id.
		px, py := x.Election.Type == TypePartyCommittee, y.Election.Type == TypePartyCommittee
		if px != py {
			if px {
				return -1
			}
			return 1
		}
		return strings.Compare(x.Election.ID, y.Election.ID)
	})
	for _, f := range elections {
		res := a.results[f.Election.ID]
		for _, fi := range res.Findings {
			if cur, ok := s.Rules[fi.Rule]; !ok || fi.Outcome.severity() > cur.severity() {
				s.Rules[fi.Rule] = fi.Outcome
			}
		}
	}
	if len(elections) == 0 {
		return t
	}
	main := elections[0]
	e := main.Election
	res := a.results[e.ID]
	s.Election = e.ID
	s.MembersElected = len(res.Elected)
	s.HeldOnTime = slices.ContainsFunc(res.Rounds, func(r RoundResult) bool { return r.Kind == RoundFormal && len(r.Sheets) > 0 })
	s.OneTimeSuccess = res.OneTimeSuccess
	switch {
	case slices.ContainsFunc(res.Rounds, func(r RoundResult) bool { return r.Conflict }):
		s.Status = VillageConflict
	case e.Status == StatusCertified:
		s.Status = VillageCertified
	case !res.Held:
		s.Status = VillageNotHeld
	case !slices.ContainsFunc(res.Rounds, func(r RoundResult) bool { return r.Kind != RoundSecretary && !r.Void }):
		s.Status = VillageVoid
	default:
		s.Status = VillageHeld
	}
	if e.Type == TypePartyCommittee {
		year := electionYear(e.Date)
		cands := make(map[string]Candidate, len(main.Candidates))
		for _, c := range main.Candidates {
			cands[c.ID] = c
		}
		for _, id := range res.Elected {
			c, ok := cands[id]
			if !ok {
				continue
			}
			if year > 0 && c.BirthYear > 0 {
				t.ageSum += year - c.BirthYear
				t.aged++
			}
			if CollegeOrAbove(c.Education) {
				t.college++
			}
		}
	} else {
		// The county's figures are about Party committees (SPEC §1).
		s.MembersElected = 0
	}
	return t
}

// finishVillage applies the village's conflicts, problems' contradictions
// and violations to its summary.
func (a *Assessment) finishVillage(t *villageTally, acknowledged map[string]bool) {
	s := &t.summary
	s.OpenConflicts = t.conflictCount
	if t.conflictCount > 0 {
		s.OneTimeSuccess = false
		if s.Status != VillageNoElection {
			s.Status = VillageConflict
		}
	}
	for _, v := range a.violations {
		if v.Village != s.Code {
			continue
		}
		s.RuleViolations++
		if v.Rule == D3 {
			s.Rules[D3] = Review
		}
		if acknowledged[v.ID] {
			t.acknowledged++
			if !slices.Contains(s.Acknowledged, v.Rule) {
				s.Acknowledged = append(s.Acknowledged, v.Rule)
			}
		}
	}
	slices.SortFunc(s.Acknowledged, func(x, y RuleID) int { return cmp.Compare(ruleIndex[x], ruleIndex[y]) })
}

// RuleOrder returns ids of the rules in [Rules] order that appear in any
// village of r: the columns of the rule matrix.
func (r CountyReport) RuleOrder() []RuleID {
	seen := make(map[RuleID]bool)
	for _, v := range r.Villages {
		for id := range maps.Keys(v.Rules) {
			seen[id] = true
		}
	}
	var ids []RuleID
	for _, rule := range rules {
		if seen[rule.ID] {
			ids = append(ids, rule.ID)
		}
	}
	return ids
}

// VillageStatusZH names a village status of the report in Chinese.
func VillageStatusZH(status string) string {
	switch status {
	case VillageNoElection:
		return "无选举"
	case VillageNotHeld:
		return "未举行"
	case VillageHeld:
		return "已举行"
	case VillageVoid:
		return "选举无效"
	case VillageConflict:
		return "有冲突待裁定"
	case VillageCertified:
		return "已确认"
	}
	return status
}

// OutcomeZH names a rule outcome in Chinese.
func OutcomeZH(o Outcome) string {
	switch o {
	case Pass:
		return "通过"
	case Fail:
		return "不通过"
	case Review:
		return "待核实"
	case NotApplicable:
		return "不适用"
	}
	return fmt.Sprint(o)
}

// decodeWith decodes a record body of collection with read, which pulls the
// fields out of the decoder; the decoder's error, if any, wins.
func decodeWith[T any](collection string, body []byte, read func(d *decoder) T) (T, error) {
	d, err := newDecoder(collection, body)
	if err != nil {
		var zero T
		return zero, err
	}
	v := read(d)
	return v, d.done()
}
