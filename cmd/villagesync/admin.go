package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/skip2/go-qrcode"

	"villagesync/election"
	"villagesync/server"
	"villagesync/syncproto"
)

func runAdmin(ctx context.Context, e *env, args []string) error {
	return subcommand(ctx, e, "admin", args, []command{
		{"seed", "load the reference data of a county", adminSeed},
		{"enroll-code", "print a single-use enrollment code for a device (--qr: as a QR code too)", adminEnrollCode},
		{"codes", "list enrollment codes: active, used, expired", adminCodes},
		{"expire-code", "expire an unused enrollment code at once", adminExpireCode},
		{"token", "print a short-lived access token for scripting the HTTP API", adminToken},
		{"devices", "list enrolled devices, with how far each has synced", adminDevices},
		{"revoke", "revoke a device (a lost laptop)", adminRevoke},
		{"rotate-key", "rotate the server's token and receipt signing key, without downtime", adminRotateKey},
		{"account", "people's accounts for the web pages: create, reset-password, disable, enable, list", adminAccount},
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
	qr := fs.Bool("qr", false, "also print the code as a QR code (on stderr) for the laptop's webcam or a phone")
	serverURL := fs.String("server", "", "with --qr: the server URL the QR code names, e.g. https://xz.example.cn")
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
		code, err := svc.IssueEnrollCode(ctx, nil, role, *scope, *ttl)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, code.Code)
		fmt.Fprintf(e.stderr, "single-use %s code %s for %s, valid until %s\n", role, code.ID, *scope, code.Expires.Format(time.RFC3339))
		if *qr {
			q, err := qrcode.New(syncproto.EnrollURI(*serverURL, code.Code), qrcode.Medium)
			if err != nil {
				return fmt.Errorf("qr code: %w", err)
			}
			fmt.Fprint(e.stderr, q.ToSmallString(false))
		}
		return nil
	})
}

func adminCodes(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "admin codes", "--data DIR [--json]")
	dataDir := fs.String("data", DefaultDataDir, "server data directory")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withService(ctx, e, *dataDir, func(svc *server.Service) error {
		codes, err := svc.EnrollCodes(ctx, nil)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e.stdout, codes)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tROLE\tSCOPE\tSTATUS\tEXPIRES\tUSED BY\tCREATED BY")
		for _, c := range codes {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Role, c.Scope, c.Status, c.Expires.Format(time.RFC3339), c.UsedBy, c.CreatedBy)
		}
		return tw.Flush()
	})
}

func adminExpireCode(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "admin expire-code", "--data DIR --id EC-…")
	dataDir := fs.String("data", DefaultDataDir, "server data directory")
	id := fs.String("id", "", "the code's id (EC-…), from 'admin codes'")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "id"); err != nil {
		return err
	}
	return withService(ctx, e, *dataDir, func(svc *server.Service) error {
		c, err := svc.ExpireEnrollCode(ctx, nil, *id)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "%s (%s %s) is %s\n", c.ID, c.Role, c.Scope, c.Status)
		return nil
	})
}

func adminDevices(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "admin devices", "--data DIR [--json]")
	dataDir := fs.String("data", DefaultDataDir, "server data directory")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withService(ctx, e, *dataDir, func(svc *server.Service) error {
		devs, err := svc.Devices(ctx, nil)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e.stdout, devs)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "DEVICE\tROLE\tSCOPE\tLABEL\tHEAD\tENROLLED\tREVOKED")
		for _, d := range devs {
			revoked := ""
			if !d.Revoked.IsZero() {
				revoked = fmt.Sprintf("%s after seq %d", d.Revoked.Format(time.RFC3339), d.RevokedAfter)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.Role, d.Scope, d.Label, d.Head, d.Enrolled.Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	})
}

func adminRotateKey(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "admin rotate-key", "--data DIR")
	dataDir := fs.String("data", DefaultDataDir, "server data directory")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withService(ctx, e, *dataDir, func(svc *server.Service) error {
		kid, retired, err := svc.RotateSigningKey(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, kid)
		fmt.Fprintf(e.stderr, "new signing key %s; retired %s: they verify tokens for another %s and receipts for good.\n"+
			"A running server signs with the new key within a minute; nothing needs restarting.\n",
			kid, strings.Join(retired, ", "), server.MaxMintTTL)
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
		dev, err := svc.RevokeDevice(ctx, nil, *device)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "revoked %s (%s %s) after seq %d: it gets no new tokens and its live ones stop now; "+
			"changes it signed later go to the county's review queue\n", dev.ID, dev.Role, dev.Scope, dev.RevokedAfter)
		return nil
	})
}
