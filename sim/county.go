package sim

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	client "villagesync/client-sdk"
	"villagesync/election"
	"villagesync/server"
	"villagesync/syncproto"
)

// County plays a whole season through a real server and one real device
// (client-sdk, its own SQLite file) per station laptop, supervisor team and
// the county office, over links with per-device profiles: good township
// Wi-Fi, lossy 2G, laptops offline for days, villages with no link whose
// data a supervisor carries as a bundle, and laptops whose clocks are off by
// days or years. At the end the county resolves the conflicts the season
// injected and reads its report from the server.
type County struct {
	Seed    uint64
	Service *server.Service
	Store   server.Store // the server's store, to audit what arrived
	// Handler delivers requests in process; if nil, requests go over HTTP
	// to URL.
	Handler http.Handler
	URL     string
	// Dir holds the devices' files; it must be empty or absent.
	Dir    string
	Logger *slog.Logger
	// Clock is the simulated time the player advances; the in-process
	// server should read it too. Nil means devices use the real clock
	// (a live server), each with its own skew.
	Clock *SimClock
	// DayPause is waited after each simulated day (live demos).
	DayPause time.Duration
	// Cut names a village whose station loses its link for good after
	// enrollment and whose data nobody carries: what the report shows
	// when a village's data never arrives.
	Cut string
}

// SyncStats is how the season moved, counted by comparing every change
// created on every device with what the server holds.
type SyncStats struct {
	ChangesCreated    int   `json:"changes_created"`
	ChangesOnServer   int   `json:"changes_on_server"`
	Lost              int   `json:"lost"`        // created, not on the server, and no longer pending on its device
	Undelivered       int   `json:"undelivered"` // created, still pending on a device that never reached the server
	Duplicated        int   `json:"duplicated"`
	Unverified        int   `json:"unverified"` // devices whose chain on the server does not verify
	ConflictsInjected int   `json:"conflicts_injected"`
	ConflictsDetected int   `json:"conflicts_detected"`
	ConflictsResolved int   `json:"conflicts_resolved"`
	Relayed           int   `json:"relayed"` // changes carried by supervisors for villages with no link
	BytesUp           int64 `json:"bytes_up"`
	BytesDown         int64 `json:"bytes_down"`
	RoundTrips        int   `json:"round_trips"`
	FailedSyncs       int   `json:"failed_syncs"` // syncs a bad link cut short (retried later)
	Devices           int   `json:"devices"`
}

// Result is a finished season: the server's own county report and how the
// data moved.
type Result struct {
	Report *election.CountyReport `json:"report"`
	Sync   SyncStats              `json:"sync"`
}

// SimClock is a settable clock shared by the simulated devices and server.
type SimClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewSimClock returns a clock at t.
func NewSimClock(t time.Time) *SimClock { return &SimClock{t: t} }

