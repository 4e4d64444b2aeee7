package sqlite_test

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/sqlite"
	"villagesync/syncproto"
)

// pullPlaces are places every scope shape treats differently, including
// ones no validated record has (a village outside its township, a village
// code that is not 12 digits), so that the SQL must match
// election.Scope.CanRead even where the domain would never go.
var pullPlaces = []election.Place{
	{},
	{Township: baiquan},
	{Township: weijin},
	villagePlace(village1),
	villagePlace(village2),
	villagePlace(village3),
	{Township: baiquan, Village: village3},
	{Township: "", Village: village1},
	{Township: baiquan, Village: baiquan + "2x1"},
	{Township: baiquan, Village: baiquan + "2011"},
}

var pullCollections = []string{"county", "township", "village", "election", "attendance", "problem"}

var pullScopes = []election.Scope{
	{Role: election.RoleStation, Code: village1},
	{Role: election.RoleStation, Code: village2},
	{Role: election.RoleStation, Code: village3},
	{Role: election.RoleSupervisor, Code: baiquan},
	{Role: election.RoleSupervisor, Code: weijin},
	{Role: election.RoleCounty, Code: county},
	{Role: election.RoleObserver, Code: county},
}

// logEntry is a change pushed in a test, in log order.
type logEntry struct {
	key        string
	collection string
	place      election.Place
	device     string
}

// visible returns the keys of entries scope may read, not authored by
// exclude, in log order: what Pull must return.
func visible(log []logEntry, scope election.Scope, exclude string) []string {
	var keys []string
	for _, e := range log {
		if e.device != exclude && scope.CanRead(e.collection, e.place) {
			keys = append(keys, e.key)
		}
	}
	return keys
}

