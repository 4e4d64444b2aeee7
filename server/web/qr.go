package web

import (
	"encoding/base64"
	"fmt"
	"html/template"

	"github.com/skip2/go-qrcode"

	"villagesync/syncproto"
)

// qrSize is the width and height of the enrollment QR code, in pixels.
const qrSize = 256

// enrollQR returns the QR code of an enrollment code as a PNG data: URI:
// villagesync://enroll?server=<serverURL>&code=<code>, which the station
// app scans to enroll.
func enrollQR(serverURL, code string) (template.URL, error) {
	png, err := qrcode.Encode(syncproto.EnrollURI(serverURL, code), qrcode.Medium, qrSize)
	if err != nil {
		return "", fmt.Errorf("enrollment qr code: %w", err)
	}
	// The URI is built here from a PNG: it is safe in an img src.
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)), nil
}
