package client_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	client "villagesync/client-sdk"
	"villagesync/election"
	"villagesync/syncproto"
)

// fakeServer is an in-process test double of the villagesync server: just
// enough of /v1/enroll, /v1/nonce, /v1/token, /v1/sync and the key set to
// exercise the device honestly. It verifies runs with syncproto.VerifyRun,
// keeps each device's hash chain, detects equivocation, signs receipts and
// serves pulls by scope from its log. Tokens are opaque random strings.
type fakeServer struct {
	tb  testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	now      func() time.Time
	tokenTTL time.Duration
	kid      string
	key      ed25519.PrivateKey
	oldKeys  map[string]ed25519.PublicKey // rotated-out keys, still published
	codes    map[string]election.Scope
	devices  map[string]*fakeDevice
	nonces   map[string]bool
	tokens   map[string]fakeToken
	log      []fakeEntry
	places   map[string]election.Place // "collection/id" → place
	county   *fakeAuthor

	// Behaviour switches and faults.
	shareAll      bool   // pull ignores scope (a misbehaving server)
	gzipOnly      bool   // answer gzip even when zstd is accepted
	dropResponses int    // the next N sync requests are applied, then the connection is cut
	badReceipts   bool   // receipts signed with a key nobody knows, under the known kid
	wrongHead     bool   // receipts name a different chain head (signed correctly)
	failSync      []int  // HTTP statuses to answer the next sync requests with, plain text
	failCode      string // with failSync: answer a protocol error body with this code instead

	// Observations.
	syncBodies    []int // decompressed size of each sync request body
	runShapes     []runShape
	received      int // changes received, resent ones included
	duplicates    int // changes received that were already held
	nonceRequests int
	tokenRequests int
	syncRequests  int
}

// runShape is what one pushed request carried.
type runShape struct {
	changes    int
	sigs       int  // changes carrying a signature
	prevs      int  // changes carrying prev
	lastSigned bool // the last change carries the signature
	firstPrev  bool // the first change carries prev (or is seq 1)
}

type fakeDevice struct {
	pub     ed25519.PublicKey
	scope   election.Scope
	revoked bool
	hashes  []syncproto.Hash // hashes[i] is the hash of seq i+1
}

type fakeToken struct {
	device  string
	expires time.Time
}

type fakeEntry struct {
	change syncproto.Change
	place  election.Place
}

// fakeAuthor authors correctly chained, signed changes outside any device
// under test: the county's reference data, or a rival device.
type fakeAuthor struct {
	id   string
	priv ed25519.PrivateKey
	seq  uint64
	head syncproto.Hash
}

func newFakeAuthor(tb testing.TB) *fakeAuthor {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return &fakeAuthor{id: syncproto.DeviceID(pub), priv: priv}
}

func (a *fakeAuthor) change(coll, id, body string, base uint64, wall int64) syncproto.Change {
	c := syncproto.Change{
		Device: a.id, Seq: a.seq + 1, Collection: coll, ID: id, Base: base,
		HLC: syncproto.HLC{Wall: wall}, At: wall, Schema: 1, Body: []byte(body),
	}
	prev := a.head
	if c.Seq > 1 {
		c.Prev = &prev
	}
	h := c.Hash(prev)
	c.Sig = syncproto.SignHash(a.priv, h)
	a.seq, a.head = c.Seq, h
	return c
}

