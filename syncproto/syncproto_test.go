package syncproto_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"villagesync/syncproto"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// testKey is a fixed device key so golden files are stable.
func testKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
}

// chain builds n signed, chained changes of one device, every one signed.
func chain(tb testing.TB, priv ed25519.PrivateKey, n int) ([]syncproto.Change, []syncproto.Hash) {
	tb.Helper()
	dev := syncproto.DeviceID(priv.Public().(ed25519.PublicKey))
	var prev syncproto.Hash
	var out []syncproto.Change
	var hashes []syncproto.Hash
	for i := 1; i <= n; i++ {
		c := syncproto.Change{
			Device:     dev,
			Seq:        uint64(i),
			Collection: "supervision_visit",
			ID:         "visit-" + string(rune('a'+i-1)),
			HLC:        syncproto.HLC{Wall: 1772841600000 + int64(i), Logical: 0},
			At:         1772841600000 + int64(i),
			Offset:     -1200,
			Schema:     1,
			Body:       json.RawMessage(`{"notes":"第` + string(rune('0'+i)) + `轮 <ok> & fine","round":1,"village":"220422100201","visited_at":"2026-03-07T09:00:00+08:00"}`),
		}
		if i == 1 {
			z := syncproto.Hash{}
			c.Prev = &z
		} else {
			p := prev
			c.Prev = &p
		}
		h := c.Hash(prev)
		c.Sig = syncproto.SignHash(priv, h)
		out = append(out, c)
		hashes = append(hashes, h)
		prev = h
	}
	return out, hashes
}

// wire strips what a sender leaves off the wire: Prev except on the first
// change, Sig except on the last.
func wire(run []syncproto.Change) []syncproto.Change {
	out := append([]syncproto.Change(nil), run...)
	for i := range out {
		if i > 0 {
			out[i].Prev = nil
		}
		if i < len(out)-1 {
			out[i].Sig = nil
		}
	}
	return out
}

func TestGoldenChain(t *testing.T) {
	priv := testKey()
	changes, hashes := chain(t, priv, 3)
	req := syncproto.SyncRequest{Changes: wire(changes), Cursor: syncproto.EncodeCursor(42), Now: 1772841601000}
	got, err := syncproto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var hs []string
	for _, h := range hashes {
		hs = append(hs, h.String())
	}
	got = append(got, '\n')
	got = append(got, []byte(strings.Join(hs, "\n")+"\n")...)
	golden(t, "sync_request.golden", got)

	// The golden request decodes and verifies.
	body := got[:bytes.IndexByte(got, '\n')]
	dec, err := syncproto.DecodeSyncRequest(body, changes[0].Device)
	if err != nil {
		t.Fatalf("decode golden: %v", err)
	}
	gotHashes, err := syncproto.VerifyRun(priv.Public().(ed25519.PublicKey), dec.Changes)
	if err != nil {
		t.Fatalf("verify golden: %v", err)
	}
	for i := range hashes {
		if gotHashes[i] != hashes[i] {
			t.Fatalf("hash %d: got %s, want %s", i, gotHashes[i], hashes[i])
		}
	}
	// Bodies survive a round trip byte for byte, HTML characters included.
	again, err := syncproto.Marshal(dec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, body) {
		t.Fatalf("re-marshal changed bytes:\n got %s\nwant %s", again, body)
	}
}

func TestGoldenReceipt(t *testing.T) {
	priv := testKey()
	_, hashes := chain(t, priv, 3)
	r := syncproto.Receipt{Device: "dev-0123456789abcdef0123", Through: 3, Head: hashes[2], Pos: 1042, Issued: 1772841602000}
	r.Sign("k1", priv)
	got, err := syncproto.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "receipt.golden", append(got, '\n'))
	if !r.Verify(priv.Public().(ed25519.PublicKey)) {
		t.Fatal("receipt does not verify")
	}
	r.Through = 4
	if r.Verify(priv.Public().(ed25519.PublicKey)) {
		t.Fatal("altered receipt verifies")
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: wire format changed:\n got %s\nwant %s", name, got, want)
	}
}

