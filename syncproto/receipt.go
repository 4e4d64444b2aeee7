package syncproto

import (
	"crypto/ed25519"
	"encoding/binary"
)

// Receipt is the server's signed statement that every change of Device up to
// and including seq Through is durably stored, that change Through has hash
// Head, and that the server log had reached position Pos. A device deletes
// nothing from its outbox until a receipt covers it, and can show a receipt
// to anyone holding the server's public key as proof it is synced to Through.
type Receipt struct {
	Device  string `json:"device"`
	Through uint64 `json:"through"`
	Head    Hash   `json:"head"`
	Pos     uint64 `json:"pos"`
	Issued  int64  `json:"issued"` // server clock, Unix ms
	KeyID   string `json:"kid"`
	Sig     Bytes  `json:"sig"`
}

// SigningBytes is the exact byte string the server signs.
func (r *Receipt) SigningBytes() []byte {
	b := []byte(receiptDomain)
	b = appendString(b, r.Device)
	b = binary.BigEndian.AppendUint64(b, r.Through)
	b = append(b, r.Head[:]...)
	b = binary.BigEndian.AppendUint64(b, r.Pos)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Issued))
	b = appendString(b, r.KeyID)
	return b
}

// Sign sets KeyID and Sig.
func (r *Receipt) Sign(kid string, priv ed25519.PrivateKey) {
	r.KeyID = kid
	r.Sig = ed25519.Sign(priv, r.SigningBytes())
}

// Verify checks the receipt's signature with the server public key named by
// its KeyID.
func (r *Receipt) Verify(pub ed25519.PublicKey) bool {
	return len(pub) == ed25519.PublicKeySize && len(r.Sig) == ed25519.SignatureSize &&
		ed25519.Verify(pub, r.SigningBytes(), r.Sig)
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// TokenProof is the byte string a device signs with its key to obtain an
// access token: it binds the device id to a single-use server nonce.
func TokenProof(device, nonce string) []byte {
	b := []byte(tokenDomain)
	b = appendString(b, device)
	return appendString(b, nonce)
}
