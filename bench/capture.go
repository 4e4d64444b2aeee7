package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	client "villagesync/client-sdk"
	"villagesync/election"
	"villagesync/syncproto"
)

// CaptureResult is the latency of capturing a ballot on a station: from
// Device.Put's call to its return, when the change is validated, chained,
// signed and committed (WAL, synchronous=FULL) in the device's store on
// disk, so that it survives a power cut. The station has enrolled and
// pulled its reference data; the ballots are its village election's, valid,
// one serial each, captured one after another as an operator would.
type CaptureResult struct {
	Village  string  `json:"village"`
	Captures int     `json:"captures"`
	P50MS    float64 `json:"p50_ms"`
	P99MS    float64 `json:"p99_ms"`
	MaxMS    float64 `json:"max_ms"`
}

// measureCapture captures n ballots of e on a fresh station of e's
// village, in dir.
func measureCapture(ctx context.Context, srv *testServer, e election.Election, n int, dir string) (*CaptureResult, error) {
	dev, err := srv.enroll(ctx, election.RoleStation, e.Village, dir, client.Options{})
	if err != nil {
		return nil, err
	}
	defer dev.Close()
	marks := make(map[string]string, len(e.Candidates))
	for k, c := range e.Candidates {
		marks[c] = election.MarkNo
		if k < e.Seats {
			marks[c] = election.MarkYes
		}
	}
	lat := make([]time.Duration, 0, n)
	for i := range n {
		body, err := syncproto.Marshal(election.Ballot{Election: e.ID, Round: 1, Serial: i + 1, Marks: marks, WriteIns: []string{}})
		if err != nil {
			return nil, err
		}
		id := e.ID + "-R1-B" + strconv.Itoa(i+1)
		t0 := time.Now()
		if _, err := dev.Put(ctx, "ballot", id, body); err != nil {
			return nil, fmt.Errorf("capture %s: %w", id, err)
		}
		lat = append(lat, time.Since(t0))
	}
	return &CaptureResult{
		Village: e.Village, Captures: n,
		P50MS: ms(percentile(lat, 0.50)), P99MS: ms(percentile(lat, 0.99)), MaxMS: ms(percentile(lat, 1)),
	}, nil
}
