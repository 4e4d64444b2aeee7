package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	client "villagesync/client-sdk"
	"villagesync/election"
	"villagesync/sim"
)

// StationChildEnv is set (to "1") in the environment of the process
// Options.StationCommand starts, for a test binary's TestMain to recognise
// that it should run StationChild instead of its tests.
const StationChildEnv = "VILLAGESYNC_BENCH_STATION"

// StationResult is the memory of a station process doing an election
// day's capture and sync: the client-sdk device (its SQLite store on disk,
// its codecs, its sync engine) in a process of its own, started with
// Options.StationCommand. It enrolls, pulls its reference data, captures
// its village's election day and syncs at the day's sync points, then
// exits. PeakRSSMB is that process's peak resident set (VmHWM in
// /proc/self/status, read as its work ends, MiB): everything it ever had in
// memory at once, Go runtime and binary included. (The parent cannot use
// getrusage's ru_maxrss for it: Go starts children with vfork, and Linux
// charges the child the parent's peak when it execs.) The operator web UI
// (station ui) adds its HTTP server and templates to this.
type StationResult struct {
	Village   string  `json:"village"`
	Records   int     `json:"records"`
	Syncs     int     `json:"syncs"`
	PeakRSSMB float64 `json:"peak_rss_mb"`
	// CaptureP99MS is the p99 of the day's captures in that process.
	CaptureP99MS float64 `json:"capture_p99_ms"`
}

// stationJob is what the parent tells the station process to do.
type stationJob struct {
	Server string       `json:"server"`
	Code   string       `json:"code"`
	Dir    string       `json:"dir"`
	Steps  []jobStep    `json:"steps"`
	Day    stationPlace `json:"day"`
}

type jobStep struct {
	Collection string          `json:"coll"`
	ID         string          `json:"id"`
	At         time.Time       `json:"at"`
	Body       json.RawMessage `json:"body"`
}

type stationPlace struct {
	Village, Township, Election string
}

// stationReport is what the station process answers on its stdout.
type stationReport struct {
	Records      int     `json:"records"`
	Syncs        int     `json:"syncs"`
	VmHWMKB      int64   `json:"vm_hwm_kb"`
	CaptureP99MS float64 `json:"capture_p99_ms"`
}

// StationChild is the station process of the memory figure: it reads its
// job (JSON) from stdin, plays it and writes its report (JSON) to stdout.
// `villagesync bench station-child` runs it.
func StationChild(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	var job stationJob
	if err := json.NewDecoder(stdin).Decode(&job); err != nil {
		return fmt.Errorf("station child: read job: %w", err)
	}
	day := stationDay{Village: job.Day.Village, Township: job.Day.Township, Election: job.Day.Election}
	for _, s := range job.Steps {
		day.Steps = append(day.Steps, sim.Step{At: s.At, Collection: s.Collection, ID: s.ID, Body: s.Body})
	}
	if len(day.Steps) == 0 {
		return errors.New("station child: the job has no steps")
	}
	opts := client.Options{Logger: slog.New(slog.DiscardHandler)}
	dev, err := client.Enroll(ctx, job.Dir, job.Server, job.Code, opts)
	if err != nil {
		return fmt.Errorf("station child: %w", err)
	}
	defer dev.Close()
	if _, err := dev.Sync(ctx); err != nil {
		return fmt.Errorf("station child: first sync: %w", err)
	}
	var lat []time.Duration
	syncs, err := playDay(ctx, dev, day, nil, nil, func(ctx context.Context) (syncStat, error) {
		rep, err := dev.Sync(ctx)
		return syncStat{Report: rep}, err
	}, nil, func(_ sim.Step, d time.Duration) { lat = append(lat, d) })
	if err != nil {
		return fmt.Errorf("station child: %w", err)
	}
	rep := stationReport{Records: len(day.Steps), Syncs: len(syncs), VmHWMKB: selfHWM(), CaptureP99MS: ms(percentile(lat, 0.99))}
	return json.NewEncoder(stdout).Encode(rep)
}

// selfHWM is this process's peak resident set from /proc/self/status, KiB;
// 0 where there is no such file.
func selfHWM() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// measureStation runs day in a station process started with command.
func measureStation(ctx context.Context, srv *testServer, day stationDay, command []string, dir string) (*StationResult, error) {
	code, _, err := srv.svc.CreateEnrollCode(ctx, election.RoleStation, day.Village, time.Hour)
	if err != nil {
		return nil, fmt.Errorf("enrollment code: %w", err)
	}
	job := stationJob{Server: srv.url, Code: code, Dir: dir, Day: stationPlace{day.Village, day.Township, day.Election}}
	for _, s := range day.Steps {
		job.Steps = append(job.Steps, jobStep{Collection: s.Collection, ID: s.ID, At: s.At, Body: s.Body})
	}
	in, err := json.Marshal(job)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	cmd.Env = append(os.Environ(), StationChildEnv+"=1")
	cmd.Stdin = bytes.NewReader(in)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("station process %s: %w: %s", command[0], err, strings.TrimSpace(errOut.String()))
	}
	var rep stationReport
	if err := json.Unmarshal(lastLine(out.Bytes()), &rep); err != nil {
		return nil, fmt.Errorf("station process report %q: %w", out.String(), err)
	}
	if rep.VmHWMKB <= 0 {
		return nil, errors.New("station process: this system reports no peak resident set (no /proc/self/status)")
	}
	return &StationResult{
		Village: day.Village, Records: rep.Records, Syncs: rep.Syncs,
		PeakRSSMB: float64(rep.VmHWMKB) / 1024, CaptureP99MS: rep.CaptureP99MS,
	}, nil
}

// lastLine is the last non-empty line of b: a test binary may print its
// own lines before the report.
func lastLine(b []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return lines[len(lines)-1]
}
