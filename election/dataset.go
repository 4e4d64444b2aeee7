package election

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
)

// Township is a township (乡镇) of a county.
type Township struct {
	Code, Name, Pinyin string
	AltNames           []string // other spellings in use, such as 金洲乡 for 金州乡
}

// Village is an administrative village (行政村).
type Village struct {
	Code, Township, Name string
	KeyVillage           bool // 重点村, with a stationed first secretary
}

// Election is one election in one village.
type Election struct {
	ID, Village, Type string
	Seats             int
	Date              string // YYYY-MM-DD
	Status            string
	Candidates        []string // candidate ids in ballot order
}

// Candidate is a pseudonymous candidate: no real name, no ID number.
type Candidate struct {
	ID, Election, Name string
	BirthYear          int
	Sex, Education     string
	PartyStatus        string
}

// RollCount is the voter roll of an election: full members (正式党员),
// approved exclusions, and those eligible to vote. For a villagers'
// committee election it may also list the pseudonymous ids of the
// registered voters (Registrants) and the date the voter list was published
// (PublishedOn, YYYY-MM-DD).
type RollCount struct {
	Election                          string
	FullMembers, Eligible, Exclusions int
	Registrants                       []string
	PublishedOn                       string
}

// Dataset is the reference data of one county.
type Dataset struct {
	County     struct{ Code, Name string }
	Townships  []Township
	Villages   []Village
	Elections  []Election
	Candidates []Candidate
	Rolls      []RollCount
}

// SeedRecord is one reference record ready to store. Body is compact JSON as
// encoding/json.Marshal produces it from a map, so decoding it into a
// map[string]any and marshalling again gives the same bytes.
type SeedRecord struct {
	Collection, ID string
	Place          Place
	Body           []byte
}

// Records returns d as reference records: the county, then townships,
// villages, elections, candidates and roll counts, each in d's order. Every
// village body carries "synthetic": true, since no dataset of this package
// describes real villages. A roll count's id is its election's id.
func (d *Dataset) Records() []SeedRecord {
	n := 1 + len(d.Townships) + len(d.Villages) + len(d.Elections) + len(d.Candidates) + len(d.Rolls)
	recs := make([]SeedRecord, 0, n)
	add := func(collection, id string, p Place, body map[string]any) {
		b, err := json.Marshal(body)
		if err != nil {
			// Bodies hold only strings, ints, bools and string slices.
			panic(fmt.Sprintf("election: marshal %s %s: %v", collection, id, err))
		}
		recs = append(recs, SeedRecord{Collection: collection, ID: id, Place: p, Body: b})
	}

	add("county", d.County.Code, Place{}, map[string]any{
		"id":   d.County.Code,
		"name": d.County.Name,
	})
	for _, t := range d.Townships {
		add("township", t.Code, Place{Township: t.Code}, map[string]any{
			"id":        t.Code,
			"name":      t.Name,
			"pinyin":    t.Pinyin,
			"alt_names": nonNil(t.AltNames),
		})
	}
	for _, v := range d.Villages {
		add("village", v.Code, villagePlaceOf(v.Code), map[string]any{
			"id":          v.Code,
			"township":    v.Township,
			"name":        v.Name,
			"key_village": v.KeyVillage,
			"synthetic":   true,
		})
	}
	for _, e := range d.Elections {
		add("election", e.ID, villagePlaceOf(e.Village), map[string]any{
			"id":         e.ID,
			"village":    e.Village,
			"type":       e.Type,
			"seats":      e.Seats,
			"date":       e.Date,
			"status":     e.Status,
			"candidates": nonNil(e.Candidates),
		})
	}
	village := make(map[string]string, len(d.Elections)) // election id → village
	for _, e := range d.Elections {
		village[e.ID] = e.Village
	}
	for _, c := range d.Candidates {
		add("candidate", c.ID, villagePlaceOf(village[c.Election]), map[string]any{
			"id":           c.ID,
			"election":     c.Election,
			"name":         c.Name,
			"birth_year":   c.BirthYear,
			"sex":          c.Sex,
			"education":    c.Education,
			"party_status": c.PartyStatus,
		})
	}
	for _, rc := range d.Rolls {
		add("roll_count", rc.Election, villagePlaceOf(village[rc.Election]), map[string]any{
			"id":           rc.Election,
			"election":     rc.Election,
			"full_members": rc.FullMembers,
			"eligible":     rc.Eligible,
			"exclusions":   rc.Exclusions,
		})
	}
	return recs
}

