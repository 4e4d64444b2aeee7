package httpapi_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"villagesync/election"
	"villagesync/server/httpapi"
	"villagesync/server/httpapi/httptestutil"
	"villagesync/syncproto"
)

func gzipped(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func zstded(tb testing.TB, b []byte) []byte {
	tb.Helper()
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer zw.Close()
	return zw.EncodeAll(b, nil)
}

// bomb is 1 GiB of zeros as 1024 concatenated compressed members of 1 MiB
// each: about a megabyte on the wire. Both gzip and zstd readers decode
// concatenated members as one stream.
func bomb(tb testing.TB, compress func(testing.TB, []byte) []byte) []byte {
	tb.Helper()
	member := compress(tb, make([]byte, 1<<20))
	return bytes.Repeat(member, 1024)
}

// allocated returns the bytes allocated by the process so far.
func allocated() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

func TestBodies(t *testing.T) {
	e := httptestutil.NewEnv(t)
	v := e.Village(7, 0)
	d := e.Enroll(t, election.RoleStation, v)

	syncBody := func(tb testing.TB) []byte {
		seq := d.Author(tb, "attendance", v+"-att-"+strings.Repeat("x", int(d.Seq())), attendance(v, 50))
		return httptestutil.JSON(tb, syncproto.SyncRequest{Changes: d.Run(seq, seq), PullMax: -1})
	}
	encoded := func(enc string, compress func(testing.TB, []byte) []byte, body func(testing.TB) []byte) func(testing.TB) httptestutil.Request {
		return func(tb testing.TB) httptestutil.Request {
			b := body(tb)
			if compress != nil {
				b = compress(tb, b)
			}
			return httptestutil.Request{Method: http.MethodPost, Path: "/v1/sync", Token: d.Token, Body: b,
				Header: http.Header{"Content-Encoding": {enc}}}
		}
	}
	bombOf := func(compress func(testing.TB, []byte) []byte) func(testing.TB) []byte {
		return func(tb testing.TB) []byte { return bomb(tb, compress) }
	}
	pull := func(accept string) func(testing.TB) httptestutil.Request {
		return func(testing.TB) httptestutil.Request {
			r := httptestutil.Request{Method: http.MethodPost, Path: "/v1/sync", Token: d.Token, Body: []byte(`{"now":1}`)}
			if accept != "" {
				r.Header = http.Header{"Accept-Encoding": {accept}}
			}
			return r
		}
	}
	wantEncoding := func(enc string) func(testing.TB, *httptest.ResponseRecorder) {
		return func(tb testing.TB, rec *httptest.ResponseRecorder) {
			if got := rec.Header().Get("Content-Encoding"); got != enc {
				tb.Errorf("got Content-Encoding %q, want %q", got, enc)
			}
			if got := rec.Header().Get("Vary"); !strings.Contains(got, "Accept-Encoding") {
				tb.Errorf("got Vary %q, want Accept-Encoding", got)
			}
			var resp syncproto.SyncResponse
			httptestutil.Decode(tb, rec, &resp)
			if len(resp.Changes) == 0 {
				tb.Error("pulled nothing, want the village's reference data")
			}
		}
	}

	scenarios := []httptestutil.Scenario{
		{Name: "Identity", Request: encoded("", nil, syncBody), WantStatus: http.StatusOK},
		{Name: "Gzip", Request: encoded("gzip", gzipped, syncBody), WantStatus: http.StatusOK},
		{Name: "Zstd", Request: encoded("zstd", zstded, syncBody), WantStatus: http.StatusOK},
		{
			Name:       "GzipBomb",
			Request:    encoded("gzip", nil, bombOf(gzipped)),
			WantStatus: http.StatusRequestEntityTooLarge,
			WantCode:   syncproto.CodeTooLarge,
			NoWrites:   true,
		},
		{
			Name:       "ZstdBomb",
			Request:    encoded("zstd", nil, bombOf(zstded)),
			WantStatus: http.StatusRequestEntityTooLarge,
			WantCode:   syncproto.CodeTooLarge,
			NoWrites:   true,
		},
		{
			Name: "OversizedRaw",
			Request: encoded("", nil, func(testing.TB) []byte {
				return append([]byte(`{"now":1,"cursor":"`), bytes.Repeat([]byte("a"), syncproto.MaxPushBytes)...)
			}),
			WantStatus: http.StatusRequestEntityTooLarge,
			WantCode:   syncproto.CodeTooLarge,
			NoWrites:   true,
		},
		{
			Name: "OversizedEnroll",
			Request: func(testing.TB) httptestutil.Request {
				return httptestutil.Request{Method: http.MethodPost, Path: "/v1/enroll", Body: make([]byte, 65<<10)}
			},
			WantStatus: http.StatusRequestEntityTooLarge,
			WantCode:   syncproto.CodeTooLarge,
			NoWrites:   true,
		},
		{
			Name:       "CorruptGzip",
			Request:    encoded("gzip", nil, func(testing.TB) []byte { return []byte("\x1f\x8b\x08\x00garbage") }),
			WantStatus: http.StatusBadRequest,
			WantCode:   syncproto.CodeBadRequest,
			NoWrites:   true,
		},
		{
			Name: "TruncatedZstd",
			Request: encoded("zstd", nil, func(tb testing.TB) []byte {
				b := zstded(tb, syncBody(tb))
				return b[:len(b)/2]
			}),
			WantStatus: http.StatusBadRequest,
			WantCode:   syncproto.CodeBadRequest,
			NoWrites:   true,
		},
		{
			Name:       "UnsupportedEncoding",
			Request:    encoded("br", nil, syncBody),
			WantStatus: http.StatusBadRequest,
			WantCode:   syncproto.CodeUnsupported,
			NoWrites:   true,
		},
		{
			Name:       "NotJSON",
			Request:    encoded("", nil, func(testing.TB) []byte { return []byte(`{"changes":[`) }),
			WantStatus: http.StatusBadRequest,
			WantCode:   syncproto.CodeBadRequest,
			NoWrites:   true,
		},
		{Name: "AcceptZstd", Request: pull("gzip, zstd"), WantStatus: http.StatusOK, Check: wantEncoding("zstd")},
		{Name: "AcceptGzip", Request: pull("gzip"), WantStatus: http.StatusOK, Check: wantEncoding("gzip")},
		{Name: "RefuseZstd", Request: pull("zstd;q=0, gzip;q=0.5"), WantStatus: http.StatusOK, Check: wantEncoding("gzip")},
		{Name: "AcceptAny", Request: pull("*"), WantStatus: http.StatusOK, Check: wantEncoding("zstd")},
		{Name: "AcceptNone", Request: pull(""), WantStatus: http.StatusOK, Check: wantEncoding("")},
		{Name: "AcceptIdentity", Request: pull("identity"), WantStatus: http.StatusOK, Check: wantEncoding("")},
	}
	for _, s := range scenarios {
		s.Run(t, e)
	}

	// A decompression bomb is refused after reading about BodyLimit bytes,
	// not the gigabyte it claims.
	for _, tc := range []struct {
		enc      string
		compress func(testing.TB, []byte) []byte
	}{{"gzip", gzipped}, {"zstd", zstded}} {
		t.Run("BombAllocation/"+tc.enc, func(t *testing.T) {
			body := bomb(t, tc.compress)
			req := httptestutil.Request{Method: http.MethodPost, Path: "/v1/sync", Token: d.Token, Body: body,
				Header: http.Header{"Content-Encoding": {tc.enc}}}
			e.Do(t, req) // warm the decoder pools
			before := allocated()
			rec := e.Do(t, req)
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("got status %d, want 413", rec.Code)
			}
			got, limit := allocated()-before, uint64(64<<20)
			if got > limit {
				t.Errorf("allocated %d bytes refusing the bomb, want at most %d", got, limit)
			}
			t.Logf("refused a %d-byte body claiming 1 GiB: %d bytes allocated", len(body), got)
		})
	}
}

func TestBodyLimitConfig(t *testing.T) {
	e := httptestutil.NewEnvOptions(t, httptestutil.Options{HTTP: httpapi.Config{BodyLimit: 1 << 10}})
	d := e.Enroll(t, election.RoleStation, e.Village(8, 0))
	body := append([]byte(`{"now":1,"cursor":"`), bytes.Repeat([]byte("a"), 2<<10)...)
	for _, r := range []httptestutil.Request{
		{Method: http.MethodPost, Path: "/v1/sync", Token: d.Token, Body: body},
		{Method: http.MethodPost, Path: "/v1/sync", Token: d.Token, Body: gzipped(t, body), Header: http.Header{"Content-Encoding": {"gzip"}}},
	} {
		rec := e.Do(t, r)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("%s body of %d bytes over a 1 KiB limit: got status %d, want 413", r.Header.Get("Content-Encoding"), len(r.Body), rec.Code)
		}
	}
}