func newFakeServer(tb testing.TB) *fakeServer {
	tb.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	f := &fakeServer{
		tb:       tb,
		now:      time.Now,
		tokenTTL: 10 * time.Minute,
		kid:      "k1",
		key:      key,
		oldKeys:  map[string]ed25519.PublicKey{},
		codes:    map[string]election.Scope{},
		devices:  map[string]*fakeDevice{},
		nonces:   map[string]bool{},
		tokens:   map[string]fakeToken{},
		places:   map[string]election.Place{},
		county:   newFakeAuthor(tb),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/enroll", f.enroll)
	mux.HandleFunc("GET /v1/nonce", f.nonce)
	mux.HandleFunc("POST /v1/token", f.token)
	mux.HandleFunc("POST /v1/sync", f.sync)
	mux.HandleFunc("GET /.well-known/jwks.json", f.jwks)
	f.srv = httptest.NewServer(mux)
	tb.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) URL() string { return f.srv.URL }

// code makes a single-use enrollment code.
func (f *fakeServer) code(role election.Role, scope string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := randomString(f.tb)
	f.codes[c] = election.Scope{Role: role, Code: scope}
	return c
}

// publish appends a change of a fake author to the server log.
func (f *fakeServer) publish(a *fakeAuthor, coll, id, body string, base uint64) syncproto.Change {
	f.tb.Helper()
	f.mu.Lock()
	c := a.change(coll, id, body, base, f.now().UnixMilli())
	f.mu.Unlock()
	f.publishChange(c)
	return c
}

// publishChange appends a change built beforehand (by fakeAuthor.change,
// with the clock the test chose) to the server log, after validating it as
// the server would.
func (f *fakeServer) publishChange(c syncproto.Change) {
	f.tb.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	col, ok := election.LookupCollection(c.Collection)
	if !ok {
		f.tb.Fatalf("publish: unknown collection %q", c.Collection)
	}
	p, err := col.Validate(c.ID, c.Body, f)
	if err != nil {
		f.tb.Fatalf("publish %s/%s: %v", c.Collection, c.ID, err)
	}
	f.places[c.Collection+"/"+c.ID] = p
	f.log = append(f.log, fakeEntry{change: c, place: p})
}

// seedVillage publishes a village's reference data as the county: its
// township, the village and its Party-committee election.
func (f *fakeServer) seedVillage(village string) {
	f.tb.Helper()
	township := election.TownshipOf(village)
	f.mu.Lock()
	_, haveTownship := f.places["township/"+township]
	f.mu.Unlock()
	if !haveTownship {
		f.publish(f.county, "township", township, `{"name":"白泉镇","pinyin":"Baiquan"}`, 0)
	}
	f.publish(f.county, "village", village, `{"township":"`+township+`","name":"测试村","key_village":false,"synthetic":true}`, 0)
	f.publish(f.county, "election", village+"-PC", `{"village":"`+village+`","type":"PARTY_COMMITTEE","seats":5,`+
		`"date":"2026-03-07","status":"LOCKED","candidates":["`+village+`-PC-C1","`+village+`-PC-C2"]}`, 0)
}

// Place implements election.Resolver over the server's records.
func (f *fakeServer) Place(collection, id string) (election.Place, bool) {
	p, ok := f.places[collection+"/"+id]
	return p, ok
}

// held returns the seqs the server holds for a device, in log order.
func (f *fakeServer) held(device string) []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var seqs []uint64
	for _, e := range f.log {
		if e.change.Device == device {
			seqs = append(seqs, e.change.Seq)
		}
	}
	return seqs
}

// forget drops a device's changes above seq keep, as a server restored from
// an old backup would.
func (f *fakeServer) forget(device string, keep uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.devices[device]
	d.hashes = d.hashes[:keep]
	var log []fakeEntry
	for _, e := range f.log {
		if e.change.Device != device || e.change.Seq <= keep {
			log = append(log, e)
		}
	}
	f.log = log
}

// rotateKey makes a new receipt key current; the old one stays published.
func (f *fakeServer) rotateKey() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.oldKeys[f.kid] = f.key.Public().(ed25519.PublicKey)
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		f.tb.Fatal(err)
	}
	f.kid, f.key = f.kid+"'", key
}

func (f *fakeServer) revoke(device string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.devices[device].revoked = true
}

func (f *fakeServer) dropTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens = map[string]fakeToken{}
}

func (f *fakeServer) stats() (syncBodies []int, received, duplicates, nonces, tokens, syncs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.syncBodies...), f.received, f.duplicates, f.nonceRequests, f.tokenRequests, f.syncRequests
}

func (f *fakeServer) enroll(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var req syncproto.EnrollRequest
	if !f.readJSON(w, r, &req) {
		return
	}
	scope, ok := f.codes[req.Code]
	if !ok {
		writeError(w, http.StatusForbidden, syncproto.CodeEnrollCodeInvalid, "unknown, used or expired enrollment code")
		return
	}
	if len(req.PublicKey) != ed25519.PublicKeySize {
		writeError(w, http.StatusBadRequest, syncproto.CodeBadRequest, "public key must be 32 bytes")
		return
	}
	delete(f.codes, req.Code)
	id := syncproto.DeviceID(ed25519.PublicKey(req.PublicKey))
	f.devices[id] = &fakeDevice{pub: ed25519.PublicKey(req.PublicKey), scope: scope}
	writeJSON(w, r, f.gzipOnly, syncproto.EnrollResponse{
		Device: id, Role: string(scope.Role), Scope: scope.Code,
		ServerKeys: []syncproto.ServerKey{{KeyID: f.kid, PublicKey: syncproto.Bytes(f.key.Public().(ed25519.PublicKey))}},
	})
}

