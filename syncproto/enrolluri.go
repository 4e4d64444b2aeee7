package syncproto

import (
	"net/url"
	"strings"
)

// EnrollScheme is the URI scheme of an enrollment code as a QR code holds it.
const EnrollScheme = "villagesync"

// EnrollURI is what the QR code of an enrollment code holds: the server to
// enroll with and the single-use code, as
// villagesync://enroll?server=<url>&code=<code>. server may be empty.
func EnrollURI(server, code string) string {
	q := url.Values{}
	if server != "" {
		q.Set("server", server)
	}
	q.Set("code", code)
	return EnrollScheme + "://enroll?" + q.Encode()
}

// ParseEnrollURI reads an EnrollURI back. ok is false if s is not one.
func ParseEnrollURI(s string) (server, code string, ok bool) {
	if !strings.HasPrefix(s, EnrollScheme+"://") {
		return "", "", false
	}
	u, err := url.Parse(s)
	if err != nil || u.Host != "enroll" {
		return "", "", false
	}
	q := u.Query()
	code = q.Get("code")
	if code == "" {
		return "", "", false
	}
	return q.Get("server"), code, true
}
