package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	client "villagesync/client-sdk"
	"villagesync/syncproto"
)

const defaultStationDir = "./station"

func runStation(ctx context.Context, e *env, args []string) error {
	return subcommand(ctx, e, "station", args, []command{
		{"enroll", "enroll this device with a single-use code", stationEnroll},
		{"sync", "sync once: push pending changes, pull what is new", stationSync},
		{"status", "pending changes, last receipt, conflicts, clock offset", stationStatus},
		{"put", "capture a record (signed, durable before it returns)", stationPut},
		{"get", "read a record from the local store", stationGet},
		{"export", "write a bundle of unsynced changes (for a USB stick)", stationExport},
		{"import", "take another device's bundle to carry it onward", stationImport},
		{"ui", "the operator's and supervisor's web UI on this laptop", stationUI},
	})
}

func deviceOptions(e *env) client.Options {
	return client.Options{Logger: slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
}

// withDevice opens the device store in dir, runs fn and closes it.
func withDevice(ctx context.Context, e *env, dir string, opts client.Options, fn func(*client.Device) error) error {
	d, err := client.Open(ctx, dir, opts)
	if err != nil {
		return err
	}
	fnErr := fn(d)
	if err := d.Close(); err != nil && fnErr == nil {
		fnErr = fmt.Errorf("close device store: %w", err)
	}
	return fnErr
}

func stationEnroll(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "station enroll", "--data DIR --server URL --code CODE")
	dir := fs.String("data", defaultStationDir, "device data directory")
	serverURL := fs.String("server", "", "server base URL, e.g. http://127.0.0.1:8080")
	code := fs.String("code", "", "single-use enrollment code from the county, or the villagesync://enroll?… text of its QR code")
	if err := parse(fs, args); err != nil {
		return err
	}
	if qrServer, qrCode, ok := syncproto.ParseEnrollURI(*code); ok {
		*code = qrCode
		if *serverURL == "" {
			*serverURL = qrServer
		}
	}
	if err := required(fs, "server", "code"); err != nil {
		return err
	}
	d, err := client.Enroll(ctx, *dir, strings.TrimRight(*serverURL, "/"), *code, deviceOptions(e))
	if err != nil {
		return err
	}
	st, err := d.Status(ctx)
	if err == nil {
		fmt.Fprintf(e.stderr, "enrolled %s as %s for %s\n", st.Device, st.Role, st.Scope)
		// First contact: pull the reference data of the scope now, while
		// the link is known to work.
		if rep, serr := d.Sync(ctx); serr != nil {
			fmt.Fprintf(e.stderr, "first sync failed (%v); run 'villagesync station sync' when the link is back\n", serr)
		} else {
			fmt.Fprintf(e.stderr, "pulled %d reference records\n", rep.Pulled)
		}
	}
	if cerr := d.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

func stationSync(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "station sync", "--data DIR [--json] [--server URL]")
	dir := fs.String("data", defaultStationDir, "device data directory")
	asJSON := fs.Bool("json", false, "print one JSON object on stdout")
	serverURL := fs.String("server", "", "server base URL for this sync (default: the one saved at enrollment)")
	if err := parse(fs, args); err != nil {
		return err
	}
	opts := deviceOptions(e)
	opts.Server = strings.TrimRight(*serverURL, "/")
	return withDevice(ctx, e, *dir, opts, func(d *client.Device) error {
		rep, err := d.Sync(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e.stdout, rep)
		}
		relayed := ""
		if rep.Relayed > 0 {
			relayed = fmt.Sprintf(", carried %d of other devices", rep.Relayed)
		}
		fmt.Fprintf(e.stderr, "pushed %d%s, pulled %d in %d round trip(s); %d B up, %d B down; acknowledged through %d; %d pending\n",
			rep.Pushed, relayed, rep.Pulled, rep.RoundTrips, rep.BytesUp, rep.BytesDown, rep.Through, rep.Pending)
		return nil
	})
}

func stationStatus(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "station status", "--data DIR [--json]")
	dir := fs.String("data", defaultStationDir, "device data directory")
	asJSON := fs.Bool("json", false, "print one JSON object on stdout")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withDevice(ctx, e, *dir, deviceOptions(e), func(d *client.Device) error {
		st, err := d.Status(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e.stdout, st)
		}
		through := "none yet"
		if st.LastReceipt != nil {
			through = fmt.Sprintf("%d (%s)", st.LastReceipt.Through, time.UnixMilli(st.LastReceipt.Issued).Format(time.RFC3339))
		}
		fmt.Fprintf(e.stdout, "device     %s (%s %s)\nserver     %s\npending    %d of %d captured\nreceipt    through %s\nconflicts  %d\nclock      server is %s ahead of this laptop\n",
			st.Device, st.Role, st.Scope, st.Server, st.Pending, st.LastSeq, through, st.Conflicts,
			(time.Duration(st.ClockOffset) * time.Millisecond).String())
		return nil
	})
}