// nonNil makes a nil slice marshal as [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// The Dongliao model (SPEC §1, research/domain.md §2 and §5).
const (
	DongliaoCode = "220422"
	DongliaoName = "东辽县"

	// DongliaoElectionYear is the year of the seeded elections; a
	// candidate's age is this year minus their birth year.
	DongliaoElectionYear = 2026
	// DongliaoMembers is the number of committee seats in the county.
	DongliaoMembers = 782
	// DongliaoAgeSum is the sum of the ages of the seeded winners (mean 43.4).
	DongliaoAgeSum = 33939
	// DongliaoCollege is how many seeded winners are college-or-above (25.4%).
	DongliaoCollege = 199
)

// dongliaoTownships are the 13 real townships with their NBS codes, and the
// synthetic number of villages given to each (235 in all).
var dongliaoTownships = []struct {
	code, name, pinyin string
	altNames           []string
	villages           int
}{
	{"220422100", "白泉镇", "Báiquán Zhèn", nil, 24},
	{"220422101", "渭津镇", "Wèijīn Zhèn", nil, 20},
	{"220422102", "安石镇", "Ānshí Zhèn", nil, 20},
	{"220422103", "辽河源镇", "Liáohéyuán Zhèn", nil, 19},
	{"220422104", "泉太镇", "Quántài Zhèn", nil, 19},
	{"220422105", "建安镇", "Jiàn'ān Zhèn", nil, 20},
	{"220422106", "安恕镇", "Ānshù Zhèn", nil, 19},
	{"220422107", "平岗镇", "Pínggǎng Zhèn", nil, 18},
	{"220422108", "云顶镇", "Yúndǐng Zhèn", nil, 19},
	{"220422200", "凌云乡", "Língyún Xiāng", nil, 16},
	{"220422201", "甲山乡", "Jiǎshān Xiāng", nil, 13},
	{"220422202", "足民乡", "Zúmín Xiāng", nil, 16},
	{"220422203", "金州乡", "Jīnzhōu Xiāng", []string{"金洲乡"}, 12},
}

// dongliaoKeyVillages are the 8 key villages (重点村).
var dongliaoKeyVillages = []string{
	"220422100210", // 白泉镇
	"220422101203", // 渭津镇
	"220422103204", // 辽河源镇
	"220422105207", // 建安镇
	"220422107211", // 平岗镇
	"220422200205", // 凌云乡
	"220422201206", // 甲山乡
	"220422203203", // 金州乡
}

// Village names pair a plant with a crafted object, so that they read as
// invented rather than as any real place: 20 × 18 = 360 distinct names.
var (
	nameFirst  = []rune("琥珀萤蕨鹭笙翎玑琮箬蓼荇苋莼蘅芷蘩菡檗榧")
	nameSecond = []rune("砚羚螺笛簪棂盏缨铎珩琚蓑篆筝檐笺钿磬")
)

// villageName returns the i-th synthetic village name. Stepping through the
// 360 pairs by 97, which is coprime to 360, gives distinct names for i < 360
// and scatters neighbouring villages across the syllable lists.
func villageName(i int) string {
	j := (i * 97) % (len(nameFirst) * len(nameSecond))
	return string([]rune{nameFirst[j/len(nameSecond)], nameSecond[j%len(nameSecond)]}) + "村"
}