func (f *fakeServer) nonce(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nonceRequests++
	n := randomString(f.tb)
	f.nonces[n] = true
	writeJSON(w, r, f.gzipOnly, syncproto.NonceResponse{Nonce: n, Expires: f.now().Add(5 * time.Minute).UnixMilli()})
}

func (f *fakeServer) token(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenRequests++
	var req syncproto.TokenRequest
	if !f.readJSON(w, r, &req) {
		return
	}
	if !f.nonces[req.Nonce] {
		writeError(w, http.StatusUnauthorized, syncproto.CodeNonceInvalid, "unknown or used nonce")
		return
	}
	delete(f.nonces, req.Nonce)
	d, ok := f.devices[req.Device]
	switch {
	case !ok || !ed25519.Verify(d.pub, syncproto.TokenProof(req.Device, req.Nonce), req.Sig):
		writeError(w, http.StatusUnauthorized, syncproto.CodeUnauthenticated, "proof does not verify")
		return
	case d.revoked:
		writeError(w, http.StatusForbidden, syncproto.CodeDeviceRevoked, "device revoked")
		return
	}
	tok := randomString(f.tb)
	exp := f.now().Add(f.tokenTTL)
	f.tokens[tok] = fakeToken{device: req.Device, expires: exp}
	writeJSON(w, r, f.gzipOnly, syncproto.TokenResponse{Token: tok, Expires: exp.UnixMilli()})
}

func (f *fakeServer) jwks(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	type jwk struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		Kid string `json:"kid"`
		X   string `json:"x"`
	}
	keys := []jwk{{"OKP", "Ed25519", f.kid, base64.RawURLEncoding.EncodeToString(f.key.Public().(ed25519.PublicKey))}}
	for kid, pub := range f.oldKeys {
		keys = append(keys, jwk{"OKP", "Ed25519", kid, base64.RawURLEncoding.EncodeToString(pub)})
	}
	writeJSON(w, r, f.gzipOnly, map[string]any{"keys": keys})
}

func (f *fakeServer) sync(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncRequests++
	if len(f.failSync) > 0 {
		status := f.failSync[0]
		f.failSync = f.failSync[1:]
		if f.failCode != "" {
			writeError(w, status, syncproto.Code(f.failCode), "injected failure")
			return
		}
		http.Error(w, "<html>upstream error</html>", status)
		return
	}
	if r.Header.Get(syncproto.HeaderProtocol) != "1" {
		writeError(w, http.StatusBadRequest, syncproto.CodeUnsupported, "protocol header missing")
		return
	}
	tok, ok := f.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	switch {
	case !ok:
		writeError(w, http.StatusUnauthorized, syncproto.CodeUnauthenticated, "unknown token")
		return
	case !f.now().Before(tok.expires):
		writeError(w, http.StatusUnauthorized, syncproto.CodeTokenExpired, "token expired")
		return
	}
	dev := f.devices[tok.device]
	if dev.revoked {
		writeError(w, http.StatusForbidden, syncproto.CodeDeviceRevoked, "device revoked")
		return
	}
	if r.Header.Get("Content-Encoding") != "zstd" {
		writeError(w, http.StatusUnsupportedMediaType, syncproto.CodeUnsupported, "want a zstd body")
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, syncproto.MaxPushBytes))
	if err != nil {
		return
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(syncproto.MaxPushBytes))
	if err != nil {
		f.tb.Error(err)
		return
	}
	defer dec.Close()
	data, err := dec.DecodeAll(raw, nil)
	if err != nil {
		writeError(w, http.StatusBadRequest, syncproto.CodeBadRequest, "bad zstd body")
		return
	}
	f.syncBodies = append(f.syncBodies, len(data))
	req, err := syncproto.DecodeSyncRequest(data, tok.device)
	if err != nil {
		writeProtoError(w, err)
		return
	}
	if n := len(req.Changes); n > 0 {
		sh := runShape{changes: n, lastSigned: len(req.Changes[n-1].Sig) > 0,
			firstPrev: req.Changes[0].Prev != nil || req.Changes[0].Seq == 1}
		for _, c := range req.Changes {
			if len(c.Sig) > 0 {
				sh.sigs++
			}
			if c.Prev != nil {
				sh.prevs++
			}
		}
		f.runShapes = append(f.runShapes, sh)
	}
	if err := f.push(tok.device, dev, req.Changes); err != nil {
		writeProtoError(w, err)
		return
	}
	if f.dropResponses > 0 {
		f.dropResponses--
		panic(http.ErrAbortHandler) // the changes are stored; the response is lost
	}

	resp := syncproto.SyncResponse{Now: f.now().UnixMilli(), Nonce: randomString(f.tb)}
	f.nonces[resp.Nonce] = true
	if n := len(dev.hashes); n > 0 {
		rc := &syncproto.Receipt{Device: tok.device, Through: uint64(n), Head: dev.hashes[n-1], Pos: uint64(len(f.log)), Issued: resp.Now}
		if f.wrongHead {
			rc.Head[0] ^= 1
		}
		if f.badReceipts {
			_, other, _ := ed25519.GenerateKey(rand.Reader)
			rc.Sign(f.kid, other)
		} else {
			rc.Sign(f.kid, f.key)
		}
		resp.Receipt = rc
	}
	if req.PullMax >= 0 {
		after, _ := syncproto.DecodeCursor(req.Cursor) // checked by DecodeSyncRequest
		resp.Changes, resp.Cursor, resp.More = f.pull(dev.scope, tok.device, after, req.PullMax)
	}
	writeJSON(w, r, f.gzipOnly, resp)
}

