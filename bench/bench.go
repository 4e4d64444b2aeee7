package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"villagesync/election"
	"villagesync/server/httpapi"
	"villagesync/sim"
)

// The SPEC §9 targets.
const (
	BytesZstdLimit      = 1.5    // bytes on the wire ≤ 1.5 × zstd of the records
	BytesCouchDBLimit   = 0.2    // ≤ 1/5 of CouchDB replication
	RoundTripsLimit     = 1      // HTTP requests per sync with a valid token
	ShapedLinkLimit     = 1.3    // elapsed ≤ 1.3 × (round trips × RTT + bytes ÷ bandwidth)
	IngestTarget        = 50_000 // signed changes/s, 200 devices, durable commits
	PushP99LimitMS      = 250    // p99 push latency at that load
	CaptureP99LimitMS   = 2      // a ballot durable, p99
	StationRSSLimitMB   = 80     // the station process's memory
	defaultSeed         = 7
	ingestTargetDevices = 200
)

// Options size a run. Zero fields take the full run's sizes, or the quick
// run's when Quick is set.
type Options struct {
	// Quick runs every measurement smaller: seconds instead of minutes,
	// for CI. The figures are noisier, not different in kind.
	Quick bool
	// Dir is where the servers and devices keep their files, on the disk
	// whose durable commits are measured; a fresh subdirectory is made in
	// it and kept. "" means a temporary directory, removed at the end.
	Dir string
	// Seed is the season package sim generates (default 7).
	Seed uint64
	// Devices push concurrently in the ingest run (200; quick 20), each
	// Batch changes per push (100), SaturationBatches pushes each in the
	// saturation run (10; quick 5); the paced run lasts about PacedFor
	// (20 s; quick 2 s).
	Devices           int
	Batch             int
	SaturationBatches int
	PacedFor          time.Duration
	// ShapedStations play their election day over the 2G link (50;
	// quick 3).
	ShapedStations int
	// Captures is how many ballots the capture latency is measured on
	// (2000; quick 200).
	Captures int
	// StationCommand starts the station process whose memory is measured
	// (program and arguments): it must run StationChild, reading its job
	// on stdin. `villagesync bench station-child` does; a test binary
	// whose TestMain checks StationChildEnv does. Required.
	StationCommand []string
	// Progress receives a line as each measurement ends; nil = none.
	Progress io.Writer
	// Logger receives the servers' and devices' logs; nil = none.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	type sizes struct {
		devices, batch, saturation, shaped, captures int
		paced                                        time.Duration
	}
	d := sizes{devices: ingestTargetDevices, batch: 100, saturation: 10, shaped: 50, captures: 2000, paced: 20 * time.Second}
	if o.Quick {
		d = sizes{devices: 20, batch: 100, saturation: 5, shaped: 3, captures: 200, paced: 2 * time.Second}
	}
	fill := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	fill(&o.Devices, d.devices)
	fill(&o.Batch, d.batch)
	fill(&o.SaturationBatches, d.saturation)
	fill(&o.ShapedStations, d.shaped)
	fill(&o.Captures, d.captures)
	if o.PacedFor <= 0 {
		o.PacedFor = d.paced
	}
	if o.Seed == 0 {
		o.Seed = defaultSeed
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}

// Result is a run's figures: the SPEC §9 keys at the top level (what
// `villagesync bench --json` prints), each also in Figures with its target,
// its ratio to it and its verdict, and the raw measurements that explain
// them.
type Result struct {
	BytesRatioZstd       float64 `json:"bytes_ratio_zstd"`
	BytesRatioCouchDB    float64 `json:"bytes_ratio_couchdb"`
	RoundTripsPerSync    float64 `json:"round_trips_per_sync"`
	ShapedLinkRatio      float64 `json:"shaped_link_ratio"`
	IngestChangesPerS    float64 `json:"ingest_changes_per_s"`
	IngestRatioRawSQLite float64 `json:"ingest_ratio_raw_sqlite"`
	PushP99MS            float64 `json:"push_p99_ms"`
	CaptureP99MS         float64 `json:"capture_p99_ms"`
	StationRSSMB         float64 `json:"station_rss_mb"`

	Figures []Figure `json:"figures"`

	Bytes   *BytesResult   `json:"bytes"`
	Shaped  *ShapedResult  `json:"shaped_link"`
	Ingest  *IngestResult  `json:"ingest"`
	Capture *CaptureResult `json:"capture"`
	Station *StationResult `json:"station"`
	Run     RunInfo        `json:"run"`
}

