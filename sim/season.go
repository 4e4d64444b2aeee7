package sim

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"villagesync/election"
	"villagesync/syncproto"
)

// Season is one county's election season: every record each device
// captures, in capture order.
//
// Devices are, in this order: one station laptop per village (the
// dataset's village order), one supervisor team per township (the
// dataset's township order), the county office, then the second station
// laptops of Injected. A step that names another device's record (a
// rectification naming a problem, a supervisor's approval of a secretary
// vote) is captured well after that record, so a simulator that replays
// the devices in time order and syncs in between can deliver it first.
type Season struct {
	Seed     uint64
	Devices  []DeviceScript
	Injected []InjectedConflict
	// Figures are what the season's facts add up to, recomputed from the
	// step bodies by GenerateSeason: the county report the simulation
	// must reproduce.
	Figures Figures
}

// DeviceScript is what one device captures over the season.
type DeviceScript struct {
	Role  election.Role
	Scope string // village, township or county code, as election.Scope
	Name  string // stable and unique within the season
	Steps []Step // chronological
}

// Step is one record capture.
type Step struct {
	At             time.Time // true local time of capture (+08:00)
	Collection, ID string
	Body           []byte // compact JSON from syncproto.Marshal, valid per the collection
}

// InjectedConflict is a tally sheet entered twice: a second station laptop
// in the village transcribes the same paper sheet with one count different
// and records it under its own id for the same slot. IDs are the primary
// station's sheet, then the second laptop's.
type InjectedConflict struct {
	Village, Election, Slot string
	IDs                     [2]string
}

// Figures are the county figures a season's facts add up to, counting the
// primary station's records (never an injected second sheet). JSON keys
// follow the county report's where they mean the same.
type Figures struct {
	Villages            int `json:"villages"`
	HeldOnTime          int `json:"held_on_time_villages"`
	OneTimeSuccess      int `json:"one_time_success_villages"`
	MembersElected      int `json:"members_elected"`
	AgeSum              int `json:"age_sum"`
	College             int `json:"college"`
	SupervisionVisits   int `json:"supervision_visits"`
	ProblemsFound       int `json:"problems_found"`
	ProblemsRectified   int `json:"problems_rectified"`
	ProblemsVerified    int `json:"problems_verified"`
	InspectionFound     int `json:"inspection_problems_found"`
	InspectionRectified int `json:"inspection_problems_rectified"`
	KeyVillages         int `json:"key_villages"`
	WorkingGroups       int `json:"working_groups"`
	WorkingGroupStaff   int `json:"working_group_staff"`
	TrainingSessions    int `json:"training_sessions"`
	TrainingAttendance  int `json:"training_attendance"`
	ReturnedMembers     int `json:"returned_members"`
	Ballots             int `json:"ballots"`
	InvalidBallots      int `json:"invalid_ballots"`
	Steps               int `json:"steps"`
}

// AvgAge is the mean age of the members elected, to one decimal.
func (f Figures) AvgAge() float64 { return roundTo(ratio(f.AgeSum, f.MembersElected), 10) }

// CollegeShare is the share of members elected with college or above, to
// three decimals.
func (f Figures) CollegeShare() float64 { return roundTo(ratio(f.College, f.MembersElected), 1000) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func roundTo(x, scale float64) float64 {
	return float64(int64(x*scale+0.5)) / scale
}

// The season's plan beyond the reference data (SPEC §1, research/domain.md
// §5). Every seed gives these totals; only how they fall varies.
const (
	supervisionRounds  = 4
	visitProblems      = 52
	inspectionProblems = 15
	trainingSessions   = 32
	trainingAttendance = 1216
	returnedMembers    = 536
	keyVillages        = 8
	workingGroupStaff  = 3 // per key-village working group

	maxReturnedPerVillage = 6
	supervisionDays       = 25 // supervision runs over the 25 days before the first election day
	maxRectifyDays        = 10 // working days within which a problem is rectified and verified
	injectedMin           = 3
	injectedMax           = 6
)

// cst is the county's local time: China Standard Time, +08:00.
var cst = time.FixedZone("CST", 8*60*60)

// GenerateSeason generates the season of county d from seed: the same seed
// gives a byte-identical season, a different seed different vote counts,
// times and spreads but the same county figures.
//
// Every village holds its Party-committee election on its scheduled date:
// attendance, one ballot record per returned ballot, the FORMAL tally sheet
// counted from those ballots, and the SECRETARY plenary sheet; its
// supervisor team approves the secretary the next day. The first Seats
// candidates of every election are elected by the rules in the first round;
// the seed decides only how the votes fall. Supervisor teams visit every
// village in each of 4 rounds, find 52 problems, drill 1,216 staff in 32
// sessions and verify every rectification; the county office records the
// key villages, their working groups and the 15 problems of its inspection.
//
// Before returning, GenerateSeason checks the season from its step bodies,
// decoded with election's Decode functions: every script is in capture
// order; every election, evaluated by election.Evaluate, elects exactly its
// first Seats candidates in one round, with its ballots agreeing with its
// sheet (its invalid count being the ballots CheckBallot finds invalid)
// and no FAIL or REVIEW finding; every injected sheet really
// conflicts; every problem ends VERIFIED with no contradiction, each event
// after it; and the totals are the county's. Otherwise it returns an error
// naming what failed. (That every body passes its collection's Validate,
// in time order, within its device's scope, is what the package's tests
// check.)
func GenerateSeason(d *election.Dataset, seed uint64) (*Season, error) {
	if d == nil {
		return nil, errors.New("generate season: no dataset")
	}
	g, err := newGenerator(d, seed)
	if err != nil {
		return nil, fmt.Errorf("generate season: %w", err)
	}
	for _, step := range []func() error{g.countyReference, g.supervision, g.inspection, g.trainings, g.elections, g.inject} {
		if err := step(); err != nil {
			return nil, fmt.Errorf("generate season: %w", err)
		}
	}
	s := g.season()
	figs, err := verifySeason(d, s)
	if err != nil {
		return nil, fmt.Errorf("generate season %d: %w", seed, err)
	}
	s.Figures = figs
	return s, nil
}

// generator builds one season.
type generator struct {
	d    *election.Dataset
	seed uint64

	villageIdx  map[string]int // village code → index in d.Villages
	townshipIdx map[string]int // township code → index in d.Townships
	villagesOf  [][]int        // township index → its village indexes
	electionOf  []int          // village index → index of its election in d.Elections
	rolls       map[string]election.RollCount

	electionDay []time.Time // village index → midnight of its election day
	start       time.Time   // midnight of the first day of supervision

	stations    []DeviceScript // village index
	supervisors []DeviceScript // township index
	county      DeviceScript
	extra       []DeviceScript // second station laptops
	injected    []InjectedConflict

	visitAt [][supervisionRounds]time.Time // village index → visit time by round
	sheets  map[string]sheetStep           // election id → its FORMAL sheet
}

// sheetStep is a FORMAL tally sheet as captured.
type sheetStep struct {
	id    string
	at    time.Time
	sheet election.TallySheet
}

func newGenerator(d *election.Dataset, seed uint64) (*generator, error) {
	g := &generator{
		d:           d,
		seed:        seed,
		villageIdx:  make(map[string]int, len(d.Villages)),
		townshipIdx: make(map[string]int, len(d.Townships)),
		villagesOf:  make([][]int, len(d.Townships)),
		electionOf:  make([]int, len(d.Villages)),
		rolls:       make(map[string]election.RollCount, len(d.Rolls)),
		electionDay: make([]time.Time, len(d.Villages)),
		visitAt:     make([][supervisionRounds]time.Time, len(d.Villages)),
		sheets:      make(map[string]sheetStep, len(d.Elections)),
	}
	if len(d.Villages) == 0 || len(d.Townships) == 0 {
		return nil, errors.New("dataset has no villages or no townships")
	}
	for i, t := range d.Townships {
		g.townshipIdx[t.Code] = i
		g.supervisors = append(g.supervisors, DeviceScript{Role: election.RoleSupervisor, Scope: t.Code, Name: "supervisor-" + t.Code})
	}
	for i, v := range d.Villages {
		t, ok := g.townshipIdx[v.Township]
		if !ok || election.TownshipOf(v.Code) != v.Township {
			return nil, fmt.Errorf("village %s: township %q is not in the dataset", v.Code, v.Township)
		}
		g.villageIdx[v.Code] = i
		g.villagesOf[t] = append(g.villagesOf[t], i)
		g.stations = append(g.stations, DeviceScript{Role: election.RoleStation, Scope: v.Code, Name: "station-" + v.Code})
	}
	g.county = DeviceScript{Role: election.RoleCounty, Scope: d.County.Code, Name: "county-" + d.County.Code}
	for _, rc := range d.Rolls {
		g.rolls[rc.Election] = rc
	}
	var first time.Time
	held := make([]bool, len(d.Villages))
	for i, e := range d.Elections {
		v, ok := g.villageIdx[e.Village]
		if !ok {
			return nil, fmt.Errorf("election %s: village %q is not in the dataset", e.ID, e.Village)
		}
		if e.Type != election.TypePartyCommittee {
			return nil, fmt.Errorf("election %s: type %s is not simulated", e.ID, e.Type)
		}
		if held[v] {
			return nil, fmt.Errorf("election %s: village %s already has an election", e.ID, e.Village)
		}
		day, err := time.ParseInLocation(time.DateOnly, e.Date, cst)
		if err != nil {
			return nil, fmt.Errorf("election %s: date: %w", e.ID, err)
		}
		held[v], g.electionOf[v], g.electionDay[v] = true, i, day
		if first.IsZero() || day.Before(first) {
			first = day
		}
	}
	for i, v := range d.Villages {
		if !held[i] {
			return nil, fmt.Errorf("village %s has no election", v.Code)
		}
	}
	g.start = first.AddDate(0, 0, -supervisionDays)
	return g, nil
}

// rng returns the random stream of one part of the season, so that each
// part draws the same numbers whatever the others do.
func (g *generator) rng(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(g.seed, stream))
}

