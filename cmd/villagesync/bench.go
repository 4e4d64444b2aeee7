package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"villagesync/bench"
)

// benchStationChild is the hidden subcommand the bench starts as the
// station process whose memory it measures: `villagesync bench
// station-child` reads its job on stdin and answers on stdout.
const benchStationChild = "station-child"

func runBench(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && args[0] == benchStationChild {
		return bench.StationChild(ctx, e.stdin, e.stdout)
	}
	fs := newFlags(e, "bench", "[--json] [--quick] [--dir DIR]")
	asJSON := fs.Bool("json", false, "print the figures as one JSON object (SPEC §9 keys at the top level)")
	quick := fs.Bool("quick", false, "smaller runs (seconds, not minutes): noisier figures, for CI")
	dir := fs.String("dir", "", "keep the servers' and devices' files in a new directory under DIR, which must be on the disk to measure (default: a temporary directory, removed)")
	if err := parse(fs, args); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: find this program to start the station process: %w", err)
	}
	res, err := bench.Run(ctx, bench.Options{
		Quick:          *quick,
		Dir:            *dir,
		StationCommand: []string{exe, "bench", benchStationChild},
		Progress:       e.stderr,
		Logger:         slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(e.stdout, res)
	}
	return bench.WriteTable(e.stdout, res)
}
