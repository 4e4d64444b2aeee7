package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"villagesync/election"
	"villagesync/server"
)

func adminAccount(ctx context.Context, e *env, args []string) error {
	return subcommand(ctx, e, "admin account", args, []command{
		{"create", "create a person's account (the password is read from stdin)", accountCreate},
		{"reset-password", "set a new password (read from stdin); ends the account's sessions and lockout", accountResetPassword},
		{"disable", "disable an account; ends its sessions", accountDisable},
		{"enable", "enable a disabled account", accountEnable},
		{"list", "list accounts", accountList},
	})
}

// readPassword reads the password from the first line of stdin, so that it
// never appears in a process listing or shell history:
//
//	printf '%s\n' "$PASSWORD" | villagesync admin account create …
func readPassword(e *env) (string, error) {
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
		return "", fmt.Errorf("read the password from stdin (one line): nothing was given")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func accountCreate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "admin account create", "--data DIR --username NAME --role county|supervisor|observer [--scope CODE] [--name TEXT] < password")
	dataDir := fs.String("data", DefaultDataDir, "server data directory")
	username := fs.String("username", "", "login name: 2-32 of a-z 0-9 . _ -")
	name := fs.String("name", "", "display name, e.g. 王建国")
	roleName := fs.String("role", "", "county, supervisor (a township) or observer (read-only reports)")
	scope := fs.String("scope", "", "township code for a supervisor; county and observer default to the county")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "username", "role"); err != nil {
		return err
	}
	role, err := election.ParseRole(*roleName)
	if err != nil {
		return err
	}
	password, err := readPassword(e)
	if err != nil {
		return err
	}
	return withService(ctx, e, *dataDir, func(svc *server.Service) error {
		a, err := svc.CreateAccount(ctx, nil, server.NewAccount{Username: *username, Name: *name, Password: password, Role: role, Scope: *scope})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "created %s account %s for %s: log in at the server's /login page\n", a.Role, a.Username, a.Scope)
		return nil
	})
}

func accountResetPassword(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "admin account reset-password", "--data DIR --username NAME < password")
	dataDir := fs.String("data", DefaultDataDir, "server data directory")
	username := fs.String("username", "", "the account")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "username"); err != nil {
		return err
	}
	password, err := readPassword(e)
	if err != nil {
		return err
	}
	return withService(ctx, e, *dataDir, func(svc *server.Service) error {
		if err := svc.ResetPassword(ctx, nil, *username, password); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "password of %s reset; its sessions are ended and any lockout cleared\n", *username)
		return nil
	})
}

func accountDisable(ctx context.Context, e *env, args []string) error {
	return accountSetDisabled(ctx, e, args, true)
}

func accountEnable(ctx context.Context, e *env, args []string) error {
	return accountSetDisabled(ctx, e, args, false)
}

func accountSetDisabled(ctx context.Context, e *env, args []string, disabled bool) error {
	verb := map[bool]string{true: "disable", false: "enable"}[disabled]
	fs := newFlags(e, "admin account "+verb, "--data DIR --username NAME")
	dataDir := fs.String("data", DefaultDataDir, "server data directory")
	username := fs.String("username", "", "the account")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "username"); err != nil {
		return err
	}
	return withService(ctx, e, *dataDir, func(svc *server.Service) error {
		if err := svc.SetAccountDisabled(ctx, nil, *username, disabled); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "%sd %s\n", verb, *username)
		return nil
	})
}

func accountList(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "admin account list", "--data DIR [--json]")
	dataDir := fs.String("data", DefaultDataDir, "server data directory")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withService(ctx, e, *dataDir, func(svc *server.Service) error {
		accounts, err := svc.Accounts(ctx, nil)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e.stdout, accounts)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tNAME\tROLE\tSCOPE\tSTATE\tLAST LOGIN")
		for _, a := range accounts {
			state := "active"
			switch {
			case a.Disabled:
				state = "disabled"
			case !a.LockedUntil.IsZero():
				state = "locked until " + a.LockedUntil.Format(time.RFC3339)
			}
			last := ""
			if !a.LastLogin.IsZero() {
				last = a.LastLogin.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Username, a.Name, a.Role, a.Scope, state, last)
		}
		return tw.Flush()
	})
}