func stationPut(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "station put", "--data DIR --collection NAME --id ID --json BODY")
	dir := fs.String("data", defaultStationDir, "device data directory")
	coll := fs.String("collection", "", "collection, e.g. problem, tally_sheet, rectification")
	id := fs.String("id", "", "record id")
	body := fs.String("json", "", "record body as a JSON object, or @FILE, or - for standard input")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "collection", "id", "json"); err != nil {
		return err
	}
	raw, err := readBody(e.stdin, *body)
	if err != nil {
		return err
	}
	return withDevice(ctx, e, *dir, deviceOptions(e), func(d *client.Device) error {
		got, err := d.Capture(ctx, *coll, *id, raw)
		if err != nil {
			return err
		}
		c := got.Change
		fmt.Fprintf(e.stderr, "captured %s/%s as change %d (signed, stored; pending sync)\n", c.Collection, c.ID, c.Seq)
		for _, w := range got.Warnings {
			fmt.Fprintf(e.stderr, "警告 warning %s %s: %s\n", w.Rule, w.Outcome, w.Message)
		}
		return nil
	})
}

func stationGet(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "station get", "--data DIR --collection NAME --id ID")
	dir := fs.String("data", defaultStationDir, "device data directory")
	coll := fs.String("collection", "", "collection")
	id := fs.String("id", "", "record id")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "collection", "id"); err != nil {
		return err
	}
	return withDevice(ctx, e, *dir, deviceOptions(e), func(d *client.Device) error {
		rec, err := d.Get(ctx, *coll, *id)
		if err != nil {
			return err
		}
		return writeJSON(e.stdout, rec)
	})
}

func readBody(stdin io.Reader, arg string) ([]byte, error) {
	switch {
	case arg == "-":
		b, err := io.ReadAll(io.LimitReader(stdin, syncproto.MaxBodyBytes+1))
		if err != nil {
			return nil, fmt.Errorf("read body from standard input: %w", err)
		}
		return b, nil
	case strings.HasPrefix(arg, "@"):
		b, err := os.ReadFile(arg[1:])
		if err != nil {
			return nil, fmt.Errorf("read body: %w", err)
		}
		return b, nil
	}
	return []byte(arg), nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func stationExport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "station export", "--data DIR --out FILE")
	dir := fs.String("data", defaultStationDir, "device data directory")
	out := fs.String("out", "", "bundle file to write (e.g. on a USB stick)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "out"); err != nil {
		return err
	}
	return withDevice(ctx, e, *dir, deviceOptions(e), func(d *client.Device) error {
		b, err := d.Export(ctx)
		if err != nil {
			return err
		}
		if b == nil {
			fmt.Fprintln(e.stderr, "nothing to export: every change is already on the server")
			return nil
		}
		data, err := syncproto.EncodeBundle(b)
		if err != nil {
			return err
		}
		if err := writeFileAtomic(*out, data); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "exported changes %d-%d of %s to %s (%d bytes); they stay pending here until a receipt covers them\n",
			b.Changes[0].Seq, b.Changes[len(b.Changes)-1].Seq, b.Device, *out, len(data))
		return nil
	})
}

func stationImport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "station import", "--data DIR --in FILE")
	dir := fs.String("data", defaultStationDir, "device data directory")
	in := fs.String("in", "", "bundle file to carry")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "in"); err != nil {
		return err
	}
	data, err := os.ReadFile(*in)
	if err != nil {
		return fmt.Errorf("read bundle: %w", err)
	}
	b, err := syncproto.DecodeBundle(data)
	if err != nil {
		return err
	}
	return withDevice(ctx, e, *dir, deviceOptions(e), func(d *client.Device) error {
		n, err := d.Import(ctx, b)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "took %d new changes of %s; the next 'station sync' carries them to the server\n", n, b.Device)
		return nil
	})
}

// writeFileAtomic writes data to path through a synced temporary file, so a
// pulled USB stick never holds half a bundle under the final name.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write bundle: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("write bundle: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	return nil
}
