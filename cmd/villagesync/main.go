// Command villagesync is the single binary of villagesync: the central
// server, its admin tools, the station/supervisor device commands and the
// simulation. It only parses flags and wires packages together; the work is
// done in server, client-sdk, election and syncproto.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"villagesync/syncproto"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one subcommand: it parses its own flags and runs.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// env is what a command may touch besides its arguments.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

func commands() []command {
	return []command{
		{"serve", "run the central server", runServe},
		{"admin", "server administration on its data dir: seed, enrollment codes, devices, revoke, keys, accounts", runAdmin},
		{"station", "a device: enroll, sync, status, put, get, export, import, ui (the operators' web pages)", runStation},
		{"report", "the county report from a server: table, JSON, CSV or Excel", runReport},
		{"review", "open conflicts and rule violations; resolve them (county)", runReview},
		{"demo", "play a whole county's season in process and print the report", runDemo},
		{"bench", "the performance suite of SPEC §9: every figure against its target", runBench},
	}
}

// Main runs the command line and returns the process exit status.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, e, args[1:])
			return report(stderr, err)
		}
	}
	fmt.Fprintf(stderr, "villagesync: unknown command %q; run 'villagesync --help' for the list\n", args[0])
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "villagesync: offline-first sync for village elections")
	fmt.Fprintln(w, "\nusage: villagesync COMMAND [SUBCOMMAND] [flags]   (each takes --help)")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
}

// errUsage marks an error already explained by a usage message.
var errUsage = errors.New("usage")

// report prints err as one line and maps it to an exit status.
func report(w io.Writer, err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	var pe *syncproto.Error
	if errors.As(err, &pe) {
		fmt.Fprintf(w, "villagesync: %s (%s)\n", pe.Message, pe.Code)
		return 1
	}
	fmt.Fprintf(w, "villagesync: %v\n", err)
	return 1
}

// newFlags returns a flag set for "villagesync NAME" that reports errors
// instead of exiting.
func newFlags(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("villagesync "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: villagesync %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, refusing stray positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "villagesync: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// required fails with a clear message when a required flag is empty.
func required(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		if f := fs.Lookup(n); f != nil && f.Value.String() == "" {
			fmt.Fprintf(fs.Output(), "villagesync: --%s is required\n", n)
			fs.Usage()
			return errUsage
		}
	}
	return nil
}

// subcommand dispatches "villagesync GROUP SUB ...".
func subcommand(ctx context.Context, e *env, group string, args []string, subs []command) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(e.stderr, "usage: villagesync %s SUBCOMMAND [flags]\n\n", group)
		for _, c := range subs {
			fmt.Fprintf(e.stderr, "  %-12s %s\n", c.name, c.summary)
		}
		if len(args) == 0 {
			return errUsage
		}
		return flag.ErrHelp
	}
	for _, c := range subs {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "villagesync: unknown %s subcommand %q; run 'villagesync %s --help'\n", group, args[0], group)
	return errUsage
}