// Now returns the simulated time.
func (c *SimClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock (never backwards).
func (c *SimClock) Set(t time.Time) {
	c.mu.Lock()
	if t.After(c.t) {
		c.t = t
	}
	c.mu.Unlock()
}

// Link profiles.
type profile int

const (
	profileOffice  profile = iota // township Wi-Fi: syncs every day, clean
	profile2G                     // weak 2G: syncs every day through faults
	profileOffline                // offline for days at a time
	profileNoLink                 // no link after enrollment: a supervisor carries its bundles
	profileCut                    // no link after enrollment, and nobody carries its data
)

func (p profile) String() string {
	return [...]string{"office", "2g", "offline", "nolink", "cut"}[p]
}

var faults2G = Faults{DropRequest: 0.08, DropResponse: 0.08, Duplicate: 0.05, Tear: 0.05, Replay: 0.05}

// player is one simulated device.
type player struct {
	script  *DeviceScript
	dev     *client.Device
	link    *Link
	profile profile
	skew    time.Duration
	next    int // index of the next step to capture
	created int
}

// Run plays the season to the end and returns the report.
func (c *County) Run(ctx context.Context) (*Result, error) {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	season, err := GenerateSeason(election.Dongliao(), c.Seed)
	if err != nil {
		return nil, fmt.Errorf("generate season: %w", err)
	}
	rng := rand.New(rand.NewPCG(c.Seed, 0x5eed))
	players, err := c.enrollAll(ctx, season, rng)
	defer func() {
		for _, p := range players {
			_ = p.dev.Close()
		}
	}()
	if err != nil {
		return nil, err
	}
	var st SyncStats
	st.Devices = len(players)
	supervisorOf := map[string]*player{}
	for _, p := range players {
		if p.script.Role == election.RoleSupervisor {
			supervisorOf[p.script.Scope] = p
		}
	}

	owners := map[string]*player{} // record id -> the device that captures it
	for _, p := range players {
		for _, s := range p.script.Steps {
			owners[s.ID] = p
		}
	}
	for _, day := range seasonDays(season) {
		if err := c.playDay(ctx, players, day, owners, supervisorOf, &st); err != nil {
			return nil, err
		}
		if c.DayPause > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(c.DayPause):
			}
		}
	}

	// Links heal; the supervisors collect the last bundles; everyone syncs
	// until nothing moves.
	for _, p := range players {
		p.link.SetFaults(Faults{})
	}
	if err := c.carryBundles(ctx, players, supervisorOf, &st); err != nil {
		return nil, err
	}
	if err := c.syncAll(ctx, players, true, &st); err != nil {
		return nil, err
	}

	// The county reviews the injected double entries and resolves them.
	if err := c.resolveInjected(ctx, season, &st); err != nil {
		return nil, err
	}
	if err := c.syncAll(ctx, players, true, &st); err != nil {
		return nil, err
	}
	if err := c.audit(ctx, players, &st); err != nil {
		return nil, err
	}
	for _, p := range players {
		s := p.link.Stats()
		st.BytesUp += s.BytesUp
		st.BytesDown += s.BytesDown
		st.RoundTrips += s.Requests
	}
	rep, err := c.Service.Report(ctx, countyPrincipal())
	if err != nil {
		return nil, fmt.Errorf("county report: %w", err)
	}
	return &Result{Report: rep, Sync: st}, nil
}

func countyPrincipal() *server.Principal {
	return &server.Principal{Subject: "demo-county-office", Scope: election.Scope{Role: election.RoleCounty, Code: election.DongliaoCode}}
}

// enrollAll enrolls one device per script, assigning link profiles and
// clock skews from the seed.
func (c *County) enrollAll(ctx context.Context, season *Season, rng *rand.Rand) ([]*player, error) {
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("device dir: %w", err)
	}
	// Villages with no link: a few stations with no problems to rectify
	// and no second laptop, so all their data flows one way.
	busy := map[string]bool{}
	for _, inj := range season.Injected {
		busy[inj.Village] = true
	}
	for _, d := range season.Devices {
		for _, s := range d.Steps {
			if s.Collection == "rectification" || s.Collection == "problem" {
				if v := villageOfStep(d, s); v != "" {
					busy[v] = true
				}
			}
		}
	}
	var players []*player
	for i := range season.Devices {
		script := &season.Devices[i]
		p := &player{script: script, profile: profileOffice}
		if script.Role == election.RoleStation && script.Scope == c.Cut {
			p.profile = profileCut
		} else if script.Role == election.RoleStation {
			switch r := rng.IntN(100); {
			case r < 4 && !busy[script.Scope] && len(script.Name) == len("station-")+12:
				p.profile = profileNoLink
			case r < 14:
				p.profile = profileOffline
			case r < 60:
				p.profile = profile2G
			}
			if rng.IntN(100) < 3 {
				// A laptop whose clock is off by days or years.
				p.skew = time.Duration(rng.IntN(2*400)-400) * 24 * time.Hour
			}
		}
		players = append(players, p)
	}
	for i, p := range players {
		if err := c.enroll(ctx, p, uint64(i)); err != nil {
			return players[:i], fmt.Errorf("enroll %s: %w", p.script.Name, err)
		}
		if p.profile == profile2G {
			p.link.SetFaults(faults2G)
		}
	}
	return players, nil
}

