package httpapi_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"villagesync/election"
	"villagesync/server/httpapi"
	"villagesync/server/httpapi/httptestutil"
	"villagesync/syncproto"
)

// BenchmarkSyncPush measures signed changes stored per second over HTTP:
// several station devices each push 100-change runs over a loopback
// connection to the real router and SQLite store. Request bodies are built
// before the timer starts, so the figure is the server's.
func BenchmarkSyncPush(b *testing.B) {
	const (
		batch   = 100
		devices = 8
	)
	// The benchmark measures ingest, not the per-device rate limit.
	e := httptestutil.NewEnvOptions(b, httptestutil.Options{HTTP: httpapi.Config{Limits: httpapi.RateLimits{
		Enroll: httpapi.Off, Token: httpapi.Off, Login: httpapi.Off, Subject: httpapi.Off}}})
	srv := httptest.NewServer(e.Handler)
	b.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: devices}}
	b.Cleanup(client.CloseIdleConnections)

	per := (b.N + devices - 1) / devices
	bodies := make([][][]byte, devices)
	tokens := make([]string, devices)
	for w := range devices {
		v := e.Village(w%13, w/13)
		d := e.Enroll(b, election.RoleStation, v)
		tokens[w] = d.Token
		for range per {
			from := d.Seq() + 1
			for range batch {
				d.Author(b, "attendance", fmt.Sprintf("%s-att-%d", v, d.Seq()+1), attendance(v, 50))
			}
			bodies[w] = append(bodies[w], httptestutil.JSON(b, syncproto.SyncRequest{Changes: d.Run(from, d.Seq()), PullMax: -1}))
		}
	}

	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make(chan error, devices)
	for w := range devices {
		wg.Go(func() {
			for _, body := range bodies[w] {
				req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/sync", bytes.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				req.Header.Set("Authorization", "Bearer "+tokens[w])
				req.Header.Set("Content-Type", syncproto.MediaType)
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("sync: got status %d, want 200", resp.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	changes := devices * per * batch
	b.ReportMetric(float64(changes)/b.Elapsed().Seconds(), "changes/s")
	b.ReportMetric(float64(batch), "changes/op")
}
