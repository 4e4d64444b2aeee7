package server

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// ConflictID is the id every replica gives a conflict: "CF-" and the first
// 16 hex characters of SHA-256 over kind, collection, subject (the record
// id of a record conflict, the slot of a slot conflict) and the sorted refs
// of its versions, each followed by a zero byte but the last ref. A
// conflict that gains a version gets a new id.
func ConflictID(kind, collection, subject string, refs []string) string {
	h := sha256.New()
	for _, s := range []string{kind, collection, subject} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write([]byte(strings.Join(slices.Sorted(slices.Values(refs)), "\x00")))
	return "CF-" + hex.EncodeToString(h.Sum(nil))[:16]
}

// VersionRef names the change that introduced a version: <device>/<seq>.
func VersionRef(device string, seq uint64) string {
	return device + "/" + strconv.FormatUint(seq, 10)
}

// ParseVersionRef splits a version ref into device and seq.
func ParseVersionRef(ref string) (device string, seq uint64, ok bool) {
	i := strings.LastIndexByte(ref, '/')
	if i <= 0 {
		return "", 0, false
	}
	seq, err := strconv.ParseUint(ref[i+1:], 10, 64)
	if err != nil || seq == 0 {
		return "", 0, false
	}
	return ref[:i], seq, true
}