// Random streams.
const (
	streamCounty = iota + 1
	streamSupervision
	streamProblems
	streamInspection
	streamTraining
	streamReturned
	streamInject
	streamElection = 1 << 32 // + election index
)

// add appends a step to script.
func add(script *DeviceScript, at time.Time, collection, id string, body any) error {
	b, err := syncproto.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode %s %s: %w", collection, id, err)
	}
	script.Steps = append(script.Steps, Step{At: at, Collection: collection, ID: id, Body: b})
	return nil
}

// season sorts every device's steps into capture order and assembles the
// season.
func (g *generator) season() *Season {
	s := &Season{Seed: g.seed, Injected: g.injected}
	s.Devices = slices.Concat(g.stations, g.supervisors, []DeviceScript{g.county}, g.extra)
	for i := range s.Devices {
		slices.SortStableFunc(s.Devices[i].Steps, func(a, b Step) int { return a.At.Compare(b.At) })
	}
	return s
}

// minutes returns midnight day plus m minutes.
func minutes(day time.Time, m int) time.Time { return day.Add(time.Duration(m) * time.Minute) }

// Bodies of the collections election has no struct for. Field names are
// the collections' public contract (SPEC §4).
type (
	visitBody struct {
		Village   string `json:"village"`
		Round     int    `json:"round"`
		VisitedAt string `json:"visited_at"`
		Notes     string `json:"notes"`
	}
	problemBody struct {
		Village     string `json:"village"`
		Source      string `json:"source"`
		Category    string `json:"category"`
		Description string `json:"description"`
	}
	trainingBody struct {
		Township   string `json:"township"`
		HeldOn     string `json:"held_on"`
		Kind       string `json:"kind"`
		Attendance int    `json:"attendance"`
	}
	returnedBody struct {
		Village    string `json:"village"`
		Origin     string `json:"origin"`
		ReturnedOn string `json:"returned_on"`
	}
	keyVillageBody struct {
		Village        string `json:"village"`
		FirstSecretary string `json:"first_secretary"`
	}
	workingGroupBody struct {
		Village string `json:"village"`
		Members int    `json:"members"`
	}
)