func TestPull(t *testing.T) {
	ctx := context.Background()
	st := MustOpen(t)
	countyDev := newDevice(t, st, "county", election.RoleCounty, county)
	station := newDevice(t, st, "station", election.RoleStation, village1)
	var log []logEntry
	for i, coll := range pullCollections {
		for j, p := range pullPlaces {
			d := countyDev
			if (i+j)%3 == 0 {
				d = station
			}
			in := d.next(t, coll, fmt.Sprintf("r%d-%d", i, j), fmt.Sprintf(`{"n":%d}`, i*100+j), 0, p)
			mustPush(t, st, d, in)
			log = append(log, logEntry{key: changeKey(in.Change), collection: coll, place: p, device: d.id()})
		}
	}

	for _, scope := range pullScopes {
		for _, exclude := range []string{"", station.id()} {
			t.Run(fmt.Sprintf("%s-%s-exclude%t", scope.Role, scope.Code, exclude != ""), func(t *testing.T) {
				got := pullAll(t, st, scope, exclude)
				var keys []string
				for _, c := range got {
					keys = append(keys, changeKey(c))
					if c.Prev != nil {
						t.Fatalf("pulled change %s carries prev, want none", changeKey(c))
					}
					if len(c.Sig) == 0 {
						t.Fatalf("pulled change %s lost its signature", changeKey(c))
					}
				}
				if want := visible(log, scope, exclude); !slices.Equal(keys, want) {
					t.Fatalf("got %v, want %v", keys, want)
				}
			})
		}
	}

	t.Run("ChangeIntact", func(t *testing.T) {
		d := newDevice(t, st, "intact", election.RoleStation, village1)
		in := d.next(t, "attendance", "intact", `{"note":"<b>&</b> 白泉镇"}`, 3, villagePlace(village1))
		res := mustPush(t, st, d, in)
		page, _, _, err := st.Pull(ctx, election.Scope{Role: election.RoleCounty, Code: county}, res.Pos-1, syncproto.DefaultPullBytes, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != 1 {
			t.Fatalf("got %d changes, want 1", len(page))
		}
		c := page[0]
		want := in.Change
		want.Prev = nil
		got, err := syncproto.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		wantJSON, err := syncproto.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(wantJSON) {
			t.Fatalf("got %s, want %s", got, wantJSON)
		}
		if c.Hash(in.Prev) != in.Hash || !syncproto.VerifyHash(d.dev.PublicKey, in.Hash, c.Sig) {
			t.Fatal("pulled change no longer hashes and verifies as pushed")
		}
	})

	t.Run("NothingVisible", func(t *testing.T) {
		// Station 3 sees none of the last changes; the cursor still moves
		// to the end of the log.
		page, next, more, err := st.Pull(ctx, election.Scope{Role: election.RoleStation, Code: village3}, uint64(len(log)), syncproto.DefaultPullBytes, "")
		if err != nil {
			t.Fatal(err)
		}
		s := mustStats(t, st)
		if len(page) != 0 || more || next != uint64(s.Changes) {
			t.Fatalf("got %d changes, next %d, more %t; want none, next %d, no more", len(page), next, more, s.Changes)
		}
	})

	t.Run("PastTheEnd", func(t *testing.T) {
		s := mustStats(t, st)
		page, next, more, err := st.Pull(ctx, election.Scope{Role: election.RoleCounty, Code: county}, uint64(s.Changes), syncproto.DefaultPullBytes, "")
		if err != nil || len(page) != 0 || more || next != uint64(s.Changes) {
			t.Fatalf("got %d changes, next %d, more %t, err %v; want none at %d", len(page), next, more, err, s.Changes)
		}
	})

	t.Run("AtLeastOne", func(t *testing.T) {
		page, next, more, err := st.Pull(ctx, election.Scope{Role: election.RoleCounty, Code: county}, 0, 1, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != 1 || !more || next != 1 {
			t.Fatalf("got %d changes, next %d, more %t; want 1, next 1, more", len(page), next, more)
		}
	})

	t.Run("ErrInvalidScope", func(t *testing.T) {
		_, _, _, err := st.Pull(ctx, election.Scope{Role: election.RoleStation, Code: baiquan}, 0, syncproto.DefaultPullBytes, "")
		wantCode(t, err, syncproto.CodeForbidden)
	})
}

// TestPull_Property checks, over random logs, scopes and page sizes, that
// paging through Pull from the start visits exactly the changes
// election.Scope.CanRead allows, not authored by the excluded device, each
// once, in log order, in pages within their byte bound.
func TestPull_Property(t *testing.T) {
	dir := t.TempDir()
	iteration := 0
	devices := []struct {
		name  string
		role  election.Role
		scope string
	}{
		{"county", election.RoleCounty, county},
		{"station1", election.RoleStation, village1},
		{"station3", election.RoleStation, village3},
		{"supervisor", election.RoleSupervisor, baiquan},
	}
	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		iteration++
		st, err := sqlite.Open(ctx, filepath.Join(dir, fmt.Sprintf("p%d.db", iteration)), nil)
		if err != nil {
			rt.Fatalf("open: %v", err)
		}
		defer func() {
			if err := st.Close(); err != nil {
				rt.Errorf("close: %v", err)
			}
		}()
		devs := make([]*testDevice, len(devices))
		for i, d := range devices {
			devs[i] = makeDevice(d.name, d.role, d.scope)
			if err := st.PutDevice(ctx, devs[i].dev); err != nil {
				rt.Fatalf("put device: %v", err)
			}
		}

		var log []logEntry
		pushes := rapid.IntRange(0, 12).Draw(rt, "pushes")
		for range pushes {
			d := devs[rapid.IntRange(0, len(devs)-1).Draw(rt, "device")]
			n := rapid.IntRange(1, 6).Draw(rt, "changes")
			var batch []server.Incoming
			for range n {
				coll := rapid.SampledFrom(pullCollections).Draw(rt, "collection")
				p := rapid.SampledFrom(pullPlaces).Draw(rt, "place")
				pad := rapid.IntRange(0, 600).Draw(rt, "pad")
				body := fmt.Sprintf(`{"pad":"%s"}`, strings.Repeat("x", pad))
				in := d.next(rt, coll, fmt.Sprintf("%s-%d", d.dev.Label, d.seq+1), body, 0, p)
				batch = append(batch, in)
			}
			res, err := st.Push(ctx, d.id(), batch, t0)
			if err != nil {
				rt.Fatalf("push: %v", err)
			}
			if res.Applied != n {
				rt.Fatalf("got %d applied, want %d", res.Applied, n)
			}
			for _, in := range batch {
				log = append(log, logEntry{key: changeKey(in.Change), collection: in.Change.Collection, place: in.Place, device: d.id()})
			}
		}

		scope := rapid.SampledFrom(pullScopes).Draw(rt, "scope")
		exclude := ""
		if i := rapid.IntRange(-1, len(devs)-1).Draw(rt, "exclude"); i >= 0 {
			exclude = devs[i].id()
		}
		maxBytes := rapid.IntRange(1, 3000).Draw(rt, "maxBytes")

		var got []string
		var after uint64
		for pages := 0; ; pages++ {
			if pages > len(log)+1 {
				rt.Fatalf("paging did not finish after %d pages", pages)
			}
			page, next, more, err := st.Pull(ctx, scope, after, maxBytes, exclude)
			if err != nil {
				rt.Fatalf("pull: %v", err)
			}
			size := 0
			for _, c := range page {
				size += len(c.Body) + 200
				got = append(got, changeKey(c))
			}
			if len(page) > 1 && size > maxBytes {
				rt.Fatalf("got a page of %d changes and %d bytes, want at most %d bytes", len(page), size, maxBytes)
			}
			if more && len(page) == 0 {
				rt.Fatalf("got an empty page with more set")
			}
			if next < after {
				rt.Fatalf("cursor went back from %d to %d", after, next)
			}
			after = next
			if !more {
				break
			}
		}
		if after != uint64(len(log)) {
			rt.Fatalf("got final cursor %d, want the end of the log %d", after, len(log))
		}
		if want := visible(log, scope, exclude); !slices.Equal(got, want) {
			rt.Fatalf("got %v, want %v", got, want)
		}
	})
}