// push verifies and stores one device's runs.
func (f *fakeServer) push(device string, dev *fakeDevice, changes []syncproto.Change) error {
	runs, err := syncproto.SplitRuns(changes)
	if err != nil {
		return err
	}
	for _, run := range runs {
		hashes, err := syncproto.VerifyRun(dev.pub, run)
		if err != nil {
			return err
		}
		if s := run[0].Seq; s > 1 {
			if s-1 > uint64(len(dev.hashes)) {
				return &syncproto.Error{Code: syncproto.CodeChainBroken, Message: "gap", Seq: s}
			}
			if *run[0].Prev != dev.hashes[s-2] {
				return &syncproto.Error{Code: syncproto.CodeEquivocation, Message: "prev contradicts the held chain", Seq: s}
			}
		}
		for i, c := range run {
			f.received++
			if c.Seq <= uint64(len(dev.hashes)) {
				if dev.hashes[c.Seq-1] != hashes[i] {
					return &syncproto.Error{Code: syncproto.CodeEquivocation, Message: "different change for a held seq", Seq: c.Seq}
				}
				f.duplicates++
				continue
			}
			col, ok := election.LookupCollection(c.Collection)
			if !ok {
				return &syncproto.Error{Code: syncproto.CodeMalformedRecord, Message: "unknown collection", Seq: c.Seq}
			}
			p, err := col.Validate(c.ID, c.Body, f)
			if err != nil {
				return &syncproto.Error{Code: syncproto.CodeMalformedRecord, Message: err.Error(), Seq: c.Seq}
			}
			if !dev.scope.CanAuthor(c.Collection, p) {
				return &syncproto.Error{Code: syncproto.CodeOutOfScope, Message: "out of scope", Seq: c.Seq}
			}
			dev.hashes = append(dev.hashes, hashes[i])
			f.places[c.Collection+"/"+c.ID] = p
			f.log = append(f.log, fakeEntry{change: c, place: p})
		}
	}
	return nil
}

// pull returns a page of the log after position after.
func (f *fakeServer) pull(scope election.Scope, device string, after uint64, maxBytes int) ([]syncproto.Change, string, bool) {
	if maxBytes == 0 {
		maxBytes = syncproto.DefaultPullBytes
	}
	maxBytes = min(maxBytes, syncproto.MaxPullBytes)
	var out []syncproto.Change
	size := 0
	pos := after
	for ; pos < uint64(len(f.log)); pos++ {
		e := f.log[pos]
		if e.change.Device == device || !(f.shareAll || scope.CanRead(e.change.Collection, e.place)) {
			continue
		}
		if len(out) > 0 && size >= maxBytes {
			return out, syncproto.EncodeCursor(pos), true
		}
		js, err := syncproto.Marshal(e.change)
		if err != nil {
			f.tb.Error(err)
		}
		size += len(js)
		out = append(out, e.change)
	}
	return out, syncproto.EncodeCursor(pos), false
}

