package webuitest

import (
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// NewRequest returns a request of a browser to target for httptest: to
// host ("" = httptest's example.com), with form (nil = no body) as its
// url-encoded body, and, for a POST, the headers of a form from the
// pages' own origin (Sec-Fetch-Site, Origin). Each header in header
// replaces the one the request would have; an empty value deletes it.
func NewRequest(t testing.TB, method, target, host string, form url.Values, header http.Header) *http.Request {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequestWithContext(t.Context(), method, target, body)
	if host != "" {
		req.Host = host
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method == http.MethodPost {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", "http://"+req.Host)
	}
	for k, vs := range header {
		req.Header.Del(k)
		for _, v := range vs {
			if v != "" {
				req.Header.Add(k, v)
			}
		}
	}
	return req
}

// csrfField finds the hidden CSRF field of a form.
var csrfField = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// CSRFToken returns the token of the first hidden csrf field of a page,
// and false if it has none.
func CSRFToken(body string) (string, bool) {
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		return "", false
	}
	return html.UnescapeString(m[1]), true
}

// WantStatus fails the test unless rec has status want.
func WantStatus(t testing.TB, rec *httptest.ResponseRecorder, want int) {
	t.Helper()
	if rec.Code != want {
		t.Fatalf("got status %d, want %d: %s", rec.Code, want, rec.Body)
	}
}

// WantBody fails the test unless the body holds every one of want.
func WantBody(t testing.TB, rec *httptest.ResponseRecorder, want ...string) {
	t.Helper()
	body := rec.Body.String()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("body: want it to contain %q:\n%s", w, body)
		}
	}
}
