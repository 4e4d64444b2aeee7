package syncproto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Limits every implementation enforces. Changing one is a protocol change.
const (
	MaxBodyBytes     = 64 << 10 // one record body
	MaxIDBytes       = 128      // record id
	MaxDeviceBytes   = 64       // device id
	MaxCollection    = 40       // collection name
	MaxPushBytes     = 4 << 20  // one sync request, decompressed
	MaxPushChanges   = 10000    // changes in one sync request
	DefaultPullBytes = 256 << 10
	MaxPullBytes     = 2 << 20
)

// Domain-separation prefixes of everything that is hashed or signed.
const (
	changeDomain  = "villagesync/change/v1\x00"
	sigDomain     = "villagesync/change-sig/v1\x00"
	receiptDomain = "villagesync/receipt/v1\x00"
	tokenDomain   = "villagesync/token-proof/v1\x00"
)

// Change is one record write authored by one device: the unit that is
// captured, signed, chained, pushed, stored, pulled and relayed.
//
// Device and Seq identify it; the hash of its content commits to the hash of
// the device's previous change, so a device's changes form a hash chain.
// Body is the record as captured: a compact JSON object whose exact bytes are
// hashed. Prev and Sig are carried on the wire only where a receiver needs
// them (see docs/protocol.md, "Runs").
type Change struct {
	Device     string          `json:"device"`
	Seq        uint64          `json:"seq"`
	Collection string          `json:"coll"`
	ID         string          `json:"id"`
	Base       uint64          `json:"base,omitempty"` // version of the record this edit is based on; 0 = none
	HLC                        // hybrid logical clock at capture ("t", "l")
	At         int64           `json:"at"`            // raw device clock at capture, Unix ms
	Offset     int64           `json:"off,omitempty"` // learned server-minus-device clock offset at capture, ms
	Schema     uint32          `json:"v"`             // record schema version
	Body       json.RawMessage `json:"body"`
	Prev       *Hash           `json:"prev,omitempty"` // hash of seq-1; required on the first change of a run unless seq is 1
	Sig        Bytes           `json:"sig,omitempty"`  // Ed25519 signature; required on the last change of a run
}

// CorrectedAt is the capture time corrected by the learned clock offset.
func (c *Change) CorrectedAt() int64 { return c.At + c.Offset }

// Hash computes the chain hash of c given the hash of the device's previous
// change (the zero Hash for seq 1). It ignores c.Prev and c.Sig.
func (c *Change) Hash(prev Hash) Hash {
	h := sha256.New()
	var buf [8]byte
	str := func(s string) {
		binary.BigEndian.PutUint32(buf[:4], uint32(len(s)))
		h.Write(buf[:4])
		h.Write([]byte(s))
	}
	u64 := func(v uint64) {
		binary.BigEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	h.Write([]byte(changeDomain))
	h.Write(prev[:])
	str(c.Device)
	u64(c.Seq)
	str(c.Collection)
	str(c.ID)
	u64(c.Base)
	u64(uint64(c.Wall))
	binary.BigEndian.PutUint32(buf[:4], c.Logical)
	h.Write(buf[:4])
	u64(uint64(c.At))
	u64(uint64(c.Offset))
	binary.BigEndian.PutUint32(buf[:4], c.Schema)
	h.Write(buf[:4])
	binary.BigEndian.PutUint32(buf[:4], uint32(len(c.Body)))
	h.Write(buf[:4])
	h.Write(c.Body)
	var out Hash
	h.Sum(out[:0])
	return out
}

func sigMessage(h Hash) []byte {
	return append([]byte(sigDomain), h[:]...)
}

// SignHash signs a change hash with a device key.
func SignHash(priv ed25519.PrivateKey, h Hash) []byte {
	return ed25519.Sign(priv, sigMessage(h))
}

// VerifyHash checks a device signature over a change hash.
func VerifyHash(pub ed25519.PublicKey, h Hash, sig []byte) bool {
	return len(pub) == ed25519.PublicKeySize && len(sig) == ed25519.SignatureSize &&
		ed25519.Verify(pub, sigMessage(h), sig)
}

// DeviceID derives a device's id from its public key: "dev-" followed by the
// lowercase hex of the first 10 bytes of SHA-256(public key).
func DeviceID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "dev-" + hex.EncodeToString(sum[:10])
}

// CanonicalBody returns b as the compact JSON object the protocol hashes. It
// fails if b is not a single JSON object or is too large.
func CanonicalBody(b []byte) ([]byte, error) {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		return nil, fmt.Errorf("body is not valid JSON: %w", err)
	}
	if out.Len() == 0 || out.Bytes()[0] != '{' {
		return nil, fmt.Errorf("body must be a JSON object")
	}
	if out.Len() > MaxBodyBytes {
		return nil, fmt.Errorf("body is %d bytes, over the %d limit", out.Len(), MaxBodyBytes)
	}
	return out.Bytes(), nil
}