func (f *fakeServer) readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = syncproto.Unmarshal(data, v)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, syncproto.CodeBadRequest, "bad JSON")
		return false
	}
	return true
}

func writeProtoError(w http.ResponseWriter, err error) {
	var e *syncproto.Error
	if !errors.As(err, &e) {
		e = syncproto.Errorf(syncproto.CodeInternal, "internal error")
	}
	status := http.StatusBadRequest
	switch e.Code {
	case syncproto.CodeEquivocation, syncproto.CodeChainBroken, syncproto.CodeConflict:
		status = http.StatusConflict
	case syncproto.CodeOutOfScope, syncproto.CodeForbidden:
		status = http.StatusForbidden
	case syncproto.CodeMalformedRecord:
		status = http.StatusUnprocessableEntity
	case syncproto.CodeBadSignature:
		status = http.StatusUnauthorized
	case syncproto.CodeInternal:
		status = http.StatusInternalServerError
	}
	writeBody(w, status, syncproto.ErrorBody{Error: e}, "")
}

func writeError(w http.ResponseWriter, status int, code syncproto.Code, msg string) {
	writeBody(w, status, syncproto.ErrorBody{Error: &syncproto.Error{Code: code, Message: msg}}, "")
}

// writeJSON answers 200 with v, compressed as the request accepts.
func writeJSON(w http.ResponseWriter, r *http.Request, gzipOnly bool, v any) {
	enc := ""
	switch ae := r.Header.Get("Accept-Encoding"); {
	case strings.Contains(ae, "zstd") && !gzipOnly:
		enc = "zstd"
	case strings.Contains(ae, "gzip"):
		enc = "gzip"
	}
	writeBody(w, http.StatusOK, v, enc)
}

func writeBody(w http.ResponseWriter, status int, v any, enc string) {
	data, err := syncproto.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	switch enc {
	case "zstd":
		zw, _ := zstd.NewWriter(nil)
		data = zw.EncodeAll(data, nil)
		_ = zw.Close()
	case "gzip":
		var buf bytes.Buffer
		gw := gzip.NewWriter(&buf)
		_, _ = gw.Write(data)
		_ = gw.Close()
		data = buf.Bytes()
	}
	if enc != "" {
		w.Header().Set("Content-Encoding", enc)
	}
	w.Header().Set("Content-Type", syncproto.MediaType)
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

func randomString(tb testing.TB) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// testClock is a settable clock shared by a device and the fake server.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Now()} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond) // time moves on between readings
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sleeps records the waits of a device instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) Sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

func (s *sleeps) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.d)
}

// testOptions are quiet options that never really sleep.
func testOptions(s *sleeps) client.Options {
	return client.Options{Logger: slog.New(slog.DiscardHandler), Sleep: s.Sleep}
}

const (
	village  = "220422100201"
	village2 = "220422100202"
	township = "220422100"
)

// mustEnroll enrolls a device with the fake server in a fresh directory.
func mustEnroll(tb testing.TB, f *fakeServer, role election.Role, scope string, opts client.Options) (*client.Device, string) {
	tb.Helper()
	dir := tb.TempDir()
	d, err := client.Enroll(context.Background(), dir, f.URL(), f.code(role, scope), opts)
	if err != nil {
		tb.Fatalf("enroll: %v", err)
	}
	tb.Cleanup(func() { _ = d.Close() })
	return d, dir
}

// mustSync syncs and fails the test on error.
func mustSync(tb testing.TB, d *client.Device) client.Report {
	tb.Helper()
	rep, err := d.Sync(context.Background())
	if err != nil {
		tb.Fatalf("sync: %v", err)
	}
	return rep
}

// mustPut captures a record and fails the test on error.
func mustPut(tb testing.TB, d *client.Device, coll, id, body string) syncproto.Change {
	tb.Helper()
	c, err := d.Put(context.Background(), coll, id, []byte(body))
	if err != nil {
		tb.Fatalf("put %s/%s: %v", coll, id, err)
	}
	return c
}

// attendance is a valid attendance body for the village's election.
func attendance(village string, present int) string {
	return `{"election":"` + village + `-PC","eligible":120,"present":` + strconv.Itoa(present) + `}`
}
