package server_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"villagesync/election"
	"villagesync/server"
	"villagesync/server/httpapi/httptestutil"
	"villagesync/syncproto"
)

// TestSyncWaitsForACheckSlot checks the bound on pushes checked at once:
// while every slot is taken a push stores nothing and ends with its
// request's cancellation, and once slots are free, many devices pushing at
// once all get their changes stored (no slot leaks, no deadlock).
func TestSyncWaitsForACheckSlot(t *testing.T) {
	e := httptestutil.NewEnv(t)
	ctx := t.Context()
	v := e.Village(9, 2)
	d := e.Enroll(t, election.RoleStation, v)
	p := &server.Principal{Subject: d.ID, Device: d.ID, Scope: d.Scope}
	for i := range 3 {
		d.Author(t, "attendance", fmt.Sprintf("%s-att-%d", v, i), map[string]any{"election": v + "-PC", "eligible": 60, "present": 50})
	}
	req := &syncproto.SyncRequest{Changes: d.Run(1, 3), PullMax: -1}

	t.Run("Waits", func(t *testing.T) {
		release := server.HoldCheckSlots(e.Service)
		before := e.Stats(t)
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			_, err := e.Service.Sync(wctx, p, req)
			done <- err
		}()
		cancel()
		err := <-done
		release()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want the request's cancellation", err)
		}
		if after := e.Stats(t); after != before {
			t.Errorf("got %+v after a push that never got a check slot, want %+v", after, before)
		}
	})

	t.Run("OK", func(t *testing.T) {
		resp, err := e.Service.Sync(ctx, p, req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Receipt == nil || resp.Receipt.Through != 3 {
			t.Fatalf("got receipt %+v, want through 3", resp.Receipt)
		}
	})

	t.Run("ManyDevices", func(t *testing.T) {
		const devices = 8
		var wg sync.WaitGroup
		errs := make(chan error, devices)
		for i := range devices {
			dv := e.Village(i%13, 1+i/13)
			dd := e.Enroll(t, election.RoleStation, dv)
			for k := range 20 {
				dd.Author(t, "attendance", fmt.Sprintf("%s-att-%d", dv, k), map[string]any{"election": dv + "-PC", "eligible": 60, "present": 50})
			}
			pp := &server.Principal{Subject: dd.ID, Device: dd.ID, Scope: dd.Scope}
			r := &syncproto.SyncRequest{Changes: dd.Run(1, 20), PullMax: -1}
			wg.Go(func() {
				resp, err := e.Service.Sync(ctx, pp, r)
				if err == nil && (resp.Receipt == nil || resp.Receipt.Through != 20) {
					err = fmt.Errorf("device %s: got receipt %+v, want through 20", pp.Device, resp.Receipt)
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
}