func (c *County) enroll(ctx context.Context, p *player, n uint64) error {
	code, _, err := c.Service.CreateEnrollCode(ctx, p.script.Role, p.script.Scope, time.Hour)
	if err != nil {
		return err
	}
	seed := c.Seed*1_000_003 + n
	base := c.URL
	if c.Handler != nil {
		p.link = NewLink(c.Handler, seed, Faults{})
		base = "http://villagesync.sim"
	} else {
		p.link = NewTransportLink(http.DefaultTransport, seed, Faults{})
	}
	skew := p.skew
	now := func() time.Time { return time.Now().Add(skew) }
	if c.Clock != nil {
		now = func() time.Time { return c.Clock.Now().Add(skew) }
	}
	opts := client.Options{
		HTTPClient: &http.Client{Transport: p.link, Timeout: time.Minute},
		Now:        now,
		Logger:     c.Logger,
		Label:      p.script.Name,
		Sleep:      func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
	}
	d, err := client.Enroll(ctx, filepath.Join(c.Dir, p.script.Name), base, code, opts)
	if err != nil {
		return err
	}
	p.dev = d
	// Enrollment happens at the township office: the first sync pulls the
	// reference data of the device's scope.
	if _, err := d.Sync(ctx); err != nil {
		return fmt.Errorf("first sync: %w", err)
	}
	return nil
}

// villageOfStep is the village a station or supervisor step is about, as far
// as the body says.
func villageOfStep(d DeviceScript, s Step) string {
	if d.Role == election.RoleStation {
		return d.Scope
	}
	return jsonField(s.Body, "village")
}

// seasonDays lists the local calendar days with captures, in order.
func seasonDays(s *Season) []time.Time {
	seen := map[time.Time]bool{}
	var days []time.Time
	for _, d := range s.Devices {
		for _, st := range d.Steps {
			y, m, dd := st.At.Date()
			day := time.Date(y, m, dd, 0, 0, 0, 0, st.At.Location())
			if !seen[day] {
				seen[day] = true
				days = append(days, day)
			}
		}
	}
	slices.SortFunc(days, func(a, b time.Time) int { return a.Compare(b) })
	return days
}

// playDay captures every step of one day in time order across the county,
// then syncs the devices whose link is up that day. A step that cites a
// record the device does not hold yet (a rectification of a problem found
// the same morning) waits for it: the author of that record syncs, then the
// device, as a supervisor would on arriving at the village.
func (c *County) playDay(ctx context.Context, players []*player, day time.Time, owners map[string]*player, supervisorOf map[string]*player, st *SyncStats) error {
	end := day.AddDate(0, 0, 1)
	type todo struct {
		p    *player
		step int
	}
	var steps []todo
	for _, p := range players {
		for i := p.next; i < len(p.script.Steps) && p.script.Steps[i].At.Before(end); i++ {
			steps = append(steps, todo{p, i})
		}
	}
	slices.SortStableFunc(steps, func(a, b todo) int {
		return a.p.script.Steps[a.step].At.Compare(b.p.script.Steps[b.step].At)
	})
	busy := map[*player]bool{}
	for _, t := range steps {
		if err := c.capture(ctx, t.p, owners, st); err != nil {
			return err
		}
		busy[t.p] = true
	}
	// Evening: the links that are up carry the day's work. A laptop that
	// recorded nothing today is switched on every third day to catch up.
	offlineToday := day.YearDay()%5 != 0
	for _, p := range players {
		switch {
		case p.profile == profileNoLink || p.profile == profileCut:
		case p.profile == profileOffline && offlineToday:
		case busy[p] || day.YearDay()%3 == 0:
			c.trySync(ctx, p, st)
		}
	}
	// Supervisors visiting villages with no link carry their bundles.
	if day.Weekday() == time.Friday {
		return c.carryBundles(ctx, players, supervisorOf, st)
	}
	return nil
}

