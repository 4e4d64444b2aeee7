package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"
)

func runReview(ctx context.Context, e *env, args []string) error {
	return subcommand(ctx, e, "review", args, []command{
		{"list", "open conflicts and rule violations in the token's scope", reviewList},
		{"resolve", "decide a review item (county only), with a reason: keep a version of a conflict, accept a violation, accept or reject a revoked device's late changes", reviewResolve},
	})
}

// reviewItem is one entry of GET /v1/review.
type reviewItem struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	Status     string `json:"status"`
	Collection string `json:"collection,omitempty"`
	Slot       string `json:"slot,omitempty"`
	Election   string `json:"election,omitempty"`
	Village    string `json:"village,omitempty"`
	Rule       string `json:"rule,omitempty"`
	Outcome    string `json:"outcome,omitempty"`
	Message    string `json:"message,omitempty"`
	Place      struct {
		Township string `json:"township"`
		Village  string `json:"village"`
	} `json:"place"`
	Versions []struct {
		Ref    string          `json:"ref"`
		ID     string          `json:"id"`
		Device string          `json:"device"`
		Body   json.RawMessage `json:"body"`
	} `json:"versions,omitempty"`
}

func reviewList(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "review list", "--server URL --token TOKEN [--json] [--all]")
	serverURL := fs.String("server", "", "server base URL")
	token := fs.String("token", "", "access token (villagesync admin token)")
	asJSON := fs.Bool("json", false, "print the server's JSON on stdout")
	all := fs.Bool("all", false, "include resolved items")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "server", "token"); err != nil {
		return err
	}
	q := url.Values{"status": {"open"}}
	if *all {
		q.Set("status", "all")
	}
	data, err := newRemote(*serverURL, *token).do(ctx, "GET", "/v1/review?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	if *asJSON {
		_, err := e.stdout.Write(append(data, '\n'))
		return err
	}
	var list struct {
		Items []reviewItem `json:"items"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		return fmt.Errorf("decode review list: %w", err)
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "编号 ID\t类型 KIND\t村 VILLAGE\t内容 WHAT\t状态 STATUS")
	for _, it := range list.Items {
		village := it.Village
		if village == "" {
			village = it.Place.Village
		}
		what := it.Message
		if it.Kind == "conflict" {
			var refs []string
			for _, v := range it.Versions {
				refs = append(refs, v.Ref+" ("+v.ID+")")
			}
			what = fmt.Sprintf("%s %s: %s", it.Collection, it.Slot, strings.Join(refs, " vs "))
		} else if it.Rule != "" {
			what = it.Rule + " " + it.Outcome + ": " + it.Message
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.ID, it.Kind, village, what, it.Status)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%d item(s)\n", len(list.Items))
	return nil
}

func reviewResolve(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "review resolve", "--server URL --token TOKEN --id ID --keep VERSION --reason TEXT")
	serverURL := fs.String("server", "", "server base URL")
	token := fs.String("token", "", "county access token")
	id := fs.String("id", "", "conflict or violation id from 'review list'")
	keep := fs.String("keep", "", "the version to keep (its ref, e.g. dev-…/3); 'accept' for a rule violation; 'accept' or 'reject' for a revoked device's changes (RD-…)")
	reason := fs.String("reason", "", "why (required; kept in the audit trail)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "server", "token", "id", "keep", "reason"); err != nil {
		return err
	}
	body := map[string]string{"keep": *keep, "reason": *reason}
	data, err := newRemote(*serverURL, *token).do(ctx, "POST", "/v1/review/"+url.PathEscape(*id)+"/resolve", body)
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(append(data, '\n'))
	if err == nil {
		switch {
		case strings.HasPrefix(*id, "RD-"):
			fmt.Fprintf(e.stderr, "decided %s: %s (audited); the device stays revoked\n", *id, *keep)
		case strings.HasPrefix(*id, "RV-"):
			fmt.Fprintf(e.stderr, "acknowledged %s (audited); the violation stays in the rule matrix\n", *id)
		default:
			fmt.Fprintf(e.stderr, "resolved %s: kept %s; devices receive the resolution at their next sync\n", *id, *keep)
		}
	}
	return err
}
