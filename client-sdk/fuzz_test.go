package client_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	client "villagesync/client-sdk"
	"villagesync/election"
	"villagesync/syncproto"
)

// cannedTransport answers POST /v1/sync with a canned response when one is
// set, and passes every other request (and sync when none is set) on.
type cannedTransport struct {
	next http.RoundTripper

	mu     sync.Mutex
	canned *http.Response
	body   []byte
}

func (t *cannedTransport) set(status int, encoding string, body []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := http.Header{"Content-Type": {syncproto.MediaType}}
	if encoding != "" {
		h.Set("Content-Encoding", encoding)
	}
	t.canned = &http.Response{StatusCode: status, Header: h}
	t.body = body
}

func (t *cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.mu.Lock()
	canned, body := t.canned, t.body
	t.mu.Unlock()
	if canned == nil || r.URL.Path != "/v1/sync" {
		return t.next.RoundTrip(r)
	}
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	resp := *canned
	resp.Header = canned.Header.Clone()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Request = r
	return &resp, nil
}

// FuzzSyncResponse feeds arbitrary sync responses (status, content
// encoding, body) to a synced station. Sync must never panic, must never
// accept an acknowledgement it cannot verify, and must leave the store
// consistent.
func FuzzSyncResponse(f *testing.F) {
	ctx := context.Background()
	srv := newFakeServer(f)
	srv.seedVillage(village)
	rival := newFakeAuthor(f)
	pulled := srv.publish(rival, "problem", "p-1", `{"village":"`+village+`","source":"inspection","category":"名单","description":"公示不全"}`, 0)

	tr := &cannedTransport{next: http.DefaultTransport}
	opts := testOptions(&sleeps{})
	opts.HTTPClient = &http.Client{Transport: tr}
	opts.MaxAttempts = 1
	d, err := client.Enroll(ctx, f.TempDir(), srv.URL(), srv.code(election.RoleStation, village), opts)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = d.Close() })
	mustSync(f, d) // pulls the election the capture refers to
	mustPut(f, d, "attendance", "att-1", attendance(village, 100))
	mustSync(f, d)
	before, err := d.Status(ctx)
	if err != nil {
		f.Fatal(err)
	}

	// Seeds: well-formed answers in every encoding, and near misses.
	rc := *before.LastReceipt
	valid, err := syncproto.Marshal(syncproto.SyncResponse{
		Receipt: &rc, Changes: []syncproto.Change{pulled}, Cursor: syncproto.EncodeCursor(9), Now: 1, Nonce: "n",
	})
	if err != nil {
		f.Fatal(err)
	}
	zw, _ := zstd.NewWriter(nil)
	var gz bytes.Buffer
	gw := gzip.NewWriter(&gz)
	_, _ = gw.Write(valid)
	_ = gw.Close()
	forged := bytes.Replace(valid, []byte(`"through":1`), []byte(`"through":0`), 1)
	f.Add(200, uint8(0), valid)
	f.Add(200, uint8(2), zw.EncodeAll(valid, nil))
	f.Add(200, uint8(3), gz.Bytes())
	f.Add(200, uint8(0), forged)
	f.Add(200, uint8(0), []byte(`{"now":1,"changes":[{"device":"x","seq":1,"coll":"village","id":"1","t":1,"at":1,"v":1,"body":{}}]}`))
	// Another version of the device's own fact, with an older clock: it
	// becomes the provisional body of an open conflict.
	f.Add(200, uint8(0), []byte(`{"now":1,"changes":[{"device":"dev-x","seq":1,"coll":"attendance","id":"att-1","t":1,"at":1,"v":1,`+
		`"body":{"election":"`+village+`-PC","eligible":120,"present":7}}]}`))
	f.Add(200, uint8(0), []byte(`{}`))
	f.Add(200, uint8(2), []byte("\x28\xb5\x2f\xfd garbage"))
	f.Add(401, uint8(0), []byte(`{"error":{"code":"token_expired","message":"x"}}`))
	f.Add(502, uint8(1), []byte(`<html>bad gateway</html>`))
	_ = zw.Close()

	encodings := []string{"", "identity", "zstd", "gzip", "br"}
	f.Fuzz(func(t *testing.T, status int, enc uint8, body []byte) {
		if status < 100 || status > 599 {
			status = 200
		}
		tr.set(status, encodings[int(enc)%len(encodings)], body)
		_, _ = d.Sync(ctx) // errors are expected; panics and false acks are not

		after, err := d.Status(ctx)
		if err != nil {
			t.Fatalf("status after a fuzzed response: %v", err)
		}
		if after.Pending != 0 || after.LastReceipt == nil || after.LastReceipt.Through != 1 ||
			!bytes.Equal(after.LastReceipt.Sig, before.LastReceipt.Sig) {
			t.Fatalf("got pending %d receipt %+v, want the verified receipt kept", after.Pending, after.LastReceipt)
		}
		// The device's own capture is never lost: it is the version shown
		// or, if a pulled version conflicts with it, one of the versions
		// the open conflict lists.
		rec, err := d.Get(ctx, "attendance", "att-1")
		if err != nil {
			t.Fatalf("got %v reading the own record, want it held", err)
		}
		own := rec.Device == d.ID() && rec.Seq == 1
		for _, v := range rec.Versions {
			own = own || v.Own && v.Seq == 1 && rec.Conflict != ""
		}
		if !own {
			t.Fatalf("got own record %+v, want its own version shown or in its open conflict", rec)
		}
	})
}