// CheckShape checks the fields of c that need no other context: identifiers,
// sizes and the body's canonical form. It does not check the record against
// its collection's schema, the hash chain or the signature.
func (c *Change) CheckShape() error {
	switch {
	case c.Device == "" || len(c.Device) > MaxDeviceBytes || !printable(c.Device):
		return c.shapeErr("device id must be 1-%d printable characters", MaxDeviceBytes)
	case c.Seq == 0:
		return c.shapeErr("seq must start at 1")
	case !collectionName(c.Collection):
		return c.shapeErr("collection %q must be 1-%d characters of a-z, 0-9 and _", c.Collection, MaxCollection)
	case c.ID == "" || len(c.ID) > MaxIDBytes || !printable(c.ID):
		return c.shapeErr("record id must be 1-%d printable characters", MaxIDBytes)
	case c.Schema == 0:
		return c.shapeErr("schema version must be at least 1")
	case len(c.Sig) != 0 && len(c.Sig) != ed25519.SignatureSize:
		return c.shapeErr("signature must be %d bytes", ed25519.SignatureSize)
	}
	canon, err := CanonicalBody(c.Body)
	if err != nil {
		return c.shapeErr("%v", err)
	}
	if !bytes.Equal(canon, c.Body) {
		return c.shapeErr("body must be compact JSON (no insignificant whitespace)")
	}
	return nil
}

func (c *Change) shapeErr(format string, args ...any) *Error {
	e := Errorf(CodeBadRequest, format, args...)
	e.Seq = c.Seq
	return e
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func collectionName(s string) bool {
	if s == "" || len(s) > MaxCollection {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_') {
			return false
		}
	}
	return true
}

// SplitRuns splits changes of one device, sorted by ascending seq, into runs
// of consecutive seqs. It fails if seqs are not strictly ascending or the
// changes are of several devices.
func SplitRuns(changes []Change) ([][]Change, error) {
	var runs [][]Change
	start := 0
	for i := range changes {
		if i == 0 {
			continue
		}
		if changes[i].Device != changes[0].Device {
			return nil, Errorf(CodeBadRequest, "changes of several devices in one run list")
		}
		if changes[i].Seq <= changes[i-1].Seq {
			return nil, &Error{Code: CodeChainBroken, Message: "changes must be in strictly ascending seq order", Seq: changes[i].Seq}
		}
		if changes[i].Seq != changes[i-1].Seq+1 {
			runs = append(runs, changes[start:i])
			start = i
		}
	}
	if len(changes) > 0 {
		runs = append(runs, changes[start:])
	}
	return runs, nil
}

// VerifyRun verifies one run of consecutive changes of one device: it
// recomputes every hash from the run's starting prev (run[0].Prev, or zero
// for seq 1), checks every signature present, and requires one on the last
// change, whose signature then vouches for the whole run through the chain.
// It returns the hash of each change.
func VerifyRun(pub ed25519.PublicKey, run []Change) ([]Hash, error) {
	if len(run) == 0 {
		return nil, nil
	}
	var prev Hash
	switch {
	case run[0].Prev != nil:
		prev = *run[0].Prev
		if run[0].Seq == 1 && !prev.IsZero() {
			return nil, &Error{Code: CodeChainBroken, Message: "seq 1 must have a zero prev hash", Seq: 1}
		}
	case run[0].Seq != 1:
		return nil, &Error{Code: CodeChainBroken, Message: "the first change of a run must carry prev", Seq: run[0].Seq}
	}
	hashes := make([]Hash, len(run))
	for i := range run {
		c := &run[i]
		if i > 0 && c.Seq != run[i-1].Seq+1 {
			return nil, &Error{Code: CodeChainBroken, Message: "seqs of a run must be consecutive", Seq: c.Seq}
		}
		if i > 0 && c.Prev != nil && *c.Prev != prev {
			return nil, &Error{Code: CodeChainBroken, Message: "prev does not match the hash of the previous change", Seq: c.Seq}
		}
		h := c.Hash(prev)
		if len(c.Sig) != 0 && !VerifyHash(pub, h, c.Sig) {
			return nil, &Error{Code: CodeBadSignature, Message: "device signature does not verify", Seq: c.Seq}
		}
		hashes[i] = h
		prev = h
	}
	if last := run[len(run)-1]; len(last.Sig) == 0 {
		return nil, &Error{Code: CodeBadSignature, Message: "the last change of a run must carry its signature", Seq: last.Seq}
	}
	return hashes, nil
}