// Verdicts of a Figure.
const (
	Pass = "PASS"
	Fail = "FAIL"
	Info = "INFO" // compared with a baseline, not a limit
)

// Figure is one SPEC §9 figure against its target.
type Figure struct {
	Key   string  `json:"key"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
	// Limit is the SPEC's bound (0 for a baseline comparison); Max says
	// whether it is an upper bound (value ≤ limit) or a lower one.
	Limit float64 `json:"limit,omitempty"`
	Max   bool    `json:"max"`
	// Target says the bound, or the baseline, in words.
	Target string `json:"target"`
	// Ratio is Value / Limit; for a baseline figure, Value itself (ours
	// over the baseline's).
	Ratio   float64 `json:"ratio"`
	Verdict string  `json:"verdict"`
	// Note qualifies the verdict where the figure alone would mislead.
	Note string `json:"note,omitempty"`
}

// RunInfo says where and how the figures were measured.
type RunInfo struct {
	Quick bool   `json:"quick"`
	Seed  uint64 `json:"seed"`
	// The sizes the run used (Options after defaults).
	Devices           int     `json:"devices"`
	Batch             int     `json:"batch"`
	SaturationBatches int     `json:"saturation_batches"`
	PacedForS         float64 `json:"paced_for_s"`
	ShapedStations    int     `json:"shaped_stations"`
	Captures          int     `json:"captures"`

	Dir        string  `json:"dir"`
	Kept       bool    `json:"kept"`        // Dir is left for inspection (Options.Dir was set)
	MemoryDisk bool    `json:"memory_disk"` // Dir is on tmpfs: durable commits cost nothing there
	GOMAXPROCS int     `json:"gomaxprocs"`
	NumCPU     int     `json:"num_cpu"`
	GoVersion  string  `json:"go_version"`
	ElapsedS   float64 `json:"elapsed_s"`
}

// Run measures every SPEC §9 figure and returns them. It fails only if a
// measurement cannot be made (a sync refused, a figure without a
// denominator), never because a figure misses its target.
func Run(ctx context.Context, opts Options) (*Result, error) {
	opts = opts.withDefaults()
	if len(opts.StationCommand) == 0 {
		return nil, errors.New("bench: Options.StationCommand is required: it starts the station process whose memory is measured")
	}
	started := time.Now()
	progress := func(format string, args ...any) {
		fmt.Fprintf(opts.Progress, "bench: "+format+"\n", args...)
	}
	dir, cleanup, err := workDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	res := &Result{Run: RunInfo{
		Quick: opts.Quick, Seed: opts.Seed,
		Devices: opts.Devices, Batch: opts.Batch, SaturationBatches: opts.SaturationBatches,
		PacedForS: opts.PacedFor.Seconds(), ShapedStations: opts.ShapedStations, Captures: opts.Captures,
		Dir: dir, Kept: opts.Dir != "", MemoryDisk: memoryBacked(dir),
		GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(), GoVersion: runtime.Version(),
	}}
	if res.Run.MemoryDisk {
		progress("warning: %s is on tmpfs: durable commits cost nothing there; use --dir on a real disk", dir)
	}

	season, err := sim.GenerateSeason(election.Dongliao(), opts.Seed)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	days, err := electionDays(season)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if len(days) < 3 {
		return nil, fmt.Errorf("bench: the season has %d election days, want at least 3", len(days))
	}
	ss, err := newServers(ctx, dir, opts.Logger)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	progress("season %d generated, reference data seeded (%s)", opts.Seed, time.Since(started).Round(time.Millisecond))

	if err := stationFigures(ctx, ss, days, opts, res, progress); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if res.Shaped, err = measureShaped(ctx, ss, days[:min(opts.ShapedStations, len(days))], profile2G, opts.Seed); err != nil {
		return nil, fmt.Errorf("bench: shaped link: %w", err)
	}
	progress("shaped link: %d station days over %s: %.1f s for an ideal %.1f s (×%.2f)",
		res.Shaped.Stations, res.Shaped.Link, res.Shaped.ElapsedS, res.Shaped.IdealS, res.Shaped.Ratio)
	err = withServer(ctx, ss, "ingest", ingestLimits(), func(srv *testServer) error {
		res.Ingest, err = measureIngest(ctx, srv, opts, progress)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bench: ingest: %w", err)
	}
	progress("ingest: paced p99 %.0f ms at %.0f changes/s offered", res.Ingest.PacedP99MS, res.Ingest.PacedLoad)

	if err := res.figures(); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	res.Run.ElapsedS = time.Since(started).Seconds()
	return res, nil
}

// stationFigures measures the bytes and round trips of a station's day, the
// station process's memory and the capture latency.
func stationFigures(ctx context.Context, ss *servers, days []stationDay, opts Options, res *Result, progress func(string, ...any)) error {
	var err error
	if res.Bytes, err = measureBytes(ctx, ss, days[0]); err != nil {
		return fmt.Errorf("bytes: %w", err)
	}
	b := res.Bytes
	progress("bytes: station %s's election day, %d records in %d syncs: %d B on the wire, %d B zstd, %d B CouchDB; in one sync %d B for %d B zstd",
		b.Village, b.Records, len(b.Syncs), b.WireBytes, b.ZstdBytes, b.CouchDBBytes, b.OneSync.WireBytes, b.OneSync.ZstdBytes)
	return withServer(ctx, ss, "station", httpapi.SharedAddress(), func(srv *testServer) error {
		var err error
		if res.Station, err = measureStation(ctx, srv, days[1], opts.StationCommand, filepath.Join(srv.dir, "station-process")); err != nil {
			return fmt.Errorf("station process: %w", err)
		}
		progress("station: %s's day in its own process: peak RSS %.1f MB", res.Station.Village, res.Station.PeakRSSMB)

		e, ok := lookupElection(days[2].Election)
		if !ok {
			return fmt.Errorf("capture: election %q is not in the county's reference data", days[2].Election)
		}
		if res.Capture, err = measureCapture(ctx, srv, e, opts.Captures, filepath.Join(srv.dir, "capture-device")); err != nil {
			return fmt.Errorf("capture: %w", err)
		}
		progress("capture: %d ballots, p50 %.2f ms, p99 %.2f ms", res.Capture.Captures, res.Capture.P50MS, res.Capture.P99MS)
		return nil
	})
}

// withServer starts a fresh server named name on the real clock, runs fn
// with it and stops it.
func withServer(ctx context.Context, ss *servers, name string, limits httpapi.RateLimits, fn func(*testServer) error) error {
	return withClockServer(ctx, ss, name, limits, nil, fn)
}

// withClockServer is withServer on the clock now.
func withClockServer(ctx context.Context, ss *servers, name string, limits httpapi.RateLimits, now func() time.Time, fn func(*testServer) error) (err error) {
	srv, err := ss.start(ctx, name, limits, now)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := srv.close(); cerr != nil && err == nil {
			err = fmt.Errorf("stop server: %w", cerr)
		}
	}()
	return fn(srv)
}

// lookupElection finds an election of the county's reference data.
func lookupElection(id string) (election.Election, bool) {
	es := election.Dongliao().Elections
	i := slices.IndexFunc(es, func(e election.Election) bool { return e.ID == id })
	if i < 0 {
		return election.Election{}, false
	}
	return es[i], true
}

// workDir returns the run's directory and what removes it.
func workDir(parent string) (string, func(), error) {
	if parent == "" {
		dir, err := os.MkdirTemp("", "villagesync-bench-")
		if err != nil {
			return "", nil, fmt.Errorf("bench: %w", err)
		}
		return dir, func() { _ = os.RemoveAll(dir) }, nil
	}
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", nil, fmt.Errorf("bench: %w", err)
	}
	dir, err := os.MkdirTemp(parent, "run-")
	if err != nil {
		return "", nil, fmt.Errorf("bench: %w", err)
	}
	return dir, func() {}, nil
}

// figures derives the SPEC keys and Figures from the raw results.
func (r *Result) figures() error {
	b, sh, in, c, st := r.Bytes, r.Shaped, r.Ingest, r.Capture, r.Station
	var err error
	div := func(what string, a, b float64) float64 {
		if b == 0 || math.IsNaN(a) || math.IsInf(a, 0) {
			err = errors.Join(err, fmt.Errorf("%s: nothing to divide by", what))
			return 0
		}
		return a / b
	}
	r.BytesRatioZstd = div("bytes_ratio_zstd", float64(b.WireBytes), float64(b.ZstdBytes))
	r.BytesRatioCouchDB = div("bytes_ratio_couchdb", float64(b.WireBytes), float64(b.CouchDBBytes))
	r.RoundTripsPerSync = float64(b.RoundTrips)
	r.ShapedLinkRatio = sh.Ratio
	r.IngestChangesPerS = in.ChangesPerS
	r.IngestRatioRawSQLite = div("ingest_ratio_raw_sqlite", in.ChangesPerS, in.RawChangesPerS)
	r.PushP99MS = in.PacedP99MS
	r.CaptureP99MS = c.P99MS
	r.StationRSSMB = st.PeakRSSMB
	if err != nil {
		return err
	}
	ingest := limitFigure("ingest_changes_per_s", r.IngestChangesPerS, "/s", IngestTarget, false,
		fmt.Sprintf("≥ 50,000/s with %d devices", ingestTargetDevices))
	if in.Devices < ingestTargetDevices {
		ingest.Note = fmt.Sprintf("%d devices, not %d", in.Devices, ingestTargetDevices)
	}
	push := limitFigure("push_p99_ms", r.PushP99MS, "ms", PushP99LimitMS, true, "≤ 250 ms at 50,000 changes/s")
	if in.PacedLoad < IngestTarget {
		// The latency target holds at the target load only.
		push.Verdict = Fail
		push.Note = fmt.Sprintf("measured at %s changes/s offered (80%% of saturation), short of the %s/s the target is set at",
			thousands(in.PacedLoad), thousands(IngestTarget))
	}
	r.Figures = []Figure{
		limitFigure("bytes_ratio_zstd", r.BytesRatioZstd, "×", BytesZstdLimit, true, "≤ 1.5 × zstd of the records"),
		limitFigure("bytes_ratio_couchdb", r.BytesRatioCouchDB, "×", BytesCouchDBLimit, true, "≤ 0.2 × CouchDB replication"),
		limitFigure("round_trips_per_sync", r.RoundTripsPerSync, "", RoundTripsLimit, true,
			fmt.Sprintf("≤ 1 (CouchDB: %d)", b.CouchDBRoundTrips)),
		limitFigure("shaped_link_ratio", r.ShapedLinkRatio, "×", ShapedLinkLimit, true, "≤ 1.3 × (round trips × RTT + bytes ÷ bandwidth)"),
		ingest,
		{
			Key: "ingest_ratio_raw_sqlite", Value: r.IngestRatioRawSQLite, Unit: "×", Ratio: r.IngestRatioRawSQLite, Verdict: Info,
			Target: fmt.Sprintf("baseline: raw SQLite inserts, %s/s in this run", thousands(in.RawChangesPerS)),
		},
		push,
		limitFigure("capture_p99_ms", r.CaptureP99MS, "ms", CaptureP99LimitMS, true, "≤ 2 ms"),
		limitFigure("station_rss_mb", r.StationRSSMB, "MB", StationRSSLimitMB, true, "≤ 80 MB"),
	}
	return nil
}

func limitFigure(key string, v float64, unit string, limit float64, upper bool, target string) Figure {
	f := Figure{Key: key, Value: v, Unit: unit, Limit: limit, Max: upper, Target: target, Ratio: v / limit, Verdict: Fail}
	if (upper && v <= limit) || (!upper && v >= limit) {
		f.Verdict = Pass
	}
	return f
}

// WriteTable writes r as a table for people: one line per figure with its
// value, target, ratio and verdict, then the notes that qualify them and
// the raw measurements behind them.
func WriteTable(w io.Writer, r *Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tVALUE\tTARGET\tRATIO\tRESULT")
	passed, judged := 0, 0
	for _, f := range r.Figures {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%s\n", f.Key, formatValue(f), f.Target, f.Ratio, f.Verdict)
		if f.Verdict != Info {
			judged++
			if f.Verdict == Pass {
				passed++
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d of %d targets met", passed, judged)
	if r.Run.Quick {
		fmt.Fprint(w, " (quick run: smaller and noisier)")
	}
	fmt.Fprintln(w)
	for _, f := range r.Figures {
		if f.Note != "" {
			fmt.Fprintf(w, "  %s: %s\n", f.Key, f.Note)
		}
	}
	b, sh, in, c, st := r.Bytes, r.Shaped, r.Ingest, r.Capture, r.Station
	fmt.Fprintf(w, "\nbytes: station %s, %d records in %d syncs (requests %s, token renewals included): %d B bodies on the wire (+%d B headers), records %d B raw, %d B zstd; CouchDB %d B in %s requests; the day in one sync: %d B for %d B zstd (×%.2f)\n",
		b.Village, b.Records, len(b.Syncs), joinInts(syncRoundTrips(b.Syncs)), b.WireBytes, b.HeaderBytes, b.ContentBytes, b.ZstdBytes, b.CouchDBBytes, joinInts(b.CouchDBRequests),
		b.OneSync.WireBytes, b.OneSync.ZstdBytes, b.OneSync.Ratio)
	keys := slices.Sorted(maps.Keys(b.Exchanges))
	parts := make([]string, len(keys))
	for i, k := range keys {
		e := b.Exchanges[k]
		parts[i] = fmt.Sprintf("%s ×%d %d B", k, e.Count, e.BodyUp+e.BodyDown)
	}
	fmt.Fprintf(w, "  the day's requests: %s\n", strings.Join(parts, "; "))
	fmt.Fprintf(w, "round trips: a sync pushing %d and pulling %d with a valid token: %d request(s), %d B up, %d B down; CouchDB: %d requests\n",
		b.RoundTripSync.Pushed, b.RoundTripSync.Pulled, b.RoundTrips, b.RoundTripSync.BytesUp, b.RoundTripSync.BytesDown, b.CouchDBRoundTrips)
	fmt.Fprintf(w, "shaped link: %d stations over %s: %d syncs (%d restarted), %d exchanges, %d delivered, %d cut, %d segments lost: %.1f s (%.2f s of it computing) for an ideal %.1f s (worst station ×%.2f)\n",
		sh.Stations, sh.Link, sh.Syncs, sh.SyncRetries, sh.Exchanges, sh.Delivered, sh.CutRequests+sh.CutResponses, sh.LostSegments, sh.ElapsedS, sh.ComputeS, sh.IdealS, sh.MaxStationRatio)
	fmt.Fprintf(w, "ingest: %d devices × %d-change pushes: saturation %s changes/s (p50 %.0f ms, p99 %.0f ms); paced at %s/s offered: %s/s, p50 %.0f ms, p99 %.0f ms; raw SQLite %s/s\n",
		in.Devices, in.Batch, thousands(in.ChangesPerS), in.SaturatedP50MS, in.SaturatedP99MS, thousands(in.PacedLoad), thousands(in.PacedAchieved), in.PacedP50MS, in.PacedP99MS, thousands(in.RawChangesPerS))
	fmt.Fprintf(w, "capture: %d ballots: p50 %.2f ms, p99 %.2f ms, max %.2f ms; station process: %d records in %d syncs, peak RSS %.1f MB, capture p99 %.2f ms\n",
		c.Captures, c.P50MS, c.P99MS, c.MaxMS, st.Records, st.Syncs, st.PeakRSSMB, st.CaptureP99MS)
	kept := " (removed)"
	if r.Run.Kept {
		kept = ""
	}
	fmt.Fprintf(w, "run: %s%s, GOMAXPROCS %d, %s, %.0f s", r.Run.Dir, kept, r.Run.GOMAXPROCS, r.Run.GoVersion, r.Run.ElapsedS)
	if r.Run.MemoryDisk {
		fmt.Fprint(w, " — on tmpfs: durable commits cost nothing there")
	}
	_, err := fmt.Fprintln(w)
	return err
}

func formatValue(f Figure) string {
	switch f.Unit {
	case "/s":
		return thousands(f.Value) + "/s"
	case "ms":
		return strconv.FormatFloat(f.Value, 'f', 2, 64) + " ms"
	case "MB":
		return strconv.FormatFloat(f.Value, 'f', 1, 64) + " MB"
	case "×":
		return strconv.FormatFloat(f.Value, 'f', 3, 64)
	}
	return strconv.FormatFloat(f.Value, 'f', -1, 64)
}

// thousands formats v rounded to an integer with thousands separators.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func syncRoundTrips(s []SyncFigures) []int {
	out := make([]int, len(s))
	for i, f := range s {
		out[i] = f.RoundTrips
	}
	return out
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, "+")
}
