package syncproto_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"testing"

	"villagesync/syncproto"
)

// FuzzDecodeSyncRequest: the server's request decoder never panics, and
// whatever it accepts re-encodes and decodes to the same request.
func FuzzDecodeSyncRequest(f *testing.F) {
	changes, _ := chain(f, testKey(), 3)
	good, _ := syncproto.Marshal(syncproto.SyncRequest{Changes: wire(changes), Now: 1})
	f.Add(good, changes[0].Device)
	f.Add([]byte(`{"now":1,"cursor":"c1.AAAAAAAAAAE"}`), "d")
	f.Add([]byte(`{"changes":[{"device":"d","seq":1,"coll":"x","id":"a","t":1,"at":1,"v":1,"body":{}}]}`), "d")
	f.Add([]byte(`{"changes":[{"device":"d","seq":1,"coll":"x","id":"a","body":{"a":"\u003c"},"sig":"AA"}]}`), "d")
	f.Fuzz(func(t *testing.T, data []byte, device string) {
		req, err := syncproto.DecodeSyncRequest(data, device)
		if err != nil {
			if syncproto.ErrorCode(err) == syncproto.CodeInternal {
				t.Fatalf("decoder returned an uncoded error: %v", err)
			}
			return
		}
		again, err := syncproto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		req2, err := syncproto.DecodeSyncRequest(again, device)
		if err != nil {
			t.Fatalf("accepted request does not survive a round trip: %v", err)
		}
		for i := range req.Changes {
			if !bytes.Equal(req.Changes[i].Body, req2.Changes[i].Body) {
				t.Fatalf("body %d changed in a round trip", i)
			}
		}
	})
}

// FuzzVerifyRun: a run that was tampered with in any byte never verifies.
func FuzzVerifyRun(f *testing.F) {
	priv := testKey()
	pub := priv.Public().(ed25519.PublicKey)
	changes, _ := chain(f, priv, 3)
	good, _ := json.Marshal(wire(changes))
	f.Add(good, 10, byte(1))
	f.Add(good, 200, byte(0x20))
	f.Fuzz(func(t *testing.T, data []byte, at int, flip byte) {
		var run []syncproto.Change
		if json.Unmarshal(data, &run) != nil {
			return
		}
		for i := range run {
			if run[i].CheckShape() != nil {
				return
			}
		}
		if _, err := syncproto.SplitRuns(run); err != nil {
			return
		}
		hashes, err := syncproto.VerifyRun(pub, run)
		if err != nil {
			return
		}
		// Anything that verifies must be exactly the signed chain.
		if len(hashes) == 0 {
			return
		}
		_, want := chain(t, priv, 3)
		for i, c := range run {
			if c.Seq < 1 || c.Seq > 3 || hashes[i] != want[c.Seq-1] {
				t.Fatalf("a forged change verified: seq %d", c.Seq)
			}
		}
	})
}

// FuzzReceipt: receipt decoding never panics and a receipt only verifies
// unaltered.
func FuzzReceipt(f *testing.F) {
	priv := testKey()
	r := syncproto.Receipt{Device: "dev-x", Through: 9, Pos: 12, Issued: 5}
	r.Sign("k1", priv)
	good, _ := syncproto.Marshal(r)
	f.Add(good)
	f.Add([]byte(`{"device":"d","through":1,"head":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","sig":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got syncproto.Receipt
		if syncproto.Unmarshal(data, &got) != nil {
			return
		}
		if got.Verify(priv.Public().(ed25519.PublicKey)) {
			if got.Device != r.Device || got.Through != r.Through || got.Pos != r.Pos || got.Head != r.Head || got.Issued != r.Issued || got.KeyID != r.KeyID {
				t.Fatalf("an altered receipt verified: %+v", got)
			}
		}
	})
}

// FuzzCursor: cursor decoding never panics and round-trips.
func FuzzCursor(f *testing.F) {
	f.Add("")
	f.Add(syncproto.EncodeCursor(77))
	f.Add("c1.____________")
	f.Fuzz(func(t *testing.T, s string) {
		pos, err := syncproto.DecodeCursor(s)
		if err != nil || pos == 0 {
			return
		}
		if syncproto.EncodeCursor(pos) != s {
			t.Fatalf("cursor %q decodes to %d which encodes differently", s, pos)
		}
	})
}

// FuzzDecodeBundle: bundle decoding never panics and what it accepts is
// shaped: one device, ascending seqs.
func FuzzDecodeBundle(f *testing.F) {
	changes, _ := chain(f, testKey(), 3)
	good, _ := syncproto.EncodeBundle(&syncproto.Bundle{Format: syncproto.BundleFormat, Device: changes[0].Device, Changes: wire(changes)})
	plain, _ := syncproto.Marshal(syncproto.Bundle{Format: syncproto.BundleFormat, Device: changes[0].Device, Changes: wire(changes)})
	f.Add(good)
	f.Add(plain)
	f.Add([]byte{0x1f, 0x8b, 8, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := syncproto.DecodeBundle(data)
		if err != nil {
			return
		}
		for i, c := range b.Changes {
			if c.Device != b.Device || i > 0 && c.Seq <= b.Changes[i-1].Seq {
				t.Fatalf("accepted a misshapen bundle at change %d", i)
			}
		}
	})
}
