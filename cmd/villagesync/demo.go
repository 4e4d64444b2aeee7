package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/httpapi"
	"villagesync/server/sqlite"
	"villagesync/sim"
)

// seasonStart is where the simulated clock starts: before the first
// supervision round of the season.
var seasonStart = time.Date(2026, 2, 1, 8, 0, 0, 0, time.FixedZone("CST", 8*3600))

func runDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "demo", "[--seed N] [--json] [--lang zh|en]")
	seed := fs.Uint64("seed", 7, "the season's seed: the same seed plays the same season")
	asJSON := fs.Bool("json", false, "print the report and sync figures as one JSON object")
	lang := fs.String("lang", "zh", "table language: zh or en")
	keep := fs.String("dir", "", "keep the server and device files in DIR (default: a temporary directory, removed)")
	if err := parse(fs, args); err != nil {
		return err
	}
	dir := *keep
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("demo dir: %w", err)
		}
	} else {
		tmp, err := os.MkdirTemp(fastTempDir(), "villagesync-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	started := time.Now()
	res, err := playDemo(ctx, dir, *seed, slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	if *asJSON {
		if err := writeJSON(e.stdout, demoJSON(res)); err != nil {
			return err
		}
	} else if err := writeReportTable(e.stdout, res.Report, *lang); err != nil {
		return err
	}
	return verdict(e.stderr, res, time.Since(started))
}

// fastTempDir is a memory-backed directory where there is one: the demo's
// 250 device databases fsync every capture, and on a real disk that is the
// whole cost of the simulation, not what it is meant to show.
func fastTempDir() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		return "/dev/shm"
	}
	return ""
}

// playDemo runs a whole season in process: a real server (store, service,
// router) on a simulated clock and a real device per laptop.
func playDemo(ctx context.Context, dir string, seed uint64, logger *slog.Logger) (*sim.Result, error) {
	clock := sim.NewSimClock(seasonStart)
	store, err := sqlite.Open(ctx, filepath.Join(dir, serverDatabaseFile), logger)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	svc, err := server.New(ctx, store, server.Config{CountyCode: DefaultCountyCode, Logger: logger, Now: clock.Now})
	if err != nil {
		return nil, err
	}
	if _, err := svc.Seed(ctx, election.Dongliao()); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	// The simulated laptops' retries over their bad links are the point of
	// the exercise, not news: their own logs are dropped; what went wrong
	// shows in the verdict.
	county := &sim.County{
		Seed: seed, Service: svc, Store: store, Clock: clock, Logger: slog.New(slog.DiscardHandler),
		Handler: httpapi.New(svc, httpapi.Config{Logger: logger, Limits: httpapi.SharedAddress()}),
		Dir:     filepath.Join(dir, "devices"),
	}
	return county.Run(ctx)
}

// demoJSON is the report with its SPEC §7 keys at the top level, plus sync.
func demoJSON(res *sim.Result) any {
	return struct {
		*election.CountyReport
		Sync sim.SyncStats `json:"sync"`
	}{res.Report, res.Sync}
}

// verdict prints the line that says whether the season arrived whole, and
// fails if anything was lost, duplicated, forged or missed.
func verdict(w io.Writer, res *sim.Result, took time.Duration) error {
	s := res.Sync
	fmt.Fprintf(w, "\n%d devices, %d changes created, %d on the server, %d relayed by supervisors; %d round trips, %d B up, %d B down; %s\n",
		s.Devices, s.ChangesCreated, s.ChangesOnServer, s.Relayed, s.RoundTrips, s.BytesUp, s.BytesDown, took.Round(100*time.Millisecond))
	if s.Lost == 0 && s.Duplicated == 0 && s.Unverified == 0 && s.ConflictsDetected == s.ConflictsInjected && s.ConflictsInjected > 0 {
		fmt.Fprintf(w, "验证通过 VERDICT OK: 0 lost, 0 duplicated, every chain verifies, %d/%d injected conflicts detected and resolved\n",
			s.ConflictsDetected, s.ConflictsInjected)
		return nil
	}
	return fmt.Errorf("VERDICT FAILED: %d lost, %d duplicated, %d unverified chains, %d of %d injected conflicts detected",
		s.Lost, s.Duplicated, s.Unverified, s.ConflictsDetected, s.ConflictsInjected)
}

// liveDemo plays the season against the running server in the background,
// one simulated day every pause, so its dashboard and report fill in.
func liveDemo(ctx context.Context, s *Server, logger *slog.Logger, pause time.Duration) {
	dir := filepath.Join(s.cfg.DataDir, "demo-devices")
	if _, err := os.Stat(dir); err == nil {
		logger.Info("demo season already played in this data dir; start with a fresh --data to replay it", "dir", dir)
		return
	}
	// The simulated laptops log only trouble: the server's own request log
	// already shows every sync.
	devices := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	county := &sim.County{
		Seed: 7, Service: s.service, Store: s.store, Logger: devices,
		URL: s.URL(), Dir: dir, DayPause: pause,
	}
	res, err := county.Run(ctx)
	if err != nil {
		if ctx.Err() == nil {
			logger.Error("demo season stopped", "err", err)
		}
		return
	}
	b, _ := json.Marshal(res.Sync)
	logger.Info("demo season finished: 'villagesync report' shows the county", "sync", string(b))
}