// capture captures p's next step, fetching the records it cites first if
// the device does not hold them yet.
func (c *County) capture(ctx context.Context, p *player, owners map[string]*player, st *SyncStats) error {
	s := p.script.Steps[p.next]
	if c.Clock != nil {
		c.Clock.Set(s.At)
	}
	_, err := p.dev.Put(ctx, s.Collection, s.ID, s.Body)
	for attempt := 0; err != nil && waitsForReference(err) && p.profile < profileNoLink && attempt < 8; attempt++ {
		for _, field := range []string{"problem", "after", "sheet"} {
			if o := owners[jsonField(s.Body, field)]; o != nil && o != p {
				c.trySync(ctx, o, st)
			}
		}
		c.trySync(ctx, p, st)
		_, err = p.dev.Put(ctx, s.Collection, s.ID, s.Body)
	}
	if err != nil {
		return fmt.Errorf("%s captures %s/%s: %w", p.script.Name, s.Collection, s.ID, err)
	}
	p.next++
	p.created++
	return nil
}

// waitsForReference reports whether a capture failed only because it cites
// a record the device does not hold yet.
func waitsForReference(err error) bool {
	var pe *syncproto.Error
	return errors.As(err, &pe) && pe.Code == syncproto.CodeMalformedRecord && containsAny(pe.Message, "unknown", "未知")
}

// trySync syncs p; a sync cut short by a bad link is counted, not fatal:
// the next one carries on where it stopped.
func (c *County) trySync(ctx context.Context, p *player, st *SyncStats) {
	if _, err := p.dev.Sync(ctx); err != nil {
		st.FailedSyncs++
		c.Logger.Debug("sync cut short", "device", p.script.Name, "profile", p.profile.String(), "err", err)
	}
}

// carryBundles has each township's supervisor collect the bundles of its
// villages with no link and carry them onward at its next sync.
func (c *County) carryBundles(ctx context.Context, players []*player, supervisorOf map[string]*player, st *SyncStats) error {
	for _, p := range players {
		if p.profile != profileNoLink {
			continue
		}
		b, err := p.dev.Export(ctx)
		if err != nil {
			return fmt.Errorf("%s exports: %w", p.script.Name, err)
		}
		if b == nil {
			continue
		}
		sup := supervisorOf[election.TownshipOf(p.script.Scope)]
		n, err := sup.dev.Import(ctx, b)
		if err != nil {
			return fmt.Errorf("%s imports the bundle of %s: %w", sup.script.Name, p.script.Name, err)
		}
		st.Relayed += n
	}
	return nil
}

// syncAll syncs every linked device twice (so each pulls what the others
// pushed); with must set, a failure is an error.
func (c *County) syncAll(ctx context.Context, players []*player, must bool, st *SyncStats) error {
	for pass := 0; pass < 2; pass++ {
		for _, p := range players {
			if p.profile >= profileNoLink {
				continue
			}
			if _, err := p.dev.Sync(ctx); err != nil {
				if must {
					return fmt.Errorf("%s final sync: %w", p.script.Name, err)
				}
				st.FailedSyncs++
			}
		}
	}
	return nil
}

