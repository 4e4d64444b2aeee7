package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"villagesync/bench"
)

// TestMain doubles as the station process of the memory figure: Run starts
// this test binary with bench.StationChildEnv set.
func TestMain(m *testing.M) {
	if os.Getenv(bench.StationChildEnv) != "" {
		if err := bench.StationChild(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// quickOptions are the quick run's sizes, smaller still under the race
// detector (which slows everything tenfold).
func quickOptions(t *testing.T) bench.Options {
	opts := bench.Options{Quick: true, Dir: t.TempDir(), StationCommand: []string{os.Args[0]}}
	if raceEnabled {
		opts.Devices, opts.SaturationBatches, opts.ShapedStations, opts.Captures = 4, 2, 1, 20
	}
	return opts
}

// specKeys are the keys SPEC §9 names for `villagesync bench --json`.
var specKeys = []string{
	"bytes_ratio_zstd", "bytes_ratio_couchdb", "round_trips_per_sync", "shaped_link_ratio",
	"ingest_changes_per_s", "ingest_ratio_raw_sqlite", "push_p99_ms", "capture_p99_ms", "station_rss_mb",
}

// TestRunQuick runs the whole suite at its quick sizes and checks that the
// result is complete and consistent with itself: every SPEC key present,
// every ratio its figure over its target or baseline, every raw figure
// adding up. It never looks at how fast anything was.
func TestRunQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("the bench suite takes seconds")
	}
	opts := quickOptions(t)
	var progress bytes.Buffer
	opts.Progress = &progress
	res, err := bench.Run(t.Context(), opts)
	if err != nil {
		t.Fatalf("Run: %v\nprogress:\n%s", err, progress.String())
	}

	run := res.Run
	if run.Devices <= 0 || run.Batch <= 0 || run.SaturationBatches <= 0 || run.ShapedStations <= 0 || run.Captures <= 0 {
		t.Fatalf("run sizes not recorded: %+v", run)
	}

	t.Run("SpecKeys", func(t *testing.T) {
		b, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range specKeys {
			v, ok := m[k].(float64)
			if !ok {
				t.Errorf("key %q: got %v, want a number", k, m[k])
				continue
			}
			if v <= 0 {
				t.Errorf("key %q: got %v, want > 0", k, v)
			}
		}
		if len(res.Figures) != len(specKeys) {
			t.Fatalf("got %d figures, want %d", len(res.Figures), len(specKeys))
		}
		for i, f := range res.Figures {
			if f.Key != specKeys[i] {
				t.Errorf("figure %d: got %q, want %q", i, f.Key, specKeys[i])
			}
			if m[f.Key] != f.Value {
				t.Errorf("%s: figure value %v, top-level %v", f.Key, f.Value, m[f.Key])
			}
		}
	})

	t.Run("Ratios", func(t *testing.T) {
		for _, f := range res.Figures {
			switch {
			case f.Verdict == bench.Info:
				if f.Limit != 0 || f.Ratio != f.Value {
					t.Errorf("%s: baseline figure with limit %v, ratio %v, value %v; want no limit and ratio = value", f.Key, f.Limit, f.Ratio, f.Value)
				}
			case f.Limit <= 0:
				t.Errorf("%s: got limit %v, want > 0", f.Key, f.Limit)
			default:
				if !near(f.Ratio, f.Value/f.Limit) {
					t.Errorf("%s: got ratio %v, want %v / %v", f.Key, f.Ratio, f.Value, f.Limit)
				}
				within := f.Value <= f.Limit
				if !f.Max {
					within = f.Value >= f.Limit
				}
				if f.Verdict == bench.Pass && !within {
					t.Errorf("%s: %v passes a target of %v (max %v)", f.Key, f.Value, f.Limit, f.Max)
				}
				if f.Verdict == bench.Fail && within && f.Note == "" {
					t.Errorf("%s: %v fails a target of %v (max %v) with no note saying why", f.Key, f.Value, f.Limit, f.Max)
				}
			}
		}
	})

	t.Run("Bytes", func(t *testing.T) {
		b := res.Bytes
		if b.WireBytes <= 0 || b.ZstdBytes <= 0 || b.CouchDBBytes <= 0 || b.ContentBytes <= b.ZstdBytes {
			t.Errorf("got wire %d, zstd %d, CouchDB %d, content %d bytes; want all > 0 and content > zstd",
				b.WireBytes, b.ZstdBytes, b.CouchDBBytes, b.ContentBytes)
		}
		if !near(res.BytesRatioZstd, float64(b.WireBytes)/float64(b.ZstdBytes)) ||
			!near(res.BytesRatioCouchDB, float64(b.WireBytes)/float64(b.CouchDBBytes)) {
			t.Errorf("byte ratios %v, %v do not follow from %d/%d and %d/%d",
				res.BytesRatioZstd, res.BytesRatioCouchDB, b.WireBytes, b.ZstdBytes, b.WireBytes, b.CouchDBBytes)
		}
		var wire int64
		records := 0
		for i, s := range b.Syncs {
			if s.RoundTrips < 1 {
				t.Errorf("sync %d: got %d round trips, want ≥ 1", i+1, s.RoundTrips)
			}
			wire += s.BytesUp + s.BytesDown
			records += s.Pushed + s.Pulled
		}
		if wire != b.WireBytes || records != b.Records {
			t.Errorf("syncs add up to %d bytes and %d records, got totals %d and %d", wire, records, b.WireBytes, b.Records)
		}
		rt := b.RoundTripSync
		if rt.Pushed == 0 || rt.Pulled == 0 {
			t.Errorf("the round-trip sync pushed %d and pulled %d, want both > 0", rt.Pushed, rt.Pulled)
		}
		if res.RoundTripsPerSync != float64(rt.RoundTrips) || rt.RoundTrips != b.RoundTrips || rt.RoundTrips < 1 {
			t.Errorf("round_trips_per_sync %v, round-trip sync %d requests (%d)", res.RoundTripsPerSync, rt.RoundTrips, b.RoundTrips)
		}
		if b.CouchDBRoundTrips < 5 {
			t.Errorf("got %d CouchDB requests for a sync that pushes and pulls, want at least 5", b.CouchDBRoundTrips)
		}
		if o := b.OneSync; o == nil || o.WireBytes <= 0 || o.RoundTrips < 1 || !near(o.Ratio, float64(o.WireBytes)/float64(o.ZstdBytes)) {
			t.Errorf("one-sync day: got %+v", o)
		}
		if len(b.CouchDBRequests) != len(b.Syncs) {
			t.Errorf("got CouchDB requests for %d syncs, want %d", len(b.CouchDBRequests), len(b.Syncs))
		}
	})

	t.Run("ShapedLink", func(t *testing.T) {
		s := res.Shaped
		if s.Stations != run.ShapedStations || s.Syncs < s.Stations || s.Delivered < s.Syncs || s.Exchanges < s.Delivered {
			t.Errorf("got %d stations, %d syncs, %d delivered of %d exchanges; want %d stations, syncs ≥ stations, delivered ≥ syncs, exchanges ≥ delivered",
				s.Stations, s.Syncs, s.Delivered, s.Exchanges, run.ShapedStations)
		}
		// Every delivered exchange's round trip and bytes are in the
		// elapsed time, plus framing: elapsed can never beat the ideal.
		if s.IdealS <= 0 || s.ElapsedS < s.IdealS || !near(s.Ratio, s.ElapsedS/s.IdealS) || res.ShapedLinkRatio != s.Ratio {
			t.Errorf("got elapsed %v s, ideal %v s, ratio %v (figure %v); want elapsed ≥ ideal > 0 and ratio = elapsed/ideal",
				s.ElapsedS, s.IdealS, s.Ratio, res.ShapedLinkRatio)
		}
	})

	t.Run("Ingest", func(t *testing.T) {
		in := res.Ingest
		want := run.Devices * run.Batch * run.SaturationBatches
		if in.Devices != run.Devices || in.Batch != run.Batch || in.Changes != want || in.RawChanges != want {
			t.Errorf("got %d devices, %d changes, %d raw; want %d, %d, %d", in.Devices, in.Changes, in.RawChanges, run.Devices, want, want)
		}
		if in.PacedPushes < 2*run.Devices || in.PacedLoad <= 0 || in.PacedLoad > bench.IngestTarget {
			t.Errorf("paced run: %d pushes at %v offered; want ≥ %d pushes, 0 < load ≤ %d", in.PacedPushes, in.PacedLoad, 2*run.Devices, bench.IngestTarget)
		}
		if !near(res.IngestRatioRawSQLite, in.ChangesPerS/in.RawChangesPerS) || res.IngestChangesPerS != in.ChangesPerS {
			t.Errorf("ingest figures %v, %v do not follow from %v and raw %v", res.IngestChangesPerS, res.IngestRatioRawSQLite, in.ChangesPerS, in.RawChangesPerS)
		}
		if in.SaturatedP50MS > in.SaturatedP99MS || in.PacedP50MS > in.PacedP99MS || res.PushP99MS != in.PacedP99MS {
			t.Errorf("latencies out of order: saturated p50 %v p99 %v, paced p50 %v p99 %v, push_p99_ms %v",
				in.SaturatedP50MS, in.SaturatedP99MS, in.PacedP50MS, in.PacedP99MS, res.PushP99MS)
		}
	})

	t.Run("Station", func(t *testing.T) {
		c, st := res.Capture, res.Station
		if c.Captures != run.Captures || c.P50MS > c.P99MS || c.P99MS > c.MaxMS || res.CaptureP99MS != c.P99MS {
			t.Errorf("capture: got %d captures, p50 %v, p99 %v, max %v, figure %v", c.Captures, c.P50MS, c.P99MS, c.MaxMS, res.CaptureP99MS)
		}
		if st.Records == 0 || st.Syncs < 1 || st.PeakRSSMB <= 0 || res.StationRSSMB != st.PeakRSSMB {
			t.Errorf("station process: got %d records in %d syncs, peak RSS %v MB (figure %v)", st.Records, st.Syncs, st.PeakRSSMB, res.StationRSSMB)
		}
	})

	t.Run("Table", func(t *testing.T) {
		var out bytes.Buffer
		if err := bench.WriteTable(&out, res); err != nil {
			t.Fatal(err)
		}
		t.Logf("\n%s", out.String())
		for _, k := range specKeys {
			if !strings.Contains(out.String(), k+" ") {
				t.Errorf("table has no line for %s:\n%s", k, out.String())
			}
		}
	})
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