func TestVerifyRun(t *testing.T) {
	priv := testKey()
	pub := priv.Public().(ed25519.PublicKey)
	changes, _ := chain(t, priv, 5)

	t.Run("OK", func(t *testing.T) {
		if _, err := syncproto.VerifyRun(pub, wire(changes)); err != nil {
			t.Fatal(err)
		}
		if _, err := syncproto.VerifyRun(pub, wire(changes[2:])); err != nil {
			t.Fatalf("run starting mid-chain: %v", err)
		}
	})
	tests := []struct {
		name   string
		mutate func([]syncproto.Change) []syncproto.Change
		want   syncproto.Code
	}{
		{"ErrBodyAltered", func(r []syncproto.Change) []syncproto.Change {
			r[1].Body = json.RawMessage(`{"round":2}`)
			return r
		}, syncproto.CodeBadSignature},
		{"ErrSigMissing", func(r []syncproto.Change) []syncproto.Change {
			r[len(r)-1].Sig = nil
			return r
		}, syncproto.CodeBadSignature},
		{"ErrGap", func(r []syncproto.Change) []syncproto.Change {
			return append(r[:2:2], r[3:]...)
		}, syncproto.CodeChainBroken},
		{"ErrWrongPrev", func(r []syncproto.Change) []syncproto.Change {
			bad := syncproto.Hash{1}
			r[0].Prev = &bad
			return r
		}, syncproto.CodeChainBroken},
		{"ErrOtherKey", func(r []syncproto.Change) []syncproto.Change {
			other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
			r[len(r)-1].Sig = syncproto.SignHash(other, r[len(r)-1].Hash(*r[len(r)-1].Prev))
			return r
		}, syncproto.CodeBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := wire(tt.mutate(append([]syncproto.Change(nil), changes...)))
			_, err := syncproto.VerifyRun(pub, run)
			if got := syncproto.ErrorCode(err); got != tt.want {
				t.Fatalf("got %q (%v), want %q", got, err, tt.want)
			}
		})
	}
	t.Run("ErrRunWithoutPrev", func(t *testing.T) {
		run := wire(changes[1:])
		run[0].Prev = nil
		_, err := syncproto.VerifyRun(pub, run)
		if got := syncproto.ErrorCode(err); got != syncproto.CodeChainBroken {
			t.Fatalf("got %q, want %q", got, syncproto.CodeChainBroken)
		}
	})
}