// Words of the season, in the report's own terms.
var (
	visitNotes = [supervisionRounds]string{
		"第一轮督导：换届工作方案、党员名册核查",
		"第二轮督导：“两推一选”和候选人资格联审",
		"第三轮督导：选举材料、会场布置和工作人员准备",
		"第四轮督导：选举前准备全面检查",
	}
	visitFindings = []problemBody{
		{Category: "党员名册", Description: "党员名册与组织关系台账不一致，须逐人核对"},
		{Category: "候选人资格", Description: "候选人资格联审材料不全"},
		{Category: "选举方案", Description: "换届选举工作方案未按程序报乡镇党委审批"},
		{Category: "会场准备", Description: "秘密写票处设置不规范"},
		{Category: "选举材料", Description: "选票样式与规定不符，须重新印制"},
		{Category: "宣传动员", Description: "外出党员联系登记不完整"},
		{Category: "工作人员", Description: "计票人员对计票流程不熟悉"},
		{Category: "换届纪律", Description: "换届纪律宣传不到位"},
	}
	inspectionFindings = []problemBody{
		{Category: "督导记录", Description: "包保督导记录不完整"},
		{Category: "档案资料", Description: "换届档案资料归档不规范"},
		{Category: "两推一选", Description: "推荐票统计表缺少监票人签字"},
		{Category: "党员名册", Description: "流动党员名册未及时更新"},
		{Category: "选举方案", Description: "选举日程安排未张榜公布"},
	}
	// problemRounds weighs the supervision round a problem is found in:
	// most are found early.
	problemRounds = []int{1, 1, 1, 2, 2, 2, 3, 3, 4}
	origins       = []string{"长春市", "吉林市", "辽源市", "四平市", "沈阳市", "大连市", "北京市", "天津市", "青岛市", "哈尔滨市", "上海市", "深圳市"}
	surnames      = []rune("王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
	signerRoles   = []string{"总监票人", "监票人", "计票人"}
)

// pseudonym is a made-up name nobody can take for a real person: a surname
// and 某 ("a certain").
func pseudonym(rng *rand.Rand) string {
	return string([]rune{surnames[rng.IntN(len(surnames))], '某'})
}

// spread draws n counts in [lo, hi] that add up to total.
func spread(rng *rand.Rand, n, total, lo, hi int) ([]int, error) {
	if n <= 0 || lo > hi || total < n*lo || total > n*hi {
		return nil, fmt.Errorf("cannot spread %d over %d counts of %d to %d", total, n, lo, hi)
	}
	xs := make([]int, n)
	sum := 0
	for i := range xs {
		xs[i] = lo + rng.IntN(hi-lo+1)
		sum += xs[i]
	}
	order := rng.Perm(n)
	for i := 0; sum != total; i = (i + 1) % n {
		j := order[i]
		switch {
		case sum < total && xs[j] < hi:
			xs[j]++
			sum++
		case sum > total && xs[j] > lo:
			xs[j]--
			sum--
		}
	}
	return xs, nil
}

// countyReference records the key villages, each with its first secretary,
// and their working groups, a week before supervision starts.
func (g *generator) countyReference() error {
	rng := g.rng(streamCounty)
	at := minutes(g.start.AddDate(0, 0, -7), 9*60)
	for _, v := range g.d.Villages {
		if !v.KeyVillage {
			continue
		}
		at = at.Add(time.Duration(2+rng.IntN(6)) * time.Minute)
		if err := add(&g.county, at, "key_village", v.Code, keyVillageBody{Village: v.Code, FirstSecretary: pseudonym(rng)}); err != nil {
			return err
		}
		at = at.Add(time.Duration(1+rng.IntN(3)) * time.Minute)
		if err := add(&g.county, at, "working_group", v.Code+"-WG", workingGroupBody{Village: v.Code, Members: workingGroupStaff}); err != nil {
			return err
		}
	}
	return nil
}

// supervision records every township team's visits to each of its villages
// in each round, each round in its own window of the supervision period,
// and the problems found on them with their rectification.
func (g *generator) supervision() error {
	rng := g.rng(streamSupervision)
	for r := range supervisionRounds {
		from, to := r*supervisionDays/supervisionRounds, (r+1)*supervisionDays/supervisionRounds
		for t := range g.d.Townships {
			for _, v := range g.villagesOf[t] {
				day := g.start.AddDate(0, 0, from+rng.IntN(to-from))
				at := minutes(day, 8*60+30+rng.IntN(8*60)) // 08:30–16:29
				g.visitAt[v][r] = at
				code := g.d.Villages[v].Code
				body := visitBody{Village: code, Round: r + 1, VisitedAt: at.Format(time.RFC3339), Notes: visitNotes[r]}
				if err := add(&g.supervisors[t], at, "supervision_visit", code+"-V"+strconv.Itoa(r+1), body); err != nil {
					return err
				}
			}
		}
	}

	rng = g.rng(streamProblems)
	if len(g.d.Villages) < visitProblems {
		return fmt.Errorf("%d villages cannot have %d visit problems in distinct villages", len(g.d.Villages), visitProblems)
	}
	for _, v := range rng.Perm(len(g.d.Villages))[:visitProblems] {
		// Found on a visit that leaves time to put it right before the
		// election: round 4 may come too late.
		r := problemRounds[rng.IntN(len(problemRounds))] - 1
		found := g.visitAt[v][r].Add(time.Duration(20+rng.IntN(60)) * time.Minute)
		for r > 0 && g.rectifyTime(v, found) < minRectifyTime {
			r--
			found = g.visitAt[v][r].Add(time.Duration(20+rng.IntN(60)) * time.Minute)
		}
		p := visitFindings[rng.IntN(len(visitFindings))]
		p.Village, p.Source = g.d.Villages[v].Code, election.SourceVisit
		t := g.townshipIdx[g.d.Villages[v].Township]
		if err := g.problem(rng, &g.supervisors[t], v, p.Village+"-PV1", found, p); err != nil {
			return err
		}
	}
	return nil
}

// problem records problem p, found at found by author, and its
// rectification: the village station starts and completes it, the
// township team verifies it, all in working hours before the eve of the
// village's election day is over.
func (g *generator) problem(rng *rand.Rand, author *DeviceScript, v int, id string, found time.Time, p problemBody) error {
	if err := add(author, found, "problem", id, p); err != nil {
		return err
	}
	avail := min(g.rectifyTime(v, found), maxRectifyDays*workingDay)
	if avail < minRectifyTime {
		return fmt.Errorf("problem %s found at %s leaves no time to rectify before the election", id, found.Format(time.RFC3339))
	}
	// Fractions of the working time available, far enough apart that each
	// event follows the one before by more than minLead.
	point := func(lo, hi int) time.Time {
		percent := time.Duration(lo + rng.IntN(hi-lo))
		return addWorking(found, avail*percent/100).Truncate(time.Second)
	}
	station := &g.stations[v]
	supervisor := &g.supervisors[g.townshipIdx[g.d.Villages[v].Township]]
	events := []struct {
		script *DeviceScript
		at     time.Time
		status string
		notes  string
	}{
		{station, point(5, 30), election.RectificationInProgress, "已制定整改措施，正在整改"},
		{station, point(35, 65), election.RectificationRectified, "已整改完毕，报督导组复核"},
		{supervisor, point(70, 95), election.RectificationVerified, "督导组复核，整改到位"},
	}
	after := ""
	for _, e := range events {
		rid := id + "-" + e.status
		ev := election.RectificationEvent{Problem: id, Status: e.status, Notes: e.notes, After: after}
		if err := add(e.script, e.at, "rectification", rid, ev); err != nil {
			return err
		}
		after = rid
	}
	return nil
}

// rectifyTime is the working time from found to the end of the eve of
// village v's election day.
func (g *generator) rectifyTime(v int, found time.Time) time.Duration {
	return workingBetween(found, g.electionDay[v].AddDate(0, 0, -1).Add(workEnd))
}

// Records are captured in working hours, 08:00 to 20:00, outside election
// day.
const (
	workStart  = 8 * time.Hour
	workEnd    = 20 * time.Hour
	workingDay = workEnd - workStart
	// minRectifyTime is the least working time a problem needs to be
	// rectified and verified: each of its events then follows the one
	// before by more than minLead.
	minRectifyTime = workingDay
)

func midnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// addWorking returns t plus d of working time.
func addWorking(t time.Time, d time.Duration) time.Time {
	for {
		day := midnight(t)
		start, end := day.Add(workStart), day.Add(workEnd)
		switch {
		case t.Before(start):
			t = start
		case !t.Before(end):
			t = day.AddDate(0, 0, 1).Add(workStart)
		case d < end.Sub(t):
			return t.Add(d)
		default:
			d -= end.Sub(t)
			t = day.AddDate(0, 0, 1).Add(workStart)
		}
	}
}

// workingBetween returns the working time from a to b, 0 if b is not after
// a.
func workingBetween(a, b time.Time) time.Duration {
	var d time.Duration
	for day := midnight(a); day.Before(b); day = day.AddDate(0, 0, 1) {
		from, to := day.Add(workStart), day.Add(workEnd)
		if a.After(from) {
			from = a
		}
		if b.Before(to) {
			to = b
		}
		if from.Before(to) {
			d += to.Sub(from)
		}
	}
	return d
}

// inspection records the county inspection: the team visits every
// township in turn and finds 15 problems, at least one in each township.
func (g *generator) inspection() error {
	rng := g.rng(streamInspection)
	n := len(g.d.Townships)
	if n > inspectionProblems {
		return fmt.Errorf("%d townships cannot share %d inspection problems", n, inspectionProblems)
	}
	order := rng.Perm(n)
	count := make([]int, n)
	for i := range inspectionProblems {
		count[order[i%n]]++
	}
	// The team spends the 9 days from the 15th day of supervision on it.
	const firstDay, days = 14, 9
	for i, t := range order {
		villages := g.villagesOf[t]
		if len(villages) < count[t] {
			return fmt.Errorf("township %s has too few villages for its inspection problems", g.d.Townships[t].Code)
		}
		day := g.start.AddDate(0, 0, firstDay+i*days/n)
		at := minutes(day, 9*60+rng.IntN(5*60))
		for _, k := range rng.Perm(len(villages))[:count[t]] {
			v := villages[k]
			at = at.Add(time.Duration(30+rng.IntN(60)) * time.Minute)
			p := inspectionFindings[rng.IntN(len(inspectionFindings))]
			p.Village, p.Source = g.d.Villages[v].Code, election.SourceInspection
			if err := g.problem(rng, &g.county, v, p.Village+"-PI1", at, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// trainings records the 32 drills (模拟演练), two or three per township,
// in the weeks before the election.
func (g *generator) trainings() error {
	rng := g.rng(streamTraining)
	n := len(g.d.Townships)
	sessions := make([]int, n)
	for i, t := range rng.Perm(n) {
		sessions[t] = trainingSessions / n
		if i < trainingSessions%n {
			sessions[t]++
		}
	}
	attendance, err := spread(rng, trainingSessions, trainingAttendance, 25, 55)
	if err != nil {
		return fmt.Errorf("training attendance: %w", err)
	}
	const firstDay, days = -9, supervisionDays + 8 // from 9 days before supervision to the day before its end
	k := 0
	for t, tw := range g.d.Townships {
		for j := range sessions[t] {
			day := g.start.AddDate(0, 0, firstDay+rng.IntN(days))
			at := minutes(day, 16*60+rng.IntN(90))
			body := trainingBody{Township: tw.Code, HeldOn: day.Format(time.DateOnly), Kind: election.TrainingDrill, Attendance: attendance[k]}
			if err := add(&g.supervisors[t], at, "training_session", tw.Code+"-TR"+strconv.Itoa(j+1), body); err != nil {
				return err
			}
			k++
		}
	}
	return nil
}

// elections records election day in every village.
func (g *generator) elections() error {
	returned, err := spread(g.rng(streamReturned), len(g.d.Villages), returnedMembers, 0, maxReturnedPerVillage)
	if err != nil {
		return fmt.Errorf("returned members: %w", err)
	}
	for v, i := range g.electionOf {
		if err := g.holdElection(v, i, returned[v]); err != nil {
			return err
		}
	}
	return nil
}

// ballotPlan is one ballot before it is numbered.
type ballotPlan struct {
	marks    map[string]string
	writeIns []string
}

// holdElection records the election day of election i in village v: the
// returned members signing in, attendance, every ballot, the FORMAL and
// SECRETARY tally sheets, and the township's approval the next day.
func (g *generator) holdElection(v, i, returned int) error {
	e := g.d.Elections[i]
	rng := g.rng(streamElection + uint64(i))
	roll, ok := g.rolls[e.ID]
	if !ok {
		return fmt.Errorf("election %s: no roll count", e.ID)
	}
	seats := e.Seats
	if seats <= 0 || seats > len(e.Candidates) {
		return fmt.Errorf("election %s: %d seats for %d candidates", e.ID, seats, len(e.Candidates))
	}
	station := &g.stations[v]
	day := g.electionDay[v]
	code := g.d.Villages[v].Code

	// Out-of-town members sign in as they arrive.
	at := minutes(day, 7*60+30)
	for k := range returned {
		at = at.Add(time.Duration(1+rng.IntN(3)) * time.Minute)
		body := returnedBody{Village: code, Origin: origins[rng.IntN(len(origins))], ReturnedOn: day.AddDate(0, 0, -rng.IntN(12)).Format(time.DateOnly)}
		if err := add(station, at, "returned_member", code+"-RM"+strconv.Itoa(k+1), body); err != nil {
			return err
		}
	}

	// Attendance: 82–98% of those eligible, always more than four fifths,
	// and at least the returned members.
	eligible := roll.Eligible
	lo := max(eligible*4/5+1, (82*eligible+99)/100, returned)
	hi := max(98*eligible/100, lo)
	if lo > eligible {
		return fmt.Errorf("election %s: %d eligible cannot reach a quorum of %d", e.ID, eligible, lo)
	}
	present := lo + rng.IntN(hi-lo+1)
	if err := add(station, minutes(day, 8*60+50), "attendance", e.ID+"-ATT",
		election.Attendance{Election: e.ID, Eligible: eligible, Present: present}); err != nil {
		return err
	}

	// Ballots: issued to everyone present; one may not come back.
	issued, ret := present, present
	if rng.IntN(10) == 0 {
		ret--
	}
	invalid := []int{0, 0, 0, 0, 1, 1, 1, 2}[rng.IntN(8)]
	plans, err := voteBallots(rng, e, present, ret-invalid)
	if err != nil {
		return err
	}
	for range invalid {
		// One name too many: seats + 1 candidates ticked, or every
		// candidate and names written in up to seats + 1.
		p := ballotPlan{marks: make(map[string]string, len(e.Candidates)), writeIns: []string{}}
		for k, c := range e.Candidates {
			p.marks[c] = election.MarkNo
			if k <= seats {
				p.marks[c] = election.MarkYes
			}
		}
		for k := len(e.Candidates); k <= seats; k++ {
			p.writeIns = append(p.writeIns, pseudonym(rng))
		}
		plans = append(plans, p)
	}
	rng.Shuffle(len(plans), func(a, b int) { plans[a], plans[b] = plans[b], plans[a] })

	sheet := election.TallySheet{
		Election: e.ID, Round: 1, Kind: election.RoundFormal,
		Issued: issued, Returned: len(plans),
		Votes: make(map[string]election.Votes, len(e.Candidates)),
	}
	for _, c := range e.Candidates {
		sheet.Votes[c] = election.Votes{}
	}
	at = minutes(day, 9*60+30+rng.IntN(20))
	for k, p := range plans {
		at = at.Add(time.Duration(10+rng.IntN(25)) * time.Second)
		b := election.Ballot{Election: e.ID, Round: 1, Serial: k + 1, Marks: p.marks, WriteIns: p.writeIns}
		if b.WriteIns == nil {
			b.WriteIns = []string{}
		}
		if err := add(station, at, "ballot", e.ID+"-R1-B"+strconv.Itoa(k+1), b); err != nil {
			return err
		}
		countBallot(&sheet, b, seats)
	}

	// The FORMAL tally sheet, counted from the ballots, declares the
	// winners by the rules: more than half of those present, by votes.
	var passers []string
	for _, c := range e.Candidates {
		if 2*sheet.Votes[c].Yes > present {
			passers = append(passers, c)
		}
	}
	slices.SortStableFunc(passers, func(a, b string) int { return cmp.Compare(sheet.Votes[b].Yes, sheet.Votes[a].Yes) })
	sheet.Elected = passers[:min(seats, len(passers))]
	signers := make([]string, len(signerRoles))
	for k, role := range signerRoles {
		signers[k] = pseudonym(rng) + "（" + role + "）"
	}
	sheet.Signers = signers
	sheetID := e.ID + "-R1"
	sheet.Photo = g.photo(sheetID)
	at = at.Add(time.Duration(10+rng.IntN(15)) * time.Minute)
	if err := add(station, at, "tally_sheet", sheetID, sheet); err != nil {
		return err
	}
	g.sheets[e.ID] = sheetStep{id: sheetID, at: at, sheet: sheet}

	// The new committee's plenary elects its first member secretary.
	if len(sheet.Elected) > 0 {
		n := len(sheet.Elected)
		secretary := e.Candidates[0]
		if !slices.Contains(sheet.Elected, secretary) {
			secretary = sheet.Elected[0]
		}
		yes := n - rng.IntN(2)
		if 2*yes <= n {
			yes = n
		}
		no := rng.IntN(n - yes + 1)
		sec := election.TallySheet{
			Election: e.ID, Round: 1, Kind: election.RoundSecretary,
			Issued: n, Returned: n, Valid: n,
			Votes:   map[string]election.Votes{secretary: {Yes: yes, No: no, Abstain: n - yes - no}},
			Signers: signers,
			Elected: []string{secretary},
			Photo:   g.photo(e.ID + "-SEC1"),
		}
		secAt := minutes(day, 14*60+rng.IntN(90))
		if err := add(station, secAt, "tally_sheet", e.ID+"-SEC1", sec); err != nil {
			return err
		}
		t := g.townshipIdx[g.d.Villages[v].Township]
		approvedAt := minutes(day.AddDate(0, 0, 1), 9*60+rng.IntN(8*60))
		approval := election.Approval{
			Election: e.ID, Kind: election.ApprovalSecretary,
			ApprovedBy: g.d.Townships[t].Name + "党委",
			ApprovedAt: approvedAt.Format(time.RFC3339),
			Notes:      "同意村党组织书记选举结果",
		}
		if err := add(&g.supervisors[t], approvedAt, "approval", e.ID+"-APPROVAL-SEC", approval); err != nil {
			return err
		}
	}
	return nil
}

// photo is the SHA-256 of a tally sheet's photo: deterministic bytes
// standing in for the picture of the signed paper sheet.
func (g *generator) photo(sheet string) string {
	sum := sha256.Sum256([]byte("villagesync/sim/photo/" + strconv.FormatUint(g.seed, 10) + "/" + sheet))
	return hex.EncodeToString(sum[:])
}

// countBallot adds ballot b to the counts of sheet s: valid when it
// chooses at most seats names (yes marks and write-ins), invalid otherwise.
func countBallot(s *election.TallySheet, b election.Ballot, seats int) {
	yes := 0
	for _, m := range b.Marks {
		if m == election.MarkYes {
			yes++
		}
	}
	if yes+len(b.WriteIns) > seats {
		s.Invalid++
		return
	}
	s.Valid++
	for c, m := range b.Marks {
		v := s.Votes[c]
		switch m {
		case election.MarkYes:
			v.Yes++
		case election.MarkNo:
			v.No++
		case election.MarkAbstain:
			v.Abstain++
		}
		s.Votes[c] = v
	}
	for _, w := range b.WriteIns {
		if s.WriteIns == nil {
			s.WriteIns = make(map[string]int)
		}
		s.WriteIns[w]++
	}
}

// voteBallots draws valid ballots for e: the first Seats candidates each
// get yes from more than half of those present, every other candidate from
// fewer than half, and no ballot chooses more names than seats. Every
// ballot marks every candidate; a few carry a written-in name.
func voteBallots(rng *rand.Rand, e election.Election, present, valid int) ([]ballotPlan, error) {
	seats := e.Seats
	need := present/2 + 1 // 2 × yes > present
	if valid < need {
		return nil, fmt.Errorf("election %s: %d valid ballots cannot give anyone more than half of %d present", e.ID, valid, present)
	}
	yes := make([]int, len(e.Candidates))
	room := seats * valid // yes marks and write-ins the valid ballots can carry
	for k := range seats {
		drop := rng.IntN(min(valid-need, valid/4) + 1)
		yes[k] = valid - drop
		room -= yes[k]
	}
	for k := seats; k < len(e.Candidates); k++ {
		top := min((present-1)/2, room) // 2 × yes < present: never even half
		bottom := min(top, valid/5)
		yes[k] = bottom + rng.IntN(top-bottom+1)
		room -= yes[k]
	}

	// Give each candidate's yes marks to the ballots with the fewest so
	// far, in random order among equals, so no ballot exceeds the seats.
	marks := make([]map[string]string, valid)
	chosen := make([]int, valid)
	for b := range marks {
		marks[b] = make(map[string]string, len(e.Candidates))
	}
	for k, c := range e.Candidates {
		order := rng.Perm(valid)
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(chosen[a], chosen[b]) })
		for j, b := range order {
			switch {
			case j < yes[k]:
				marks[b][c] = election.MarkYes
				chosen[b]++
			case rng.IntN(4) == 0:
				marks[b][c] = election.MarkAbstain
			default:
				marks[b][c] = election.MarkNo
			}
		}
	}
	plans := make([]ballotPlan, valid)
	for b := range plans {
		plans[b].marks = marks[b]
	}
	// Now and then a voter writes in a name (另选他人) on a ballot with room.
	if room > 0 && rng.IntN(8) == 0 {
		for _, b := range rng.Perm(valid) {
			if chosen[b] < seats {
				plans[b].writeIns = []string{pseudonym(rng)}
				break
			}
		}
	}
	return plans, nil
}

// inject picks 3 to 6 villages where a second station laptop transcribes
// the FORMAL tally sheet again, with one count read differently.
func (g *generator) inject() error {
	rng := g.rng(streamInject)
	n := min(injectedMin+rng.IntN(injectedMax-injectedMin+1), len(g.d.Villages))
	coll, _ := election.LookupCollection("tally_sheet")
	for _, v := range rng.Perm(len(g.d.Villages))[:n] {
		e := g.d.Elections[g.electionOf[v]]
		orig, ok := g.sheets[e.ID]
		if !ok {
			return fmt.Errorf("election %s: no tally sheet to enter twice", e.ID)
		}
		dup := orig.sheet
		dup.Votes = maps.Clone(orig.sheet.Votes)
		// One "no" of the last candidate who has one read as "abstain",
		// or the other way round: the winners stay the same.
		misread := false
		for _, c := range slices.Backward(e.Candidates) {
			switch vs := dup.Votes[c]; {
			case misread:
			case vs.No > 0:
				vs.No, vs.Abstain = vs.No-1, vs.Abstain+1
				dup.Votes[c], misread = vs, true
			case vs.Abstain > 0:
				vs.Abstain, vs.No = vs.Abstain-1, vs.No+1
				dup.Votes[c], misread = vs, true
			}
		}
		if !misread {
			return fmt.Errorf("election %s: no mark to misread", e.ID)
		}
		id := orig.id + "-L2"
		dup.Photo = g.photo(id)
		code := g.d.Villages[v].Code
		script := DeviceScript{Role: election.RoleStation, Scope: code, Name: "station-" + code + "-2"}
		if err := add(&script, orig.at.Add(time.Duration(3+rng.IntN(25))*time.Minute), "tally_sheet", id, dup); err != nil {
			return err
		}
		slot := coll.Slot(id, script.Steps[0].Body)
		g.extra = append(g.extra, script)
		g.injected = append(g.injected, InjectedConflict{Village: code, Election: e.ID, Slot: slot, IDs: [2]string{orig.id, id}})
	}
	return nil
}

// minLead is how long after a record another device's step naming it is
// captured, at the least.
const minLead = 10 * time.Minute

// verifySeason checks s against d and returns its figures, or an error
// naming the first thing that is not as GenerateSeason promises.
func verifySeason(d *election.Dataset, s *Season) (Figures, error) {
	figs := Figures{Villages: len(d.Villages)}
	for _, dev := range s.Devices {
		for j, st := range dev.Steps {
			if j > 0 && st.At.Before(dev.Steps[j-1].At) {
				return figs, fmt.Errorf("%s: step %d (%s %s) is captured before the step before it", dev.Name, j+1, st.Collection, st.ID)
			}
		}
		figs.Steps += len(dev.Steps)
	}
	f, err := collectFacts(s)
	if err != nil {
		return figs, err
	}
	ref := newReference(d)
	if err := f.checkElections(ref, &figs); err != nil {
		return figs, err
	}
	if err := f.checkInjected(ref, s); err != nil {
		return figs, err
	}
	if err := f.checkSupervision(d, &figs); err != nil {
		return figs, err
	}
	return figs, checkTotals(figs)
}

// parallel calls fn(0), …, fn(n-1) on every CPU and returns the error of
// the lowest i that failed.
func parallel(n int, fn func(i int) error) error {
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				errs[i] = fn(i)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// reference indexes the reference data of a dataset by election.
type reference struct {
	elections  []election.Election
	rolls      map[string]*election.RollCount
	candidates map[string][]election.Candidate // by election
	byID       map[string]election.Candidate
}

func newReference(d *election.Dataset) *reference {
	ref := &reference{
		elections:  d.Elections,
		rolls:      make(map[string]*election.RollCount, len(d.Rolls)),
		candidates: make(map[string][]election.Candidate, len(d.Elections)),
		byID:       make(map[string]election.Candidate, len(d.Candidates)),
	}
	for i := range d.Rolls {
		ref.rolls[d.Rolls[i].Election] = &d.Rolls[i]
	}
	for _, c := range d.Candidates {
		ref.candidates[c.Election] = append(ref.candidates[c.Election], c)
		ref.byID[c.ID] = c
	}
	return ref
}

// seasonFacts are the decoded facts of a season.
type seasonFacts struct {
	attendance map[string][]election.Attendance // by election
	sheets     map[string][]election.TallySheet // by election, without injected sheets
	ballots    map[string][]election.Ballot     // by election
	approvals  map[string][]election.Approval   // by election
	injected   map[string]election.TallySheet   // second sheets, by id
	at         map[string]time.Time             // capture time of every sheet and problem, by id

	visits      map[string][supervisionRounds]int // village → visits by round
	problems    map[string]problemBody            // by id
	events      map[string][]election.RectificationEvent
	eventAt     map[string]time.Time // capture time of every rectification event, by id
	keyVillages map[string]bool
	groups      map[string]int // working group members by village
	training    []trainingBody
	returned    int
}

// problemFact is a decoded problem.
type problemFact struct {
	id string
	problemBody
}

// collectFacts decodes every step of s, with election's Decode functions
// where it has them, spreading the devices over the CPUs.
func collectFacts(s *Season) (*seasonFacts, error) {
	decoded := make([][]any, len(s.Devices))
	err := parallel(len(s.Devices), func(i int) error {
		dev := s.Devices[i]
		decoded[i] = make([]any, len(dev.Steps))
		for j, st := range dev.Steps {
			v, err := decodeStep(dev, j, st)
			if err != nil {
				return fmt.Errorf("%s: %s %s: %w", dev.Name, st.Collection, st.ID, err)
			}
			decoded[i][j] = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	f := &seasonFacts{
		attendance:  make(map[string][]election.Attendance),
		sheets:      make(map[string][]election.TallySheet),
		ballots:     make(map[string][]election.Ballot),
		approvals:   make(map[string][]election.Approval),
		injected:    make(map[string]election.TallySheet),
		at:          make(map[string]time.Time),
		visits:      make(map[string][supervisionRounds]int),
		problems:    make(map[string]problemBody),
		events:      make(map[string][]election.RectificationEvent),
		eventAt:     make(map[string]time.Time),
		keyVillages: make(map[string]bool),
		groups:      make(map[string]int),
	}
	second := make(map[string]bool)
	for _, inj := range s.Injected {
		second[inj.IDs[1]] = true
	}
	for i, dev := range s.Devices {
		for j, st := range dev.Steps {
			switch v := decoded[i][j].(type) {
			case election.Attendance:
				f.attendance[v.Election] = append(f.attendance[v.Election], v)
			case election.TallySheet:
				f.at[v.ID] = st.At
				if second[v.ID] {
					f.injected[v.ID] = v
				} else {
					f.sheets[v.Election] = append(f.sheets[v.Election], v)
				}
			case election.Ballot:
				f.ballots[v.Election] = append(f.ballots[v.Election], v)
			case election.Approval:
				f.approvals[v.Election] = append(f.approvals[v.Election], v)
			case election.RectificationEvent:
				f.events[v.Problem] = append(f.events[v.Problem], v)
				f.eventAt[v.ID] = st.At
			case visitBody:
				if v.Round < 1 || v.Round > supervisionRounds {
					return nil, fmt.Errorf("%s: supervision_visit %s: got round %d, want 1 to %d", dev.Name, st.ID, v.Round, supervisionRounds)
				}
				n := f.visits[v.Village]
				n[v.Round-1]++
				f.visits[v.Village] = n
			case problemFact:
				f.problems[v.id] = v.problemBody
				f.at[v.id] = st.At
			case trainingBody:
				f.training = append(f.training, v)
			case returnedBody:
				f.returned++
			case keyVillageBody:
				f.keyVillages[v.Village] = true
			case workingGroupBody:
				f.groups[v.Village] += v.Members
			}
		}
	}
	return f, nil
}

// decodeStep decodes the body of step j of dev.
func decodeStep(dev DeviceScript, j int, st Step) (any, error) {
	switch st.Collection {
	case "attendance":
		a, err := election.DecodeAttendance(st.Body)
		a.ID = st.ID
		return a, err
	case "tally_sheet":
		s, err := election.DecodeTallySheet(st.Body)
		s.ID = st.ID
		return s, err
	case "ballot":
		b, err := election.DecodeBallot(st.Body)
		b.ID = st.ID
		return b, err
	case "approval":
		a, err := election.DecodeApproval(st.Body)
		a.ID = st.ID
		return a, err
	case "rectification":
		ev, err := election.DecodeRectification(st.Body)
		ev.ID, ev.Wall, ev.Device, ev.Seq = st.ID, st.At.UnixMilli(), dev.Name, uint64(j+1)
		return ev, err
	case "supervision_visit":
		return decodeJSON[visitBody](st.Body)
	case "problem":
		p, err := decodeJSON[problemBody](st.Body)
		return problemFact{st.ID, p}, err
	case "training_session":
		return decodeJSON[trainingBody](st.Body)
	case "returned_member":
		return decodeJSON[returnedBody](st.Body)
	case "key_village":
		return decodeJSON[keyVillageBody](st.Body)
	case "working_group":
		return decodeJSON[workingGroupBody](st.Body)
	}
	return nil, errors.New("not a collection a season records")
}

func decodeJSON[T any](body []byte) (T, error) {
	var v T
	err := syncproto.Unmarshal(body, &v)
	return v, err
}

// facts are the facts of election e, with extra sheets added.
func (f *seasonFacts) facts(ref *reference, e election.Election, extra ...election.TallySheet) election.ElectionFacts {
	return election.ElectionFacts{
		Election:   e,
		Candidates: ref.candidates[e.ID],
		Roll:       ref.rolls[e.ID],
		Attendance: f.attendance[e.ID],
		Sheets:     append(slices.Clone(f.sheets[e.ID]), extra...),
		Ballots:    f.ballots[e.ID],
		Approvals:  f.approvals[e.ID],
	}
}

// checkElections evaluates every election from its decoded facts: it must
// elect its first Seats candidates in one round, by the rules.
func (f *seasonFacts) checkElections(ref *reference, figs *Figures) error {
	results := make([]election.Result, len(ref.elections))
	err := parallel(len(ref.elections), func(i int) error {
		results[i] = election.Evaluate(f.facts(ref, ref.elections[i]))
		return nil
	})
	if err != nil {
		return err
	}
	for i, e := range ref.elections {
		if err := f.checkElection(ref, e, results[i], figs); err != nil {
			return fmt.Errorf("election %s: %w", e.ID, err)
		}
	}
	return nil
}

func (f *seasonFacts) checkElection(ref *reference, e election.Election, res election.Result, figs *Figures) error {
	want := e.Candidates[:min(e.Seats, len(e.Candidates))]
	switch {
	case !res.Held || !res.OneTimeSuccess:
		return fmt.Errorf("got held %v, one-time success %v, want both", res.Held, res.OneTimeSuccess)
	case !slices.Equal(slices.Sorted(slices.Values(res.Elected)), slices.Sorted(slices.Values(want))):
		return fmt.Errorf("got elected %v, want %v", res.Elected, want)
	case res.BallotsAgree == nil || !*res.BallotsAgree:
		return errors.New("the ballots do not agree with the tally sheet")
	case res.Secretary == "":
		return errors.New("no secretary elected")
	}
	invalid, onTime := 0, false
	for _, s := range f.sheets[e.ID] {
		if s.Kind == election.RoundFormal {
			invalid += s.Invalid
			onTime = onTime || f.at[s.ID].Format(time.DateOnly) == e.Date
		}
	}
	for _, fd := range res.Findings {
		if fd.Outcome == election.Fail || fd.Outcome == election.Review {
			return fmt.Errorf("%s %s: %s", fd.Rule, fd.Outcome, fd.MessageEN)
		}
	}
	spoilt := 0
	for _, b := range f.ballots[e.ID] {
		if election.CheckBallot(b, e.Seats).Outcome == election.Fail {
			spoilt++
		}
	}
	if spoilt != invalid {
		return fmt.Errorf("got %d ballots found invalid, want the sheet's %d", spoilt, invalid)
	}
	for _, a := range f.approvals[e.ID] {
		approved, err := time.Parse(time.RFC3339, a.ApprovedAt)
		if err != nil {
			return fmt.Errorf("approval %s: %w", a.ID, err)
		}
		for _, s := range f.sheets[e.ID] {
			if approved.Before(f.at[s.ID].Add(minLead)) {
				return fmt.Errorf("approval %s comes less than %v after tally sheet %s", a.ID, minLead, s.ID)
			}
		}
	}

	figs.Ballots += len(f.ballots[e.ID])
	figs.InvalidBallots += invalid
	if onTime {
		figs.HeldOnTime++
	}
	figs.OneTimeSuccess++
	year, err := strconv.Atoi(e.Date[:min(4, len(e.Date))])
	if err != nil {
		return fmt.Errorf("date %q: %w", e.Date, err)
	}
	for _, id := range res.Elected {
		c := ref.byID[id]
		figs.MembersElected++
		figs.AgeSum += year - c.BirthYear
		if election.CollegeOrAbove(c.Education) {
			figs.College++
		}
	}
	return nil
}

// checkInjected checks that every injected sheet claims the slot of the
// primary sheet with a different body, so that its election shows a
// conflict.
func (f *seasonFacts) checkInjected(ref *reference, s *Season) error {
	if n := len(s.Injected); n < injectedMin || n > injectedMax {
		return fmt.Errorf("got %d injected conflicts, want %d to %d", n, injectedMin, injectedMax)
	}
	bodies := make(map[string][]byte)
	for _, dev := range s.Devices {
		for _, st := range dev.Steps {
			if st.Collection == "tally_sheet" {
				bodies[st.ID] = st.Body
			}
		}
	}
	coll, _ := election.LookupCollection("tally_sheet")
	for _, inj := range s.Injected {
		a, b := bodies[inj.IDs[0]], bodies[inj.IDs[1]]
		if inj.Slot == "" || a == nil || b == nil || bytes.Equal(a, b) {
			return fmt.Errorf("injected conflict %v: want two different recorded sheets for one slot", inj.IDs)
		}
		if sa, sb := coll.Slot(inj.IDs[0], a), coll.Slot(inj.IDs[1], b); sa != inj.Slot || sb != inj.Slot {
			return fmt.Errorf("injected conflict %v: got slots %q and %q, want %q", inj.IDs, sa, sb, inj.Slot)
		}
		i := slices.IndexFunc(ref.elections, func(e election.Election) bool { return e.ID == inj.Election })
		if i < 0 {
			return fmt.Errorf("injected conflict %v: unknown election %s", inj.IDs, inj.Election)
		}
		res := election.Evaluate(f.facts(ref, ref.elections[i], f.injected[inj.IDs[1]]))
		if res.OneTimeSuccess || res.Outcome(election.D2) != election.Review {
			return fmt.Errorf("injected conflict %v: got one-time success %v, D2 %s; want false, REVIEW", inj.IDs, res.OneTimeSuccess, res.Outcome(election.D2))
		}
	}
	return nil
}

// checkSupervision checks the visits, the problems and their
// rectification, key villages, working groups, training and returned
// members.
func (f *seasonFacts) checkSupervision(d *election.Dataset, figs *Figures) error {
	for _, v := range d.Villages {
		for r, n := range f.visits[v.Code] {
			if n != 1 {
				return fmt.Errorf("village %s: got %d visits in round %d, want 1", v.Code, n, r+1)
			}
			figs.SupervisionVisits++
		}
		if v.KeyVillage {
			if !f.keyVillages[v.Code] {
				return fmt.Errorf("key village %s: no first secretary recorded", v.Code)
			}
			figs.KeyVillages++
		}
	}
	for _, id := range slices.Sorted(maps.Keys(f.problems)) {
		for _, ev := range f.events[id] {
			if f.eventAt[ev.ID].Before(f.at[id].Add(minLead)) {
				return fmt.Errorf("rectification %s comes less than %v after problem %s", ev.ID, minLead, id)
			}
		}
		status, contradictions := election.RectificationStatus(f.events[id])
		if len(contradictions) > 0 {
			return fmt.Errorf("problem %s: %s", id, contradictions[0].MessageEN)
		}
		if status != election.RectificationVerified {
			return fmt.Errorf("problem %s: got status %s, want %s", id, status, election.RectificationVerified)
		}
		switch f.problems[id].Source {
		case election.SourceVisit:
			figs.ProblemsFound++
			figs.ProblemsRectified++
			figs.ProblemsVerified++
		case election.SourceInspection:
			figs.InspectionFound++
			figs.InspectionRectified++
		}
	}
	for p := range f.events {
		if _, ok := f.problems[p]; !ok {
			return fmt.Errorf("rectification of unknown problem %s", p)
		}
	}
	for _, members := range f.groups {
		figs.WorkingGroups++
		figs.WorkingGroupStaff += members
	}
	for _, t := range f.training {
		figs.TrainingSessions++
		figs.TrainingAttendance += t.Attendance
	}
	figs.ReturnedMembers = f.returned
	return nil
}

// checkTotals compares figs with the county's figures (SPEC §1).
func checkTotals(figs Figures) error {
	want := []struct {
		name      string
		got, want int
	}{
		{"villages held on time", figs.HeldOnTime, figs.Villages},
		{"one-time successes", figs.OneTimeSuccess, figs.Villages},
		{"members elected", figs.MembersElected, election.DongliaoMembers},
		{"sum of ages", figs.AgeSum, election.DongliaoAgeSum},
		{"college or above", figs.College, election.DongliaoCollege},
		{"supervision visits", figs.SupervisionVisits, supervisionRounds * figs.Villages},
		{"problems found on visits", figs.ProblemsFound, visitProblems},
		{"problems verified", figs.ProblemsVerified, visitProblems},
		{"inspection problems", figs.InspectionFound, inspectionProblems},
		{"inspection problems rectified", figs.InspectionRectified, inspectionProblems},
		{"key villages", figs.KeyVillages, keyVillages},
		{"working groups", figs.WorkingGroups, keyVillages},
		{"working group staff", figs.WorkingGroupStaff, keyVillages * workingGroupStaff},
		{"training sessions", figs.TrainingSessions, trainingSessions},
		{"training attendance", figs.TrainingAttendance, trainingAttendance},
		{"returned members", figs.ReturnedMembers, returnedMembers},
	}
	for _, w := range want {
		if w.got != w.want {
			return fmt.Errorf("%s: got %d, want %d", w.name, w.got, w.want)
		}
	}
	return nil
}