// Candidate pseudonyms are a surname, 某 ("a certain") and a ballot ordinal:
// 王某甲, 李某乙. Nobody can take them for a real person.
var (
	surnames  = []rune("王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
	ordinals  = []rune("甲乙丙丁戊己庚辛壬癸")
	seatsPlan = []struct{ seats, villages int }{{5, 38}, {4, 1}, {3, 196}} // 782 seats
)

// Dongliao returns the model county, 东辽县 (220422): its 13 real townships
// and a synthetic, deterministic set of 235 villages, each with one locked
// Party-committee election on 7 or 8 March 2026, its candidates and its roll.
//
// Seats follow 38×5 + 1×4 + 196×3 = 782, the larger committees going to the
// villages with the most full members. Each election has the fewest
// candidates rule P2 allows (seats + 1). The first Seats candidates of every
// election are drawn so that, if they are the ones elected, the 782 members
// have ages summing to [DongliaoAgeSum] (mean 43.4) and exactly
// [DongliaoCollege] of them are college-or-above, as the county reported; the
// last candidate is a runner-up with a wider spread.
//
// Every call returns a new Dataset with identical contents.
func Dongliao() *Dataset {
	rng := rand.New(rand.NewPCG(0x220422, 20260307))
	d := &Dataset{}
	d.County.Code = DongliaoCode
	d.County.Name = DongliaoName

	for _, t := range dongliaoTownships {
		d.Townships = append(d.Townships, Township{
			Code:     t.code,
			Name:     t.name,
			Pinyin:   t.pinyin,
			AltNames: slices.Clone(t.altNames),
		})
		for k := 1; k <= t.villages; k++ {
			code := t.code + strconv.Itoa(200+k)
			d.Villages = append(d.Villages, Village{
				Code:       code,
				Township:   t.code,
				Name:       villageName(len(d.Villages)),
				KeyVillage: slices.Contains(dongliaoKeyVillages, code),
			})
		}
	}

	for _, v := range d.Villages {
		full := 25 + rng.IntN(66) // 25–90
		excl := rng.IntN(4)       // 0–3
		d.Rolls = append(d.Rolls, RollCount{
			Election:    v.Code + "-PC",
			FullMembers: full,
			Eligible:    full - excl,
			Exclusions:  excl,
		})
	}

	// Larger committees for the villages with more full members.
	bySize := make([]int, len(d.Villages))
	for i := range bySize {
		bySize[i] = i
	}
	slices.SortStableFunc(bySize, func(a, b int) int {
		return cmp.Compare(d.Rolls[b].FullMembers, d.Rolls[a].FullMembers)
	})
	seats := make([]int, len(d.Villages))
	next := 0
	for _, p := range seatsPlan {
		for range p.villages {
			seats[bySize[next]] = p.seats
			next++
		}
	}

	dates := []string{"2026-03-07", "2026-03-08"}
	for i, v := range d.Villages {
		e := Election{
			ID:      v.Code + "-PC",
			Village: v.Code,
			Type:    TypePartyCommittee,
			Seats:   seats[i],
			Date:    dates[i%len(dates)],
			Status:  StatusLocked,
		}
		for n := 1; n <= e.Seats+1; n++ {
			e.Candidates = append(e.Candidates, e.ID+"-C"+strconv.Itoa(n))
		}
		d.Elections = append(d.Elections, e)
	}

	d.Candidates = dongliaoCandidates(rng, d.Elections)
	return d
}

// dongliaoCandidates draws the candidates of elections; see [Dongliao].
func dongliaoCandidates(rng *rand.Rand, elections []Election) []Candidate {
	var winners, total int
	for _, e := range elections {
		winners += e.Seats
		total += len(e.Candidates)
	}
	ages := winnerAges(rng, winners)
	college := make([]bool, winners)
	for _, w := range rng.Perm(winners)[:DongliaoCollege] {
		college[w] = true
	}

	cands := make([]Candidate, 0, total)
	w := 0 // index of the next winner
	for _, e := range elections {
		for n, id := range e.Candidates {
			c := Candidate{
				ID:          id,
				Election:    e.ID,
				Name:        string([]rune{surnames[rng.IntN(len(surnames))], '某', ordinals[n]}),
				Sex:         SexMale,
				PartyStatus: PartyFullMember,
			}
			if rng.IntN(4) == 0 {
				c.Sex = SexFemale
			}
			if n < e.Seats {
				c.BirthYear = DongliaoElectionYear - ages[w]
				c.Education = winnerEducation(rng, college[w])
				w++
			} else {
				c.BirthYear = DongliaoElectionYear - (25 + rng.IntN(41)) // 25–65
				c.Education = educations[rng.IntN(len(educations))]
			}
			cands = append(cands, c)
		}
	}
	return cands
}

// winnerAges draws n ages between 28 and 60 whose sum is DongliaoAgeSum.
func winnerAges(rng *rand.Rand, n int) []int {
	const lo, hi = 28, 60
	ages := make([]int, n)
	sum := 0
	for i := range ages {
		ages[i] = 30 + rng.IntN(28) // 30–57
		sum += ages[i]
	}
	// Nudge ages by one year, round robin, until the sum is exact.
	for i := 0; sum != DongliaoAgeSum; i = (i + 1) % n {
		switch {
		case sum < DongliaoAgeSum && ages[i] < hi:
			ages[i]++
			sum++
		case sum > DongliaoAgeSum && ages[i] > lo:
			ages[i]--
			sum--
		}
	}
	return ages
}

func winnerEducation(rng *rand.Rand, college bool) string {
	x := rng.IntN(20)
	switch {
	case college && x == 0:
		return EducationPostgraduate
	case college && x < 8:
		return EducationBachelor
	case college:
		return EducationCollege
	case x < 12:
		return EducationSeniorHigh
	default:
		return EducationJuniorHigh
	}
}
