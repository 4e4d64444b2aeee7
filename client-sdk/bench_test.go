package client_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"villagesync/election"
)

// BenchmarkPut measures capture: validate, chain, sign and commit durably
// (WAL, synchronous=FULL) one record. It reports the per-capture latency
// percentiles (the target is a ballot durable in ≤ 2 ms p99) and captures/s.
func BenchmarkPut(b *testing.B) {
	bodies := map[string]func(i int) string{
		// SPEC §4 ballot fields; skipped until the domain defines the collection.
		"ballot": func(i int) string {
			return `{"election":"` + village + `-PC","round":1,"serial":` + strconv.Itoa(i+1) + `,` +
				`"marks":{"` + village + `-PC-C1":"yes","` + village + `-PC-C2":"no"},"write_ins":[]}`
		},
		"tally_sheet": func(i int) string {
			return `{"election":"` + village + `-PC","round":` + strconv.Itoa(i%1000+1) + `,"kind":"FORMAL",` +
				`"issued":120,"returned":118,"valid":117,"invalid":1,` +
				`"votes":{"` + village + `-PC-C1":{"yes":80,"no":30,"abstain":7},"` + village + `-PC-C2":{"yes":61,"no":50,"abstain":6}},` +
				`"signers":["计票人","监票人","总监票人"]}`
		},
		// A fact that claims no slot: facts merge by set union.
		"returned_member": func(i int) string {
			return `{"village":"` + village + `","origin":"长春市","returned_on":"2026-03-0` + strconv.Itoa(i%7+1) + `"}`
		},
		// The worst case: attendance claims one slot per election, so every
		// capture joins one growing slot conflict and its new conflict id
		// lists every version: O(n) per capture.
		"attendance_conflict": func(i int) string { return attendance(village, 100+i%20) },
	}
	for _, name := range []string{"ballot", "tally_sheet", "returned_member", "attendance_conflict"} {
		coll, _, _ := strings.Cut(name, "_conflict")
		b.Run(name, func(b *testing.B) {
			if _, ok := election.LookupCollection(coll); !ok {
				b.Skipf("collection %q is not defined by package election yet", coll)
			}
			_, d, _ := stationWithElection(b, testOptions(&sleeps{}))
			ctx := context.Background()
			body := bodies[name]
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			start := time.Now()
			b.ResetTimer()
			for i := range b.N {
				t0 := time.Now()
				if _, err := d.Put(ctx, coll, "bench-"+strconv.Itoa(i), []byte(body(i))); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			elapsed := time.Since(start)
			reportPercentiles(b, lat)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "changes/s")
		})
	}
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		i := min(int(p*float64(len(lat))), len(lat)-1)
		return float64(lat[i]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// BenchmarkSync measures pushing 1000 captured changes to the server
// through httptest (compression, batching, receipt verification, one
// transaction to acknowledge), and reports changes/s. Capture is excluded.
func BenchmarkSync(b *testing.B) {
	const perSync = 1000
	f, d, _ := stationWithElection(b, testOptions(&sleeps{}))
	ctx := context.Background()
	var syncTime time.Duration
	var bytesUp, roundTrips int64
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		for j := range perSync {
			if _, err := d.Put(ctx, "attendance", "s"+strconv.Itoa(i)+"-"+strconv.Itoa(j), []byte(attendance(village, j))); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		t0 := time.Now()
		rep, err := d.Sync(ctx)
		syncTime += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Pushed != perSync {
			b.Fatalf("got pushed %d, want %d", rep.Pushed, perSync)
		}
		bytesUp += rep.BytesUp
		roundTrips += int64(rep.RoundTrips)
	}
	b.StopTimer()
	b.ReportMetric(float64(perSync*b.N)/syncTime.Seconds(), "changes/s")
	b.ReportMetric(float64(bytesUp)/float64(perSync*b.N), "bytes-up/change")
	b.ReportMetric(float64(roundTrips)/float64(b.N), "round-trips/sync")
	if got := len(f.held(d.ID())); got != perSync*b.N {
		b.Fatalf("got %d changes on the server, want %d", got, perSync*b.N)
	}
}
