package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"villagesync/election"
	"villagesync/server"
)

func runAdmin(ctx context.Context, e *env, args []string) error {
	return subcommand(ctx, e, "admin", args, []command{
		{"seed", "load the reference data of a county", adminSeed},
		{"enroll-code", "print a single-use enrollment code for a device", adminEnrollCode},
		{"token", "print a short-lived access token for scripting the HTTP API", adminToken},
		{"revoke", "revoke a device (a lost laptop)", adminRevoke},
	})
}

// withService opens the server data dir offline, runs fn and closes it.
func withService(ctx context.Context, e *env, dataDir string, fn func(*server.Service) error) error {
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, svc, err := openService(ctx, dataDir, logger)
	if err != nil {
		return err
	}
	fnErr := fn(svc)
	if err := store.Close(); err != nil && fnErr == nil {
		fnErr = fmt.Errorf("close store: %w", err)
	}
	return fnErr
}

func adminSeed(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "admin seed", "--data DIR [--county dongliao]")
	dataDir := fs.String("data", DefaultDataDir, "server data directory")
	county := fs.String("county", "dongliao", "which county to load (only dongliao is built in)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *county != "dongliao" {
		return fmt.Errorf("unknown county %q: the built-in reference data is \"dongliao\"", *county)
	}
	return withService(ctx, e, *dataDir, func(svc *server.Service) error {
		d := election.Dongliao()
		n, err := svc.Seed(ctx, d)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "seeded %s: %d townships, %d villages, %d elections (%d records added)\n",
			d.County.Name, len(d.Townships), len(d.Villages), len(d.Elections), n)
		return nil
	})
}

func adminEnrollCode(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "admin enroll-code", "--data DIR --role station|supervisor|county|observer --scope CODE [--ttl DUR]")
	dataDir := fs.String("data", DefaultDataDir, "server data directory")
	roleName := fs.String("role", "", "station, supervisor, county or observer")
	scope := fs.String("scope", "", "village code (station), township code (supervisor) or county code")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the code stays valid (at most 168h)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "role", "scope"); err != nil {
		return err
	}
	role, err := election.ParseRole(*roleName)
	if err != nil {
		return err
	}
	return withService(ctx, e, *dataDir, func(svc *server.Service) error {
		code, expires, err := svc.CreateEnrollCode(ctx, role, *scope, *ttl)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, code)
		fmt.Fprintf(e.stderr, "single-use %s code for %s, valid until %s\n", role, *scope, expires.Format(time.RFC3339))
		return nil
	})
}

func adminToken(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "admin token", "--data DIR --role county|observer [--ttl DUR]")
	dataDir := fs.String("data", DefaultDataDir, "server data directory")
	roleName := fs.String("role", "", "county or observer")
	ttl := fs.Duration("ttl", 15*time.Minute, "token lifetime")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "role"); err != nil {
		return err
	}
	role, err := election.ParseRole(*roleName)
	if err != nil {
		return err
	}
	if role != election.RoleCounty && role != election.RoleObserver {
		return fmt.Errorf("--role must be county or observer; devices get their tokens by enrolling")
	}
	return withService(ctx, e, *dataDir, func(svc *server.Service) error {
		tok, _, err := svc.MintToken(ctx, "admin-cli", election.Scope{Role: role, Code: DefaultCountyCode}, *ttl)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, tok)
		return nil
	})
}

func adminRevoke(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "admin revoke", "--data DIR --device ID")
	dataDir := fs.String("data", DefaultDataDir, "server data directory")
	device := fs.String("device", "", "device id (dev-…) to revoke")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "device"); err != nil {
		return err
	}
	return withService(ctx, e, *dataDir, func(svc *server.Service) error {
		if err := svc.Revoke(ctx, *device); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "revoked %s: it gets no new tokens; its later changes go to review\n", *device)
		return nil
	})
}
