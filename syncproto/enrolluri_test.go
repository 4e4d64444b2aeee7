package syncproto

import "testing"

func TestEnrollURI(t *testing.T) {
	for _, tc := range []struct{ server, code string }{
		{"https://xz.example.cn:8443/vs", "K7QW-3M9D-8HZT-0ANB"},
		{"", "K7QW-3M9D-8HZT-0ANB"},
		{"http://127.0.0.1:8080/?a=b&c=d", "k7qw3m9d8hzt0anb"},
	} {
		u := EnrollURI(tc.server, tc.code)
		server, code, ok := ParseEnrollURI(u)
		if !ok || server != tc.server || code != tc.code {
			t.Errorf("ParseEnrollURI(%q) = %q, %q, %v; want %q, %q", u, server, code, ok, tc.server, tc.code)
		}
	}
	for _, bad := range []string{"", "K7QW-3M9D-8HZT-0ANB", "https://enroll?code=x", "villagesync://other?code=x", "villagesync://enroll?server=x", "villagesync://enroll?%zz"} {
		if _, _, ok := ParseEnrollURI(bad); ok {
			t.Errorf("ParseEnrollURI(%q) ok, want refused", bad)
		}
	}
}
