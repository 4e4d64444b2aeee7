package syncproto

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
)

// BundleFormat names the bundle file format and its version.
const BundleFormat = "villagesync-bundle/1"

// MaxBundleBytes bounds a bundle's decompressed size.
const MaxBundleBytes = 64 << 20

// Bundle is a file of one device's changes, carried by hand (a USB stick, a
// supervisor's laptop) to wherever a link exists. The carrier cannot alter,
// drop or forge a change undetected: the changes are runs (§3.3 of the
// protocol) verified against the original device's key on arrival.
type Bundle struct {
	Format  string   `json:"format"`
	Device  string   `json:"device"`
	Created int64    `json:"created"` // device clock, Unix ms
	Changes []Change `json:"changes"`
}

// EncodeBundle writes b as gzip-compressed JSON.
func EncodeBundle(b *Bundle) ([]byte, error) {
	js, err := Marshal(b)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(js); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DecodeBundle reads a bundle (gzip-compressed or plain JSON) and checks its
// shape: every change is the named device's, well formed, in ascending seq
// order. It does not verify signatures: that needs the device's key.
func DecodeBundle(data []byte) (*Bundle, error) {
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, Errorf(CodeBadRequest, "bundle: not a valid gzip file: %v", err)
		}
		plain, err := io.ReadAll(io.LimitReader(zr, MaxBundleBytes+1))
		if err != nil {
			return nil, Errorf(CodeBadRequest, "bundle: damaged (%v): export it again", err)
		}
		data = plain
	}
	if len(data) > MaxBundleBytes {
		return nil, Errorf(CodeTooLarge, "bundle is over %d bytes: export in parts", MaxBundleBytes)
	}
	var b Bundle
	if err := Unmarshal(data, &b); err != nil {
		return nil, err
	}
	if b.Format != BundleFormat {
		return nil, Errorf(CodeUnsupported, "bundle format %q is not %q: update villagesync", b.Format, BundleFormat)
	}
	if len(b.Changes) == 0 {
		return nil, Errorf(CodeBadRequest, "bundle holds no changes")
	}
	if err := CheckRelay(b.Changes); err != nil {
		return nil, err
	}
	for i := range b.Changes {
		if b.Changes[i].Device != b.Device {
			return nil, &Error{Code: CodeBadRequest, Message: fmt.Sprintf("bundle of %s holds a change of %s", b.Device, b.Changes[i].Device), Seq: b.Changes[i].Seq}
		}
	}
	return &b, nil
}

// CheckRelay shape-checks changes carried for other devices: each well
// formed, grouped by device, each device's changes in ascending seq.
func CheckRelay(changes []Change) error {
	seen := map[string]bool{}
	for i := range changes {
		c := &changes[i]
		if err := c.CheckShape(); err != nil {
			return err
		}
		if i > 0 && changes[i-1].Device == c.Device {
			continue
		}
		if seen[c.Device] {
			return &Error{Code: CodeBadRequest, Message: fmt.Sprintf("relayed changes of %s are not grouped together", c.Device), Seq: c.Seq}
		}
		seen[c.Device] = true
	}
	for _, group := range GroupByDevice(changes) {
		if _, err := SplitRuns(group); err != nil {
			return err
		}
	}
	return nil
}

// GroupByDevice splits changes grouped by device into one slice per device,
// in order of first appearance.
func GroupByDevice(changes []Change) [][]Change {
	var out [][]Change
	start := 0
	for i := 1; i <= len(changes); i++ {
		if i == len(changes) || changes[i].Device != changes[start].Device {
			out = append(out, changes[start:i])
			start = i
		}
	}
	return out
}
