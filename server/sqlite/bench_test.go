package sqlite_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"villagesync/election"
	"villagesync/server"
	"villagesync/syncproto"
)

const (
	benchDevices = 50
	benchBatch   = 100
)

// benchVillages are the villages the benchmark devices are stations of.
func benchVillage(i int) string {
	return fmt.Sprintf("%s%03d", baiquan, 201+i%12)
}

// benchBatches authors a batch of benchBatch tally-like facts for d.
func benchBatches(b *testing.B, d *testDevice, village string) []server.Incoming {
	b.Helper()
	ins := make([]server.Incoming, benchBatch)
	for i := range ins {
		seq := d.seq + 1
		ins[i] = d.next(b, "ballot", fmt.Sprintf("%s-PC-1-%s-%d", village, d.dev.Label, seq),
			fmt.Sprintf(`{"election":"%s-PC","round":1,"serial":%d,"marks":{"%s-PC-C1":"yes","%s-PC-C2":"no","%s-PC-C3":"yes"},"write_ins":[]}`,
				village, seq, village, village, village),
			0, villagePlace(village))
	}
	return ins
}

// BenchmarkPush pushes batches of 100 signed changes from 50 station
// devices in turn, each push one durable transaction, and reports changes
// stored per second.
func BenchmarkPush(b *testing.B) {
	b.Run("Serial", func(b *testing.B) {
		st := MustOpen(b)
		devs := make([]*testDevice, benchDevices)
		for i := range devs {
			devs[i] = newDevice(b, st, fmt.Sprintf("bench%d", i), election.RoleStation, benchVillage(i))
		}
		ctx := context.Background()
		b.ResetTimer()
		for i := range b.N {
			b.StopTimer()
			d := devs[i%benchDevices]
			batch := benchBatches(b, d, benchVillage(i%benchDevices))
			b.StartTimer()
			res, err := st.Push(ctx, d.id(), batch, t0)
			if err != nil {
				b.Fatal(err)
			}
			if res.Applied != benchBatch {
				b.Fatalf("got %d applied, want %d", res.Applied, benchBatch)
			}
		}
		b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "changes/s")
	})

	b.Run("Parallel", func(b *testing.B) {
		st := MustOpen(b)
		// Pre-author enough batches for every device, so that the timed
		// loop only pushes.
		type benchDev struct {
			mu      sync.Mutex
			d       *testDevice
			next    int
			batches [][]server.Incoming
		}
		devs := make([]*benchDev, benchDevices)
		perDevice := b.N/benchDevices + 1
		for i := range devs {
			bd := &benchDev{d: newDevice(b, st, fmt.Sprintf("bench%d", i), election.RoleStation, benchVillage(i))}
			for range perDevice {
				bd.batches = append(bd.batches, benchBatches(b, bd.d, benchVillage(i)))
			}
			devs[i] = bd
		}
		var turn atomic.Int64
		ctx := context.Background()
		b.SetParallelism(4) // 4 × GOMAXPROCS concurrent pushers
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				// Devices take turns; each pushes its batches in
				// order, one push at a time, as a real device does.
				bd := devs[int(turn.Add(1)-1)%benchDevices]
				bd.mu.Lock()
				batch := bd.batches[bd.next]
				bd.next++
				res, err := st.Push(ctx, bd.d.id(), batch, t0)
				bd.mu.Unlock()
				if err != nil {
					b.Error(err)
					return
				}
				if res.Applied != benchBatch {
					b.Errorf("got %d applied, want %d", res.Applied, benchBatch)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "changes/s")
	})
}

// BenchmarkPull pulls a station's and a supervisor's pages from a log of
// 50 devices' changes across a township, and reports changes pulled per
// second.
func BenchmarkPull(b *testing.B) {
	st := MustOpen(b)
	devs := make([]*testDevice, benchDevices)
	for i := range devs {
		devs[i] = newDevice(b, st, fmt.Sprintf("bench%d", i), election.RoleStation, benchVillage(i))
	}
	ctx := context.Background()
	for range 4 {
		for i, d := range devs {
			if _, err := st.Push(ctx, d.id(), benchBatches(b, d, benchVillage(i)), t0); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, sc := range []struct {
		name  string
		scope election.Scope
	}{
		{"Station", election.Scope{Role: election.RoleStation, Code: benchVillage(0)}},
		{"Supervisor", election.Scope{Role: election.RoleSupervisor, Code: baiquan}},
		{"County", election.Scope{Role: election.RoleCounty, Code: county}},
	} {
		b.Run(sc.name, func(b *testing.B) {
			pulled := 0
			var after uint64
			for range b.N {
				page, next, more, err := st.Pull(ctx, sc.scope, after, syncproto.DefaultPullBytes, "")
				if err != nil {
					b.Fatal(err)
				}
				pulled += len(page)
				after = next
				if !more {
					after = 0
				}
			}
			b.ReportMetric(float64(pulled)/b.Elapsed().Seconds(), "changes/s")
		})
	}
}

// BenchmarkDevice looks up a device, as every sync and token check does.
func BenchmarkDevice(b *testing.B) {
	st := MustOpen(b)
	d := newDevice(b, st, "bench0", election.RoleStation, benchVillage(0))
	ctx := context.Background()
	for b.Loop() {
		if _, err := st.Device(ctx, d.id()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHead reads a device's head, as a sync that pushes nothing does.
func BenchmarkHead(b *testing.B) {
	st := MustOpen(b)
	d := newDevice(b, st, "bench0", election.RoleStation, benchVillage(0))
	ctx := context.Background()
	if _, err := st.Push(ctx, d.id(), benchBatches(b, d, benchVillage(0)), t0); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := st.Head(ctx, d.id()); err != nil {
			b.Fatal(err)
		}
	}
}
