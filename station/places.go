package station

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	client "villagesync/client-sdk"
	"villagesync/election"
)

// villageRef is a village of the synced reference data.
type villageRef struct {
	Code, Township, Name string
	KeyVillage           bool
}

// places names the county, townships and villages the device holds, by
// code, from the synced reference data.
type places struct {
	villages []villageRef // by code
	names    map[string]string
}

// places reads the reference data of places the device holds.
func (u *UI) places(ctx context.Context) (*places, error) {
	pl := &places{names: make(map[string]string)}
	for _, coll := range []string{"county", "township", "village"} {
		recs, err := u.d.List(ctx, coll)
		if err != nil {
			return nil, fmt.Errorf("read %s records: %w", coll, err)
		}
		for _, rec := range recs {
			var b struct {
				Name       string `json:"name"`
				Township   string `json:"township"`
				KeyVillage bool   `json:"key_village"`
			}
			if err := json.Unmarshal(rec.Body, &b); err != nil {
				return nil, fmt.Errorf("read %s %s: %w", coll, rec.ID, err)
			}
			pl.names[rec.ID] = b.Name
			if coll == "village" {
				pl.villages = append(pl.villages, villageRef{Code: rec.ID, Township: b.Township, Name: b.Name, KeyVillage: b.KeyVillage})
			}
		}
	}
	slices.SortFunc(pl.villages, func(a, b villageRef) int { return cmp.Compare(a.Code, b.Code) })
	return pl, nil
}

// name returns the name of a place code, "" if the device holds none.
func (pl *places) name(code string) string { return pl.names[code] }

// label names a place for a person: "name (code)", or the code alone.
func (pl *places) label(code string) string {
	if n := pl.name(code); n != "" {
		return n + " (" + code + ")"
	}
	return code
}

// villagesOf returns the villages of a township.
func (pl *places) villagesOf(township string) []villageRef {
	var out []villageRef
	for _, v := range pl.villages {
		if v.Township == township {
			out = append(out, v)
		}
	}
	return out
}

// option is one choice of a select.
type option struct {
	Value, Label string
}

// held is a record the device holds with its decoded body.
type held[T any] struct {
	Rec client.Record
	V   T
}

// listDecoded returns the records of a collection the device holds, each
// with its body decoded.
func listDecoded[T any](ctx context.Context, d *client.Device, collection string, decode func([]byte) (T, error)) ([]held[T], error) {
	recs, err := d.List(ctx, collection)
	if err != nil {
		return nil, fmt.Errorf("read %s records: %w", collection, err)
	}
	out := make([]held[T], 0, len(recs))
	for _, rec := range recs {
		v, err := decode(rec.Body)
		if err != nil {
			return nil, fmt.Errorf("read %s %s: %w", collection, rec.ID, err)
		}
		out = append(out, held[T]{Rec: rec, V: v})
	}
	return out, nil
}

// decodeJSON decodes a body into a T with encoding/json, for the bodies
// the election package has no decoder for.
func decodeJSON[T any](body []byte) (T, error) {
	var v T
	err := json.Unmarshal(body, &v)
	return v, err
}

// candidateView is a candidate of an election.
type candidateView struct {
	ID        string
	Name      string // the id when the device holds no candidate record
	BirthYear int
	Sex       string
	Education string
	Known     bool // the device holds the candidate record
}

// electionView is an election of the station's village with its synced
// candidates and roll.
type electionView struct {
	election.Election
	Candidates []candidateView // in ballot order
	Roll       *election.RollCount
}

// candidate returns the candidate id, if the election lists it.
func (e *electionView) candidate(id string) (candidateView, bool) {
	for _, c := range e.Candidates {
		if c.ID == id {
			return c, true
		}
	}
	return candidateView{}, false
}

// elections returns the elections of the station's village the device
// holds, by id (so the Party committee's comes before the villagers').
func (u *UI) elections(ctx context.Context) ([]electionView, error) {
	els, err := listDecoded(ctx, u.d, "election", election.DecodeElection)
	if err != nil {
		return nil, err
	}
	cands, err := listDecoded(ctx, u.d, "candidate", election.DecodeCandidate)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]election.Candidate, len(cands))
	for _, c := range cands {
		byID[c.Rec.ID] = c.V
	}
	rolls, err := listDecoded(ctx, u.d, "roll_count", election.DecodeRollCount)
	if err != nil {
		return nil, err
	}
	village := u.d.Scope().Code
	var out []electionView
	for _, e := range els {
		ev := electionView{Election: e.V}
		ev.ID = e.Rec.ID
		if ev.Village != village {
			continue
		}
		for _, id := range ev.Election.Candidates {
			c, ok := byID[id]
			cv := candidateView{ID: id, Name: id, Known: ok}
			if ok {
				cv.Name, cv.BirthYear, cv.Sex, cv.Education = c.Name, c.BirthYear, c.Sex, c.Education
			}
			ev.Candidates = append(ev.Candidates, cv)
		}
		for _, rc := range rolls {
			if rc.V.Election == ev.ID {
				roll := rc.V
				ev.Roll = &roll
				break
			}
		}
		out = append(out, ev)
	}
	return out, nil
}

// electionFor returns the election id names among els, or the first when
// id is "". It refuses an id the station holds no election for.
func electionFor(els []electionView, id string) (*electionView, error) {
	if len(els) == 0 {
		return nil, nil
	}
	if id == "" {
		return &els[0], nil
	}
	for i := range els {
		if els[i].ID == id {
			return &els[i], nil
		}
	}
	return nil, errNoElection
}

// villageOfElection returns the village of an election id
// (<village>-PC, <village>-VC), "" if it does not have that shape.
func villageOfElection(id string) string {
	v, _, ok := strings.Cut(id, "-")
	if !ok || election.TownshipOf(v) == "" {
		return ""
	}
	return v
}

// noResolver answers the election rules' questions about other records
// with "unknown": the checks a page re-runs on a held record
// (election.Warnings) need none today.
type noResolver struct{}

// Place implements election.Resolver.
func (noResolver) Place(string, string) (election.Place, bool) { return election.Place{}, false }

var _ election.Resolver = noResolver{}

// newID returns a fresh random id: 128 bits as 26 base32 characters.
func newID() string { return rand.Text() }