// TestPull_QueryPlans checks that each pull query reads index ranges in log
// order and sorts nothing: a page costs the same however long the log grows.
func TestPull_QueryPlans(t *testing.T) {
	st := MustOpen(t)
	ctx := context.Background()
	for name, q := range sqlite.PullQueries {
		t.Run(name, func(t *testing.T) {
			rows, err := sqlite.ReadPool(st).QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, 0, "", 10, baiquan, village1)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			t.Logf("plan: %q", plan)
			searches := 0
			for _, line := range plan {
				if strings.HasPrefix(line, "SCAN changes") || strings.Contains(line, "TEMP B-TREE") {
					t.Fatalf("got %q in plan %q, want index searches merged in log order", line, plan)
				}
				if strings.HasPrefix(line, "SEARCH changes") {
					searches++
				}
			}
			if searches == 0 {
				t.Fatalf("got plan %q, want index searches of changes", plan)
			}
		})
	}
}

// TestPull_SupervisorFilter checks the filter that keeps a supervisor from
// reading a record filed under its township but about a village that is
// not one of its villages: the township alone does not decide.
func TestPull_SupervisorFilter(t *testing.T) {
	st := MustOpen(t)
	d := newDevice(t, st, "county", election.RoleCounty, county)
	places := map[string]election.Place{
		"own":        villagePlace(village1),
		"township":   {Township: baiquan},
		"wide":       {},
		"foreign":    {Township: baiquan, Village: village3},
		"long":       {Township: baiquan, Village: village1 + "1"},
		"not-digits": {Township: baiquan, Village: baiquan + "2x1"},
	}
	want := map[string]bool{"own": true, "township": true, "wide": true}
	for _, name := range slices.Sorted(maps.Keys(places)) {
		mustPush(t, st, d, d.next(t, "problem", name, `{"n":1}`, 0, places[name]))
	}
	sup := election.Scope{Role: election.RoleSupervisor, Code: baiquan}
	got := make(map[string]bool)
	for _, c := range pullAll(t, st, sup, "") {
		got[c.ID] = true
	}
	for name, p := range places {
		if got[name] != want[name] || got[name] != sup.CanRead("problem", p) {
			t.Errorf("%s at %+v: pulled %t, want %t", name, p, got[name], want[name])
		}
	}
}