func TestDecodeSyncRequest(t *testing.T) {
	priv := testKey()
	changes, _ := chain(t, priv, 3)
	dev := changes[0].Device
	enc := func(v any) []byte {
		b, err := syncproto.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		body []byte
		want syncproto.Code
	}{
		{"OK", enc(syncproto.SyncRequest{Changes: wire(changes)}), ""},
		{"OKEmpty", []byte(`{"now":1}`), ""},
		{"OKUnknownField", []byte(`{"now":1,"scope":"220422101201"}`), ""},
		{"ErrNotJSON", []byte(`{"now":`), syncproto.CodeBadRequest},
		{"ErrTrailing", []byte(`{"now":1}{}`), syncproto.CodeBadRequest},
		{"ErrOtherDevice", enc(syncproto.SyncRequest{Changes: wire(changes)}), syncproto.CodeForbidden},
		{"ErrDescending", enc(syncproto.SyncRequest{Changes: []syncproto.Change{changes[1], changes[0]}}), syncproto.CodeChainBroken},
		{"ErrCursor", []byte(`{"now":1,"cursor":"c1.zzzz"}`), syncproto.CodeBadRequest},
		{"ErrBodyNotCompact", []byte(strings.Replace(string(enc(syncproto.SyncRequest{Changes: wire(changes[:1])})), `{"notes"`, `{ "notes"`, 1)), syncproto.CodeBadRequest},
		{"ErrBodyNotObject", []byte(`{"changes":[{"device":"d","seq":1,"coll":"x","id":"a","t":1,"at":1,"v":1,"body":[1]}]}`), syncproto.CodeBadRequest},
		{"ErrSeqZero", []byte(`{"changes":[{"device":"d","seq":0,"coll":"x","id":"a","t":1,"at":1,"v":1,"body":{}}]}`), syncproto.CodeBadRequest},
		{"ErrCollection", []byte(`{"changes":[{"device":"d","seq":1,"coll":"X-1","id":"a","t":1,"at":1,"v":1,"body":{}}]}`), syncproto.CodeBadRequest},
		{"ErrTooLarge", bytes.Repeat([]byte(" "), syncproto.MaxPushBytes+1), syncproto.CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := dev
			if tt.name == "ErrOtherDevice" {
				d = "dev-someoneelse"
			}
			if strings.HasPrefix(tt.name, "ErrBodyNotObject") || tt.name == "ErrSeqZero" || tt.name == "ErrCollection" {
				d = "d"
			}
			_, err := syncproto.DecodeSyncRequest(tt.body, d)
			if got := syncproto.ErrorCode(err); got != tt.want {
				t.Fatalf("got %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

func TestCursor(t *testing.T) {
	for _, pos := range []uint64{0, 1, 255, 1 << 40, ^uint64(0)} {
		got, err := syncproto.DecodeCursor(syncproto.EncodeCursor(pos))
		if err != nil || got != pos {
			t.Fatalf("round trip %d: got %d, %v", pos, got, err)
		}
	}
}

func TestClock(t *testing.T) {
	var c syncproto.Clock
	a := c.Now(1000)
	b := c.Now(999) // the wall clock went backwards
	if !a.Less(b) {
		t.Fatalf("clock went backwards: %v then %v", a, b)
	}
	c.Observe(syncproto.HLC{Wall: 5000, Logical: 3}, 1001) // a peer far ahead
	d := c.Now(1002)
	if !(syncproto.HLC{Wall: 5000, Logical: 3}).Less(d) {
		t.Fatalf("after observing 5000.3 got %v", d)
	}
	if off := syncproto.ClockOffset(1000, 86_401_000, 1200); off != 86_400_000-100 {
		t.Fatalf("offset: got %d, want %d", off, 86_400_000-100)
	}
}

func TestErrorCodes(t *testing.T) {
	seen := map[syncproto.Code]bool{}
	for _, c := range syncproto.Codes {
		if seen[c] {
			t.Fatalf("duplicate code %q", c)
		}
		seen[c] = true
	}
	err := error(&syncproto.Error{Code: syncproto.CodeOutOfScope, Message: "x", Seq: 3})
	if got := syncproto.ErrorCode(errors.Join(errors.New("ctx"), err)); got != syncproto.CodeOutOfScope {
		t.Fatalf("got %q, want out_of_scope", got)
	}
	if got := syncproto.ErrorCode(errors.New("boom")); got != syncproto.CodeInternal {
		t.Fatalf("got %q, want internal", got)
	}
}

func TestDeviceID(t *testing.T) {
	id := syncproto.DeviceID(testKey().Public().(ed25519.PublicKey))
	if len(id) != 24 || !strings.HasPrefix(id, "dev-") {
		t.Fatalf("got %q, want dev- and 20 hex digits", id)
	}
}

func TestBundle(t *testing.T) {
	priv := testKey()
	changes, _ := chain(t, priv, 4)
	b := &syncproto.Bundle{Format: syncproto.BundleFormat, Device: changes[0].Device, Created: 1, Changes: wire(changes[1:])}
	data, err := syncproto.EncodeBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := syncproto.DecodeBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := syncproto.VerifyRun(priv.Public().(ed25519.PublicKey), got.Changes); err != nil {
		t.Fatalf("bundle does not verify after a round trip: %v", err)
	}
	t.Run("ErrTampered", func(t *testing.T) {
		bad := *got
		bad.Changes = append([]syncproto.Change(nil), got.Changes...)
		bad.Changes[0].Body = json.RawMessage(`{"round":9}`)
		if _, err := syncproto.VerifyRun(priv.Public().(ed25519.PublicKey), bad.Changes); syncproto.ErrorCode(err) != syncproto.CodeBadSignature {
			t.Fatalf("tampered bundle: got %v, want bad_signature", err)
		}
	})
	t.Run("ErrDropped", func(t *testing.T) {
		bad := append(append([]syncproto.Change(nil), got.Changes[:1]...), got.Changes[2:]...)
		if _, err := syncproto.VerifyRun(priv.Public().(ed25519.PublicKey), bad); err == nil {
			t.Fatal("a bundle with a change dropped verified")
		}
	})
	for name, data := range map[string][]byte{
		"ErrFormat":  []byte(`{"format":"x","device":"d","changes":[]}`),
		"ErrEmpty":   []byte(`{"format":"villagesync-bundle/1","device":"d","changes":[]}`),
		"ErrGarbage": {0x1f, 0x8b, 1, 2, 3},
		"ErrOther":   []byte(`{"format":"villagesync-bundle/1","device":"d","changes":[{"device":"e","seq":1,"coll":"x","id":"a","t":1,"at":1,"v":1,"body":{}}]}`),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := syncproto.DecodeBundle(data); err == nil {
				t.Fatal("decoded")
			}
		})
	}
}

func TestRelayInSyncRequest(t *testing.T) {
	a, _ := chain(t, testKey(), 2)
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))
	b, _ := chain(t, other, 2)
	req := syncproto.SyncRequest{Relay: append(wire(a), wire(b)...)}
	body, _ := syncproto.Marshal(req)
	if _, err := syncproto.DecodeSyncRequest(body, "dev-carrier"); err != nil {
		t.Fatalf("relay of two devices: %v", err)
	}
	if _, err := syncproto.DecodeSyncRequest(body, a[0].Device); syncproto.ErrorCode(err) != syncproto.CodeBadRequest {
		t.Fatalf("own changes in relay: got %v, want bad_request", err)
	}
	mixed := syncproto.SyncRequest{Relay: []syncproto.Change{a[0], b[0], a[1]}}
	body, _ = syncproto.Marshal(mixed)
	if _, err := syncproto.DecodeSyncRequest(body, "dev-carrier"); syncproto.ErrorCode(err) != syncproto.CodeBadRequest {
		t.Fatalf("ungrouped relay: got %v, want bad_request", err)
	}
}