// resolveInjected finds each injected double entry in the county's review
// queue and resolves it, keeping the sheet matching the signed paper.
func (c *County) resolveInjected(ctx context.Context, season *Season, st *SyncStats) error {
	st.ConflictsInjected = len(season.Injected)
	q, err := c.Service.Review(ctx, countyPrincipal(), "open")
	if err != nil {
		return fmt.Errorf("review queue: %w", err)
	}
	for _, inj := range season.Injected {
		var found *server.ReviewItem
		for i := range q.Items {
			it := &q.Items[i]
			if it.Kind == server.ItemConflict && it.Slot == inj.Slot && slices.Contains(it.Records, inj.IDs[0]) && slices.Contains(it.Records, inj.IDs[1]) {
				found = it
				break
			}
		}
		if found == nil {
			continue
		}
		st.ConflictsDetected++
		keep := ""
		for _, v := range found.Versions {
			if v.ID == inj.IDs[0] {
				keep = v.Ref
			}
		}
		_, err := c.Service.Resolve(ctx, countyPrincipal(), found.ID, server.ResolveRequest{
			Keep:   keep,
			Reason: "重复录入：保留与签字纸质计票单一致的版本 (double entry: kept the version matching the signed paper sheet)",
		})
		if err != nil {
			return fmt.Errorf("resolve %s: %w", found.ID, err)
		}
		st.ConflictsResolved++
	}
	return nil
}

// audit compares every change created on every device with what the
// server holds: each must be there exactly once, byte for byte.
func (c *County) audit(ctx context.Context, players []*player, st *SyncStats) error {
	created := map[string]int{}
	pending := map[string]int{} // device -> first seq still pending on it (0: none)
	for _, p := range players {
		stt, err := p.dev.Status(ctx)
		if err != nil {
			return err
		}
		created[stt.Device] = int(stt.LastSeq)
		st.ChangesCreated += p.created
		if stt.Pending > 0 && p.profile == profileCut {
			pending[stt.Device] = int(stt.LastSeq) - stt.Pending + 1
		}
	}
	held := map[string]map[uint64]int{}
	chains := map[string][]syncproto.Change{}
	county := election.Scope{Role: election.RoleCounty, Code: election.DongliaoCode}
	var after uint64
	for {
		page, next, more, err := c.Store.Pull(ctx, county, after, syncproto.MaxPullBytes, "")
		if err != nil {
			return fmt.Errorf("audit pull: %w", err)
		}
		for _, ch := range page {
			if _, ok := created[ch.Device]; !ok {
				continue // the county authority's reference data and resolutions
			}
			if held[ch.Device] == nil {
				held[ch.Device] = map[uint64]int{}
			}
			held[ch.Device][ch.Seq]++
			chains[ch.Device] = append(chains[ch.Device], ch)
			st.ChangesOnServer++
		}
		after = next
		if !more {
			break
		}
	}
	for dev, chain := range chains {
		slices.SortFunc(chain, func(a, b syncproto.Change) int { return cmp.Compare(a.Seq, b.Seq) })
		d, err := c.Store.Device(ctx, dev)
		if err != nil {
			return fmt.Errorf("audit device %s: %w", dev, err)
		}
		// Signed by the device, unbroken from seq 1: byte for byte what it
		// captured.
		if _, err := syncproto.VerifyRun(ed25519.PublicKey(d.PublicKey), chain); err != nil {
			st.Unverified++
			c.Logger.Error("chain on the server does not verify", "device", dev, "err", err)
		}
	}
	for dev, n := range created {
		for seq := uint64(1); seq <= uint64(n); seq++ {
			switch held[dev][seq] {
			case 0:
				if first := pending[dev]; first > 0 && int(seq) >= first {
					st.Undelivered++ // still on the laptop, waiting for a link
				} else {
					st.Lost++
				}
			case 1:
			default:
				st.Duplicated += held[dev][seq] - 1
			}
		}
		for seq := range held[dev] {
			if seq > uint64(n) {
				st.Duplicated++ // the server holds a change the device never made
			}
		}
	}
	return nil
}

// jsonField returns a top-level string field of a JSON object, or "".
func jsonField(body []byte, name string) string {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	s, _ := m[name].(string)
	return s
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
