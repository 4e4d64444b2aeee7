package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"villagesync/syncproto"
)

// remote is a client of the server's HTTP API for people and scripts that
// hold a bearer token (report, review).
type remote struct {
	base  string
	token string
	http  *http.Client
}

func newRemote(serverURL, token string) *remote {
	return &remote{
		base:  strings.TrimRight(serverURL, "/"),
		token: strings.TrimSpace(token),
		http:  &http.Client{Timeout: 60 * time.Second},
	}
}

// do sends a request and returns the response body of a 2xx answer; any
// other answer becomes a *syncproto.Error.
func (r *remote) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := syncproto.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("bad --server %q: %w", r.base, err)
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set(syncproto.HeaderProtocol, fmt.Sprint(syncproto.Version))
	if body != nil {
		req.Header.Set("Content-Type", syncproto.MediaType)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the server at %s: %w", r.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode/100 == 2 {
		return data, nil
	}
	var eb syncproto.ErrorBody
	if json.Unmarshal(data, &eb) == nil && eb.Error != nil && eb.Error.Code != "" {
		return nil, eb.Error
	}
	return nil, syncproto.Errorf(syncproto.CodeUnavailable, "server answered %s", resp.Status)
}
